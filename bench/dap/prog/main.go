// The program of bench/dap/dap_bench.py. Line numbers are part of the benchmark.
//
//	loop N          calls work N times; the breakpoint and logpoint lines are in the loop
//	goroutines N M  parks N goroutines, then passes the breakpoint line M times
package main

import (
	"fmt"
	"os"
	"strconv"
)

type item struct {
	ID   int
	Name string
	Tags []string
}

var sink int

func work(i int, it *item) int {
	sink += i + len(it.Tags) // breakpoint line (22)
	return sink
}

func main() {
	n, _ := strconv.Atoi(os.Args[2])
	switch os.Args[1] {
	case "loop":
		it := &item{1, "bench", []string{"a", "b", "c"}}
		total := 0
		for i := 0; i < n; i++ {
			total += work(i, it) // logpoint line (33)
		}
		fmt.Println(total)
	case "goroutines":
		m, _ := strconv.Atoi(os.Args[3])
		block := make(chan struct{})
		for i := 0; i < n; i++ {
			go func() { <-block }()
		}
		it := &item{2, "threads", nil}
		for i := 0; i < m; i++ {
			work(i, it)
		}
		close(block)
	}
}
