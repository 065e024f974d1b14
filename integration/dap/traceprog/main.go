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
	os.Exit(0)
}
