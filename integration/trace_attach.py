#!/usr/bin/env python3
"""`goscope trace -p PID`, interrupted with SIGINT (or SIGTERM): goscope detaches, every trap
is removed, and the program runs on to its normal end with the right result. (dlv 1.20.2
leaves the process stopped and, once continued, it dies of SIGTRAP on a trap left behind.)"""
import os
import re
import signal
import subprocess
import sys
import time


def tracer_of(pid: int) -> tuple[str, int]:
    state, tracer = "?", -1
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("State:"):
                state = line.split()[1]
            elif line.startswith("TracerPid:"):
                tracer = int(line.split()[1])
    return state, tracer


def run_once(goscope: str, ticker: str, sig: int, engine: str = "auto",
             trampolines: bool = False) -> list[str]:
    """`trampolines`: with --stats, the engine must say that main.tick's sites got
    trampolines although the process had run (nothing of it is on a stack while the program
    sleeps), and the program's result must still be right after the detach."""
    failures = []
    ticks = 300
    prog = subprocess.Popen([ticker, str(ticks)], stdout=subprocess.PIPE, text=True)
    time.sleep(0.3)
    stats = ["--stats"] if trampolines else []
    tr = subprocess.Popen([goscope, "trace", "--engine", engine, *stats, "-p", str(prog.pid),
                           "^main\\.tick$"],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    seen = []
    deadline = time.time() + 20
    while len(seen) < 6 and time.time() < deadline:
        line = tr.stderr.readline()
        if not line:
            break
        if line.startswith(">"):
            seen.append(line.rstrip())
    if len(seen) < 6:
        failures.append(f"too few trace lines before the signal: {seen}")
    if seen and not re.match(r"^> goroutine\(1\): main\.tick\(\d+\)$", seen[0]) \
            and not re.match(r"^>> goroutine\(1\): => \(\d+\)$", seen[0]):
        failures.append(f"unexpected first line {seen[0]!r}")
    tr.send_signal(sig)
    try:
        tr_out, rest = tr.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        tr.kill()
        failures.append("goscope did not exit after the signal")
        tr_out, rest = "", ""
    if tr.returncode != 0:
        failures.append(f"goscope exited {tr.returncode}: {rest[-500:]}")
    if trampolines:
        m = re.search(r"Attached: (\d+) sites in trampolines, (\d+) kept the slow probe",
                      out_and_err := tr_out + rest)
        if not m:
            failures.append(f"--stats does not say how many sites got trampolines: "
                            f"{out_and_err[-800:]}")
        elif int(m.group(1)) == 0:
            failures.append(f"no trampoline in the attached process: {m.group(0)}")
    if f"Detached from process {prog.pid}" not in rest:
        failures.append(f"no detach message: {rest[-500:]}")
    if prog.poll() is None:
        state, tracer = tracer_of(prog.pid)
        if tracer != 0:
            failures.append(f"still traced by {tracer} after detach")
        if state in ("t", "T"):
            failures.append(f"left stopped (state {state})")
    try:
        out, _ = prog.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        prog.kill()
        out = ""
        failures.append("program did not finish after detach (left stopped?)")
    want = f"sum {ticks * (ticks - 1)}\n"
    if prog.returncode != 0 or out != want:
        failures.append(f"program ended with {prog.returncode} ({-prog.returncode if prog.returncode and prog.returncode < 0 else ''}) "
                        f"and output {out!r}, want 0 and {want!r}")
    return failures


def main() -> int:
    goscope, ticker = sys.argv[1], sys.argv[2]
    failures = run_once(goscope, ticker, signal.SIGINT) + run_once(goscope, ticker, signal.SIGTERM)
    # The in-process engine attached: trampolines where nothing runs inside the moved code,
    # the capture code made inert and the original code written back at the detach.
    failures += [f"[--engine inproc] {f}"
                 for f in run_once(goscope, ticker, signal.SIGINT, "inproc", trampolines=True)]
    if "uprobe" in subprocess.run([goscope, "trace", "--engine", "auto", "--stats", "--exec",
                                   ticker, "^main\\.tick$", "--", "1"],
                                  capture_output=True, text=True).stderr:
        failures += [f"[--engine uprobe] {f}"
                     for f in run_once(goscope, ticker, signal.SIGINT, "uprobe", trampolines=True)]
    if failures:
        print("\n".join(failures))
        return 1
    print("attach, trace, SIGINT/SIGTERM, detach: the program finished untouched")
    return 0


if __name__ == "__main__":
    sys.exit(main())
