#!/usr/bin/env python3
"""`goscope core` from the command line, the terminal client, `dump` and DAP (issue 16):

* bad input: a truncated core, a core of another program, a file that is not a core, a
  missing core or executable: goscope prints its listening line, then one line of error,
  and exits 1 (dlv's status), never a crash;
* the terminal-client form (`goscope core BIN CORE`, Delve's client on stdin) lists the
  goroutines and the stack;
* `dump FILE` from the real `dlv connect` writes a core that goscope core and dlv core open
  with the same goroutine list;
* DAP: `launch` with mode core (program, coreFilePath) against goscope dap and dlv dap: the
  same threads, the same stack of the crashed goroutine, the same evaluate answer, and
  the same error for a missing coreFilePath.

Usage: core_cli.py GOSCOPE DLV FIXTURES. The core comes from corex's crash with
GOTRACEBACK=crash where core_pattern writes a file, else from gcore; exit 77 when neither
works here.
"""
import json
import os
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import time

GOSCOPE, DLV, FIXTURES = sys.argv[1:4]
BIN = os.path.join(FIXTURES, "corex")
OTHER = os.path.join(FIXTURES, "basic")
WORK = tempfile.mkdtemp(prefix="goscope-core-cli-")
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "rpc"))
import rpctest  # noqa: E402
from rpctest import check, log  # noqa: E402



def hard_core_limit():
    """RLIMIT_CORE's hard limit: the most a process may raise its own soft limit to."""
    return resource.getrlimit(resource.RLIMIT_CORE)[1]

def make_core():
    try:
        pattern = open("/proc/sys/kernel/core_pattern").read().strip()
    except OSError:
        pattern = "|"
    if not pattern.startswith("|") and "/" not in pattern and hard_core_limit() != 0:
        def limits():
            resource.setrlimit(resource.RLIMIT_CORE, (hard_core_limit(), hard_core_limit()))
        subprocess.run([BIN, "crash"], cwd=WORK, env=dict(os.environ, GOTRACEBACK="crash"),
                       preexec_fn=limits, capture_output=True, timeout=60)
        cores = [f for f in os.listdir(WORK) if f.startswith("core")]
        if cores:
            return os.path.join(WORK, cores[0])
    if shutil.which("gcore"):
        p = subprocess.Popen([BIN], stdout=subprocess.PIPE, text=True)
        p.stdout.readline()
        subprocess.run(["gcore", "-o", os.path.join(WORK, "gcore"), str(p.pid)],
                       capture_output=True, timeout=240)
        p.kill()
        p.wait()
        path = os.path.join(WORK, "gcore.%d" % p.pid)
        if os.path.exists(path):
            return path
    return None


def bad_inputs(core):
    trunc = os.path.join(WORK, "truncated.core")
    with open(core, "rb") as f, open(trunc, "wb") as o:
        o.write(f.read(3000))  # the headers and part of the notes
    notcore = os.path.join(WORK, "notcore.txt")
    with open(notcore, "w") as f:
        f.write("hello\n")
    cases = [("truncated core", BIN, trunc), ("core of another program", OTHER, core),
             ("not a core", BIN, notcore), ("executable as the core", BIN, BIN),
             ("missing core", BIN, os.path.join(WORK, "nosuch")),
             ("missing executable", os.path.join(WORK, "nosuch"), core)]
    for what, exe, c in cases:
        r = subprocess.run([GOSCOPE, "core", exe, c, "--headless", "--listen=127.0.0.1:0",
                            "--api-version=2"], capture_output=True, text=True, timeout=60)
        err = r.stderr.strip().splitlines()
        check(r.returncode == 1, "%s: exit status 1 (got %d)" % (what, r.returncode))
        check(r.stdout.startswith("API server listening at: "),
              "%s: the listening line first, as dlv" % what)
        check(len(err) == 1 and err[0], "%s: one line of error: %r" % (what, r.stderr[-300:]))
    # dlv's own texts where both refuse: a missing file.
    for exe, c in ((BIN, os.path.join(WORK, "nosuch")), (os.path.join(WORK, "nosuch"), core)):
        g = subprocess.run([GOSCOPE, "core", exe, c, "--headless", "--listen=127.0.0.1:0"],
                           capture_output=True, text=True, timeout=60)
        d = subprocess.run([DLV, "core", exe, c, "--headless", "--listen=127.0.0.1:0"],
                           capture_output=True, text=True, timeout=60)
        check(g.returncode == d.returncode and g.stderr == d.stderr,
              "missing file: exit status and error as dlv's (%d, %r)" % (d.returncode, d.stderr))


