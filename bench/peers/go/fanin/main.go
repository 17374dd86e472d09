// W5 fanin in Go, the peer of bench/workloads/fanin.cpp: 100 goroutines each send
// the integers 0 .. 99,999 to the main goroutine, which sums all 10,000,000. The
// clock runs from the first goroutine started to the last receive.
// RESULT: msgs_per_sec.
//
// A Go channel is bounded where a mailbox is not: the receiver's channel holds
// 1,024 values (mailboxCapacity), enough that senders rarely wait on it; the same
// capacity as the Boost.Fiber peer.
package main

import (
	"time"

	"beamline/bench/peers/go/support"
)

const mailboxCapacity = 1024

func sender(to chan<- int64, count int64) {
	for i := int64(0); i < count; i++ {
		to <- i
	}
}

func main() {
	arguments := support.Parse()
	const senders = 100
	perSender := arguments.Scaled(100_000)
	mailbox := make(chan int64, mailboxCapacity)
	var sum int64
	start := time.Now()
	for s := 0; s < senders; s++ {
		go sender(mailbox, perSender)
	}
	for k := int64(0); k < senders*perSender; k++ {
		sum += <-mailbox
	}
	seconds := time.Since(start).Seconds()
	expected := senders * (perSender * (perSender - 1) / 2)
	support.Report("fanin", sum == expected, arguments,
		[]support.Parameter{support.NewParameter("senders", senders), support.NewParameter("per_sender", perSender)},
		[]support.Figure{support.NewFigure("msgs_per_sec", float64(senders*perSender)/seconds)})
}
