#!/usr/bin/env python3
"""Start-up on big binaries, goscope side by side with dlv (issue 14).

For each binary (built by this script from GOROOT's sources, so nothing is downloaded):
  - cmd/go built -N -l and optimized,
  - the net/http test binary built -N -l,
each server is started headless (`exec BINARY --headless --listen=127.0.0.1:P
--api-version=2`), and the time is measured from spawning the server to the program stopped
at main.main (connect, RPCServer.CreateBreakpoint main.main, RPCServer.Command continue),
plus the same with a file:line breakpoint (the first statement of main.main), and the
server's peak RSS (VmHWM, read from /proc while the target is stopped). Medians of --runs
runs; the ratios are dlv / goscope (time) and goscope / dlv (memory).

With --trace it also times `goscope trace` and `dlv trace` on cmd/go (`go version`, one
function traced) against the program's own run.

    bench/startup/startup_bench.py [--build build] [--runs 5] [--out DIR] [--trace]
"""
import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Client:
    """A minimal net/rpc JSON-RPC client (Delve's API v2)."""

    def __init__(self, port, deadline):
        while True:
            try:
                self.sock = socket.create_connection(("127.0.0.1", port), timeout=120)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.002)
        self.file = self.sock.makefile("rb")
        self.id = 0

    def call(self, method, params):
        self.id += 1
        msg = {"method": "RPCServer." + method, "params": [params], "id": self.id}
        self.sock.sendall(json.dumps(msg).encode() + b"\n")
        reply = json.loads(self.file.readline())
        if reply.get("error"):
            raise RuntimeError(f"{method}: {reply['error']}")
        return reply["result"]

    def close(self):
        self.file.close()
        self.sock.close()


def cpu_seconds(pid):
    """User + system CPU time of `pid` so far: steadier than wall time on a loaded machine."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def vm_hwm_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


def first_line_of(server_cmd, binary, fn):
    """The file:line of `fn`'s first statement, asked of the server once (not timed)."""
    port = free_port()
    p = subprocess.Popen(server_cmd(binary, port), stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
    try:
        c = Client(port, time.monotonic() + 60)
        bp = c.call("CreateBreakpoint", {"Breakpoint": {"FunctionName": fn}})["Breakpoint"]
        c.close()
        return bp["file"], bp["line"]
    finally:
        p.kill()
        p.wait()


def one_run(server_cmd, binary, bp):
    """Seconds from spawning the server to the target stopped at the breakpoint, the
    server's peak RSS in KiB and its CPU seconds."""
    port = free_port()
    t0 = time.monotonic()
    p = subprocess.Popen(server_cmd(binary, port), stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
    try:
        c = Client(port, t0 + 60)
        c.call("CreateBreakpoint", {"Breakpoint": bp})
        state = c.call("Command", {"name": "continue"})["State"]
        elapsed = time.monotonic() - t0
        where = (state.get("currentThread") or {}).get("function") or {}
        if where.get("name") != "main.main":
            raise SystemExit(f"{server_cmd(binary, port)[0]}: stopped in {where} not main.main")
        rss = vm_hwm_kib(p.pid)
        cpu = cpu_seconds(p.pid)
        c.close()
        return elapsed, rss, cpu
    finally:
        p.kill()
        p.wait()


def go_build(out, pkg, test, optimized):
    cmd = ["go", "test", "-c", "-o", out] if test else ["go", "build", "-o", out]
    if not optimized:
        cmd.append("-gcflags=all=-N -l")
    cmd.append(pkg)
    subprocess.run(cmd, check=True, env=dict(os.environ, GOFLAGS="-mod=mod", GO111MODULE="on",
                                                GOPROXY="off"))


def trace_wall(cmd):
    t0 = time.monotonic()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.monotonic() - t0


def main():
    ap = argparse.ArgumentParser()
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    ap.add_argument("--build", default=os.path.join(root, "build"))
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--out", default=None, help="where the binaries go (kept between runs)")
    ap.add_argument("--trace", action="store_true", help="also time goscope/dlv trace")
    ap.add_argument("--only", default=None, help="run only the binary of this name")
    args = ap.parse_args()
    goscope = os.path.join(args.build, "bin", "goscope")
    out = args.out or tempfile.mkdtemp(prefix="startup_bench.")
    os.makedirs(out, exist_ok=True)
    binaries = [
        ("cmd/go -N -l", "go-nl", "cmd/go", False, False),
        ("cmd/go optimized", "go-opt", "cmd/go", False, True),
        ("net/http.test -N -l", "http-nl.test", "net/http", True, False),
    ]
    if args.only:
        binaries = [b for b in binaries if b[1] == args.only]
    for _, name, pkg, test, opt in binaries:
        path = os.path.join(out, name)
        if not os.path.exists(path):
            go_build(path, pkg, test, opt)

    servers = {
        "goscope": lambda b, port: [goscope, "exec", b, "--headless",
                                    f"--listen=127.0.0.1:{port}", "--api-version=2"],
        "dlv": lambda b, port: ["dlv", "exec", b, "--headless", f"--listen=127.0.0.1:{port}",
                                "--api-version=2"],
    }
    print(f"medians of {args.runs} runs; time = spawn server .. stopped at main.main; "
          f"RSS = server VmHWM; cpu = server user+sys s")
    print(f"{'binary':22} {'breakpoint':10} {'dlv s':>7} {'goscope s':>9} {'speedup':>7} "
          f"{'dlv cpu':>7} {'goscope cpu':>11} {'dlv MiB':>8} {'goscope MiB':>11}")
    for label, name, _, _, _ in binaries:
        path = os.path.join(out, name)
        file, line = first_line_of(servers["goscope"], path, "main.main")
        kinds = [("function", {"FunctionName": "main.main"})]
        if os.path.isabs(file):  # a test binary's main.main is in ./_testmain.go, no file
            kinds.append(("file:line", {"File": file, "Line": line}))
        for kind, bp in kinds:
            res = {}
            for server in ("dlv", "goscope"):
                runs = [one_run(servers[server], path, bp) for _ in range(args.runs)]
                res[server] = (statistics.median(r[0] for r in runs),
                               statistics.median(r[1] for r in runs) / 1024,
                               statistics.median(r[2] for r in runs))
            print(f"{label:22} {kind:10} {res['dlv'][0]:7.3f} {res['goscope'][0]:9.3f} "
                  f"{res['dlv'][0] / res['goscope'][0]:6.1f}x {res['dlv'][2]:7.2f} "
                  f"{res['goscope'][2]:11.2f} {res['dlv'][1]:8.1f} {res['goscope'][1]:11.1f}")
            sys.stdout.flush()

    if args.trace:
        go = os.path.join(out, "go-nl")
        fn = "^cmd/go/internal/version\\.runVersion$"
        own = statistics.median(trace_wall([go, "version"]) for _ in range(args.runs))
        gs = statistics.median(
            trace_wall([goscope, "trace", "--exec", go, fn, "--", "version"])
            for _ in range(args.runs))
        dl = statistics.median(
            trace_wall(["dlv", "trace", "--exec", go, fn, "--", "version"])
            for _ in range(args.runs))
        print(f"trace cmd/go version ({fn}): own run {own:.3f} s, goscope {gs:.3f} s "
              f"(+{gs - own:.3f}), dlv {dl:.3f} s (+{dl - own:.3f})")


if __name__ == "__main__":
    main()
