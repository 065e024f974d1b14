#!/usr/bin/env python3
"""Whole-process tracing benchmark, goscope side by side with dlv in one run.

Per traced call (entry + return) = (wall time traced - wall time untraced) / calls, the
median of --runs runs, tracer and target pinned to one CPU (taskset) as the issue asks.
Trace output goes to a file, so formatting and writing are part of the cost.

    bench/trace_bench.py [--build build] [--runs 5] [--calls 20000] [--dlv-calls 1000]
                         [--attached] [--probe-only]

--json-test measures the issue's real program instead: the encoding/json test binary built
from GOROOT (`go test -c encoding/json`), `-test.run '^TestMarshal$'`, every function of
`^encoding/json\.` traced: untraced, each goscope engine and dlv side by side (medians of
--runs, not pinned), with goscope's own phases (GOSCOPE_DEBUG=1: loading the binary and
selecting, engine setup, the run itself), the machine's load before and after; the table
also goes to --out.

--attached adds the in-program cost of each trampoline engine attached to the running
program (`trace -p`) next to the launched one; --probe-only skips the whole-run table.

goscope runs with each engine: inproc (capture code in the program, a shared ring: no
kernel entry per event), uprobe (the default where the kernel allows it: no stop per event)
and ptrace (a trap per event, emulated step).
"""
import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time


def wall(cmd, stderr_path):
    """Wall time and peak RSS (KiB: the largest of the tool and the processes it waited
    for, i.e. the traced program) of one run."""
    with open(stderr_path, "w") as err, open(os.devnull, "w") as out:
        t0 = time.perf_counter()
        p = subprocess.Popen(cmd, stdout=out, stderr=err)
        _, status, usage = os.wait4(p.pid, 0)
        t1 = time.perf_counter()
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        raise SystemExit(f"{cmd} failed: {code}\n{open(stderr_path).read()[-2000:]}")
    return t1 - t0, usage.ru_maxrss


def median_wall(cmd, runs, stderr_path):
    times, rss = [], []
    for _ in range(runs):
        t, m = wall(cmd, stderr_path)
        times.append(t)
        rss.append(m)
    return statistics.median(times), statistics.median(rss)


# The program's own view: the CPU time its calling thread spends in the calls while traced,
# with few enough calls that the ring never fills: the cost of the probe itself, without
# goscope's work on the events (which the whole-run figures above include) and whatever else
# runs on the machine.
PROBE_PROGRAM = r'''
package main

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"syscall"
	"unsafe"
)

type Point struct{ X, Y int }

//go:noinline
func work(i int) int { return i*2 + 1 }

//go:noinline
func rich(s string, xs []int, p Point, m map[string]int, e error) int {
	return len(s) + len(xs) + p.X + len(m)
}

// The CPU time of this thread (CLOCK_THREAD_CPUTIME_ID): what the calls cost it, whatever
// else runs on the machine.
func threadCPU() int64 {
	var ts syscall.Timespec
	syscall.Syscall(syscall.SYS_CLOCK_GETTIME, 3, uintptr(unsafe.Pointer(&ts)), 0)
	return ts.Nano()
}

func main() {
	runtime.LockOSThread()
	n, _ := strconv.Atoi(os.Args[2])
	if len(os.Args) > 3 && os.Args[3] == "wait" {
		// Attached: the tracer writes a line once it has attached (the program then stays
		// stopped until the tracepoints are in place).
		bufio.NewReader(os.Stdin).ReadString('\n')
	}
	xs := []int{1, 2, 3}
	m := map[string]int{"a": 1}
	err := errors.New("boom")
	sum := 0
	start := threadCPU()
	for i := 0; i < n; i++ {
		if os.Args[1] == "int" {
			sum += work(i)
		} else {
			sum += rich("hello", xs, Point{i, 2}, m, err)
		}
	}
	fmt.Fprintln(os.Stdout, threadCPU()-start, sum)
}
'''


