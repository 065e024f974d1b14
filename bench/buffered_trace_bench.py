#!/usr/bin/env python3
"""Buffered tracepoints in a debug session, whole process: `goscope exec goroutines -- 1
CALLS --headless` driven by integration/trace_rpc's Go client (`tracerpc dlvfmt`, polling
GetBufferedTracepoints as `dlv trace --ebpf` does) to the program's end. Prints, per server
binary given, the trace lines received, and the medians of the wall time and the server's
CPU time (user + system). Give two binaries (before, after) to compare them side by side.

Usage: buffered_trace_bench.py [--runs N] [--calls N] GOSCOPE [GOSCOPE...]
Needs a built tree (build/): the goroutines fixture and the tracerpc client."""
import argparse
import os
import statistics
import subprocess
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.path.join(ROOT, "build")


def find(name):
    for r, _, fs in os.walk(BUILD):
        if name in fs and os.access(os.path.join(r, name), os.X_OK):
            return os.path.join(r, name)
    raise SystemExit("%s not found under %s: build first (and run the trace_rpc tests once)" %
                     (name, BUILD))


def run(goscope, fixture, client, calls):
    p = subprocess.Popen(["/usr/bin/time", "-f", "TIME %U %S", goscope, "exec", fixture,
                          "--headless", "--listen=127.0.0.1:0", "--api-version=2",
                          "--accept-multiclient", "--", "1", str(calls)],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    addr = p.stdout.readline().split("at:")[1].strip()
    t = time.monotonic()
    c = subprocess.run([client, "dlvfmt", addr, r"^main\.compute$"], capture_output=True,
                       text=True, timeout=600)
    wall = time.monotonic() - t
    _, err = p.communicate(timeout=60)
    tl = [l for l in err.splitlines() if l.startswith("TIME")][-1].split()
    return wall, float(tl[1]) + float(tl[2]), c.stdout.count("\n")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--calls", type=int, default=20000)
    ap.add_argument("goscope", nargs="+")
    a = ap.parse_args()
    fixture, client = find("goroutines"), find("tracerpc")
    print("load average %.1f" % os.getloadavg()[0])
    for g in a.goscope:
        r = [run(g, fixture, client, a.calls) for _ in range(a.runs)]
        wall = statistics.median(x[0] for x in r)
        print("%s: lines %s, wall %.2f s (%.0f us per call), server CPU %.2f s" % (
            g, [x[2] for x in r], wall, wall / a.calls * 1e6, statistics.median(x[1] for x in r)))


if __name__ == "__main__":
    main()