def terminal_client(core):
    script = "goroutines\nbt\nexit\n"
    flag = "--allow-non-terminal-interactive=true"
    r = subprocess.run([GOSCOPE, "core", BIN, core, flag], input=script, capture_output=True,
                       text=True, timeout=120)
    d = subprocess.run([DLV, "core", BIN, core, flag], input=script, capture_output=True,
                       text=True, timeout=120)
    log(r.stdout[-2000:])
    check(r.returncode == 0, "goscope core (terminal client) exits 0: %r" % r.stderr[-300:])
    for needle in ("main.hold", "Goroutine 1", "main.parkedOnChannel"):
        check(needle in r.stdout, "the terminal client shows %s" % needle)
        check((needle in d.stdout) == (needle in r.stdout), "as dlv core does: %s" % needle)


def goroutine_names(server, core):
    p, addr = rpctest.start_server(server, "core", BIN, core)
    c = rpctest.Client(addr, timeout=60)
    gs = c.call("ListGoroutines", {"Start": 0, "Count": 0})["Goroutines"]
    c.call("Detach", {"Kill": False})
    c.close()
    p.wait(timeout=30)
    return sorted((g["id"], (g["currentLoc"].get("function") or {}).get("name")) for g in gs)


def dump_from_dlv_connect():
    p, addr = rpctest.start_server(GOSCOPE, "exec", BIN)
    out = os.path.join(WORK, "connect.core")
    script = "break main.ready\ncontinue\ndump %s\nexit\ny\n" % out
    r = subprocess.run([DLV, "connect", addr], input=script, capture_output=True, text=True,
                       timeout=300)
    p.wait(timeout=60)
    log(r.stdout[-1500:])
    check("Dumping memory" in r.stdout and "error dumping" not in r.stdout and
          "canceled" not in r.stdout, "dlv connect's dump reports the memory written")
    check(os.path.exists(out) and os.path.getsize(out) > 0, "the dump's file exists")
    g = goroutine_names(GOSCOPE, out)
    d = goroutine_names(DLV, out)
    check(g == d and any(n == "main.ready" for _, n in g),
          "goscope core and dlv core list the same goroutines of the dump: %s" % g)


# ---------------------------------------------------------------------------------- DAP

