// A JSON-RPC API v2 client built only on the standard library's net/rpc/jsonrpc (the codec
// Delve itself uses), driving goscope through the P0/P1 methods against the `basic` fixture.
// Usage: rpcclient ADDR FIXTURE_SOURCE_DIR
package main

import (
	"fmt"
	"net"
	"net/rpc"
	"net/rpc/jsonrpc"
	"os"
	"runtime"
	"strings"
	"time"
)

type LoadConfig struct {
	FollowPointers     bool
	MaxVariableRecurse int
	MaxStringLen       int
	MaxArrayValues     int
	MaxStructFields    int
}

var defaultCfg = LoadConfig{true, 1, 64, 64, -1}
var shortCfg = LoadConfig{false, 0, 64, 0, 3}

type Function struct {
	Name  string `json:"name"`
	Value uint64 `json:"value"`
}

type Location struct {
	PC       uint64    `json:"pc"`
	File     string    `json:"file"`
	Line     int       `json:"line"`
	Function *Function `json:"function,omitempty"`
	PCs      []uint64  `json:"pcs,omitempty"`
}

type Variable struct {
	Name     string     `json:"name"`
	Type     string     `json:"type"`
	Flags    uint16     `json:"flags"`
	Kind     int        `json:"kind"`
	Value    string     `json:"value"`
	Len      int64      `json:"len"`
	Children []Variable `json:"children"`
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
	TraceReturn   bool              `json:"traceReturn"`
	LoadArgs      *LoadConfig       `json:"LoadArgs"`
	WatchExpr     string            `json:"WatchExpr"`
	WatchType     int               `json:"WatchType"`
	VerboseDescr  []string          `json:"VerboseDescr,omitempty"`
	HitCount      map[string]uint64 `json:"hitCount"`
	TotalHitCount uint64            `json:"totalHitCount"`
	Disabled      bool              `json:"disabled"`
}

type BreakpointInfo struct {
	Arguments []Variable `json:"arguments,omitempty"`
}

type Thread struct {
	ID             int             `json:"id"`
	PC             uint64          `json:"pc"`
	File           string          `json:"file"`
	Line           int             `json:"line"`
	Function       *Function       `json:"function,omitempty"`
	GoroutineID    int64           `json:"goroutineID"`
	Breakpoint     *Breakpoint     `json:"breakPoint,omitempty"`
	BreakpointInfo *BreakpointInfo `json:"breakPointInfo,omitempty"`
	ReturnValues   []Variable
}

type Goroutine struct {
	ID         int64    `json:"id"`
	CurrentLoc Location `json:"currentLoc"`
	ThreadID   int      `json:"threadID"`
}

type DebuggerState struct {
	Pid             int
	Running         bool
	CurrentThread   *Thread    `json:"currentThread,omitempty"`
	SelectedG       *Goroutine `json:"currentGoroutine,omitempty"`
	Threads         []*Thread
	WatchOutOfScope []*Breakpoint
	Exited          bool `json:"exited"`
	ExitStatus      int  `json:"exitStatus"`
}

type EvalScope struct {
	GoroutineID  int64
	Frame        int
	DeferredCall int
}

type Stackframe struct {
	Location
	Bottom bool `json:"Bottom,omitempty"`
}

type DebuggerCommand struct {
	Name                 string      `json:"name"`
	ReturnInfoLoadConfig *LoadConfig `json:"ReturnInfoLoadConfig"`
}

var client *rpc.Client
var failures int

func call(method string, in, out interface{}) error {
	return client.Call("RPCServer."+method, in, out)
}

func must(method string, in, out interface{}) {
	if err := call(method, in, out); err != nil {
		fail("%s: %v", method, err)
		finish()
	}
}

func fail(format string, a ...interface{}) {
	failures++
	fmt.Printf("FAIL: "+format+"\n", a...)
}

func check(ok bool, format string, a ...interface{}) {
	if !ok {
		fail(format, a...)
	} else {
		fmt.Printf("ok: "+format+"\n", a...)
	}
}

