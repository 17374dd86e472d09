// W3 ring in Go, the peer of bench/workloads/ring.cpp: 10,000 goroutines in a ring
// (the main goroutine leads), a token counting down from 1,000,000 hops goes round
// 100 times; a member that sees the count reach zero passes it on and exits, so
// the ring unwinds behind it. RESULT: ns_per_hop.
//
// Each member's mailbox is a channel with room for one token, so a send does not
// wait for the receiver to be scheduled.
package main

import (
	"time"

	"beamline/bench/peers/go/support"
)

func member(mailbox <-chan int64, next chan<- int64) {
	for {
		left := <-mailbox
		next <- left - 1
		if left <= 0 {
			return
		}
	}
}

func main() {
	arguments := support.Parse()
	const size = 10_000
	hops := arguments.Scaled(1_000_000)
	leader := make(chan int64, 1)
	next := leader
	for i := 1; i < size; i++ {
		mailbox := make(chan int64, 1)
		go member(mailbox, next)
		next = mailbox
	}
	start := time.Now()
	next <- hops - 1
	counted := int64(1)
	for {
		left := <-leader
		counted++
		next <- left - 1
		if left <= 0 {
			break
		}
	}
	nsPerHop := float64(time.Since(start).Nanoseconds()) / float64(hops)
	// The leader handles one hop in size: hops/size + 1 receives plus its send.
	support.Report("ring", counted == hops/size+1, arguments,
		[]support.Parameter{support.NewParameter("processes", size), support.NewParameter("hops", hops)},
		[]support.Figure{support.NewFigure("ns_per_hop", nsPerHop)})
}
