// heapy: a process worth a post-mortem benchmark (bench/core/core_bench.py): MB mebibytes of
// heap in 64 KiB blocks (every page written, so the core holds all of it) and N goroutines
// parked a few frames deep on a channel, then main.ready; with "crash" it then panics (a
// kernel core under GOTRACEBACK=crash), otherwise it waits there.
package main

import (
	"fmt"
	"os"
	"strconv"
	"sync"
	"time"
)

var heap [][]byte

type record struct {
	id   int
	name string
	next *record
}

//go:noinline
func park(id, depth int, ch chan int, started *sync.WaitGroup) int {
	r := &record{id: id, name: "worker"}
	if depth == 0 {
		started.Done()
		return <-ch + r.id
	}
	return park(id, depth-1, ch, started) + r.id
}

//go:noinline
func ready(blocks, goroutines int) {
	fmt.Println("ready", blocks, goroutines)
}

func main() {
	mb, _ := strconv.Atoi(os.Args[1])
	n, _ := strconv.Atoi(os.Args[2])
	for i := 0; i < mb*16; i++ {
		b := make([]byte, 64<<10)
		for j := 0; j < len(b); j += 4096 {
			b[j] = byte(i)
		}
		heap = append(heap, b)
	}
	ch := make(chan int)
	var started sync.WaitGroup
	started.Add(n)
	for i := 0; i < n; i++ {
		go park(i, 4, ch, &started)
	}
	started.Wait()
	ready(len(heap), n)
	if len(os.Args) > 3 && os.Args[3] == "crash" {
		var m map[int]int
		m[0] = len(heap)
	}
	for {
		time.Sleep(time.Hour)
	}
}
