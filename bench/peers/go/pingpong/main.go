// W4 pingpong in Go, the peer of bench/workloads/pingpong.cpp: the main goroutine
// and a partner, 1,000,000 round trips; each ping carries the channel to answer
// on and a counter, the partner answers counter + 1. RESULT: ns_per_round_trip.
package main

import (
	"time"

	"beamline/bench/peers/go/support"
)

type ping struct {
	from    chan<- int64
	counter int64
}

func pong(mailbox <-chan ping) {
	for {
		message := <-mailbox
		message.from <- message.counter + 1
		if message.counter < 0 {
			return
		}
	}
}

func main() {
	arguments := support.Parse()
	rounds := arguments.Scaled(1_000_000)
	self := make(chan int64, 1)
	partner := make(chan ping, 1)
	go pong(partner)
	var counter int64
	start := time.Now()
	for i := int64(0); i < rounds; i++ {
		partner <- ping{self, counter}
		counter = <-self
	}
	ns := float64(time.Since(start).Nanoseconds()) / float64(rounds)
	partner <- ping{self, -1}
	<-self
	support.Report("pingpong", counter == rounds, arguments,
		[]support.Parameter{support.NewParameter("round_trips", rounds)},
		[]support.Figure{support.NewFigure("ns_per_round_trip", ns)})
}
