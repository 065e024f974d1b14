// The program of the DAP tracing tests (trace.test.mjs). Line numbers are part of the
// tests. One goroutine counts as fast as it can (spinner) while main calls square and hits
// the logpoint line in a loop; the spinner's count is read at each hit.
package main

import (
	"fmt"
	"os"
	"runtime"
	"sync/atomic"
)

var spins, sink int64

func square(x int) int {
	return x * x
}

func spinner() {
	for {
		atomic.AddInt64(&spins, 1)
	}
}

func main() {
	runtime.GOMAXPROCS(2)
	go spinner()
	for atomic.LoadInt64(&spins) == 0 {
		runtime.Gosched()
	}
	total := 0
	n := 20
	if len(os.Args) > 1 {
		fmt.Sscan(os.Args[1], &n)
	}
	for i := 0; i < n; i++ {
		total += square(i)
		seen := atomic.LoadInt64(&spins)
		sink = seen // logpoint line
	}
	fmt.Println("total", total)
	if len(os.Args) > 2 && os.Args[2] == "many" {
		many()
	}
	os.Exit(0)
}

// Four goroutines pass one line in a loop: stops with several of them at its breakpoint.
func many() {
	done := make(chan bool)
	for g := 0; g < 4; g++ {
		go func() {
			for k := 0; k < 100; k++ {
				atomic.AddInt64(&sink, int64(k)) // many line
			}
			done <- true
		}()
	}
	for g := 0; g < 4; g++ {
		<-done
	}
}
