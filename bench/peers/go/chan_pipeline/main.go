// C4 chan_pipeline in Go, the peer of bench/workloads/chan_pipeline.cpp: 10,000
// stage goroutines chained by unbuffered channels, each adding 1 and passing on;
// a feeder goroutine sends 100 values (0 .. 99) into the first channel and closes
// it, each stage closes its output once its input is closed, and the main
// goroutine reads the last channel. The stages start before the clock; it stops
// at the last value out. The chain keeps its length and the scale sets the values.
// RESULT: ns_per_hop (hops = stages x values).
package main

import (
	"time"

	"beamline/bench/peers/go/support"
)

func stage(in <-chan int64, out chan<- int64) {
	for value := range in {
		out <- value + 1
	}
	close(out)
}

func feeder(out chan<- int64, values int64) {
	for i := int64(0); i < values; i++ {
		out <- i
	}
	close(out)
}

func main() {
	arguments := support.Parse()
	const stages = 10_000
	values := arguments.Scaled(100)
	first := make(chan int64)
	last := first
	for i := 0; i < stages; i++ {
		next := make(chan int64)
		go stage(last, next)
		last = next
	}
	var sum, received int64
	start := time.Now()
	go feeder(first, values)
	for k := int64(0); k < values; k++ {
		value, ok := <-last
		if !ok {
			break
		}
		sum += value
		received++
	}
	nsPerHop := float64(time.Since(start).Nanoseconds()) / float64(stages*values)
	// The close follows the values down the chain: every stage ends.
	for range last {
		received++
	}
	expected := values*(values-1)/2 + values*stages
	support.Report("C4", received == values && sum == expected, arguments,
		[]support.Parameter{
			support.NewParameter("stages", stages),
			support.NewParameter("values", values),
			support.NewParameter("hops", stages*values),
		},
		[]support.Figure{support.NewFigure("ns_per_hop", nsPerHop)})
}
