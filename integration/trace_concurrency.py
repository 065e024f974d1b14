#!/usr/bin/env python3
"""8 goroutines x N calls under goscope trace: every entry and every return reported, each
goroutine's calls paired, the program's own output unchanged."""
import collections
import re
import subprocess
import sys


def main() -> int:
    goscope, binary = sys.argv[1], sys.argv[2]
    workers, calls = int(sys.argv[3]), int(sys.argv[4])
    native = subprocess.run([binary, str(workers), str(calls)], capture_output=True, text=True,
                            timeout=60)
    failures = []
    # auto (uprobe where eBPF is allowed, else ptrace) and the in-process engine.
    for engine in ("auto", "inproc"):
        failures += [f"[--engine {engine}] {f}" for f in
                     check(goscope, binary, engine, workers, calls, native)]
    if failures:
        print("\n".join(failures))
        return 1
    print(f"{workers} goroutines x {calls} calls: all {2 * workers * calls} events paired "
          f"(auto, inproc)")
    return 0


def check(goscope, binary, engine, workers, calls, native):
    r = subprocess.run([goscope, "trace", "--engine", engine, "--exec", binary,
                        "^main\\.compute$", "--stats", "--", str(workers), str(calls)],
                       capture_output=True, text=True, timeout=600)
    failures = []
    if r.returncode != 0:
        failures.append(f"exit {r.returncode}")
    if r.stdout != native.stdout:
        failures.append(f"program output changed: {r.stdout!r} vs {native.stdout!r}")
    entries = collections.Counter()
    returns = collections.Counter()
    workers_seen = collections.defaultdict(set)
    for line in r.stderr.splitlines():
        m = re.match(r"^> goroutine\((\d+)\): main\.compute\((\d+), (\d+)\)$", line)
        if m:
            entries[m[1]] += 1
            workers_seen[m[1]].add(m[2])
            continue
        m = re.match(r"^>> goroutine\((\d+)\): => \((\d+)\)$", line)
        if m:
            returns[m[1]] += 1
    if len(entries) != workers:
        failures.append(f"{len(entries)} goroutines seen, want {workers}")
    for g, n in entries.items():
        if n != calls or returns[g] != calls:
            failures.append(f"goroutine {g}: {n} entries, {returns[g]} returns, want {calls}")
        if len(workers_seen[g]) != 1:
            failures.append(f"goroutine {g} reported several workers: {workers_seen[g]}")
    if f"Functions called: {workers * calls}" not in r.stderr:
        failures.append("stats count wrong: " + r.stderr[-800:])
    if "0 lost, 0 unmatched" not in r.stderr:
        failures.append("lost or unmatched events: " + r.stderr[-800:])
    return failures


if __name__ == "__main__":
    sys.exit(main())