func finish() {
	if failures > 0 {
		fmt.Printf("%d failures\n", failures)
		os.Exit(1)
	}
	fmt.Println("PASS")
	os.Exit(0)
}

func continueOnce() DebuggerState {
	var out struct{ State DebuggerState }
	must("Command", DebuggerCommand{Name: "continue"}, &out)
	return out.State
}

func main() {
	addr, src := os.Args[1], os.Args[2]
	conn, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		fmt.Println("dial:", err)
		os.Exit(1)
	}
	client = jsonrpc.NewClient(conn)

	must("SetApiVersion", struct{ APIVersion int }{2}, &struct{}{})
	var ver struct {
		DelveVersion string
		APIVersion   int
	}
	must("GetVersion", struct{}{}, &ver)
	check(ver.APIVersion == 2 && strings.HasPrefix(ver.DelveVersion, "Version: "), "GetVersion %+v", ver)
	if len(os.Args) > 3 && os.Args[3] == "watch" {
		watchTest(src)
		finish()
	}
	var gv struct{ TargetGoVersion string }
	must("GetVersion", struct{}{}, &gv)
	check(gv.TargetGoVersion == "Go cmd/compile "+runtime.Version(), "GetVersion TargetGoVersion %q", gv.TargetGoVersion)
	check(call("SetApiVersion", struct{ APIVersion int }{3}, &struct{}{}) != nil, "SetApiVersion 3 refused")
	var mc struct{ IsMulticlient bool }
	must("IsMulticlient", struct{}{}, &mc)
	check(mc.IsMulticlient, "IsMulticlient")
	var pid struct{ Pid int }
	must("ProcessPid", struct{}{}, &pid)
	check(pid.Pid > 0, "ProcessPid %d", pid.Pid)
	var att struct{ Answer bool }
	must("AttachedToExistingProcess", struct{}{}, &att)
	check(!att.Answer, "AttachedToExistingProcess false")
	var rec struct{ Recorded bool }
	must("Recorded", struct{}{}, &rec)
	var lm struct{ Time time.Time }
	must("LastModified", struct{}{}, &lm)
	check(!lm.Time.IsZero(), "LastModified %v", lm.Time)

	var st struct{ State DebuggerState }
	must("State", struct{ NonBlocking bool }{true}, &st)
	check(!st.State.Running && st.State.Pid == pid.Pid && len(st.State.Threads) > 0, "State at entry")

	var funcs struct{ Funcs []string }
	must("ListFunctions", struct{ Filter string }{"^main\\."}, &funcs)
	check(len(funcs.Funcs) > 5 && contains(funcs.Funcs, "main.add"), "ListFunctions main: %d", len(funcs.Funcs))
	var srcs struct{ Sources []string }
	must("ListSources", struct{ Filter string }{"basic/main.go$"}, &srcs)
	check(len(srcs.Sources) == 1, "ListSources %v", srcs.Sources)
	var types struct{ Types []string }
	must("ListTypes", struct{ Filter string }{"^main\\.Point$"}, &types)
	check(len(types.Types) == 1, "ListTypes %v", types.Types)

	// FindLocation + CreateBreakpoint the way dlv connect does it.
	var fl struct{ Locations []Location }
	must("FindLocation", struct {
		Scope EvalScope
		Loc   string
	}{EvalScope{-1, 0, 0}, "main.go:24"}, &fl)
	check(len(fl.Locations) == 1 && fl.Locations[0].Line == 24 && len(fl.Locations[0].PCs) > 0, "FindLocation main.go:24 %+v", fl.Locations)
	check(call("FindLocation", struct {
		Scope EvalScope
		Loc   string
	}{EvalScope{-1, 0, 0}, "main.nosuchfunction"}, &fl) != nil, "FindLocation unknown fails")
	var bp struct{ Breakpoint Breakpoint }
	must("CreateBreakpoint", struct{ Breakpoint map[string]interface{} }{map[string]interface{}{"functionName": "main.square", "line": -1}}, &bp)
	check(bp.Breakpoint.ID > 0 && bp.Breakpoint.FunctionName == "main.square" && bp.Breakpoint.HitCount != nil, "CreateBreakpoint main.square %+v", bp.Breakpoint)
	err = call("CreateBreakpoint", struct{ Breakpoint map[string]interface{} }{map[string]interface{}{"functionName": "main.square", "line": -1}}, &bp)
	check(err != nil && strings.Contains(err.Error(), "Breakpoint exists"), "duplicate breakpoint: %v", err)
	var fileBp struct{ Breakpoint Breakpoint }
	must("CreateBreakpoint", struct{ Breakpoint Breakpoint }{Breakpoint{File: src + "/main.go", Line: 30}}, &fileBp)
	check(fileBp.Breakpoint.Line == 30, "file:line breakpoint %+v", fileBp.Breakpoint)
	var lb struct{ Breakpoints []*Breakpoint }
	must("ListBreakpoints", struct{ All bool }{false}, &lb)
	check(len(lb.Breakpoints) >= 3, "ListBreakpoints %d (internal + 3 user)", len(lb.Breakpoints))
	// All: one entry per address (runtime-fatal-throw has two), each with Delve's
	// VerboseDescr; the logical list has none.
	var all struct{ Breakpoints []*Breakpoint }
	must("ListBreakpoints", struct{ All bool }{true}, &all)
	throws, described := 0, true
	for _, b := range all.Breakpoints {
		if b.ID == -2 {
			throws++
			check(len(b.Addrs) == 1 && b.Addr == b.Addrs[0], "All: one address per entry %+v", b)
		}
		described = described && len(b.VerboseDescr) == 2 && strings.HasPrefix(b.VerboseDescr[0], "OriginalData=0x") &&
			b.VerboseDescr[1] == `User Cond="" HitCond=<nil>`
	}
	check(len(all.Breakpoints) == len(lb.Breakpoints)+1 && throws == 2 && described,
		"ListBreakpoints All: %d entries, %d for runtime-fatal-throw, VerboseDescr %v", len(all.Breakpoints), throws, described)
	for _, b := range lb.Breakpoints {
		check(b.VerboseDescr == nil, "ListBreakpoints without All has no VerboseDescr (%d)", b.ID)
	}

	s := continueOnce()
	check(s.CurrentThread != nil && s.CurrentThread.Breakpoint != nil && s.CurrentThread.Function != nil &&
		s.CurrentThread.Function.Name == "main.square", "continue stops at main.square")
	check(s.SelectedG != nil && s.SelectedG.ID == 1, "currentGoroutine 1")

	var args struct{ Args []Variable }
	must("ListFunctionArgs", struct {
		Scope EvalScope
		Cfg   LoadConfig
	}{EvalScope{-1, 0, 0}, defaultCfg}, &args)
	check(len(args.Args) >= 1 && args.Args[0].Name == "x" && args.Args[0].Value == "99", "ListFunctionArgs x=99 %+v", args.Args)
	var ev struct{ Variable Variable }
	if err := call("Eval", struct {
		Scope EvalScope
		Expr  string
		Cfg   *LoadConfig
	}{EvalScope{-1, 0, 0}, "x", nil}, &ev); err == nil {
		check(ev.Variable.Value == "99", "Eval x = %s", ev.Variable.Value)
	} else {
		fail("Eval x: %v", err)
	}
	var stack struct{ Locations []Stackframe }
	must("Stacktrace", struct {
		Id    int64
		Depth int
	}{-1, 10}, &stack)
	check(len(stack.Locations) >= 2 && stack.Locations[0].Function.Name == "main.square" &&
		stack.Locations[1].Function.Name == "main.main", "Stacktrace %d frames", len(stack.Locations))
	var threads struct{ Threads []*Thread }
	must("ListThreads", struct{}{}, &threads)
	check(len(threads.Threads) >= 1, "ListThreads %d", len(threads.Threads))
	var gs struct {
		Goroutines []*Goroutine
		Nextg      int
	}
	must("ListGoroutines", struct{ Start, Count int }{0, 0}, &gs)
	check(len(gs.Goroutines) >= 1, "ListGoroutines %d", len(gs.Goroutines))

	// stepOut with return values.
	var so struct{ State DebuggerState }
	must("Command", DebuggerCommand{Name: "stepOut", ReturnInfoLoadConfig: &defaultCfg}, &so)
	ct := so.State.CurrentThread
	check(ct != nil && ct.Function != nil && ct.Function.Name == "main.main" && len(ct.ReturnValues) == 1 &&
		ct.ReturnValues[0].Value == "9801", "stepOut returns 9801 %+v", ct)
	var nx struct{ State DebuggerState }
	must("Command", DebuggerCommand{Name: "next"}, &nx)
	check(nx.State.CurrentThread != nil && nx.State.CurrentThread.Function.Name == "main.main" &&
		nx.State.CurrentThread.Line > ct.Line, "next moves to line %d", nx.State.CurrentThread.Line)

	// Tracepoint + return tracepoints, as dlv trace sets them.
	var tp struct{ Breakpoint Breakpoint }
	must("CreateBreakpoint", struct{ Breakpoint Breakpoint }{Breakpoint{FunctionName: "main.fact", Line: -1, Tracepoint: true, LoadArgs: &shortCfg}}, &tp)
	check(tp.Breakpoint.Tracepoint && tp.Breakpoint.LoadArgs != nil && *tp.Breakpoint.LoadArgs == shortCfg, "tracepoint echoes LoadArgs")
	var rl struct{ Addrs []uint64 }
	must("FunctionReturnLocations", struct{ FnName string }{"main.fact"}, &rl)
	check(len(rl.Addrs) >= 1, "FunctionReturnLocations %d", len(rl.Addrs))
	for _, a := range rl.Addrs {
		var r struct{ Breakpoint Breakpoint }
		must("CreateBreakpoint", struct{ Breakpoint Breakpoint }{Breakpoint{Addr: a, TraceReturn: true, Line: -1, LoadArgs: &shortCfg}}, &r)
	}
	// Clear the file breakpoint so that only trace stops remain.
	var cl struct{ Breakpoint *Breakpoint }
	must("ClearBreakpoint", struct{ Id int }{fileBp.Breakpoint.ID}, &cl)
	check(call("ClearBreakpoint", struct{ Id int }{fileBp.Breakpoint.ID}, &cl) != nil, "ClearBreakpoint twice fails")
	calls, rets := []string{}, []string{}
	for i := 0; i < 40; i++ {
		s := continueOnce()
		if s.Exited {
			break
		}
		th := s.CurrentThread
		if th == nil || th.Breakpoint == nil {
			fail("unexpected stop %+v", th)
			break
		}
		if th.Breakpoint.Tracepoint {
			if th.BreakpointInfo != nil && len(th.BreakpointInfo.Arguments) > 0 {
				calls = append(calls, th.BreakpointInfo.Arguments[0].Value)
			}
		} else if th.Breakpoint.TraceReturn {
			if len(th.ReturnValues) == 1 {
				rets = append(rets, th.ReturnValues[0].Value)
			}
		}
		if len(rets) == 5 {
			break
		}
	}
	check(strings.Join(calls, ",") == "5,4,3,2,1", "tracepoint args %v", calls)
	check(strings.Join(rets, ",") == "1,2,6,24,120", "return tracepoint values %v", rets)

	// Halt from a second connection while a continue runs (the fixture sleeps nowhere, so
	// remove every breakpoint and let it run to its end instead; the halt must not break it).
	must("ListBreakpoints", struct{ All bool }{false}, &lb)
	for _, b := range lb.Breakpoints {
		if b.ID > 0 {
			must("ClearBreakpoint", struct{ Id int }{b.ID}, &cl)
		}
	}
	s = continueOnce()
	check(s.Exited && s.ExitStatus == 0, "continue to exit: exited=%v status=%d", s.Exited, s.ExitStatus)
	s = continueOnce()
	check(s.Exited, "continue after exit returns the exited state again")
	err = call("State", struct{ NonBlocking bool }{false}, &st)
	check(err != nil && strings.Contains(err.Error(), "has exited with status 0"), "State after exit: %v", err)
	var rs struct{ DiscardedBreakpoints []interface{} }
	must("Restart", struct{}{}, &rs)
	must("ProcessPid", struct{}{}, &pid)
	check(pid.Pid > 0, "restarted with pid %d", pid.Pid)
	must("Detach", struct{ Kill bool }{true}, &struct{}{})
	finish()
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

