#!/usr/bin/env python3
"""Every call is traced exactly once, however often runtime.morestack restarts it.

The stress fixture calls traced functions many times from one frame (loops, recursion that
calls itself twice from one frame, recovered panics that leave a call open) while stacks
grow (1 KiB and 6 KiB frames, fresh goroutines, a GC between rounds) and goroutines are
preempted (spinners on GOMAXPROCS=4). It prints its own count of calls and returns per
function. Under `goscope trace --stats`, run several times on each engine, the trace must
hold exactly that many call lines and return lines per function, with 0 lost events, 0
unmatched returns and 0 events out of order.

    trace_stress.py GOSCOPE STRESS_BINARY [RUNS] [SCALE]

Each engine also traces one run it attaches to (`--pid`): the uprobe and in-process engines
then move code into trampolines only where no thread and no goroutine may go on inside it
(live_pcs.cpp; the program is running goroutines, preempting and growing stacks meanwhile);
the sites left on the original code probe the stack check's jbe (uprobe, recording only the
hits where it does not branch) or trap (in-process). The
uprobe engine's runs are skipped (with the reason) where eBPF is not allowed; the test then
checks the ptrace and in-process engines.
"""
import collections
import re
import subprocess
import sys
import threading

FUNCTIONS = ("main.hit", "main.grow", "main.huge", "main.boom")
REGEXP = r"^main\.(hit|grow|huge|boom)$"
ATTACH_REGEXP = r"^main\.(hit|grow|huge|boom|ping)$"
CALL = re.compile(r"^> goroutine\((\d+)\): (main\.\w+)\(")
RET = re.compile(r"^>> goroutine\((\d+)\): => \(")
OWN = re.compile(r"^(main\.\w+) calls=(\d+) returns=(\d+)$")
EVENTS = re.compile(r"Events: \d+ \((\d+) lost, (\d+) unmatched returns(?:, (\d+) out of order)?\)")


def run_exec(goscope, binary, engine, scale):
    cmd = [goscope, "trace", "--engine", engine, "--stats", "--exec", binary, REGEXP, "--",
           str(scale)]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    return r.returncode, r.stdout, r.stderr


def run_attached(goscope, binary, engine, scale):
    """Starts the program waiting, attaches, and lets it go once main.ping is traced."""
    prog = subprocess.Popen([binary, str(scale), "wait"], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    tr = subprocess.Popen([goscope, "trace", "--engine", engine, "--stats", "-p",
                           str(prog.pid), ATTACH_REGEXP],
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    lines = []
    traced = threading.Event()

    def read():
        for line in tr.stderr:
            lines.append(line)
            if "main.ping(" in line:
                traced.set()
        traced.set()

    reader = threading.Thread(target=read)
    reader.start()
    try:
        traced.wait(timeout=60)
        prog.stdin.write("go\n")
        prog.stdin.close()
        out = prog.stdout.read()
        prog.wait(timeout=120)
        tr.wait(timeout=120)
    finally:
        for p in (prog, tr):
            if p.poll() is None:
                p.kill()
                p.wait()
        reader.join()
    return tr.returncode, out, "".join(lines)


def check_run(goscope, binary, engine, scale, attach=False):
    run = run_attached if attach else run_exec
    code, stdout, stderr = run(goscope, binary, engine, scale)
    r = subprocess.CompletedProcess([], code, stdout, stderr)
    if engine == "uprobe" and "uprobe engine is not available" in r.stderr:
        return None, r.stderr.strip().splitlines()[-1]
    problems = []
    if r.returncode != 0:
        problems.append(f"exit {r.returncode}: {r.stderr[-1500:]}")
        return problems, ""
    own = {}
    for line in r.stdout.splitlines():
        m = OWN.match(line)
        if m:
            own[m[1]] = (int(m[2]), int(m[3]))
    if set(own) != set(FUNCTIONS):
        problems.append(f"the program's counts are missing: {r.stdout!r}")
        return problems, ""
    calls = collections.Counter()
    returns = collections.Counter()
    # A return line names no function: it closes the innermost open call of its goroutine
    # (recovered panics leave main.boom calls open; the next return of that goroutine is
    # of a newer call, so the stack is popped down to the newest open call's function by
    # name, as the trace pairs them).
    open_calls = collections.defaultdict(list)
    # Attached, main.ping's first return may come without its call (it was running).
    unmatched_ok = 0
    for line in r.stderr.splitlines():
        m = CALL.match(line)
        if m:
            calls[m[2]] += 1
            open_calls[m[1]].append(m[2])
            continue
        m = RET.match(line)
        if m:
            stack = open_calls[m[1]]
            if not stack:
                if attach and not calls:
                    unmatched_ok += 1
                    continue
                problems.append(f"a return on goroutine {m[1]} with no open call")
                continue
            returns[stack.pop()] += 1
    for fn in FUNCTIONS:
        want_calls, want_returns = own[fn]
        if calls[fn] != want_calls or returns[fn] != want_returns:
            problems.append(f"{fn}: traced {calls[fn]} calls and {returns[fn]} returns, the "
                            f"program counted {want_calls} and {want_returns}")
    m = EVENTS.search(r.stderr)
    if not m:
        problems.append("no --stats events line: " + r.stderr[-800:])
    elif int(m[1]) != 0 or int(m[2]) > unmatched_ok or (m[3] is not None and int(m[3]) != 0):
        problems.append("stats: " + m[0])
    summary = " ".join(f"{fn.split('.')[1]}={calls[fn]}/{returns[fn]}" for fn in FUNCTIONS)
    return problems, summary


def main() -> int:
    goscope, binary = sys.argv[1], sys.argv[2]
    runs = int(sys.argv[3]) if len(sys.argv) > 3 else 3
    scale = int(sys.argv[4]) if len(sys.argv) > 4 else 1
    failures = []
    for engine in ("ptrace", "uprobe", "inproc"):
        for i in range(runs):
            problems, summary = check_run(goscope, binary, engine, scale)
            if problems is None:
                print(f"{engine}: skipped ({summary})")
                break
            print(f"{engine} run {i + 1}: {'FAIL' if problems else 'ok'} {summary}")
            failures += [f"{engine} run {i + 1}: {p}" for p in problems]
        else:
            problems, summary = check_run(goscope, binary, engine, scale, attach=True)
            print(f"{engine} attached: {'FAIL' if problems else 'ok'} {summary}")
            failures += [f"{engine} attached: {p}" for p in problems]
    if failures:
        print("\n".join(failures))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
