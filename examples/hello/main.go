// hello is the program README's first command traces: a tiny order pipeline with a few
// kinds of arguments and results, a recursive call and an error path.
package main

import (
	"errors"
	"fmt"
	"strings"
)

type Order struct {
	ID    int
	Item  string
	Price float64
	Qty   int
}

func parse(line string) (Order, error) {
	var o Order
	if _, err := fmt.Sscanf(line, "%d %s %f %d", &o.ID, &o.Item, &o.Price, &o.Qty); err != nil {
		return Order{}, errors.New("bad order: " + line)
	}
	return o, nil
}

func total(o Order) float64 { return o.Price * float64(o.Qty) }

func discount(amount float64, loyal bool) float64 {
	if loyal && amount > 20 {
		return amount * 0.9
	}
	return amount
}

func fib(n int) int {
	if n < 2 {
		return n
	}
	return fib(n-1) + fib(n-2)
}

func label(item string, n int) string { return strings.ToUpper(item) + fmt.Sprint("#", n) }

func main() {
	lines := []string{"1 apple 0.5 10", "2 pear 2.25 12", "oops"}
	sum := 0.0
	for i, l := range lines {
		o, err := parse(l)
		if err != nil {
			fmt.Println("skip:", err)
			continue
		}
		sum += discount(total(o), i%2 == 1)
		fmt.Println(label(o.Item, o.ID))
	}
	fmt.Printf("total %.2f, fib(5)=%d\n", sum, fib(5))
}
