#!/usr/bin/env python3
"""The in-process engine (`--engine inproc`) where it differs from the others most: its
capture code runs inside the program.

- Bad pointers: a *Point, a string and a slice whose data pointer is an unmapped page. The
  capture code's reads fault; goscope catches the faults under ptrace (the program never
  sees a signal), the values take the completion path and print exactly as the ptrace
  engine prints them (unreadable), and the program goes on.
- Many goroutines on fresh (small) stacks calling a traced function that grows them, with a
  GC running and goroutines preempted (GOMAXPROCS=4 spinners), plus a fork/exec: every call
  and return traced once, 0 lost, 0 out of order, the program's output unchanged.
- The ring's back-pressure: a ring filled faster than goscope drains it makes writers wait
  (counted), never lose a record.
- Jumps in moved code (an optimized leaf, `cmp al, 0x20; ja ret; je ...` at its entry, the
  inlined isSpace right after the cmp, a RET that only jumps reach): the entry moves with
  its jumps re-encoded, the inlined copy records in the entry's trampoline, and the jump to
  the RET goes to that RET's code in the trampoline; only the other path to the RET traps.
  An inlined copy in a body (byLen.Less in less) gets its own trampoline: R12, R13 and the
  flags are written before they are read on every path from it (or a CALL/RET comes
  first). Same lines as the ptrace engine, and only the RET's other path stops.

The Go program is built here (go build) into a temporary directory.

    trace_inproc.py GOSCOPE
"""
import os
import re
import subprocess
import sys
import tempfile

PROGRAM = r'''
package main

import (
	"fmt"
	"os"
	"os/exec"
	"reflect"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"unsafe"
)

type Point struct{ X, Y int }

//go:noinline
func badPtr(p *Point) int { return 1 }

//go:noinline
func badStr(s string) int { return len(s) }

//go:noinline
func badSlice(xs []int) int { return len(xs) }

//go:noinline
func grow(n int) int {
	var pad [256]byte
	pad[n%256] = byte(n)
	if n == 0 {
		return int(pad[0])
	}
	return grow(n-1) + 1
}

//go:noinline
func tick(i int) int { return i + 1 }

func main() {
	// A pointer into a page that is no longer mapped: every read of it faults.
	mem, err := syscall.Mmap(-1, 0, 4096, syscall.PROT_READ|syscall.PROT_WRITE,
		syscall.MAP_ANON|syscall.MAP_PRIVATE)
	if err != nil {
		panic(err)
	}
	addr := uintptr(unsafe.Pointer(&mem[0]))
	syscall.Munmap(mem)
	fmt.Println("ptr", badPtr((*Point)(unsafe.Pointer(addr))))
	var s string
	sh := (*reflect.StringHeader)(unsafe.Pointer(&s))
	sh.Data, sh.Len = addr, 5
	fmt.Println("str", badStr(s))
	var xs []int
	xh := (*reflect.SliceHeader)(unsafe.Pointer(&xs))
	xh.Data, xh.Len, xh.Cap = addr, 3, 3
	fmt.Println("slice", badSlice(xs))

	// Small stacks that grow under the capture code, GC, preemption, fork/exec.
	runtime.GOMAXPROCS(4)
	var stop int32
	for i := 0; i < 2; i++ {
		go func() {
			for atomic.LoadInt32(&stop) == 0 {
			}
		}()
	}
	var wg sync.WaitGroup
	var total int64
	for round := 0; round < 4; round++ {
		for g := 0; g < 50; g++ {
			wg.Add(1)
			go func(g int) {
				defer wg.Done()
				atomic.AddInt64(&total, int64(grow(20+g%5)))
			}(g)
		}
		wg.Wait()
		runtime.GC()
		if round == 1 {
			if err := exec.Command("/bin/true").Run(); err != nil {
				fmt.Println("exec:", err)
			}
		}
	}
	atomic.StoreInt32(&stop, 1)
	fmt.Println("total", total)

	// Many records quickly: the ring fills faster than goscope formats them.
	n := 0
	count := 200000
	if len(os.Args) > 1 {
		fmt.Sscan(os.Args[1], &count)
	}
	for i := 0; i < count; i++ {
		n += tick(i) & 1
	}
	fmt.Println("ticks", n)
}
'''

