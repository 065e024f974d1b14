#!/usr/bin/env python3
"""The tracing engines must print the same trace: `--engine uprobe` (eBPF captures,
trampolines, completions) and `--engine inproc` (the same captures compiled into the
trampolines, a shared ring) against `--engine ptrace` (a trap per event, values read while
the thread is stopped), on debug, optimized and PIE builds, with and without --stack.

Also checks what the uprobe and inproc engines say of themselves (--stats): every event captured, none
lost, no value missed by a capture plan, and no thread stopped where the plan needs none.

    trace_engines.py GOSCOPE FIXTURE_DIR
"""
import re
import subprocess
import sys

# (fixture, regexp, extra flags, program args, most stops the uprobe engine may make)
CASES = [
    ("basic", r"^main\.[a-z]", [], [], 0),  # floats too: the trampoline stores xmm
    ("basic_opt", r"^main\.", [], [], 0),
    ("basic_pie", r"^main\.(add|greet|sum|describe|mayFail|fact|lookup|inspect)$", [], [], None),
    ("basic", r"^main\.(add|movePoint|sqAndCube|fact)$", ["--stack", "2"], [], 0),
    ("tricky", r"^main\.(deep|explode)$", ["--stack", "6"], ["300"], None),
    ("tricky", r"^main\.", [], ["300"], None),
    ("tricky_opt", r"^main\.", [], ["300"], 0),
    ("bench", r"^main\.(work|rich)$", [], ["rich", "200"], 0),
    ("bench", r"^main\.work$", [], ["int", "2000"], 0),
    ("bench", r"^fmt\.", [], ["int", "3"], None),
    ("bench_opt", r"^(main|strconv)\.", [], ["rich", "50"], None),
    ("goroutines_opt", r"^main\.compute$", [], ["2", "100"], 0),
]

ADDR = re.compile(r"0x[0-9a-f]+")
GOROUTINE = re.compile(r"goroutine\(\d+\)")


def trace(goscope, engine, binary, regexp, flags, args):
    cmd = [goscope, "trace", "--engine", engine, "--stats", *flags, "--exec", binary, regexp,
           "--", *args]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    return r, cmd


def trace_lines(stderr, ordered):
    # Addresses differ between runs (heap, ASLR of PIE); goroutine ids of concurrent
    # programs too. A program with several goroutines interleaves differently each run, so
    # its lines are compared as a multiset.
    lines = [GOROUTINE.sub("goroutine(N)", ADDR.sub("0x?", l))
             for l in stderr.splitlines() if l.startswith(">")]
    return lines if ordered else sorted(lines)


def stat(stderr, pattern):
    m = re.search(pattern, stderr)
    return tuple(int(g) for g in m.groups()) if m else None


def main() -> int:
    goscope, fx = sys.argv[1], sys.argv[2]
    failures = []
    uprobe_ok = True
    for fixture, regexp, flags, args, max_stops in CASES:
        binary = f"{fx}/{fixture}"
        name = f"{fixture} {regexp} {' '.join(flags + args)}"
        pt, _ = trace(goscope, "ptrace", binary, regexp, flags, args)
        ordered = fixture not in ("goroutines_opt", "tricky", "tricky_opt")
        b = trace_lines(pt.stderr, ordered)
        # The in-process engine traps where it has no trampoline (deferreturn calls, inlined
        # copies): its stops are printed, not limited.
        for engine, limit in (("uprobe", max_stops), ("inproc", None)):
            if engine == "uprobe" and not uprobe_ok:
                continue
            up, cmd = trace(goscope, engine, binary, regexp, flags, args)
            if "uprobe engine is not available" in up.stderr:
                print("uprobe skipped: " + up.stderr.strip())
                uprobe_ok = False
                continue
            if up.returncode != 0 or pt.returncode != 0:
                failures.append(f"{name}: exit {engine} {up.returncode}, ptrace {pt.returncode}\n"
                                f"{up.stderr[-1500:]}")
                continue
            if up.stdout != pt.stdout:
                failures.append(f"{name}: the program's output differs ({engine}):\n"
                                f"{up.stdout}\n---\n{pt.stdout}")
            a = trace_lines(up.stderr, ordered)
            if a != b:
                diff = [f"  {engine}: {x}\n  ptrace: {y}" for x, y in zip(a, b) if x != y][:5]
                failures.append(f"{name}: {len(a)} vs {len(b)} trace lines differ:\n" +
                                "\n".join(diff))
            stats = stat(up.stderr, engine + r" \((\d+) of (\d+) events stopped")
            events = stat(up.stderr, r"Events: \d+ \((\d+) lost, (\d+) unmatched")
            if stats is None:
                failures.append(f"{name}: the {engine} engine did not run:\n{up.stderr[-800:]}")
                continue
            if events is None or events[0] != 0:
                failures.append(f"{name}: events lost ({engine}): {events}")
            if "not captured" in up.stderr:
                failures.append(f"{name}: a capture plan missed values ({engine}):\n"
                                f"{up.stderr[-800:]}")
            if limit is not None and stats[0] > limit:
                failures.append(f"{name}: {stats[0]} of {stats[1]} events stopped the thread "
                                f"(at most {limit} expected)")
            print(f"{name} [{engine}]: {len(a)} lines identical; {stats[0]} of {stats[1]} "
                  f"events stopped")
    if failures:
        print("\n\n".join(failures))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
