// The program the DAP tests debug. Line numbers are part of the tests (dap_test.mjs).
package main

import (
	"fmt"
	"os"
	"time"
)

type Point struct {
	X, Y  int
	Label string
}

func add(a, b int) int {
	s := a + b
	return s
}

func explode(v int) {
	panic(fmt.Sprintf("fixture panic: bad value %d", v))
}

func spin() {
	for n := 0; ; n++ {
		time.Sleep(10 * time.Millisecond)
	}
}

func main() {
	p := Point{1, 2, "origin"}
	pp := &p
	xs := []int{10, 20, 30}
	m := map[string]int{"one": 1}
	var e error
	total := 0
	for i := 0; i < 5; i++ {
		total = add(total, i)
	}
	fmt.Println(p, pp.X, xs, m, e, total)
	if len(os.Args) > 1 && os.Args[1] == "panic" {
		explode(42)
	}
	if len(os.Args) > 1 && os.Args[1] == "spin" {
		spin()
	}
	os.Exit(3)
}