class Dap:
    def __init__(self, server):
        self.p = rpctest.track(subprocess.Popen([server, "dap", "--listen=127.0.0.1:0"],
                                                stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                                text=True))
        line = self.p.stdout.readline()
        port = int(line.rsplit(":", 1)[1])
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=60)
        self.buf = b""
        self.seq = 0
        self.events = []

    def send(self, command, args=None):
        self.seq += 1
        body = json.dumps({"seq": self.seq, "type": "request", "command": command,
                           "arguments": args or {}}).encode()
        self.sock.sendall(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        return self.seq

    def read(self):
        while b"\r\n\r\n" not in self.buf:
            self.buf += self.sock.recv(65536)
        head, rest = self.buf.split(b"\r\n\r\n", 1)
        n = int(head.split(b":")[1])
        while len(rest) < n:
            rest += self.sock.recv(65536)
        self.buf = rest[n:]
        return json.loads(rest[:n])

    def request(self, command, args=None):
        seq = self.send(command, args)
        while True:
            m = self.read()
            if m["type"] == "response" and m["request_seq"] == seq:
                return m
            self.events.append(m)

    def event(self, name):
        while True:
            for i, e in enumerate(self.events):
                if e.get("event") == name:
                    return self.events.pop(i)
            m = self.read()
            if m["type"] == "event":
                self.events.append(m)

    def close(self):
        try:
            self.request("disconnect", {})
        except Exception:
            pass
        self.sock.close()
        try:
            self.p.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.p.kill()


def dap_session(server, core):
    d = Dap(server)
    d.request("initialize", {"adapterID": "go", "linesStartAt1": True,
                             "columnsStartAt1": True, "pathFormat": "path"})
    missing = d.request("launch", {"mode": "core", "program": BIN})
    d.close()
    d = Dap(server)
    d.request("initialize", {"adapterID": "go", "linesStartAt1": True,
                             "columnsStartAt1": True, "pathFormat": "path"})
    launched = d.request("launch", {"mode": "core", "program": BIN, "coreFilePath": core})
    out = {"missing coreFilePath": (missing["success"],
                                    (missing.get("body") or {}).get("error", {}).get("format")),
           "launch": launched["success"]}
    if launched["success"]:
        d.request("configurationDone", {})
        # Not stopOnEntry: the front end continues, which a core refuses; its `stopped`
        # event comes first, as from dlv dap, then the requests of a stopped session.
        stopped = d.event("stopped")["body"]
        out["stopped after configurationDone"] = (stopped.get("reason"), stopped.get("text"))
        threads = d.request("threads")["body"]["threads"]
        out["threads"] = sorted(t["name"] for t in threads)
        st = d.request("stackTrace", {"threadId": 1, "startFrame": 0, "levels": 20})
        frames = (st.get("body") or {}).get("stackFrames") or []
        out["stack of goroutine 1"] = [f["name"] for f in frames]
        hold = [f for f in frames if f["name"] == "main.hold"]
        if hold:
            ev = d.request("evaluate", {"expression": "msg", "frameId": hold[0]["id"],
                                        "context": "repl"})
            out["evaluate msg"] = (ev["success"], (ev.get("body") or {}).get("result"))
            sc = d.request("scopes", {"frameId": hold[0]["id"]})
            scopes = (sc.get("body") or {}).get("scopes") or []
            if scopes:
                vs = d.request("variables", {"variablesReference":
                                             scopes[0]["variablesReference"]})
                out["locals of main.hold"] = sorted(
                    (v["name"], v["value"]) for v in (vs.get("body") or {}).get("variables", []))
        cont = d.request("continue", {"threadId": 1})
        out["continue"] = (cont["success"], (cont.get("body") or {}).get("error", {}).get(
            "format") if not cont["success"] else None)
    d.close()
    return out


def dap_core(core):
    g = dap_session(GOSCOPE, core)
    d = dap_session(DLV, core)
    log("goscope dap: %s" % json.dumps(g))
    log("dlv dap:     %s" % json.dumps(d))
    check(g["launch"], "goscope dap launches mode core")
    for k in sorted(set(g) | set(d)):
        if k == "continue":
            continue  # the answer to a continue differs in form between the front ends
        check(g.get(k) == d.get(k), "DAP %s as dlv dap: %s" % (k, g.get(k)))


def main():
    if not os.path.exists(BIN):
        sys.exit("no fixture %s" % BIN)
    core = make_core()
    if core is None:
        print("SKIP: neither the kernel (core_pattern) nor gcore gives a core here")
        shutil.rmtree(WORK, ignore_errors=True)
        sys.exit(77)
    try:
        bad_inputs(core)
        terminal_client(core)
        dump_from_dlv_connect()
        dap_core(core)
        log("PASS")
    finally:
        shutil.rmtree(WORK, ignore_errors=True)


if __name__ == "__main__":
    main()
