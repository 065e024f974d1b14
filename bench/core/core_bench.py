#!/usr/bin/env python3
"""Post-mortem on a big core, goscope side by side with dlv (issue 16).

The heapy program (bench/core/heapy, built -N -l by this script) fills --heap-mb MiB of
heap (every page written) and parks --goroutines goroutines five frames deep, then a core
of it is taken: the kernel's (GOTRACEBACK=crash, when /proc/sys/kernel/core_pattern writes
a file in the working directory), else goscope's own dump (`goscope exec`, a breakpoint at
main.ready, DumpStart/DumpWait).

Each server then opens the core headless (`SERVER core BIN CORE --headless --listen=...`)
and the script times, from spawning the server: connected, ListGoroutines (all of them),
and one goroutine's Stacktrace (depth 50, with locals and arguments: "print a stack"), each
when the reply's last byte has arrived (the client's JSON decoding is left out).
It reads the server's CPU time (utime + stime) and peak RSS (VmHWM) from /proc before
ending it. Medians of --runs runs.

With --dump it also times each server's DumpStart of the live program stopped at
main.ready (how long the core takes to write); with --live, ListGoroutines on that live
program (the first after the stop: the reply's time and the server's CPU time for it).

    bench/core/core_bench.py [--build build] [--heap-mb 1024] [--goroutines 10000]
                             [--runs 3] [--dump] [--live] [--keep DIR]
"""
import argparse
import json
import os
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
CLK_TCK = os.sysconf("SC_CLK_TCK")


class Client:
    def __init__(self, addr, timeout=600):
        host, port = addr.rsplit(":", 1)
        self.sock = socket.create_connection((host, int(port)), timeout=timeout)
        self.file = self.sock.makefile("rb")
        self.id = 0

    def call(self, method, params):
        return self.call_timed(method, params)[0]

    def call_timed(self, method, params):
        """The result, and when its last byte arrived (before the client decodes it: a
        10,000-goroutine reply takes Python longer to decode than either server to make)."""
        self.id += 1
        msg = {"method": "RPCServer." + method, "params": [params], "id": self.id}
        self.sock.sendall(json.dumps(msg).encode())
        line = self.file.readline()
        at = time.monotonic()
        reply = json.loads(line)
        if reply.get("error"):
            raise RuntimeError("%s: %s" % (method, reply["error"]))
        return reply["result"], at, len(line)

    def close(self):
        self.file.close()
        self.sock.close()



def hard_core_limit():
    """RLIMIT_CORE's hard limit: the most a process may raise its own soft limit to."""
    return resource.getrlimit(resource.RLIMIT_CORE)[1]

def start(cmd):
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = p.stdout.readline()
    prefix = "API server listening at: "
    if not line.startswith(prefix):
        p.kill()
        sys.exit("%s: no listening line: %r %s" % (cmd[0], line, p.stderr.read()[-500:]))
    return p, line[len(prefix):].strip()


