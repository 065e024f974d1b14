// The round-trip benchmark's compiled client: Go's net/rpc/jsonrpc, the codec `dlv connect`
// itself uses, decoding each reply into Delve's api shapes. rpc_bench.py runs it next to its
// Python client, so the figures show what the client's own share is.
//
//	goclient ADDR CALLS WARMUP [canned]
//
// prints one line per timed round trip (microseconds). "canned": the server answers every
// request with one recorded reply (canned_server), so only Command is sent.
package main

import (
	"fmt"
	"net"
	"net/rpc"
	"net/rpc/jsonrpc"
	"os"
	"strconv"
	"time"
)

type Function struct {
	Name   string `json:"name"`
	Value  uint64 `json:"value"`
	Type   byte   `json:"type"`
	GoType uint64 `json:"goType"`
}

type Location struct {
	PC       uint64    `json:"pc"`
	File     string    `json:"file"`
	Line     int       `json:"line"`
	Function *Function `json:"function,omitempty"`
}

type Breakpoint struct {
	ID            int               `json:"id"`
	Name          string            `json:"name"`
	Addr          uint64            `json:"addr"`
	Addrs         []uint64          `json:"addrs"`
	File          string            `json:"file"`
	Line          int               `json:"line"`
	FunctionName  string            `json:"functionName,omitempty"`
	Cond          string            `json:"Cond"`
	Tracepoint    bool              `json:"continue"`
	HitCount      map[string]uint64 `json:"hitCount"`
	TotalHitCount uint64            `json:"totalHitCount"`
}

type Thread struct {
	ID          int         `json:"id"`
	PC          uint64      `json:"pc"`
	File        string      `json:"file"`
	Line        int         `json:"line"`
	Function    *Function   `json:"function,omitempty"`
	GoroutineID int64       `json:"goroutineID"`
	Breakpoint  *Breakpoint `json:"breakPoint,omitempty"`
}

type Goroutine struct {
	ID             int64    `json:"id"`
	CurrentLoc     Location `json:"currentLoc"`
	UserCurrentLoc Location `json:"userCurrentLoc"`
	GoStatementLoc Location `json:"goStatementLoc"`
	StartLoc       Location `json:"startLoc"`
	ThreadID       int      `json:"threadID"`
	Status         uint64   `json:"status"`
	WaitReason     int64    `json:"waitReason"`
}

type DebuggerState struct {
	Pid            int
	Running        bool
	Recording      bool
	CurrentThread  *Thread    `json:"currentThread,omitempty"`
	SelectedG      *Goroutine `json:"currentGoroutine,omitempty"`
	Threads        []*Thread
	NextInProgress bool
	Exited         bool `json:"exited"`
	ExitStatus     int  `json:"exitStatus"`
}

type commandOut struct{ State DebuggerState }

func main() {
	if len(os.Args) < 4 {
		fmt.Fprintln(os.Stderr, "usage: goclient ADDR CALLS WARMUP [canned]")
		os.Exit(2)
	}
	calls, _ := strconv.Atoi(os.Args[2])
	warmup, _ := strconv.Atoi(os.Args[3])
	canned := len(os.Args) > 4 && os.Args[4] == "canned"
	conn, err := net.Dial("tcp", os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	c := jsonrpc.NewClient(conn)
	must := func(method string, in, out interface{}) {
		if err := c.Call("RPCServer."+method, in, out); err != nil {
			fmt.Fprintf(os.Stderr, "%s: %v\n", method, err)
			os.Exit(1)
		}
	}
	bpID := 0
	if !canned {
		must("SetApiVersion", struct{ APIVersion int }{2}, new(struct{}))
		var bp struct{ Breakpoint Breakpoint }
		must("CreateBreakpoint", struct{ Breakpoint Breakpoint }{Breakpoint{FunctionName: "main.work", Line: -1}}, &bp)
		bpID = bp.Breakpoint.ID
	}
	out := make([]int64, 0, calls)
	in := struct{ Name string }{"continue"}
	for i := 0; i < warmup+calls; i++ {
		var st commandOut
		t0 := time.Now()
		must("Command", in, &st)
		d := time.Since(t0)
		if !canned {
			th := st.State.CurrentThread
			if st.State.Exited || th == nil || th.Breakpoint == nil || th.Breakpoint.ID != bpID {
				fmt.Fprintf(os.Stderr, "round trip %d did not stop at main.work: %+v\n", i, st.State)
				os.Exit(1)
			}
		}
		if i >= warmup {
			out = append(out, d.Nanoseconds())
		}
	}
	if !canned {
		var rpcErr error = c.Call("RPCServer.Detach", struct{ Kill bool }{true}, new(struct{}))
		if rpcErr != nil && rpcErr != rpc.ErrShutdown {
			fmt.Fprintln(os.Stderr, "Detach:", rpcErr)
		}
	}
	for _, ns := range out {
		fmt.Printf("%.3f\n", float64(ns)/1000)
	}
}
