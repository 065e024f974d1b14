#!/usr/bin/env python3
"""DAP benchmark (issue 12): `goscope dap` side by side with `dlv dap`, medians and ratios.

Each figure is measured end to end by a client on one TCP connection (Content-Length
framing, requests one after another), against a server started fresh for it; both servers
debug the same binary (bench/dap/prog, built with -gcflags='all=-N -l').

  stop       one stop as VS Code makes it: `continue` until the `stopped` event at the
             breakpoint in main.work, then the requests the editor sends at every stop:
             threads, stackTrace (20 frames), scopes, variables (Locals). Median per stop.
  logpoint   a logpoint in a loop (`loop N` with a logpoint on the call line): the whole
             run, configurationDone to `terminated`, minus the same run without the
             logpoint, per hit. Median of --runs runs each.
  threads    `threads` with 10,000 parked goroutines: the first `threads` after each stop
             at the breakpoint (what an editor asks), median over the stops.

    bench/dap/dap_bench.py [--goscope build/bin/goscope] [--dlv dlv] [--stops 50]
                           [--hits 2000] [--goroutines 10000] [--runs 3] [--json FILE]

Not a test: it prints a table and exits 0 unless a server fails.
"""
import argparse
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
PROG_DIR = os.path.join(HERE, "prog")
PROG_FILE = os.path.join(PROG_DIR, "main.go")
BP_LINE = 22
LOGPOINT_LINE = 33


class Dap:
    """A minimal DAP client: requests answered in order, events queued."""

    def __init__(self, server, cwd):
        self.proc = subprocess.Popen([server, "dap", "--listen=127.0.0.1:0"], cwd=cwd,
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                     text=True)
        line = self.proc.stdout.readline()
        m = re.search(r"listening at: (\S+):(\d+)", line)
        if not m:
            raise RuntimeError(f"{server}: no listening line: {line!r}")
        self.sock = socket.create_connection((m.group(1), int(m.group(2))), timeout=600)
        self.buf = b""
        self.seq = 0
        self.events = []

    def _read(self):
        while True:
            head_end = self.buf.find(b"\r\n\r\n")
            if head_end >= 0:
                m = re.search(rb"Content-Length: (\d+)", self.buf[:head_end])
                n = int(m.group(1))
                start = head_end + 4
                if len(self.buf) >= start + n:
                    body = self.buf[start:start + n]
                    self.buf = self.buf[start + n:]
                    return json.loads(body)
            chunk = self.sock.recv(1 << 20)
            if not chunk:
                raise RuntimeError("connection closed")
            self.buf += chunk

    def send(self, command, args=None):
        self.seq += 1
        msg = {"seq": self.seq, "type": "request", "command": command, "arguments": args or {}}
        data = json.dumps(msg).encode()
        self.sock.sendall(b"Content-Length: %d\r\n\r\n" % len(data) + data)
        return self.seq

    def request(self, command, args=None):
        self.send(command, args)
        while True:
            m = self._read()
            if m["type"] == "response":
                if not m["success"]:
                    raise RuntimeError(f"{command}: {m.get('message')} {m.get('body')}")
                return m
            self.events.append(m)

    def wait_event(self, name):
        for i, e in enumerate(self.events):
            if e["event"] == name:
                del self.events[: i + 1]
                return e
        while True:
            m = self._read()
            if m["type"] == "event" and m["event"] == name:
                self.events.clear()
                return m
            if m["type"] == "event":
                self.events.append(m)

    def close(self):
        try:
            self.request("disconnect", {"terminateDebuggee": True})
        except Exception:
            pass
        self.sock.close()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def start(server, binary, args, breakpoints):
    d = Dap(server, PROG_DIR)
    d.request("initialize", {"clientID": "vscode", "adapterID": "go", "pathFormat": "path",
                             "linesStartAt1": True, "columnsStartAt1": True,
                             "supportsVariableType": True, "supportsVariablePaging": True})
    d.request("launch", {"mode": "exec", "program": binary, "args": args})
    if breakpoints:
        d.request("setBreakpoints", {"source": {"path": PROG_FILE}, "breakpoints": breakpoints})
    return d


def editor_requests(d, tid):
    d.request("threads")
    st = d.request("stackTrace", {"threadId": tid, "startFrame": 0, "levels": 20})
    frame = st["body"]["stackFrames"][0]["id"]
    sc = d.request("scopes", {"frameId": frame})
    d.request("variables", {"variablesReference": sc["body"]["scopes"][0]["variablesReference"]})


