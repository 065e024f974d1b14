#!/usr/bin/env python3
"""JSON-RPC round-trip benchmark (issue 5), goscope side by side with dlv in one run.

One round trip = a client's `Command{continue}` request until its reply: the server resumes
the target, the target runs to the next hit of the breakpoint on main.work (the `bench`
fixture: `bench int N` calls main.work N times in a loop), the server stops it, builds the
DebuggerState and answers. The client sends the requests one after another on one TCP
connection and times each; the median and percentiles are reported.

Three clients, so that the client's own share can be told apart from the server's:
  python  this script (json + a buffered socket, timed with perf_counter)
  go      bench/rpc/goclient: Go's net/rpc/jsonrpc, the codec `dlv connect` uses, decoding
          into Delve's api shapes (CMake target rpc_goclient)
  cxx     bench/rpc/cxx_client: one blocking socket, Boost.JSON, the leanest (CMake target
          cxx_client)
Each chosen client is run against both servers, each server started fresh for it.

Goal (issue 5): at most 50 us per round trip; dlv here: about 0.4-0.6 ms pinned.

    bench/rpc/rpc_bench.py [--build build] [--client python|go|cxx|all] [--calls 2000]
                           [--warmup 50] [--dlv dlv] [--taskset CPU] [--floor]
                           [--json FILE]

--floor adds, for each client, what that client alone costs for the same reply (goscope's
recorded State reply, served by canned_server) and, once, the kernel's all-stop round trip
of the same target (raw ptrace, allstop_floor). goscope parks threads blocked in system
calls instead of interrupting them at every stop (docs/rpc.md), so its kernel floor is the
hit thread's own stop (allstop_floor's "nonstop" line); client floor + that is the floor
under that client's goscope figure, and goscope's median minus it is goscope's own share.
dlv stops and resumes every thread: its floor is the "allstop" line.

--json FILE writes every figure (per client and server, the floors, the shares) as JSON.

Build first: ninja -C <build> goscope cxx_client rpc_goclient canned_server allstop_floor
fixtures/bench

Not a test: it prints a table and exits 0 unless a server (or a client or floor
measurement) fails.
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

PREFIX = "API server listening at: "
GOAL_US = 50
CLIENTS = ("python", "go", "cxx")


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
        if not self.last_line:
            raise RuntimeError("%s: connection closed" % method)
        r = json.loads(self.last_line)
        if r["error"] is not None:
            raise RuntimeError("%s: %s" % (method, r["error"]))
        return r["result"]

    def close(self):
        self.file.close()
        self.sock.close()


def stats(times):
    times.sort()
    q = lambda f: times[min(len(times) - 1, int(f * len(times)))]
    return {"median": statistics.median(times), "p10": q(0.10), "p90": q(0.90),
            "p99": q(0.99), "min": times[0], "n": len(times)}


class Server:
    """A server process started for one client: goscope, dlv or canned_server. Its stderr
    goes to a file (read only when something fails), so it can never block on a pipe."""

    def __init__(self, name, cmd):
        self.name = name
        self.err = tempfile.TemporaryFile(mode="w+")
        try:
            self.p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=self.err, text=True)
        except OSError as e:
            raise SystemExit("%s: %s" % (name, e))
        line = self.p.stdout.readline()
        if not line.startswith(PREFIX):
            self.fail("no listening line: %r" % line)
        self.addr = line[len(PREFIX):].strip()

    def stderr_tail(self):
        self.err.seek(0)
        return "".join(self.err.readlines()[-20:])

    def fail(self, what):
        self.stop(kill=True)
        raise SystemExit("%s: %s\n%s" % (self.name, what, self.stderr_tail()))

    def stop(self, kill=False):
        if kill and self.p.poll() is None:
            self.p.kill()
        try:
            self.p.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait()


def python_client(server, calls, warmup, keep=None):
    """The in-process client: SetApiVersion, a breakpoint on main.work, warmup + calls
    continues, each checked to stop there; then Detach{Kill}."""
    try:
        c = Client(server.addr)
        c.call("SetApiVersion", {"APIVersion": 2})
        bp = c.call("CreateBreakpoint", {"Breakpoint": {"functionName": "main.work",
                                                        "line": -1}})["Breakpoint"]
        times = []
        for i in range(warmup + calls):
            t0 = time.perf_counter()
            st = c.call("Command", {"name": "continue"})["State"]
            t1 = time.perf_counter()
            th = st.get("currentThread") or {}
            if st.get("exited") or (th.get("breakPoint") or {}).get("id") != bp["id"]:
                raise RuntimeError("round trip %d did not stop at main.work: %r" % (i, st))
            if i >= warmup:
                times.append((t1 - t0) * 1e6)
        if keep is not None:
            keep["reply"] = c.last_line
            keep["addr"] = bp["addr"]
            keep["threads"] = len(st.get("Threads") or [])
        c.call("Detach", {"Kill": True})
    except (OSError, ValueError, RuntimeError) as e:
        server.fail("python client: %s" % e)
    server.stop()
    return times


def python_canned(server, calls, warmup):
    """The in-process client against canned_server: Command only, nothing checked."""
    try:
        c = Client(server.addr)
        times = []
        for i in range(warmup + calls):
            t0 = time.perf_counter()
            c.call("Command", {"name": "continue"})
            t1 = time.perf_counter()
            if i >= warmup:
                times.append((t1 - t0) * 1e6)
        c.close()
    except (OSError, ValueError, RuntimeError) as e:
        server.fail("python client: %s" % e)
    server.stop()
    return times


def external_client(exe, pin, server, calls, warmup, canned=False):
    """goclient or cxx_client against `server`: the client does the whole session itself
    (as python_client does) and prints one time in us per line."""
    cmd = pin + [exe, server.addr, str(calls), str(warmup)] + (["canned"] if canned else [])
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    except subprocess.TimeoutExpired:
        server.fail("%s timed out" % os.path.basename(exe))
    times = [float(x) for x in r.stdout.split()] if r.returncode == 0 else []
    if r.returncode != 0 or len(times) != calls:
        server.fail("%s exited %d with %d of %d times: %s" % (
            os.path.basename(exe), r.returncode, len(times), calls, r.stderr.strip()))
    server.stop()
    return times


def allstop_floor(exe, pin, bench, addr, hits):
    """The kernel's round trips (raw ptrace): its output lines and the parsed medians."""
    r = subprocess.run(pin + [exe, bench, hex(addr), str(hits)], capture_output=True,
                       text=True, timeout=600)
    out = {"lines": r.stdout.splitlines(), "ok": r.returncode == 0, "stderr": r.stderr.strip()}
    for line in out["lines"]:
        m = re.match(r"threads (\d+), (\d+) hits each", line)
        if m:
            out["threads"], out["hits"] = int(m.group(1)), int(m.group(2))
        m = re.match(r"(nonstop|allstop)\s+median\s+([\d.]+) us", line)
        if m:
            out[m.group(1) + "_median"] = float(m.group(2))
    out["ok"] = out["ok"] and "allstop_median" in out
    return out


