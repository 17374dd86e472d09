// W10 tcp_echo in Go, the peer of bench/io/tcp_echo.cpp: an echo server (one
// goroutine per connection, Go's netpoller underneath) and 100 client goroutines
// in one program, each doing 10,000 round trips of 64 bytes over loopback with
// TCP_NODELAY (Go's default). RESULT: requests_per_sec, p99_us.
package main

import (
	"io"
	"net"
	"os"
	"sort"
	"sync"
	"time"

	"beamline/bench/peers/go/support"
)

const connections = 100
const messageSize = 64

func serve(connection net.Conn) {
	defer connection.Close()
	buffer := make([]byte, 4096)
	for {
		n, err := connection.Read(buffer)
		if err != nil || n == 0 {
			return
		}
		if _, err := connection.Write(buffer[:n]); err != nil {
			return
		}
	}
}

func main() {
	arguments := support.Parse()
	rounds := arguments.Scaled(10_000)
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		os.Exit(1)
	}
	go func() {
		for {
			connection, err := listener.Accept()
			if err != nil {
				return
			}
			go serve(connection)
		}
	}()
	address := listener.Addr().String()
	latencies := make([][]uint32, connections)
	ok := make([]bool, connections)
	var connected, done sync.WaitGroup
	start := make(chan struct{})
	connected.Add(connections)
	done.Add(connections)
	for c := 0; c < connections; c++ {
		go func(c int) {
			defer done.Done()
			connection, err := net.Dial("tcp", address)
			connected.Done()
			if err != nil {
				return
			}
			defer connection.Close()
			<-start
			request := make([]byte, messageSize)
			answer := make([]byte, messageSize)
			for i := range request {
				request[i] = 'x'
			}
			mine := make([]uint32, 0, rounds)
			for r := int64(0); r < rounds; r++ {
				request[0] = byte(r)
				sentAt := time.Now()
				if _, err := connection.Write(request); err != nil {
					return
				}
				if _, err := io.ReadFull(connection, answer); err != nil || answer[0] != request[0] {
					return
				}
				mine = append(mine, uint32(time.Since(sentAt).Nanoseconds()))
			}
			latencies[c] = mine
			ok[c] = true
		}(c)
	}
	connected.Wait()
	began := time.Now()
	close(start)
	done.Wait()
	seconds := time.Since(began).Seconds()
	var all []uint32
	allOk := true
	for c := 0; c < connections; c++ {
		all = append(all, latencies[c]...)
		allOk = allOk && ok[c]
	}
	sort.Slice(all, func(i, j int) bool { return all[i] < all[j] })
	p99 := 0.0
	if len(all) > 0 {
		p99 = float64(all[int(float64(len(all)-1)*0.99)]) / 1e3
	}
	support.Report("tcp_echo", allOk && int64(len(all)) == rounds*connections, arguments,
		[]support.Parameter{support.NewParameter("connections", connections),
			support.NewParameter("round_trips", rounds),
			support.NewParameter("message_bytes", messageSize)},
		[]support.Figure{support.NewFigure("requests_per_sec", float64(len(all))/seconds),
			support.NewFigure("p99_us", p99)})
}