LEAF = r'''
package main

import "fmt"

func isSpace(c byte) bool {
	return c <= ' ' && (c == ' ' || c == '\t' || c == '\r' || c == '\n')
}

//go:noinline
func noSpace(c rune) rune {
	if isSpace(byte(c)) {
		return -1
	}
	return c
}

type byLen []string

func (s byLen) Less(i, j int) bool { return len(s[i]) < len(s[j]) }

//go:noinline
func less(s *byLen, i, j int) bool { return s.Less(i, j) }

func main() {
	text := "a b\tc\x01d\re\nf g"
	n := 0
	words := byLen{"a", "bb", "ccc"}
	for i := 0; i < 1000; i++ {
		for _, c := range text {
			if noSpace(c) < 0 {
				n++
			}
		}
		if less(&words, i%3, (i+1)%3) {
			n++
		}
	}
	fmt.Println("spaces", n)
}
'''

CALL = re.compile(r"^> goroutine\((\d+)\): main\.(\w+)\(")
RET = re.compile(r"^>> goroutine\((\d+)\): => \(")


def trace(goscope, engine, binary, regexp, *args):
    return subprocess.run([goscope, "trace", "--engine", engine, "--stats", "--exec", binary,
                           regexp, "--", *args], capture_output=True, text=True, timeout=300)


