// W7 churn in Go, the peer of bench/workloads/churn.cpp: 1,000,000 goroutines
// started in batches (at most 10,000 alive, refilled when half have gone), each
// exits at once; the spawner collects a notice of every exit. RESULT: wall_ms.
//
// Go has no monitors: the natural equivalent of a DOWN is a deferred send of the
// goroutine's id on a completion channel the spawner reads. The channel holds
// maxAlive notices, so an exiting goroutine never waits.
package main

import (
	"time"

	"beamline/bench/peers/go/support"
)

const maxAlive = 10_000

func shortLived(id int64, down chan<- int64) {
	defer func() { down <- id }()
}

func main() {
	arguments := support.Parse()
	total := arguments.Scaled(1_000_000)
	down := make(chan int64, maxAlive)
	var spawned, downs int64
	start := time.Now()
	for downs < total {
		batch := min(maxAlive-(spawned-downs), total-spawned)
		for i := int64(0); i < batch; i++ {
			go shortLived(spawned+i, down)
		}
		spawned += batch
		target := min(total, downs+maxAlive/2) // refill at half
		for downs < target {
			<-down
			downs++
		}
	}
	wallMs := support.Milliseconds(start)
	support.Report("churn", downs == total, arguments,
		[]support.Parameter{support.NewParameter("processes", total)}, []support.Figure{support.NewFigure("wall_ms", wallMs)})
}

func min(a, b int64) int64 {
	if a < b {
		return a
	}
	return b
}
