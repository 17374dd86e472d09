// W2 spawn_idle in Go, the peer of bench/workloads/spawn_idle.cpp: start 1,000,000
// goroutines that each wait on their own mailbox channel; measure the time until
// every one has reached its receive and the RSS per goroutine; then send each a
// value and time until all have exited. RESULT: spawn_ms, bytes_per_process,
// teardown_ms.
//
// Go cannot ask the scheduler whether a goroutine is parked, so each goroutine
// counts itself in on a WaitGroup just before its receive and out on exit.
package main

import (
	"sync"
	"time"
	"unsafe"

	"beamline/bench/peers/go/support"
)

func idle(mailbox <-chan int, waiting, exited *sync.WaitGroup) {
	waiting.Done()
	<-mailbox
	exited.Done()
}

func main() {
	arguments := support.Parse()
	n := arguments.Scaled(1_000_000)
	mailboxes := make([]chan int, 0, n)
	// The slice of mailbox handles is the spawner's, not the goroutines' (ours
	// discounts its pid vector the same way).
	rssBefore := support.ResidentBytes() + n*int64(unsafe.Sizeof(mailboxes[:1][0]))
	var waiting, exited sync.WaitGroup
	waiting.Add(int(n))
	exited.Add(int(n))
	start := time.Now()
	for i := int64(0); i < n; i++ {
		mailbox := make(chan int, 1)
		mailboxes = append(mailboxes, mailbox)
		go idle(mailbox, &waiting, &exited)
	}
	waiting.Wait()
	spawnMs := support.Milliseconds(start)
	time.Sleep(50 * time.Millisecond)
	rssAfter := support.ResidentBytes()
	teardownStart := time.Now()
	for _, mailbox := range mailboxes {
		mailbox <- 0
	}
	exited.Wait()
	teardownMs := support.Milliseconds(teardownStart)
	support.Report("spawn_idle", int64(len(mailboxes)) == n, arguments,
		[]support.Parameter{support.NewParameter("processes", n)},
		[]support.Figure{support.NewFigure("spawn_ms", spawnMs),
			support.NewFigure("bytes_per_process", float64(rssAfter-rssBefore)/float64(n)),
			support.NewFigure("teardown_ms", teardownMs)})
}