def bench_stop(server, binary, stops):
    d = start(server, binary, ["loop", str(stops + 10)], [{"line": BP_LINE}])
    d.request("configurationDone")
    tid = d.wait_event("stopped")["body"]["threadId"]
    editor_requests(d, tid)
    times = []
    for _ in range(stops):
        t0 = time.perf_counter()
        d.request("continue", {"threadId": tid})
        tid = d.wait_event("stopped")["body"]["threadId"]
        editor_requests(d, tid)
        times.append(time.perf_counter() - t0)
    d.close()
    return statistics.median(times)


def run_to_end(server, binary, args, breakpoints):
    d = start(server, binary, args, breakpoints)
    t0 = time.perf_counter()
    d.request("configurationDone")
    d.wait_event("terminated")
    elapsed = time.perf_counter() - t0
    d.close()
    return elapsed


def bench_logpoint(server, binary, hits, runs):
    args = ["loop", str(hits)]
    lp = [{"line": LOGPOINT_LINE, "logMessage": "i={i} total={total}"}]
    base = statistics.median(run_to_end(server, binary, args, []) for _ in range(runs))
    with_lp = statistics.median(run_to_end(server, binary, args, lp) for _ in range(runs))
    return (with_lp - base) / hits


def bench_threads(server, binary, goroutines, stops):
    d = start(server, binary, ["goroutines", str(goroutines), str(stops + 1)], [{"line": BP_LINE}])
    d.request("configurationDone")
    tid = d.wait_event("stopped")["body"]["threadId"]
    times = []
    for _ in range(stops):
        d.request("continue", {"threadId": tid})
        tid = d.wait_event("stopped")["body"]["threadId"]
        t0 = time.perf_counter()
        r = d.request("threads")
        times.append(time.perf_counter() - t0)
    n = len(r["body"]["threads"])
    d.close()
    return statistics.median(times), n


def fmt(s):
    if s < 1e-3:
        return f"{s * 1e6:.0f} us"
    if s < 1:
        return f"{s * 1e3:.2f} ms"
    return f"{s:.2f} s"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--goscope", default="build/bin/goscope")
    ap.add_argument("--dlv", default="dlv")
    ap.add_argument("--stops", type=int, default=50)
    ap.add_argument("--hits", type=int, default=2000)
    ap.add_argument("--goroutines", type=int, default=10000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--json")
    a = ap.parse_args()
    servers = {"goscope": os.path.abspath(a.goscope)}
    if shutil.which(a.dlv):
        servers["dlv"] = a.dlv
    else:
        print(f"{a.dlv} not found: goscope alone", file=sys.stderr)
    tmp = tempfile.mkdtemp(prefix="dap-bench-")
    binary = os.path.join(tmp, "prog")
    subprocess.run(["go", "build", "-gcflags=all=-N -l", "-o", binary, "."], cwd=PROG_DIR, check=True)
    results = {}
    for name, srv in servers.items():
        r = {}
        r["stop"] = bench_stop(srv, binary, a.stops)
        r["logpoint"] = bench_logpoint(srv, binary, a.hits, a.runs)
        r["threads"], r["threads_listed"] = bench_threads(srv, binary, a.goroutines, max(3, a.stops // 10))
        results[name] = r
    shutil.rmtree(tmp, ignore_errors=True)
    rows = [("stop (continue + threads, stackTrace, scopes, variables)", "stop"),
            (f"logpoint, per hit ({a.hits} hits)", "logpoint"),
            (f"threads, {a.goroutines} goroutines", "threads")]
    print(f"{'':58} {'goscope':>12} {'dlv':>12} {'dlv/goscope':>12}")
    for label, key in rows:
        g = results["goscope"][key]
        d = results.get("dlv", {}).get(key)
        ratio = f"{d / g:.1f}x" if d is not None and g > 0 else "-"
        print(f"{label:58} {fmt(g):>12} {fmt(d) if d is not None else '-':>12} {ratio:>12}")
    for name, r in results.items():
        print(f"{name}: threads listed {r['threads_listed']}")
    if a.json:
        with open(a.json, "w") as f:
            json.dump(results, f, indent=2)


if __name__ == "__main__":
    main()