type watchIn struct {
	Scope EvalScope
	Expr  string
	Type  int
}

// watchTest drives CreateWatchpoint on the watchx fixture as dlv 1.20.2 answers it.
func watchTest(src string) {
	const read, write = 1, 2
	var bp struct{ Breakpoint Breakpoint }
	must("CreateBreakpoint", struct{ Breakpoint Breakpoint }{Breakpoint{FunctionName: "main.main", Line: -1}}, &bp)
	s := continueOnce()
	check(s.CurrentThread != nil && s.CurrentThread.Function.Name == "main.main", "stopped in main.main")
	var cl struct{ Breakpoint *Breakpoint }
	must("ClearBreakpoint", struct{ Id int }{bp.Breakpoint.ID}, &cl)

	// A package variable: the reply is the Breakpoint itself (CreateWatchpointOut embeds it).
	var wp Breakpoint
	must("CreateWatchpoint", watchIn{EvalScope{-1, 0, 0}, "main.Total", write}, &wp)
	check(wp.ID == bp.Breakpoint.ID+1 && wp.Name == "main.Total" && wp.WatchExpr == "main.Total" &&
		wp.WatchType == write|8<<4 && wp.File == "" && wp.Line == 0 && wp.FunctionName == "" &&
		len(wp.Addrs) == 1 && wp.Addr == wp.Addrs[0] && wp.HitCount != nil,
		"CreateWatchpoint main.Total %+v", wp)
	var hits Breakpoint
	must("CreateWatchpoint", watchIn{EvalScope{-1, 0, 0}, "main.Hits", read | write}, &hits)
	check(hits.WatchType == read|write|4<<4, "main.Hits (int32) read|write: WatchType %d", hits.WatchType)
	var bad Breakpoint
	err := call("CreateWatchpoint", watchIn{EvalScope{-1, 0, 0}, "main.Name", write}, &bad)
	check(err != nil && err.Error() == "can not watch variable of type string", "string refused: %v", err)
	err = call("CreateWatchpoint", watchIn{EvalScope{-1, 0, 0}, "main.Total", 0}, &bad)
	check(err != nil && err.Error() == "at least one of read and write must be set for watchpoint", "type 0 refused: %v", err)
	err = call("CreateWatchpoint", watchIn{EvalScope{-1, 0, 0}, "nosuch", write}, &bad)
	check(err != nil && strings.Contains(err.Error(), "nosuch"), "unknown symbol refused: %v", err)
	err = call("CreateWatchpoint", watchIn{EvalScope{-1, 0, 0}, "main.Total", write}, &bad)
	check(err != nil && strings.HasPrefix(err.Error(), "Breakpoint exists at :0 at "), "watching twice refused: %v", err)
	// Every attempt past the scope took an id, as in Delve.
	var c Breakpoint
	must("CreateWatchpoint", watchIn{EvalScope{-1, 0, 0}, "main.C", write}, &c)
	check(c.ID == hits.ID+5, "ids taken by failed attempts: main.C is %d", c.ID)
	// Delve checks the name first: the expression it got is not a valid breakpoint name.
	var tg struct{ Breakpoint Breakpoint }
	err = call("ToggleBreakpoint", struct{ Id int }{wp.ID}, &tg)
	check(err != nil && err.Error() == "invalid character in breakpoint name '.'", "toggle refused: %v", err)
	must("AmendBreakpoint", struct{ Breakpoint Breakpoint }{Breakpoint{ID: wp.ID, Name: "total", WatchExpr: "main.Total"}}, &struct{}{})
	err = call("ToggleBreakpoint", struct{ Id int }{wp.ID}, &tg)
	check(err != nil && err.Error() == "can not disable watchpoints", "toggle refused: %v", err)
	var all struct{ Breakpoints []*Breakpoint }
	must("ListBreakpoints", struct{ All bool }{true}, &all)
	slots := map[string]bool{}
	for _, b := range all.Breakpoints {
		if b.WatchExpr != "" && len(b.VerboseDescr) == 3 && b.VerboseDescr[0] == "OriginalData=" {
			slots[b.VerboseDescr[1]] = true
		}
	}
	check(slots["HWBreakIndex=0x0 watchStackOff=0x0"] && slots["HWBreakIndex=0x1 watchStackOff=0x0"] &&
		slots["HWBreakIndex=0x2 watchStackOff=0x0"], "ListBreakpoints All: hardware slots %v", slots)
	must("ClearBreakpoint", struct{ Id int }{c.ID}, &cl)

	// bump(i) writes Total, then Hits. Delve resumes a thread stopped at a watchpoint with a
	// single step, which swallows the Hits hit right after: only Total is reported in bump,
	// and Hits at its read in main.
	total := 0
	for i := 1; i <= 5; i++ {
		s = continueOnce()
		th := s.CurrentThread
		total += i
		if th == nil || th.Breakpoint == nil {
			fail("no watchpoint stop %d: %+v", i, th)
			finish()
		}
		check(th.Breakpoint.ID == wp.ID && th.Function.Name == "main.bump" && th.Line == 20 &&
			th.Breakpoint.TotalHitCount == uint64(i) && th.Breakpoint.HitCount["1"] == uint64(i),
			"write %d of Total stops after the write (line %d, hits %d)", i, th.Line, th.Breakpoint.TotalHitCount)
		var ev struct{ Variable Variable }
		must("Eval", struct {
			Scope EvalScope
			Expr  string
		}{EvalScope{-1, 0, 0}, "main.Total"}, &ev)
		check(ev.Variable.Value == fmt.Sprint(total), "Total = %s", ev.Variable.Value)
	}
	s = continueOnce()
	check(s.CurrentThread != nil && s.CurrentThread.Breakpoint != nil && s.CurrentThread.Breakpoint.ID == hits.ID &&
		s.CurrentThread.Function.Name == "main.main" && s.CurrentThread.Line == 55,
		"Hits read in main %+v", s.CurrentThread)
	// The refused toggle left it flagged disabled (it kept stopping); enabling it again fails
	// and deletes it.
	var lst struct{ Breakpoints []*Breakpoint }
	must("GetBreakpoint", struct{ Id int }{wp.ID}, &tg)
	check(tg.Breakpoint.Disabled && tg.Breakpoint.Name == "total", "flagged disabled %+v", tg.Breakpoint)
	err = call("ToggleBreakpoint", struct{ Id int }{wp.ID}, &tg)
	check(err != nil && err.Error() == fmt.Sprintf("breakpoint %d can not be enabled", wp.ID), "enable refused: %v", err)
	must("ListBreakpoints", struct{ All bool }{false}, &lst)
	for _, b := range lst.Breakpoints {
		check(b.ID != wp.ID, "watchpoint %d deleted (%d)", wp.ID, b.ID)
	}
	must("ClearBreakpoint", struct{ Id int }{hits.ID}, &cl)

	// A local: writes only; it goes out of scope when its function returns.
	var lb struct{ Breakpoint Breakpoint }
	must("CreateBreakpoint", struct{ Breakpoint Breakpoint }{Breakpoint{File: src + "/main.go", Line: 28}}, &lb)
	s = continueOnce()
	check(s.CurrentThread != nil && s.CurrentThread.Function.Name == "main.local", "stopped in main.local")
	must("ClearBreakpoint", struct{ Id int }{lb.Breakpoint.ID}, &cl)
	err = call("CreateWatchpoint", watchIn{EvalScope{-1, 0, 0}, "x", read | write}, &bad)
	check(err != nil && err.Error() == "can not watch stack allocated variable for reads", "stack read refused: %v", err)
	var x Breakpoint
	must("CreateWatchpoint", watchIn{EvalScope{-1, 0, 0}, "x", write}, &x)
	must("ListBreakpoints", struct{ All bool }{true}, &all)
	sentinel, stackOff := false, false
	for _, b := range all.Breakpoints {
		if b.ID == 0 && len(b.VerboseDescr) == 2 && b.HitCount == nil &&
			strings.HasPrefix(b.VerboseDescr[1], `WatchOutOfScope Cond="runtime.curg.goid == 1 && runtime.frameoff == -`) {
			sentinel = true
		}
		if b.ID == x.ID && len(b.VerboseDescr) == 3 && strings.HasPrefix(b.VerboseDescr[1], "HWBreakIndex=0x0 watchStackOff=-0x") {
			stackOff = true
		}
	}
	check(sentinel && stackOff, "ListBreakpoints All: out-of-scope sentinel %v, stack offset %v", sentinel, stackOff)
	for i := 1; i <= 3; i++ {
		s = continueOnce()
		th := s.CurrentThread
		check(th != nil && th.Breakpoint != nil && th.Breakpoint.ID == x.ID && th.Function.Name == "main.local" &&
			th.Breakpoint.TotalHitCount == uint64(i) && s.WatchOutOfScope == nil, "write %d of x", i)
	}
	s = continueOnce()
	check(s.CurrentThread != nil && s.CurrentThread.Breakpoint == nil && s.CurrentThread.Function.Name == "main.main" &&
		len(s.WatchOutOfScope) == 1 && s.WatchOutOfScope[0].ID == x.ID && s.WatchOutOfScope[0].TotalHitCount == 3,
		"x out of scope when local returns %+v", s.WatchOutOfScope)
	must("ListBreakpoints", struct{ All bool }{false}, &lst)
	for _, b := range lst.Breakpoints {
		check(b.ID != x.ID, "x is gone from ListBreakpoints")
	}

	// A local whose goroutine's stack is copied meanwhile: the watchpoint follows it.
	must("CreateBreakpoint", struct{ Breakpoint Breakpoint }{Breakpoint{File: src + "/main.go", Line: 46}}, &lb)
	s = continueOnce()
	check(s.CurrentThread != nil && s.CurrentThread.Function.Name == "main.grow", "stopped in main.grow")
	must("ClearBreakpoint", struct{ Id int }{lb.Breakpoint.ID}, &cl)
	var y Breakpoint
	must("CreateWatchpoint", watchIn{EvalScope{-1, 0, 0}, "y", write}, &y)
	s = continueOnce()
	check(s.CurrentThread != nil && s.CurrentThread.Breakpoint != nil && s.CurrentThread.Breakpoint.ID == y.ID &&
		s.CurrentThread.Line == 47 && s.CurrentThread.Breakpoint.Addr != y.Addr,
		"y written after the stack moved (line %d, address %#x -> %#x)", s.CurrentThread.Line, y.Addr, s.CurrentThread.Breakpoint.Addr)
	s = continueOnce()
	check(s.CurrentThread != nil && s.CurrentThread.Breakpoint != nil && s.CurrentThread.Breakpoint.ID == y.ID &&
		s.CurrentThread.Line == 48 && s.CurrentThread.Breakpoint.TotalHitCount == 2, "y += 2 (line %d)", s.CurrentThread.Line)
	s = continueOnce()
	check(len(s.WatchOutOfScope) == 1 && s.WatchOutOfScope[0].ID == y.ID, "y out of scope %+v", s.WatchOutOfScope)
	s = continueOnce()
	check(s.Exited && s.ExitStatus == 0, "runs to its end")
	var rs struct {
		DiscardedBreakpoints []struct {
			Breakpoint *Breakpoint
			Reason     string
		}
	}
	must("Restart", struct{}{}, &rs)
	must("Detach", struct{ Kill bool }{true}, &struct{}{})
}