def probe_costs(goscope, pin, runs, calls, engines, attach_engines=()):
    """ns per call inside the program, traced minus untraced, median of runs."""
    tmp = tempfile.mkdtemp()
    with open(os.path.join(tmp, "main.go"), "w") as f:
        f.write(PROBE_PROGRAM)
    with open(os.path.join(tmp, "go.mod"), "w") as f:
        f.write("module probecost\n\ngo 1.19\n")
    binary = os.path.join(tmp, "probecost")
    subprocess.run(["go", "build", "-o", binary, "."], cwd=tmp, check=True)

    def inner(cmd):
        vals = []
        for _ in range(runs):
            r = subprocess.run(cmd, capture_output=True, text=True, check=True)
            vals.append(int(r.stdout.split()[0]) / calls)
        return statistics.median(vals)

    def attached(engine, mode, fn):
        """One run traced with --pid: the program waits for a line on stdin, sent once
        goscope has attached (TracerPid set: the program stays stopped until the engine is
        ready); the attached engine must have moved the sites into trampolines."""
        prog = subprocess.Popen(pin + [binary, mode, str(calls), "wait"], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, text=True)
        tr = subprocess.Popen(pin + [goscope, "trace", "--engine", engine, "--stats", "-p",
                                     str(prog.pid), fn],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        deadline = time.time() + 30
        while time.time() < deadline:
            with open(f"/proc/{prog.pid}/status") as f:
                if any(l.startswith("TracerPid:") and l.split()[1] != "0" for l in f):
                    break
            time.sleep(0.01)
        prog.stdin.write("go\n")
        prog.stdin.close()
        out = prog.stdout.read()
        prog.wait()
        err = tr.communicate()[1]
        if "Attached:" not in err:
            raise SystemExit(f"attached {engine}: no Attached line in --stats:\n{err[-600:]}")
        return int(out.split()[0]) / calls, err

    out = {}
    for mode, fn in (("int", "^main\\.work$"), ("rich", "^main\\.rich$")):
        native = inner(pin + [binary, mode, str(calls)])
        out[mode] = {e: inner(pin + [goscope, "trace", "--engine", e, "--exec", binary, fn, "--",
                                     mode, str(calls)]) - native for e in engines}
        if attach_engines:
            for e in attach_engines:
                vals = [attached(e, mode, fn)[0] for _ in range(runs)]
                out[mode][e + " -p"] = statistics.median(vals) - native
    shutil.rmtree(tmp)
    return out


PHASES = re.compile(r"goscope: phases: load\+select (\d+) ms, launch (\d+) ms, prepare (\d+) ms, "
                    r"run (\d+) ms, writer (\d+) ms")


def json_test_bench(goscope, runs, out_path, dlv_timeout):
    """The real program of issue 15: encoding/json.test, ^encoding/json\., TestMarshal."""
    tmp = tempfile.mkdtemp()
    binary = os.path.join(tmp, "json.test")
    subprocess.run(["go", "test", "-c", "-o", binary, "encoding/json"], check=True, cwd=tmp)
    run_args = ["-test.run", "^TestMarshal$"]
    pattern = "^encoding/json\\."
    err = os.path.join(tmp, "stderr")
    load_before = os.getloadavg()
    lines = []
    native, _ = median_wall([binary, *run_args], runs, err)
    lines.append(f"{'untraced':<10} {native:>8.3f} s {'':>8} {'':>40}")
    rows = {}
    for engine in ("inproc", "uprobe", "ptrace"):
        walls, phases, events = [], [], ""
        for _ in range(runs):
            cmd = [goscope, "trace", "--engine", engine, "--stats", "--exec", binary, pattern,
                   "--", *run_args]
            env = {**os.environ, "GOSCOPE_DEBUG": "1"}
            with open(err, "w") as e, open(os.devnull, "w") as o:
                t0 = time.perf_counter()
                p = subprocess.run(cmd, stdout=o, stderr=e, env=env)
                walls.append(time.perf_counter() - t0)
            text = open(err).read()
            if p.returncode != 0 or " (0 lost," not in text:
                raise SystemExit(f"{engine}: exit {p.returncode} or events lost:\n{text[-800:]}")
            m = PHASES.search(text)
            phases.append(tuple(int(x) for x in m.groups()) if m else (0,) * 5)
            ev = re.search(r"Events: (\d+) \(0 lost", text)
            st = re.search(r"\((\d+) of \d+ events stopped", text)
            events = f"{ev[1] if ev else '?'} events, {st[1] if st else '?'} stopped"
        med = lambda k: statistics.median(ph[k] for ph in phases)
        wall_t = statistics.median(walls)
        rows[engine] = wall_t
        lines.append(f"{engine:<10} {wall_t:>8.3f} s {wall_t / native:>7.1f}x   load+select "
                     f"{med(0):.0f} ms, prepare {med(2):.0f} ms, run {med(3):.0f} ms "
                     f"({med(3) / 1000 / native:.1f}x untraced), writer {med(4):.0f} ms; {events}")
    if shutil.which("dlv"):
        walls = []
        for _ in range(runs):
            t0 = time.perf_counter()
            try:
                with open(err, "w") as e, open(os.devnull, "w") as o:
                    subprocess.run(["dlv", "trace", "--exec", binary, pattern, "--", *run_args],
                                   stdout=o, stderr=e, timeout=dlv_timeout)
                walls.append(time.perf_counter() - t0)
            except subprocess.TimeoutExpired:
                walls = []
                break
        if walls:
            wall_t = statistics.median(walls)
            n = sum(1 for l in open(err).read().splitlines() if l.startswith(">"))
            lines.append(f"{'dlv':<10} {wall_t:>8.3f} s {wall_t / native:>7.1f}x   {n} lines")
        else:
            lines.append(f"{'dlv':<10} did not finish within {dlv_timeout} s")
    load_after = os.getloadavg()
    head = (f"encoding/json.test -test.run '^TestMarshal$', {pattern}: median of {runs} runs, "
            f"wall time (x untraced); goscope's phases are medians too.\n"
            f"load average before {load_before[0]:.2f} {load_before[1]:.2f}, after "
            f"{load_after[0]:.2f} {load_after[1]:.2f} ({os.cpu_count()} CPUs)")
    text = head + "\n" + "\n".join(lines) + "\n"
    print(text, end="")
    if out_path:
        with open(out_path, "w") as f:
            f.write(text)
    shutil.rmtree(tmp)


def main():
    ap = argparse.ArgumentParser()
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    ap.add_argument("--build", default=os.path.join(root, "build"))
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--calls", type=int, default=20000)
    ap.add_argument("--dlv-calls", type=int, default=1000)
    ap.add_argument("--cpu", default="0")
    ap.add_argument("--probe-calls", type=int, default=5000)
    ap.add_argument("--attached", action="store_true",
                    help="also the in-program cost with the engines attached (trace -p)")
    ap.add_argument("--probe-only", action="store_true",
                    help="only the in-program costs (no whole-run table, no dlv)")
    ap.add_argument("--json-test", action="store_true",
                    help="the encoding/json test binary instead (see the module's doc)")
    ap.add_argument("--out", default="", help="--json-test: also write the table here")
    ap.add_argument("--dlv-timeout", type=int, default=300)
    args = ap.parse_args()
    goscope = os.path.join(args.build, "bin", "goscope")
    if args.json_test:
        json_test_bench(goscope, args.runs, args.out, args.dlv_timeout)
        return
    bench = os.path.join(args.build, "fixtures", "bench")
    pin = ["taskset", "-c", args.cpu] if shutil.which("taskset") else []
    tmp = tempfile.mkdtemp()
    err = os.path.join(tmp, "stderr")
    tools = (("inproc", args.calls), ("uprobe", args.calls), ("ptrace", args.calls),
             ("dlv", args.dlv_calls))
    names = [t for t, _ in tools]
    rows, mem_rows = [], []
    if not args.probe_only:
        for mode, fn in (("int", "^main\\.work$"), ("rich", "^main\\.rich$")):
            results, peak = {}, {}
            for tool, calls in tools:
                native, _ = median_wall(pin + [bench, mode, str(calls)], args.runs, err)
                if tool != "dlv":
                    cmd = pin + [goscope, "trace", "--engine", tool, "--stats", "--exec", bench, fn,
                                 "--", mode, str(calls)]
                else:
                    cmd = pin + ["dlv", "trace", "--exec", bench, fn, "--", mode, str(calls)]
                traced, rss = median_wall(cmd, args.runs, err)
                text = open(err).read()
                lines = sum(1 for l in text.splitlines() if l.startswith(">"))
                if lines != 2 * calls:
                    raise SystemExit(f"{tool} {mode}: expected {2 * calls} trace lines, got {lines}")
                if tool != "dlv" and " (0 lost," not in text:
                    raise SystemExit(f"{tool} {mode}: events lost:\n{text[-600:]}")
                results[tool] = (traced - native) / calls * 1e6
                peak[tool] = rss
            rows.append((mode, results))
            mem_rows.append((mode, peak))
        print(f"median of {args.runs} runs, pinned to CPU {args.cpu}; "
              f"goscope {args.calls} calls, dlv {args.dlv_calls} calls per run; us per traced call "
              f"(0 lost in every goscope run)")
        print(f"{'arguments':<10}" + "".join(f" {n:>10}" for n in names) +
              f" {'uprobe/inproc':>14} {'dlv/inproc':>11}")
        for mode, r in rows:
            print(f"{mode:<10}" + "".join(f" {r[n]:>10.2f}" for n in names) +
                  f" {r['uprobe'] / r['inproc']:>13.1f}x {r['dlv'] / r['inproc']:>10.1f}x")
    attach = ("inproc", "uprobe") if args.attached else ()
    probe = probe_costs(goscope, pin, args.runs, args.probe_calls, names[:-1], attach)
    cols = names[:-1] + [e + " -p" for e in attach]
    print(f"\nin the program: ns per traced call (the calling thread's CPU time over "
          f"{args.probe_calls} calls, traced minus untraced; the ring never fills; "
          f"'-p': the same engine attached to the running program)")
    print(f"{'arguments':<10}" + "".join(f" {n:>10}" for n in cols))
    for mode, r in probe.items():
        print(f"{mode:<10}" + "".join(f" {r[n]:>10.0f}" for n in cols))
    if mem_rows:
        print(f"\npeak RSS, MiB (the tracer or its traced program, whichever is larger)")
        print(f"{'arguments':<10}" + "".join(f" {n:>10}" for n in names))
        for mode, p in mem_rows:
            print(f"{mode:<10}" + "".join(f" {p[n] / 1024:>10.1f}" for n in names))
    shutil.rmtree(tmp)


if __name__ == "__main__":
    main()
