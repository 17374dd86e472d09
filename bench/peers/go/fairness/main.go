// W6 fairness in Go, the peer of bench/workloads/fairness.cpp: 4 hog goroutines
// spin in a loop that calls nothing, bumping their own atomic counter; first alone
// for 2 s (the solo rate), then beside a ping-pong pair (the main goroutine and a
// partner) doing 1,000 timed round trips with a time.Sleep(time.Millisecond)
// between them, for at most 20 s. RESULT: p50_us, p99_us, max_us, completed,
// hog_progress (hog iterations/s during the round trips / solo rate),
// sleep_late_us (mean lateness of the 1 ms sleeps).
//
// A hog's loop is a relaxed-style load and store of its own counter, as ours is;
// each counter has a cache line to itself. Go preempts such a loop asynchronously
// (a signal from sysmon after 10 ms), so the round trips run, but a sleeping
// goroutine made ready by its timer waits behind the hogs for a time slice.
//
// A watchdog goroutine reports what was done and exits after the solo phase + 25 s,
// as ours does, should the round trips starve.
package main

import (
	"math"
	"os"
	"sort"
	"sync/atomic"
	"time"

	"beamline/bench/peers/go/support"
)

const hogCount = 4

type hogCounter struct {
	iterations atomic.Uint64
	_          [56]byte
}

var (
	counters [hogCount]hogCounter
	stopHogs atomic.Bool
)

// Calls nothing: a load and a store per iteration.
func hog(counter *atomic.Uint64) {
	for !stopHogs.Load() {
		counter.Store(counter.Load() + 1)
	}
}

func totalIterations() uint64 {
	var sum uint64
	for i := range counters {
		sum += counters[i].iterations.Load()
	}
	return sum
}

type ping struct {
	from chan<- int64
	n    int64
}

func pong(mailbox <-chan ping) {
	for {
		message := <-mailbox
		message.from <- message.n
		if message.n < 0 {
			return
		}
	}
}

func main() {
	arguments := support.Parse()
	roundTrips := arguments.Scaled(1000)
	soloTime := time.Duration(2 * math.Min(1, arguments.Scale*10) * float64(time.Second))
	parameters := []support.Parameter{support.NewParameter("hogs", hogCount),
		support.NewParameter("round_trips", roundTrips)}
	var completed atomic.Int64

	// A starved ping-pong never ends: after the solo phase and 25 s, report what
	// was done and leave without waiting for the hogs.
	finished := make(chan struct{})
	go func() {
		select {
		case <-finished:
		case <-time.After(soloTime + 25*time.Second):
			support.Report("fairness", false, arguments, parameters, []support.Figure{
				support.NewFigure("p50_us", 0), support.NewFigure("p99_us", 0),
				support.NewFigure("max_us", 0), support.NewFigure("completed", float64(completed.Load())),
				support.NewFigure("hog_progress", 0), support.NewFigure("sleep_late_us", 0)})
			os.Exit(0)
		}
	}()

	for i := range counters {
		go hog(&counters[i].iterations)
	}
	// Phase 1: the hogs alone.
	time.Sleep(100 * time.Millisecond) // let them start
	t0, i0 := time.Now(), totalIterations()
	time.Sleep(soloTime)
	t1, i1 := time.Now(), totalIterations()
	soloRate := float64(i1-i0) / t1.Sub(t0).Seconds()

	// Phase 2: timed round trips beside the hogs.
	self := make(chan int64, 1)
	partner := make(chan ping, 1)
	go pong(partner)
	var rttUs []float64
	lateTotalUs := 0.0
	deadline := time.Now().Add(20 * time.Second)
	r0, j0 := time.Now(), totalIterations()
	for i := int64(0); i < roundTrips && time.Now().Before(deadline); i++ {
		start := time.Now()
		partner <- ping{self, i}
		<-self
		rttUs = append(rttUs, float64(time.Since(start).Nanoseconds())/1e3)
		completed.Add(1)
		sleepStart := time.Now()
		time.Sleep(time.Millisecond)
		lateTotalUs += float64(time.Since(sleepStart).Nanoseconds())/1e3 - 1000
	}
	r1, j1 := time.Now(), totalIterations()
	runRate := float64(j1-j0) / r1.Sub(r0).Seconds()
	partner <- ping{self, -1}
	<-self
	stopHogs.Store(true)
	close(finished)

	sort.Float64s(rttUs)
	percentile := func(p float64) float64 {
		if len(rttUs) == 0 {
			return 0
		}
		k := int(p * float64(len(rttUs)))
		if k > len(rttUs)-1 {
			k = len(rttUs) - 1
		}
		return rttUs[k]
	}
	maxUs, hogProgress, sleepLateUs := 0.0, 0.0, 0.0
	if len(rttUs) > 0 {
		maxUs = rttUs[len(rttUs)-1]
		sleepLateUs = lateTotalUs / float64(len(rttUs))
	}
	if soloRate > 0 {
		hogProgress = runRate / soloRate
	}
	done := completed.Load()
	support.Report("fairness", done == roundTrips, arguments, parameters, []support.Figure{
		support.NewFigure("p50_us", percentile(0.50)), support.NewFigure("p99_us", percentile(0.99)),
		support.NewFigure("max_us", maxUs), support.NewFigure("completed", float64(done)),
		support.NewFigure("hog_progress", hogProgress), support.NewFigure("sleep_late_us", sleepLateUs)})
}
