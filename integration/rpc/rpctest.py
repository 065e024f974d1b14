"""What every JSON-RPC test script here shares: a headless server started on 127.0.0.1:0
(goscope, or dlv as the oracle) and reaped when the script ends whatever happens, a small
client speaking Go's net/rpc jsonrpc framing, and the check/log helpers.

Imported by rpc_test.py, session_test.py, inputs_test.py and resources_test.py (CTest runs
each from this directory, so a plain `import rpctest` finds it).
"""
import atexit
import json
import socket
import subprocess
import sys

PREFIX = "API server listening at: "


def log(msg, limit=2000):
    print(msg if len(msg) <= limit else msg[:limit] + "...", flush=True)


def check(cond, what):
    if not cond:
        raise AssertionError(what)
    log("ok: " + what)


def short(r):
    s = repr(r)
    return s if len(s) < 300 else s[:300] + "..."


class RPCError(AssertionError):
    """A method answered with an error where a result was expected."""


def request_bytes(method, params, id_):
    """One request as Go's jsonrpc client writes it."""
    return json.dumps({"method": "RPCServer." + method, "params": [params],
                       "id": id_}).encode()


class Client:
    """Go's net/rpc jsonrpc framing: one JSON object per request, replies matched by id
    (a reply to an earlier request that arrives first is kept for its reader)."""

    def __init__(self, addr, timeout=30, verbose=True):
        self.verbose = verbose  # log every request and reply
        host, port = addr.rsplit(":", 1)
        self.sock = socket.create_connection((host, int(port)), timeout=timeout)
        self.file = self.sock.makefile("rwb")
        self.next_id = 0
        self.replies = {}

    def send(self, method, args=None):
        self.next_id += 1
        self.file.write(request_bytes(method, args or {}, self.next_id))
        self.file.flush()
        if self.verbose:
            log(">> %s %s" % (method, json.dumps(args or {})), 400)
        return self.next_id

    def reply(self, rid):
        while rid not in self.replies:
            line = self.file.readline()
            if not line:
                raise RPCError("connection closed (server died?) waiting for reply %d" % rid)
            r = json.loads(line)
            self.replies[r["id"]] = r
        r = self.replies.pop(rid)
        if self.verbose:
            log("<< %s" % json.dumps(r), 400)
        return r

    def raw(self, method, args=None):
        """The whole reply ({"id", "result", "error"})."""
        return self.reply(self.send(method, args))

    def result(self, rid):
        r = self.reply(rid)
        if r["error"] is not None:
            raise RPCError(r["error"])
        return r["result"]

    def call(self, method, args=None):
        return self.result(self.send(method, args))

    def error(self, method, args=None):
        r = self.raw(method, args)
        if r["error"] is None:
            raise AssertionError("%s should fail: %s" % (method, json.dumps(r)[:300]))
        return r["error"]

    def close(self):
        try:
            self.file.close()
        finally:
            self.sock.close()


# Processes a script started: whatever still runs when it ends (a failed check exits
# early) is killed and its stderr shown, so that no server or debuggee outlives the test.
STARTED = []


def track(p):
    STARTED.append(p)
    return p


def _reap_started():
    for p in STARTED:
        if p.poll() is None:
            p.kill()
            try:
                _, err = p.communicate(timeout=10)
                if err:
                    sys.stderr.write("left-over process's stderr:\n%s\n" % err[-4000:])
            except Exception:
                pass


atexit.register(_reap_started)


def start_server(server, verb, target, *extra, args=(), stderr=subprocess.PIPE):
    """SERVER VERB TARGET --headless --listen=127.0.0.1:0 --api-version=2 EXTRA [-- ARGS];
    returns (process, "host:port") once it printed its listening line. stderr=DEVNULL for a
    debuggee that writes much (a pipe nobody reads would block it). TARGET may be a list of
    words (`core BIN CORE`)."""
    words = list(target) if isinstance(target, (list, tuple)) else [target]
    cmd = [server, verb, *words, "--headless", "--listen=127.0.0.1:0", "--api-version=2",
           *extra]
    if args:
        cmd += ["--", *args]
    log("$ " + " ".join(cmd))
    p = track(subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=stderr, text=True))
    line = p.stdout.readline()
    if not line.startswith(PREFIX):
        p.kill()
        sys.exit("no listening line: %r %s" % (line, p.stderr.read() if p.stderr else ""))
    return p, line[len(PREFIX):].strip()


def status_field(pid, name):
    """A number field of /proc/PID/status (Threads, VmRSS in kB)."""
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(name + ":"):
                return int(line.split()[1])
    raise RuntimeError("no %s in /proc/%d/status" % (name, pid))
