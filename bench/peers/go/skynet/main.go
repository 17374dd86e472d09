// W1 skynet in Go, the peer of bench/workloads/skynet.cpp: a root goroutine starts
// 10 children, each 10 more, down to 1,000,000 leaves (at --scale 1; the tree stays
// a power of ten, so scale picks the depth); leaf i sends i to its parent, parents
// sum their 10 children and send up. RESULT: wall_ms.
//
// Each parent's mailbox is a channel buffered for its 10 children, so a child's
// send never waits for the parent (as a message send to a process does not).
package main

import (
	"time"

	"beamline/bench/peers/go/support"
)

func skynet(parent chan<- int64, number, size int64) {
	if size == 1 {
		parent <- number
		return
	}
	child := size / 10
	mailbox := make(chan int64, 10)
	for i := int64(0); i < 10; i++ {
		go skynet(mailbox, number+i*child, child)
	}
	var sum int64
	for i := 0; i < 10; i++ {
		sum += <-mailbox
	}
	parent <- sum
}

func main() {
	arguments := support.Parse()
	leaves := int64(1)
	for leaves*10 <= arguments.Scaled(1_000_000) {
		leaves *= 10
	}
	start := time.Now()
	result := make(chan int64, 1)
	go skynet(result, 0, leaves)
	sum := <-result
	wallMs := support.Milliseconds(start)
	support.Report("skynet", sum == leaves*(leaves-1)/2, arguments,
		[]support.Parameter{support.NewParameter("leaves", leaves)}, []support.Figure{support.NewFigure("wall_ms", wallMs)})
}
