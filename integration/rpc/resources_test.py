#!/usr/bin/env python3
"""Bounded resources of the headless server (issue 13 item 2), on loopback only, with
bounded counts and waits:

  idle   1,000 connections that each made one request and then stay idle leave the
         server's thread count bounded (/proc/PID/status Threads): connections are served
         from one event loop, not a thread each (before: 1,002 threads; dlv: 9).
  flood  a client that sends 40,000 requests with large replies and never reads keeps the
         server's RSS bounded (it stops reading that connection while its unsent replies
         exceed a bound; before: 1.3-1.6 GB; dlv: 24 MB), and another client is answered
         meanwhile.
  halfclose  a client writes several requests at once and then shuts down its writing side
         (as `nc` and one-shot scripts do): every request written before the end of its
         stream is answered, in order, before the server closes the connection (Delve sees
         the end of the stream only after the last request is set up; each mode also
         passes against dlv: `resources_test.py halfclose $(which dlv) FIXTURES`). The server reads
         ahead while a request is being set up, so it sees the end early: it must not drop
         what it read.

Usage: resources_test.py MODE GOSCOPE FIXTURE_DIR
"""
import json
import os
import resource
import socket
import subprocess
import sys
import time

import rpctest
from rpctest import log, status_field
from rpctest import request_bytes as request

MODE, SERVER, FIXTURES = sys.argv[1:4]
TIMEOUT = 30


def start_server():
    """A multiclient server on the basic fixture; returns (process, (host, port))."""
    p, addr = rpctest.start_server(SERVER, "exec", os.path.join(FIXTURES, "basic"),
                                   "--accept-multiclient")
    host, port = addr.rsplit(":", 1)
    return p, (host, int(port))


def call(sock, method, params, id_=1):
    sock.sendall(request(method, params, id_))
    dec = json.JSONDecoder()
    buf = ""
    deadline = time.time() + TIMEOUT
    while time.time() < deadline:
        sock.settimeout(max(0.1, deadline - time.time()))
        chunk = sock.recv(1 << 16)
        if not chunk:
            raise RuntimeError("connection closed")
        buf += chunk.decode()
        try:
            v, _ = dec.raw_decode(buf.lstrip())
            return v
        except ValueError:
            continue
    raise RuntimeError("no reply to %s within %ds" % (method, TIMEOUT))


def stop(p):
    p.terminate()
    try:
        p.wait(timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()


def idle():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < 1100:
        log("SKIP: the file descriptor limit (%d) is below 1,100" % hard)
        sys.exit(77)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard if hard != resource.RLIM_INFINITY else 4096,
                                                hard))
    p, addr = start_server()
    socks = []
    try:
        for i in range(1000):
            s = socket.create_connection(addr, timeout=TIMEOUT)
            reply = call(s, "GetVersion", {}, i)
            assert reply["error"] is None, reply
            socks.append(s)
        threads = status_field(p.pid, "Threads")
        log("1,000 idle connections: server threads = %d" % threads)
        # The event loop, the tracer thread, the bounded worker pool (16) and a few of the
        # runtime's: bounded whatever the number of connections.
        if threads > 40:
            sys.exit("FAIL: %d threads for 1,000 idle connections" % threads)
        # Still serving.
        s = socket.create_connection(addr, timeout=TIMEOUT)
        assert call(s, "IsMulticlient", {})["result"]["IsMulticlient"] is True
        s.close()
    finally:
        for s in socks:
            s.close()
        stop(p)
    log("PASS")


def flood():
    p, addr = start_server()
    try:
        probe = socket.create_connection(addr, timeout=TIMEOUT)
        size = len(json.dumps(call(probe, "ListFunctions", {"Filter": ""})))
        base_rss = status_field(p.pid, "VmRSS")
        log("ListFunctions reply: %d bytes; server RSS before: %d kB" % (size, base_rss))

        hog = socket.create_connection(addr, timeout=TIMEOUT)
        hog.setblocking(False)
        data = b"".join(request("ListFunctions", {"Filter": ""}, i) for i in range(40000))
        sent = 0
        stalled_since = None
        deadline = time.time() + 60
        # Send everything the kernel takes; stop once nothing more is taken for 3 s (the
        # server does not read) or all 40,000 requests are in.
        while sent < len(data) and time.time() < deadline:
            try:
                n = hog.send(data[sent:sent + (1 << 16)])
                sent += n
                stalled_since = None
            except BlockingIOError:
                stalled_since = stalled_since or time.time()
                if time.time() - stalled_since > 3:
                    break
                time.sleep(0.05)
        log("sent %d of %d bytes of requests without reading a reply" % (sent, len(data)))
        # Let the server do whatever it will with what it got.
        time.sleep(3)
        rss = status_field(p.pid, "VmRSS")
        log("server RSS with the unread replies: %d kB (%+d kB)" % (rss, rss - base_rss))
        # Another client is answered meanwhile.
        other = socket.create_connection(addr, timeout=TIMEOUT)
        st = call(other, "State", {"NonBlocking": True})
        assert st["error"] is None, st
        other.close()
        if rss - base_rss > 256 * 1024:
            sys.exit("FAIL: the server grew by %d kB for one client's unread replies" %
                     (rss - base_rss))
        hog.close()
        probe.close()
    finally:
        stop(p)
    log("PASS")


def halfclose():
    p, addr = start_server()
    try:
        s = socket.create_connection(addr, timeout=TIMEOUT)
        batch = [("SetApiVersion", {"APIVersion": 2}), ("GetVersion", {}),
                 ("CreateBreakpoint", {"Breakpoint": {"FunctionName": "main.main"}}),
                 ("ListBreakpoints", {}), ("State", {"NonBlocking": True}),
                 ("NoSuchMethod", {}), ("ListBreakpoints", {})]
        s.sendall(b"".join(request(m, a, i + 1) for i, (m, a) in enumerate(batch)))
        s.shutdown(socket.SHUT_WR)
        dec = json.JSONDecoder()
        buf, replies = "", []
        deadline = time.time() + TIMEOUT
        while time.time() < deadline:
            s.settimeout(max(0.1, deadline - time.time()))
            chunk = s.recv(1 << 16)
            if not chunk:
                break
            buf += chunk.decode()
            while buf.strip():
                try:
                    v, end = dec.raw_decode(buf.lstrip())
                except ValueError:
                    break
                replies.append(v)
                buf = buf.lstrip()[end:]
        else:
            sys.exit("FAIL: the server neither answered nor closed within %ds" % TIMEOUT)
        ids = [r["id"] for r in replies]
        log("replies to ids %s, then the end of the stream" % ids)
        # State (id 5) ends its setup at once and answers later, in Delve too (dlv 1.20.2
        # answers 6 before 5 here): every other reply comes in request order.
        if sorted(ids) != list(range(1, len(batch) + 1)) or \
                [i for i in ids if i != 5] != [1, 2, 3, 4, 6, 7]:
            sys.exit("FAIL: expected one reply to each of ids 1..%d, in order but for State "
                     "(5), got %s" % (len(batch), ids))
        errors = [r["id"] for r in replies if r["error"] is not None]
        if errors != [6]:
            sys.exit("FAIL: expected an error for the unknown method (id 6) only, got %s: %s"
                     % (errors, replies))
        bps = next(r for r in replies if r["id"] == 7)["result"]["Breakpoints"]
        if not any(b["functionName"] == "main.main" for b in bps):
            sys.exit("FAIL: the breakpoint made before the end of the stream is not listed: %s"
                     % bps)
        s.close()
    finally:
        stop(p)
    log("PASS")


{"idle": idle, "flood": flood, "halfclose": halfclose}[MODE]()
