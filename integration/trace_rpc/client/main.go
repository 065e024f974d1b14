// A JSON-RPC API v2 client built only on net/rpc/jsonrpc (Delve's codec) that uses Delve's
// eBPF tracepoint methods, CreateEBPFTracepoint and GetBufferedTracepoints, the way
// `dlv trace --ebpf` does: tracepoints first, then a continue, with the buffered results
// polled from another goroutine while the target runs.
//
//	tracerpc counts ADDR   the stress fixture (run with `1 wait`): main.ping, main.hit,
//	                       main.grow, main.huge and main.boom traced, a conditional user
//	                       breakpoint on main.boom (a traced function) on the way; prints
//	                       PING-SEEN once a main.ping entry came back while the program
//	                       waits (the test then lets it go on), and at the end one line per
//	                       function in the program's own format, for the test to compare.
//	tracerpc dlvfmt ADDR REGEXP
//	                       traces the functions REGEXP lists and prints the results as
//	                       `dlv trace --ebpf` prints them (to stdout), for the differential
//	                       test against dlv.
//
// TRACERPC_DEBUG=1 prints each poll's size and round trip on stderr.
package main

import (
	"fmt"
	"net"
	"net/rpc"
	"net/rpc/jsonrpc"
	"os"
	"reflect"
	"sort"
	"strings"
	"time"
)

type Variable struct {
	Name     string     `json:"name"`
	Type     string     `json:"type"`
	Flags    uint16     `json:"flags"`
	Kind     int        `json:"kind"`
	Value    string     `json:"value"`
	Children []Variable `json:"children"`
}

// Delve's api.TracepointResult.
type TracepointResult struct {
	Addr         uint64     `json:"addr"`
	File         string     `json:"file"`
	Line         int        `json:"line"`
	IsRet        bool       `json:"is_ret"`
	FunctionName string     `json:"functionName,omitempty"`
	GoroutineID  int        `json:"goroutineID"`
	InputParams  []Variable `json:"inputParams,omitempty"`
	ReturnParams []Variable `json:"returnParams,omitempty"`
}

type GetBufferedTracepointsOut struct {
	TracepointResults []TracepointResult
	Dropped           uint64 // goscope's addition: results dropped since the previous call
}

type Function struct {
	Name string `json:"name"`
}

type Breakpoint struct {
	ID           int    `json:"id"`
	FunctionName string `json:"functionName,omitempty"`
	Cond         string `json:"Cond"`
}

type Thread struct {
	ID         int         `json:"id"`
	Function   *Function   `json:"function,omitempty"`
	Breakpoint *Breakpoint `json:"breakPoint,omitempty"`
}

type DebuggerState struct {
	Running       bool    `json:"Running"`
	CurrentThread *Thread `json:"currentThread,omitempty"`
	Exited        bool    `json:"exited"`
	ExitStatus    int     `json:"exitStatus"`
}

type CommandOut struct {
	State DebuggerState
}

var client *rpc.Client

func fail(format string, a ...interface{}) {
	fmt.Fprintf(os.Stderr, "FAIL: "+format+"\n", a...)
	os.Exit(1)
}

func call(method string, in, out interface{}) error {
	return client.Call("RPCServer."+method, in, out)
}

func must(method string, in, out interface{}) {
	if err := call(method, in, out); err != nil {
		fail("%s: %v", method, err)
	}
}

// poller collects GetBufferedTracepoints results every few milliseconds until stopped.
type poller struct {
	results []TracepointResult
	dropped uint64
	polls   int
	seen    func(TracepointResult)
}

func (p *poller) poll() {
	var out GetBufferedTracepointsOut
	t0 := time.Now()
	must("GetBufferedTracepoints", struct{}{}, &out)
	if os.Getenv("TRACERPC_DEBUG") != "" {
		fmt.Fprintf(os.Stderr, "poll %d: %d results, %d dropped, %v\n", p.polls,
			len(out.TracepointResults), out.Dropped, time.Since(t0))
	}
	p.polls++
	p.dropped += out.Dropped
	for _, r := range out.TracepointResults {
		if p.seen != nil {
			p.seen(r)
		}
		p.results = append(p.results, r)
	}
}

// continueWhilePolling runs a continue and polls meanwhile; returns its state.
func (p *poller) continueWhilePolling() (DebuggerState, error) {
	var out CommandOut
	done := client.Go("RPCServer.Command", map[string]string{"name": "continue"}, &out, nil)
	for {
		select {
		case c := <-done.Done:
			p.poll()
			return out.State, c.Error
		case <-time.After(5 * time.Millisecond):
			p.poll()
		}
	}
}

func create(fn string) {
	var out struct{ Breakpoint Breakpoint }
	must("CreateEBPFTracepoint", map[string]string{"FunctionName": fn}, &out)
}