def rounded(v):
    """`v` with every float rounded to 0.01 (us, or a ratio): the JSON is for docs."""
    if isinstance(v, float):
        return round(v, 2)
    if isinstance(v, dict):
        return {k: rounded(x) for k, x in v.items()}
    if isinstance(v, list):
        return [rounded(x) for x in v]
    return v


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build")
    ap.add_argument("--client", choices=CLIENTS + ("all",), default="all",
                    help="the client(s) to measure both servers with (default: all)")
    ap.add_argument("--calls", type=int, default=2000)
    ap.add_argument("--warmup", type=int, default=50)
    ap.add_argument("--dlv", default=shutil.which("dlv") or "dlv")
    ap.add_argument("--taskset", help="pin servers, targets and clients to this CPU list")
    ap.add_argument("--floor", action="store_true",
                    help="also measure the floors: each client against a canned reply "
                         "(bench/rpc canned_server) and the kernel's all-stop round trip "
                         "(bench/rpc allstop_floor)")
    ap.add_argument("--json", metavar="FILE", help="write every figure to FILE as JSON")
    a = ap.parse_args()
    clients = list(CLIENTS) if a.client == "all" else [a.client]
    rpc_dir = os.path.join(a.build, "bench", "rpc")
    goscope = os.path.join(a.build, "bin", "goscope")
    bench = os.path.join(a.build, "fixtures", "bench")
    exes = {"go": os.path.join(rpc_dir, "goclient"), "cxx": os.path.join(rpc_dir, "cxx_client")}
    canned = os.path.join(rpc_dir, "canned_server")
    floor = os.path.join(rpc_dir, "allstop_floor")
    need = [goscope, bench] + [exes[c] for c in clients if c in exes]
    need += [canned, floor] if a.floor else []
    missing = [p for p in need if not os.path.exists(p)]
    if missing:
        raise SystemExit("missing %s; build with: ninja -C %s goscope cxx_client rpc_goclient "
                         "canned_server allstop_floor fixtures/bench" % (", ".join(missing),
                                                                         a.build))
    total = a.calls + a.warmup + 10
    pin = ["taskset", "-c", a.taskset] if a.taskset else []
    if a.taskset:
        os.sched_setaffinity(0, {int(c) for c in a.taskset.split(",")})
    common = ["--headless", "--listen=127.0.0.1:0", "--api-version=2"]
    servers = [
        ("goscope", pin + [goscope, "exec", bench, *common, "--", "int", str(total)]),
        ("dlv", pin + [a.dlv, "exec", bench, *common, "--", "int", str(total)]),
    ]

    def measure(client, server, keep=None):
        if client == "python":
            return stats(python_client(server, a.calls, a.warmup, keep))
        return stats(external_client(exes[client], pin, server, a.calls, a.warmup))

    # goscope's last State reply, the breakpoint's address and the thread count: from the
    # Python client's goscope session, or from one more (untimed) if python is not chosen.
    keep = {}
    if "python" not in clients:
        python_client(Server("goscope", servers[0][1]), a.calls, a.warmup, keep)
    rows = {}
    for client in clients:
        for name, cmd in servers:
            rows[(client, name)] = measure(client, Server(name, cmd),
                                           keep if (client, name) == ("python", "goscope")
                                           else None)

    floors, kernel = {}, None
    if a.floor:
        path = os.path.join(tempfile.mkdtemp(), "reply.json")
        with open(path, "wb") as f:
            f.write(keep["reply"])
        for client in clients:
            s = Server("canned_server", pin + [canned, path])
            if client == "python":
                floors[client] = stats(python_canned(s, a.calls, a.warmup))
            else:
                floors[client] = stats(external_client(exes[client], pin, s, a.calls, a.warmup,
                                                       canned=True))
        kernel = allstop_floor(floor, pin, bench, keep["addr"], 2 * a.calls)

    print("continue -> breakpoint round trip over JSON-RPC (bench int, breakpoint on "
          "main.work), %d round trips after %d warm-up%s; the target had %d threads" %
          (a.calls, a.warmup, ", pinned to CPU " + a.taskset if a.taskset else "",
           keep["threads"]))
    print("%-7s %-8s %10s %10s %10s %10s %10s %12s" % ("client", "server", "median us", "p10",
                                                       "p90", "p99", "min", "dlv/goscope"))
    ratios = {}
    for client in clients:
        ratios[client] = rows[(client, "dlv")]["median"] / rows[(client, "goscope")]["median"]
        for name, _ in servers:
            r = rows[(client, name)]
            print(("%-7s %-8s %10.1f %10.1f %10.1f %10.1f %10.1f %12s" % (
                client, name, r["median"], r["p10"], r["p90"], r["p99"], r["min"],
                "%.1fx" % ratios[client] if name == "dlv" else "")).rstrip())
    kernel_us = None
    if a.floor:
        for client in clients:
            f = floors[client]
            print("floor: %-6s client against a canned %d-byte State reply: median %.1f us "
                  "(p10 %.1f, p90 %.1f, p99 %.1f, min %.1f)" % (
                      client, len(keep["reply"]), f["median"], f["p10"], f["p90"], f["p99"],
                      f["min"]))
        for line in kernel["lines"]:
            print("floor: kernel, raw ptrace: " + line)
        if kernel["ok"]:
            # goscope leaves threads blocked in system calls parked (proc's set_park_blocked),
            # so in steady state only the hit thread stops and resumes: its floor is the
            # kernel's non-stop round trip. dlv's is the all-stop one.
            kernel_us = kernel.get("nonstop_median", kernel["allstop_median"])
        else:
            print("floor: kernel, raw ptrace: allstop_floor failed: %s" % kernel["stderr"])

    conclusions = {}
    for client in clients:
        g = rows[(client, "goscope")]["median"]
        c = {"goscope_median": g, "goal_met": g <= GOAL_US, "dlv_over_goscope": ratios[client]}
        text = "%s: goscope median %.1f us, goal goscope <= %d us %s (dlv/goscope %.1fx)" % (
            client, g, GOAL_US, "met" if g <= GOAL_US else "not met", ratios[client])
        if a.floor:
            cf = floors[client]["median"]
            c["client_floor"] = cf
            if kernel_us is not None:
                c["kernel_floor"] = kernel_us
                c["kernel_allstop_floor"] = kernel["allstop_median"]
                c["floor_sum"] = cf + kernel_us
                c["goscope_share"] = g - cf - kernel_us
                text += ("; floors %.1f (client) + %.1f (kernel, the hit thread's stop; all "
                         "threads: %.1f) = %.1f us, goscope's own share %.1f us" %
                         (cf, kernel_us, kernel["allstop_median"], cf + kernel_us,
                          c["goscope_share"]))
            else:
                c["goscope_share_with_kernel"] = g - cf
                text += ("; client floor %.1f us, goscope + kernel share %.1f us" % (cf, g - cf))
        conclusions[client] = c
        print(text)

    if a.json:
        doc = {
            "benchmark": "continue -> breakpoint round trip over JSON-RPC (bench int, "
                         "breakpoint on main.work)",
            "unit": "us", "goal_us": GOAL_US, "calls": a.calls, "warmup": a.warmup,
            "taskset": a.taskset, "target_threads": keep["threads"],
            "reply_bytes": len(keep["reply"]),
            "clients": {client: {"servers": {name: rows[(client, name)] for name, _ in servers},
                                 **({"client_floor": floors[client]} if a.floor else {}),
                                 **conclusions[client]}
                        for client in clients},
        }
        if kernel is not None:
            doc["kernel_floor"] = {k: kernel[k] for k in ("threads", "hits", "nonstop_median",
                                                          "allstop_median") if k in kernel}
        with open(a.json, "w") as f:
            json.dump(rounded(doc), f, indent=2)
            f.write("\n")
    if kernel is not None and not kernel["ok"]:
        sys.exit(1)


if __name__ == "__main__":
    main()
