#!/usr/bin/env python3
"""JSON-RPC round-trip benchmark (issue 5), goscope side by side with dlv in one run.

One round trip = a client's `Command{continue}` request until its reply: the server resumes
the target, the target runs to the next hit of the breakpoint on main.work (the `bench`
fixture: `bench int N` calls main.work N times in a loop), the server stops it, builds the
DebuggerState and answers. The client sends the requests one after another on one TCP
connection and times each with perf_counter; the median and percentiles are reported.

Goal (issue 5): at most 50 us per round trip; dlv here: about 0.4-0.6 ms pinned.

    bench/rpc/rpc_bench.py [--build build] [--calls 2000] [--warmup 50] [--dlv dlv]
                           [--taskset CPU] [--floor]

--floor adds what the client alone costs for the same reply (a canned server) and the
kernel's all-stop round trip of the same target (raw ptrace): their sum is the floor.

Not a test: it prints a table and exits 0 unless a server fails.
"""
import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

PREFIX = "API server listening at: "


class Client:
    def __init__(self, addr):
        host, port = addr.rsplit(":", 1)
        self.sock = socket.create_connection((host, int(port)), timeout=60)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.file = self.sock.makefile("rwb")
        self.next_id = 0

    def call(self, method, args=None):
        self.next_id += 1
        self.file.write(json.dumps({"method": "RPCServer." + method, "params": [args or {}],
                                    "id": self.next_id}).encode())
        self.file.flush()
        self.last_line = self.file.readline()
        r = json.loads(self.last_line)
        if r["error"] is not None:
            raise SystemExit("%s: %s" % (method, r["error"]))
        return r["result"]


def stats(times):
    times.sort()
    q = lambda f: times[min(len(times) - 1, int(f * len(times)))]
    return {"median": statistics.median(times), "p10": q(0.10), "p90": q(0.90),
            "p99": q(0.99), "min": times[0], "n": len(times)}


def run(name, cmd, calls, warmup, keep=None):
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = p.stdout.readline()
    if not line.startswith(PREFIX):
        p.kill()
        raise SystemExit("%s: no listening line: %r %s" % (name, line, p.stderr.read()))
    c = Client(line[len(PREFIX):].strip())
    c.call("SetApiVersion", {"APIVersion": 2})
    bp = c.call("CreateBreakpoint", {"Breakpoint": {"functionName": "main.work",
                                                    "line": -1}})["Breakpoint"]
    times = []
    for i in range(warmup + calls):
        t0 = time.perf_counter()
        st = c.call("Command", {"name": "continue"})["State"]
        t1 = time.perf_counter()
        th = st.get("currentThread") or {}
        if st.get("exited") or th.get("breakPoint", {}).get("id") != bp["id"]:
            raise SystemExit("%s: round trip %d did not stop at main.work: %r" % (name, i, st))
        if i >= warmup:
            times.append((t1 - t0) * 1e6)
    if keep is not None:
        keep["reply"] = c.last_line
        keep["addr"] = bp["addr"]
        keep["threads"] = len(st.get("Threads") or [])
    c.call("Detach", {"Kill": True})
    try:
        p.wait(timeout=30)
    except subprocess.TimeoutExpired:
        p.kill()
    return stats(times)


def client_floor(canned, reply, pin, calls, warmup):
    """The same client against a server that answers at once with `reply`."""
    path = os.path.join(tempfile.mkdtemp(), "reply.json")
    with open(path, "wb") as f:
        f.write(reply)
    p = subprocess.Popen(pin + [canned, path], stdout=subprocess.PIPE, text=True)
    c = Client(p.stdout.readline()[len(PREFIX):].strip())
    times = []
    for i in range(warmup + calls):
        t0 = time.perf_counter()
        c.call("Command", {"name": "continue"})
        t1 = time.perf_counter()
        if i >= warmup:
            times.append((t1 - t0) * 1e6)
    c.file.close()
    c.sock.close()
    try:
        p.wait(timeout=30)
    except subprocess.TimeoutExpired:
        p.kill()
    return stats(times)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build")
    ap.add_argument("--calls", type=int, default=2000)
    ap.add_argument("--warmup", type=int, default=50)
    ap.add_argument("--dlv", default=shutil.which("dlv") or "dlv")
    ap.add_argument("--taskset", help="pin servers, targets and client to this CPU list")
    ap.add_argument("--floor", action="store_true",
                    help="also measure the floors: the client against a canned reply "
                         "(bench/rpc canned_server) and the kernel's all-stop round trip "
                         "(bench/rpc allstop_floor)")
    a = ap.parse_args()
    goscope = os.path.join(a.build, "bin", "goscope")
    bench = os.path.join(a.build, "fixtures", "bench")
    total = a.calls + a.warmup + 10
    pin = ["taskset", "-c", a.taskset] if a.taskset else []
    if a.taskset:
        os.sched_setaffinity(0, {int(c) for c in a.taskset.split(",")})
    common = ["--headless", "--listen=127.0.0.1:0", "--api-version=2"]
    servers = [
        ("goscope", pin + [goscope, "exec", bench, *common, "--", "int", str(total)]),
        ("dlv", pin + [a.dlv, "exec", bench, *common, "--", "int", str(total)]),
    ]
    keep = {}
    rows = [(name, run(name, cmd, a.calls, a.warmup, keep if name == "goscope" else None))
            for name, cmd in servers]
    print("continue -> breakpoint round trip over JSON-RPC (bench int, breakpoint on "
          "main.work), %d round trips after %d warm-up%s" %
          (a.calls, a.warmup, ", pinned to CPU " + a.taskset if a.taskset else ""))
    print("%-8s %10s %10s %10s %10s %10s" % ("server", "median us", "p10", "p90", "p99", "min"))
    for name, r in rows:
        print("%-8s %10.1f %10.1f %10.1f %10.1f %10.1f" % (name, r["median"], r["p10"], r["p90"],
                                                           r["p99"], r["min"]))
    g, d = rows[0][1]["median"], rows[1][1]["median"]
    print("dlv / goscope (median): %.1fx; goal: goscope <= 50 us (%s); the target had %d "
          "threads" % (d / g, "met" if g <= 50 else "not met", keep["threads"]))
    if a.floor:
        canned = os.path.join(a.build, "bench", "rpc", "canned_server")
        floor = os.path.join(a.build, "bench", "rpc", "allstop_floor")
        f = client_floor(canned, keep["reply"], pin, a.calls, a.warmup)
        print("floor: this client against a canned %d-byte State reply: median %.1f us" %
              (len(keep["reply"]), f["median"]))
        r = subprocess.run(pin + [floor, bench, hex(keep["addr"]), str(2 * a.calls)],
                           capture_output=True, text=True)
        for line in r.stdout.splitlines():
            print("floor: kernel, raw ptrace: " + line)


if __name__ == "__main__":
    main()
