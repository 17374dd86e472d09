// C2 chan_buffered in Go, the peer of bench/workloads/chan_buffered.cpp: one
// producer goroutine sends 0 .. n-1 (n = 2,000,000) through one channel and closes
// it; the main goroutine sums until the channel is closed. Run three times, with
// capacity 0, 16 and 1,024. The clock runs from the producer's start to the close.
// RESULT: items_per_sec_cap0, items_per_sec_cap16, items_per_sec_cap1024.
package main

import (
	"time"

	"beamline/bench/peers/go/support"
)

func producer(out chan<- int64, items int64) {
	for i := int64(0); i < items; i++ {
		out <- i
	}
	close(out)
}

func main() {
	arguments := support.Parse()
	items := arguments.Scaled(2_000_000)
	capacities := []int{0, 16, 1024}
	itemsPerSec := make([]float64, len(capacities))
	allOk := true
	for run, capacity := range capacities {
		channel := make(chan int64, capacity)
		var sum int64
		start := time.Now()
		go producer(channel, items)
		for value := range channel {
			sum += value
		}
		itemsPerSec[run] = float64(items) / time.Since(start).Seconds()
		allOk = allOk && sum == items*(items-1)/2
	}
	support.Report("C2", allOk, arguments,
		[]support.Parameter{support.NewParameter("items", items)},
		[]support.Figure{
			support.NewFigure("items_per_sec_cap0", itemsPerSec[0]),
			support.NewFigure("items_per_sec_cap16", itemsPerSec[1]),
			support.NewFigure("items_per_sec_cap1024", itemsPerSec[2]),
		})
}
