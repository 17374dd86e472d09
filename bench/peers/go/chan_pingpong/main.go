// C1 chan_pingpong in Go, the peer of bench/workloads/chan_pingpong.cpp: the main
// goroutine and a partner, two unbuffered channels, 1,000,000 round trips. The
// main goroutine sends a counter on ping; the partner sends counter + 1 back on
// pong. Closing ping ends the partner. RESULT: ns_per_round_trip.
package main

import (
	"time"

	"beamline/bench/peers/go/support"
)

func partner(ping <-chan int64, pong chan<- int64) {
	for counter := range ping {
		pong <- counter + 1
	}
}

func main() {
	arguments := support.Parse()
	rounds := arguments.Scaled(1_000_000)
	ping := make(chan int64)
	pong := make(chan int64)
	go partner(ping, pong)
	var counter int64
	start := time.Now()
	for i := int64(0); i < rounds; i++ {
		ping <- counter
		counter = <-pong
	}
	ns := float64(time.Since(start).Nanoseconds()) / float64(rounds)
	close(ping)
	support.Report("C1", counter == rounds, arguments,
		[]support.Parameter{support.NewParameter("round_trips", rounds)},
		[]support.Figure{support.NewFigure("ns_per_round_trip", ns)})
}
