// C3 chan_select in Go, the peer of bench/workloads/chan_select.cpp: 4 producer
// goroutines, each with its own channel of capacity 16, send 1 .. 1,000,000 and
// close it; the main goroutine selects over the 4 channels until all are closed,
// setting a closed channel's variable to nil to switch its case off. The clock
// runs from the first producer's start to the last close seen.
// RESULT: items_per_sec.
package main

import (
	"time"

	"beamline/bench/peers/go/support"
)

const (
	producers = 4
	capacity  = 16
)

func producer(out chan<- int64, items int64) {
	for i := int64(1); i <= items; i++ {
		out <- i
	}
	close(out)
}

func main() {
	arguments := support.Parse()
	perProducer := arguments.Scaled(1_000_000)
	var open [producers]chan int64
	for k := range open {
		open[k] = make(chan int64, capacity)
	}
	var sum, received int64
	stillOpen := producers
	take := func(k int, value int64, ok bool) {
		if ok {
			sum += value
			received++
		} else {
			open[k] = nil // a nil channel's case is never ready
			stillOpen--
		}
	}
	start := time.Now()
	for k := range open {
		go producer(open[k], perProducer)
	}
	for stillOpen > 0 {
		select {
		case value, ok := <-open[0]:
			take(0, value, ok)
		case value, ok := <-open[1]:
			take(1, value, ok)
		case value, ok := <-open[2]:
			take(2, value, ok)
		case value, ok := <-open[3]:
			take(3, value, ok)
		}
	}
	seconds := time.Since(start).Seconds()
	total := producers * perProducer
	expected := producers * (perProducer * (perProducer + 1) / 2)
	support.Report("C3", received == total && sum == expected, arguments,
		[]support.Parameter{
			support.NewParameter("producers", producers),
			support.NewParameter("per_producer", perProducer),
			support.NewParameter("capacity", capacity),
		},
		[]support.Figure{support.NewFigure("items_per_sec", float64(total)/seconds)})
}