def cpu_and_peak(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    cpu = (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime, stime (fields 14, 15)
    peak = 0
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmHWM:"):
                peak = int(line.split()[1]) * 1024
    return cpu, peak


def open_core(server, binary, core):
    t0 = time.monotonic()
    p, addr = start([server, "core", binary, core, "--headless", "--listen=127.0.0.1:0",
                     "--api-version=2"])
    c = Client(addr)
    c.call("SetApiVersion", {"APIVersion": 2})
    t_open = time.monotonic() - t0
    r, at, size = c.call_timed("ListGoroutines", {"Start": 0, "Count": 0})
    gs = r["Goroutines"]
    t_list = at - t0
    parse = time.monotonic() - at  # the client's decoding, left out of the stack's time
    parked = [g for g in gs if ((g.get("startLoc") or {}).get("function") or {}).get("name")
              == "main.park"]
    cfg = {"FollowPointers": True, "MaxVariableRecurse": 1, "MaxStringLen": 64,
           "MaxArrayValues": 64, "MaxStructFields": -1}
    st, at, _ = c.call_timed("Stacktrace", {"Id": parked[len(parked) // 2]["id"], "Depth": 50,
                                           "Full": True, "Cfg": cfg})
    t_stack = at - t0 - parse
    cpu, peak = cpu_and_peak(p.pid)
    c.close()
    p.kill()
    p.wait()
    return {"open": t_open, "goroutines": t_list, "stack": t_stack, "cpu": cpu, "rss": peak,
            "n_goroutines": len(gs), "n_frames": len(st["Locations"]), "reply_bytes": size}


def dump_live(server, binary, args, path):
    p, addr = start([server, "exec", binary, "--headless", "--listen=127.0.0.1:0",
                     "--api-version=2", "--", *args])
    c = Client(addr)
    c.call("CreateBreakpoint", {"Breakpoint": {"functionName": "main.ready"}})
    c.call("Command", {"name": "continue"})
    t0 = time.monotonic()
    st = c.call("DumpStart", {"Destination": path})["State"]
    while st["Dumping"]:
        st = c.call("DumpWait", {"Wait": 1000})["State"]
    took = time.monotonic() - t0
    if not st["AllDone"] or st["Err"]:
        sys.exit("%s: dump failed: %r" % (server, st))
    cpu, peak = cpu_and_peak(p.pid)
    end_session(c, p)
    return {"dump": took, "cpu": cpu, "rss": peak, "size": os.path.getsize(path)}


def end_session(c, p):
    """Detach killing the program (an error from a server already going is no matter), then
    wait for the server to exit."""
    try:
        c.call("Detach", {"Kill": True})
    except Exception:
        pass
    c.close()
    p.wait(timeout=60)


def live_list(server, binary, args):
    """ListGoroutines on the live program stopped at main.ready (the first after the stop,
    so nothing is cached): the reply's time, the server's CPU time for it, its peak RSS."""
    p, addr = start([server, "exec", binary, "--headless", "--listen=127.0.0.1:0",
                     "--api-version=2", "--", *args])
    c = Client(addr)
    c.call("CreateBreakpoint", {"Breakpoint": {"functionName": "main.ready"}})
    c.call("Command", {"name": "continue"})
    cpu0, _ = cpu_and_peak(p.pid)
    t0 = time.monotonic()
    r, at, size = c.call_timed("ListGoroutines", {"Start": 0, "Count": 0})
    took = at - t0
    cpu1, peak = cpu_and_peak(p.pid)
    end_session(c, p)
    return {"list": took, "cpu": cpu1 - cpu0, "rss": peak,
            "n_goroutines": len(r["Goroutines"]), "reply_bytes": size}


def kernel_core(binary, args, work):
    try:
        pattern = open("/proc/sys/kernel/core_pattern").read().strip()
    except OSError:
        return None
    if pattern.startswith("|") or "/" in pattern or hard_core_limit() == 0:
        return None

    def limits():
        resource.setrlimit(resource.RLIMIT_CORE, (hard_core_limit(), hard_core_limit()))

    subprocess.run([binary, *args, "crash"], cwd=work, preexec_fn=limits,
                   env=dict(os.environ, GOTRACEBACK="crash"), capture_output=True)
    cores = [f for f in os.listdir(work) if f.startswith("core")]
    return os.path.join(work, cores[0]) if cores else None


def med(rows, key):
    return statistics.median(r[key] for r in rows)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build")
    ap.add_argument("--heap-mb", type=int, default=1024)
    ap.add_argument("--goroutines", type=int, default=10000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--dump", action="store_true")
    ap.add_argument("--live", action="store_true",
                    help="also ListGoroutines on the live program (exec, stopped at main.ready)")
    ap.add_argument("--keep", help="work in DIR and keep the core there")
    a = ap.parse_args()
    goscope = os.path.abspath(os.path.join(a.build, "bin", "goscope"))
    dlv = shutil.which("dlv")
    work = a.keep or tempfile.mkdtemp(prefix="goscope-core-bench-")
    os.makedirs(work, exist_ok=True)
    binary = os.path.join(work, "heapy")
    subprocess.run(["go", "build", "-gcflags=all=-N -l", "-o", binary, "."],
                   cwd=os.path.join(HERE, "heapy"), check=True,
                   env=dict(os.environ, GOFLAGS="-buildvcs=false"))
    args = [str(a.heap_mb), str(a.goroutines)]
    try:
        core = kernel_core(binary, args, work)
        source = "kernel (GOTRACEBACK=crash)"
        if core is None:
            core = os.path.join(work, "heapy.core")
            dump_live(goscope, binary, args, core)
            source = "goscope DumpStart"
        size = os.path.getsize(core)
        print("core: %s, %.0f MiB, from %s; %d MiB heap, %d goroutines" % (
            core, size / 2**20, source, a.heap_mb, a.goroutines), flush=True)
        results = {}
        for name, server in (("goscope", goscope), ("dlv", dlv)):
            rows = []
            for i in range(a.runs):
                r = open_core(server, binary, core)
                print("  %s run %d: %s" % (name, i + 1, json.dumps(r)), flush=True)
                rows.append(r)
            results[name] = rows
        print()
        print("| server | open (s) | + ListGoroutines (s) | + Stacktrace (s) | CPU (s) | "
              "peak RSS (MiB) |")
        print("|---|---|---|---|---|---|")
        for name, rows in results.items():
            print("| %s | %.2f | %.2f | %.2f | %.2f | %.0f |" % (
                name, med(rows, "open"), med(rows, "goroutines"), med(rows, "stack"),
                med(rows, "cpu"), med(rows, "rss") / 2**20))
        g, d = results["goscope"], results["dlv"]
        print("\ndlv / goscope: wall %.1fx, CPU %.1fx; goscope peak RSS %.0f%% of the core's "
              "size, dlv's %.0f%%" % (
                  med(d, "stack") / med(g, "stack"), med(d, "cpu") / max(med(g, "cpu"), 0.01),
                  100 * med(g, "rss") / size, 100 * med(d, "rss") / size))
        if a.live:
            print("\nListGoroutines on the live program stopped at main.ready (medians of %d):"
                  % a.runs)
            print("\n| server | ListGoroutines (s) | CPU (s) | peak RSS (MiB) |")
            print("|---|---|---|---|")
            for name, server in (("goscope", goscope), ("dlv", dlv)):
                rows = []
                for i in range(a.runs):
                    r = live_list(server, binary, args)
                    print("  %s live run %d: %s" % (name, i + 1, json.dumps(r)), flush=True)
                    rows.append(r)
                print("| %s | %.2f | %.2f | %.0f |" % (
                    name, med(rows, "list"), med(rows, "cpu"), med(rows, "rss") / 2**20),
                    flush=True)
        if a.dump:
            print("\n| server | DumpStart to done (s) | CPU (s) | peak RSS (MiB) | core (MiB) |")
            print("|---|---|---|---|---|")
            for name, server in (("goscope", goscope), ("dlv", dlv)):
                path = os.path.join(work, "%s.dump" % name)
                r = dump_live(server, binary, args, path)
                os.unlink(path)
                print("| %s | %.2f | %.2f | %.0f | %.0f |" % (
                    name, r["dump"], r["cpu"], r["rss"] / 2**20, r["size"] / 2**20), flush=True)
    finally:
        if not a.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