def main() -> int:
    goscope = sys.argv[1]
    tmp = tempfile.mkdtemp()
    with open(os.path.join(tmp, "main.go"), "w") as f:
        f.write(PROGRAM)
    with open(os.path.join(tmp, "go.mod"), "w") as f:
        f.write("module inproctest\n\ngo 1.19\n")
    binary = os.path.join(tmp, "inproctest")
    b = subprocess.run(["go", "build", "-gcflags=-N -l", "-o", binary, "."], cwd=tmp,
                       capture_output=True, text=True, timeout=300)
    if b.returncode != 0:
        print("go build failed:\n" + b.stderr)
        return 1
    native = lambda *args: subprocess.run([binary, *args], capture_output=True, text=True,
                                          timeout=60).stdout
    failures = []

    # Bad pointers: the same lines as the ptrace engine, the faults caught.
    regexp = r"^main\.bad"
    ip = trace(goscope, "inproc", binary, regexp, "10")
    pt = trace(goscope, "ptrace", binary, regexp, "10")
    if ip.returncode != 0 or ip.stdout != native("10"):
        failures.append(f"bad pointers: exit {ip.returncode}, output {ip.stdout!r}\n"
                        f"{ip.stderr[-1500:]}")
    # The unmapped page's address differs between runs.
    lines = lambda e: [re.sub(r"0x[0-9a-f]+", "0x?", l) for l in e.splitlines()
                       if l.startswith(">")]
    if lines(ip.stderr) != lines(pt.stderr) or len(lines(ip.stderr)) != 6:
        failures.append("bad pointers: inproc and ptrace lines differ:\n" +
                        "\n".join(lines(ip.stderr)) + "\n---\n" + "\n".join(lines(pt.stderr)))
    if "unreadable" not in ip.stderr:
        failures.append("bad pointers: nothing reported unreadable:\n" + ip.stderr[-1500:])
    m = re.search(r"(\d+) faulted reads recovered", ip.stderr)
    if not m or int(m[1]) == 0:
        failures.append("bad pointers: no fault was caught by the capture code:\n" +
                        ip.stderr[-800:])
    print("bad pointers:", " | ".join(lines(ip.stderr)[:2]), "...", m[0] if m else "")

    # Goroutines, stack growth, GC, preemption, fork/exec; then a flood of records.
    ticks = 200000
    r = trace(goscope, "inproc", binary, r"^main\.(grow|tick)$", str(ticks))
    if r.returncode != 0 or r.stdout != native(str(ticks)):
        failures.append(f"stress: exit {r.returncode}, output {r.stdout!r} vs "
                        f"{native(str(ticks))!r}\n{r.stderr[-1500:]}")
    calls, rets = {}, 0
    open_calls = {}
    for line in r.stderr.splitlines():
        c = CALL.match(line)
        if c:
            calls[c[2]] = calls.get(c[2], 0) + 1
            open_calls[c[1]] = open_calls.get(c[1], 0) + 1
            continue
        if RET.match(line):
            rets += 1
    want_grow = 4 * sum(21 + g % 5 for g in range(50))
    if calls.get("grow") != want_grow or calls.get("tick") != ticks or \
            rets != want_grow + ticks:
        failures.append(f"stress: {calls} calls, {rets} returns; want grow={want_grow}, "
                        f"tick={ticks}, returns={want_grow + ticks}")
    ev = re.search(r"Events: \d+ \((\d+) lost, (\d+) unmatched returns(, (\d+) out of order)?\)",
                   r.stderr)
    if not ev or ev[1] != "0" or ev[2] != "0" or ev[3]:
        failures.append("stress: " + (ev[0] if ev else r.stderr[-800:]))
    eng = re.search(r"Engine: inproc \((\d+) of (\d+) events stopped", r.stderr)
    ring = re.search(r"Ring: (\d+) waits for room", r.stderr)
    if not eng or not ring:
        failures.append("stress: no engine or ring line:\n" + r.stderr[-800:])
    print(f"stress: grow={calls.get('grow')} tick={calls.get('tick')} returns={rets};",
          ev[0] if ev else "", "|", eng[0] if eng else "", "|", ring[0] if ring else "")

    # Jumps in moved code: an optimized build (the branches are the optimizer's).
    leaf_dir = os.path.join(tmp, "leaf")
    os.mkdir(leaf_dir)
    with open(os.path.join(leaf_dir, "main.go"), "w") as f:
        f.write(LEAF)
    with open(os.path.join(leaf_dir, "go.mod"), "w") as f:
        f.write("module leaftest\n\ngo 1.19\n")
    leaf = os.path.join(leaf_dir, "leaftest")
    b = subprocess.run(["go", "build", "-o", leaf, "."], cwd=leaf_dir, capture_output=True,
                       text=True, timeout=300)
    if b.returncode != 0:
        print("go build failed:\n" + b.stderr)
        return 1
    regexp = r"^main\.(noSpace|isSpace|byLen\.Less)$"
    ip = trace(goscope, "inproc", leaf, regexp)
    pt = trace(goscope, "ptrace", leaf, regexp)
    traced = lambda e: [l for l in e.splitlines() if l.startswith(">")]
    if ip.returncode != 0 or ip.stdout != "spaces 5667\n":
        failures.append(f"jumps: exit {ip.returncode}, output {ip.stdout!r}\n{ip.stderr[-1500:]}")
    if traced(ip.stderr) != traced(pt.stderr) or len(traced(ip.stderr)) != 40000:
        failures.append(f"jumps: inproc and ptrace lines differ ({len(traced(ip.stderr))} and "
                        f"{len(traced(pt.stderr))} lines)")
    eng = re.search(r"Engine: inproc \((\d+) of (\d+) events stopped", ip.stderr)
    # Only the 1,000 calls with c = 0x01 reach the RET through the jne that stays in place.
    if not eng or int(eng[1]) > 1000:
        failures.append("jumps: the moved jumps' paths still stop: " +
                        (eng[0] if eng else ip.stderr[-800:]))
    print("jumps:", eng[0] if eng else "no engine line")

    if failures:
        print("\n\n".join(failures))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