func counts() {
	for _, fn := range []string{"main.ping", "main.hit", "main.grow", "main.huge", "main.boom"} {
		create(fn)
	}
	create("main.hit") // twice: changes nothing
	err := call("CreateEBPFTracepoint", map[string]string{"FunctionName": "main.nosuch"},
		&struct{}{})
	if err == nil || err.Error() != "could not find function main.nosuch\n" {
		fail("unknown function: %v", err)
	}
	// A user breakpoint on a traced function's entry: it stops once, and the trace still
	// records that call.
	var bp struct{ Breakpoint Breakpoint }
	must("CreateBreakpoint", map[string]interface{}{
		"Breakpoint": map[string]interface{}{"functionName": "main.boom", "Cond": "i == 31",
			"line": -1}}, &bp)

	p := &poller{}
	pingSeen := false
	p.seen = func(r TracepointResult) {
		if !pingSeen && r.FunctionName == "main.ping" && !r.IsRet {
			// The program calls main.ping until the test writes a line to its stdin: this
			// result came back while the target was running.
			pingSeen = true
			fmt.Println("PING-SEEN")
		}
	}
	st, err := p.continueWhilePolling()
	if err != nil {
		fail("continue: %v", err)
	}
	if !pingSeen {
		fail("no main.ping result while the program ran (%d polls)", p.polls)
	}
	if st.Exited || st.CurrentThread == nil || st.CurrentThread.Breakpoint == nil ||
		st.CurrentThread.Breakpoint.ID != bp.Breakpoint.ID {
		fail("continue did not stop at the breakpoint on main.boom: %+v", st)
	}
	st, err = p.continueWhilePolling()
	if err != nil && !strings.Contains(err.Error(), "has exited with status") {
		fail("continue: %v", err)
	}
	if err == nil && !st.Exited {
		fail("second continue did not end the program: %+v", st)
	}
	p.poll()

	type pair struct{ calls, returns int }
	byFn := map[string]*pair{}
	where := map[string]string{}
	for _, r := range p.results {
		c := byFn[r.FunctionName]
		if c == nil {
			c = &pair{}
			byFn[r.FunctionName] = c
		}
		if r.GoroutineID <= 0 {
			fail("result without a goroutine: %+v", r)
		}
		at := fmt.Sprintf("%s:%d", r.File, r.Line)
		if w, ok := where[r.FunctionName]; ok && w != at {
			fail("%s reported at %s and %s", r.FunctionName, w, at)
		}
		where[r.FunctionName] = at
		if !strings.HasSuffix(r.File, "/stress/main.go") || r.Line <= 0 || r.Addr != 0 {
			fail("bad location: %+v", r)
		}
		if r.IsRet {
			c.returns++
			if len(r.InputParams) != 0 || len(r.ReturnParams) != 1 ||
				r.ReturnParams[0].Name != "~r0" || r.ReturnParams[0].Type != "int" {
				fail("return of %s: %+v", r.FunctionName, r)
			}
		} else {
			c.calls++
			want := "i"
			if r.FunctionName == "main.grow" || r.FunctionName == "main.huge" {
				want = "n"
			}
			if len(r.ReturnParams) != 0 || len(r.InputParams) != 1 ||
				r.InputParams[0].Name != want || r.InputParams[0].Kind != int(reflect.Int) ||
				r.InputParams[0].Value == "" {
				fail("entry of %s: %+v", r.FunctionName, r)
			}
		}
	}
	if p.dropped != 0 {
		fail("%d results dropped", p.dropped)
	}
	if byFn["main.ping"] == nil || byFn["main.ping"].returns == 0 {
		fail("no main.ping returns")
	}
	fmt.Printf("polls=%d results=%d\n", p.polls, len(p.results))
	for _, fn := range []string{"main.hit", "main.grow", "main.huge", "main.boom"} {
		c := byFn[fn]
		if c == nil {
			c = &pair{}
		}
		fmt.Printf("%s calls=%d returns=%d\n", fn, c.calls, c.returns)
	}
}

// dlvfmt prints results as dlv trace --ebpf does (cmd/dlv/cmds/commands.go, 1.20.2).
func dlvfmt(regexp string) {
	var funcs struct{ Funcs []string }
	must("ListFunctions", map[string]string{"Filter": regexp}, &funcs)
	sort.Strings(funcs.Funcs)
	for _, fn := range funcs.Funcs {
		create(fn)
	}
	p := &poller{}
	st, err := p.continueWhilePolling()
	if err != nil && !strings.Contains(err.Error(), "has exited with status") {
		fail("continue: %v", err)
	}
	if err == nil && !st.Exited {
		fail("the continue stopped before the end: %+v", st)
	}
	p.poll()
	if p.dropped != 0 {
		fail("%d results dropped", p.dropped)
	}
	for _, t := range p.results {
		var params strings.Builder
		for _, v := range t.InputParams {
			if params.Len() > 0 {
				params.WriteString(", ")
			}
			if v.Kind == int(reflect.String) {
				params.WriteString(fmt.Sprintf("%q", v.Value))
			} else {
				params.WriteString(v.Value)
			}
		}
		if t.IsRet {
			for _, v := range t.ReturnParams {
				fmt.Printf("=> %#v\n", v.Value)
			}
		} else {
			fmt.Printf("> (%d) %s(%s)\n", t.GoroutineID, t.FunctionName, params.String())
		}
	}
}

func main() {
	if len(os.Args) < 3 {
		fail("usage: tracerpc counts|dlvfmt ADDR [REGEXP]")
	}
	conn, err := net.DialTimeout("tcp", os.Args[2], 20*time.Second)
	if err != nil {
		fail("connect: %v", err)
	}
	client = jsonrpc.NewClient(conn)
	defer func() {
		client.Call("RPCServer.Detach", map[string]bool{"Kill": true}, &struct{}{})
	}()
	switch os.Args[1] {
	case "counts":
		counts()
	case "dlvfmt":
		if len(os.Args) < 4 {
			fail("dlvfmt needs a regexp")
		}
		dlvfmt(os.Args[3])
	default:
		fail("unknown mode %s", os.Args[1])
	}
}
