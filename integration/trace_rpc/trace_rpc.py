#!/usr/bin/env python3
"""Delve's buffered (eBPF) tracepoints through a real JSON-RPC client (issue 15 item 3).

Usage: trace_rpc.py MODE GOSCOPE FIXTURE_DIR SOURCE_DIR WORK_DIR
MODE:
  counts  a Go net/rpc/jsonrpc client creates tracepoints on the stress fixture, continues,
          and collects GetBufferedTracepoints while the target runs (a main.ping result must
          come back while the program waits for its stdin); every call and return it
          collected is counted against the program's own counts.
  dlv     differential: `dlv trace --ebpf` against the same client printing dlv's format,
          where dlv's eBPF tracing works on this machine (exit 77, skipped, with the reason
          dlv gives otherwise).
"""
import os
import re
import subprocess
import sys
import threading

MODE, GOSCOPE, FIXTURES, SOURCE, WORK = sys.argv[1:6]
PREFIX = "API server listening at: "


def log(msg):
    print(msg, flush=True)


def build_client():
    os.makedirs(WORK, exist_ok=True)
    client = os.path.join(WORK, "tracerpc")
    subprocess.run(["go", "build", "-o", client, "."], check=True,
                   cwd=os.path.join(os.path.abspath(SOURCE), "integration", "trace_rpc", "client"),
                   env={**os.environ, "GOFLAGS": "-buildvcs=false"})
    return client


class Server:
    """goscope exec TARGET --headless, its stdout (the target's too) read in a thread."""

    def __init__(self, target, *args):
        cmd = [GOSCOPE, "exec", target, "--headless", "--listen=127.0.0.1:0",
               "--api-version=2", "--accept-multiclient"]
        if args:
            cmd += ["--", *args]
        log("$ " + " ".join(cmd))
        self.p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True)
        line = self.p.stdout.readline()
        if not line.startswith(PREFIX):
            self.p.kill()
            sys.exit("no listening line: %r %s" % (line, self.p.stderr.read()))
        self.addr = line[len(PREFIX):].strip()
        self.out = []
        self.err = []
        self.threads = [threading.Thread(target=self._read, args=(self.p.stdout, self.out)),
                        threading.Thread(target=self._read, args=(self.p.stderr, self.err))]
        for t in self.threads:
            t.start()

    @staticmethod
    def _read(f, into):
        for line in f:
            into.append(line)

    def finish(self):
        try:
            self.p.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait()
            sys.exit("goscope did not exit after Detach")
        for t in self.threads:
            t.join()
        return "".join(self.out), "".join(self.err)


def counts():
    client = build_client()
    srv = Server(os.path.join(FIXTURES, "stress"), "1", "wait")
    c = subprocess.Popen([client, "counts", srv.addr], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    lines = []
    for line in c.stdout:
        lines.append(line)
        if line.strip() == "PING-SEEN":
            # The program has been calling main.ping, traced, while waiting: let it go on.
            srv.p.stdin.write("go\n")
            srv.p.stdin.flush()
    c.wait(timeout=300)
    cerr = c.stderr.read()
    out, err = srv.finish()
    log("client:\n" + "".join(lines) + cerr)
    log("goscope stderr:\n" + err)
    if c.returncode != 0:
        sys.exit("client failed")
    program = sorted(l for l in out.splitlines() if re.match(r"main\.\w+ calls=", l))
    traced = sorted(l.strip() for l in lines if re.match(r"main\.\w+ calls=", l))
    log("program: %s\ntraced:  %s" % (program, traced))
    if len(program) != 4 or program != traced:
        sys.exit("the buffered tracepoints do not count what the program counted")
    if not any(l.startswith("polls=") for l in lines):
        sys.exit("client printed no summary")
    log("ok")


def dlv_diff():
    stress = os.path.join(FIXTURES, "goroutines")
    regexp = "^main\\.compute$"
    dlv = subprocess.run(["dlv", "trace", "--ebpf", "--exec", stress, regexp, "--", "2", "50"],
                         capture_output=True, text=True, timeout=120)
    dlv_lines = [l for l in dlv.stderr.splitlines() if l.startswith(("> (", "=> "))]
    if not dlv_lines:
        why = dlv.stderr.strip().splitlines()
        log("dlv trace --ebpf does not work on this machine: %s" % (why[0] if why else "?"))
        sys.exit(77)
    client = build_client()
    srv = Server(stress, "2", "50")
    c = subprocess.run([client, "dlvfmt", srv.addr, regexp], capture_output=True, text=True,
                       timeout=300)
    srv.finish()
    if c.returncode != 0:
        sys.exit("client failed: " + c.stderr)
    norm = lambda ls: sorted(re.sub(r"^> \(\d+\)", "> (G)", l) for l in ls)
    ours = norm(c.stdout.splitlines())
    theirs = norm(dlv_lines)
    if ours != theirs:
        sys.exit("differs from dlv:\n dlv:  %s\n ours: %s" % (theirs[:20], ours[:20]))
    log("ok: %d lines as dlv" % len(ours))


{"counts": counts, "dlv": dlv_diff}[MODE]()
