#!/usr/bin/env python3
"""JSON-RPC API v2 integration tests: the real goscope server driven by
(a) a Go client built only on net/rpc/jsonrpc, (b) Delve's own `dlv connect`,
(c) malformed input and a client dropping mid-continue.

Usage: rpc_test.py MODE GOSCOPE FIXTURE_DIR SOURCE_DIR WORK_DIR
MODE: go-client | dlv-connect | malformed | drop | watch
"""
import json
import os
import shutil
import socket
import subprocess
import sys
import time

import rpctest

MODE, GOSCOPE, FIXTURES, SOURCE, WORK = sys.argv[1:6]
SOURCE = os.path.abspath(SOURCE)
FIXTURE_SRC = os.path.join(SOURCE, "tests", "fixtures", "go", "basic")


def start(*extra, fixture="basic"):
    """Starts goscope exec FIXTURE --headless; returns (process, 'host:port')."""
    return rpctest.start_server(GOSCOPE, "exec", os.path.join(FIXTURES, fixture), *extra)


def stop(p):
    try:
        p.wait(timeout=10)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()
        sys.exit("goscope did not exit")


def connect(addr):
    host, port = addr.rsplit(":", 1)
    s = socket.create_connection((host, int(port)), timeout=20)
    return s


def go_client(fixture="basic", *mode, skip_if=None):
    """Runs the Go client against a fresh server. `skip_if`: a text whose appearance in the
    client's output makes the test exit 77 (CTest: skipped), printing why."""
    os.makedirs(WORK, exist_ok=True)
    client = os.path.join(WORK, "rpcclient")
    subprocess.run(["go", "build", "-o", client, "."], check=True,
                   cwd=os.path.join(SOURCE, "integration", "rpc", "client"),
                   env={**os.environ, "GOFLAGS": "-buildvcs=false"})
    p, addr = start("--accept-multiclient", fixture=fixture)
    src = os.path.join(SOURCE, "tests", "fixtures", "go", fixture)
    r = subprocess.run([client, addr, src, *mode], capture_output=True, text=True, timeout=120)
    print(r.stdout, r.stderr)
    if r.returncode != 0:
        p.kill()
        if skip_if is not None and skip_if in r.stdout:
            print("skipped: goscope says: %s" % skip_if)
            sys.exit(77)
        sys.exit("Go jsonrpc client failed")
    stop(p)


# The product's answer where the debug registers do not trap (some hypervisors accept them
# and never raise the exception): every CreateWatchpoint is refused with it.
NO_HW_WATCHPOINTS = "FAIL: CreateWatchpoint: hardware watchpoints do not fire on this machine"


def watch():
    """CreateWatchpoint (package, stack and moved-stack variables) with the Go client;
    skipped where goscope reports that hardware watchpoints do not fire (tests/unit/session
    checks that answer against the probe on every machine)."""
    go_client("watchx", "watch", skip_if=NO_HW_WATCHPOINTS)


def dlv_connect():
    p, addr = start()
    script = "\n".join([
        "break main.add", "continue", "print a", "args", "locals", "stack", "goroutines",
        "disassemble", "disassemble -l main.square", "goroutines -group user",
        "goroutines -with user", "regs", "toggle 1", "breakpoints", "call square(4)",
        "trace main.fact", "continue", "exit", "y", ""])
    r = subprocess.run(["dlv", "connect", addr], input=script, capture_output=True, text=True,
                       timeout=120, env={**os.environ, "TERM": "dumb"})
    out = r.stdout + r.stderr
    print(out)
    stop(p)
    expect = [
        "Breakpoint 1 set at", "for main.add()", "main.go:24",
        "> main.add()", "(hits goroutine(1):1 total:1)",
        "(dlv) 2\n",
        "a = 2\nb = 3",
        "in main.add", "in main.main",
        "Goroutine 1 - User:",
        "TEXT main.add(SB) ", "=>\tmain.go:24\t", "\tsub rsp, 0x10\n",
        "\tadd rax, qword ptr [rsp+0x20]\n", "TEXT main.square(SB) ", "\timul rax, rcx\n",
        "[1 goroutines]",
        " Rflags = 0x", "Fs_base = 0x",
        "Breakpoint 1 toggled at",
        "Breakpoint 1 (disabled) at 0x0 for main.add()",
        "Values returned:\n\t~r0: 16\n",
        "Tracepoint 2 set at",
        "> goroutine(1): main.fact(5)", "> goroutine(1): main.fact(1)",
        ">> goroutine(1): => (1)", ">> goroutine(1): => (120)",
        "has exited with status 0",
    ]
    missing = [e for e in expect if e not in out]
    if missing:
        sys.exit("dlv connect output lacks: %r" % missing)


def malformed():
    p, addr = start("--accept-multiclient")
    # Unknown method: an error reply, connection stays open.
    s = connect(addr)
    f = s.makefile("rwb")
    f.write(b'{"method":"RPCServer.NoSuch","params":[{}],"id":1}')
    f.flush()
    r = json.loads(f.readline())
    assert r == {"id": 1, "result": None, "error": "unknown method: RPCServer.NoSuch"}, r
    # Two requests in one packet, one split across writes, odd ids.
    f.write(b'{"method":"RPCServer.IsMulticlient","params":[],"id":"a"}'
            b'{"method":"RPCServer.ProcessPid","params":[{}],"id":[1,2]}{"method":"RPC')
    f.flush()
    time.sleep(0.05)
    f.write(b'Server.IsMulticlient","params":[{}]}')
    f.flush()
    r1, r2, r3 = (json.loads(f.readline()) for _ in range(3))
    assert r1 == {"id": "a", "result": {"IsMulticlient": True}, "error": None}, r1
    assert r2["id"] == [1, 2] and r2["result"]["Pid"] > 0, r2
    assert r3["id"] is None and r3["result"] == {"IsMulticlient": True}, r3
    # params not an array: Delve drops the connection.
    f.write(b'{"method":"RPCServer.ProcessPid","params":{},"id":5}')
    f.flush()
    assert f.readline() == b"", "connection should be closed"
    s.close()
    # Invalid JSON: connection closed, server alive.
    s = connect(addr)
    s.sendall(b'{"method": nope}')
    s.settimeout(10)
    assert s.recv(100) == b"", "connection should be closed"
    s.close()
    # Wrong field type: connection closed.
    s = connect(addr)
    s.sendall(b'{"method":"RPCServer.SetApiVersion","params":[{"APIVersion":"two"}],"id":1}')
    s.settimeout(10)
    assert s.recv(100) == b"", "connection should be closed"
    s.close()
    # The server still answers, keys case-insensitively.
    s = connect(addr)
    f = s.makefile("rwb")
    f.write(b'{"method":"RPCServer.SetApiVersion","params":[{"apiversion":2}],"id":7}\n')
    f.flush()
    r = json.loads(f.readline())
    assert r == {"id": 7, "result": {}, "error": None}, r
    f.write(b'{"method":"RPCServer.Detach","params":[{"Kill":true}],"id":8}')
    f.flush()
    assert json.loads(f.readline()) == {"id": 8, "result": {}, "error": None}
    stop(p)
    print("PASS")


def drop():
    """A client that disconnects while its continue is running; halt from a second one."""
    p, addr = start("--accept-multiclient", "--", "x")
    s = connect(addr)
    f = s.makefile("rwb")
    f.write(b'{"method":"RPCServer.CreateBreakpoint","params":[{"Breakpoint":'
            b'{"functionName":"main.main","line":-1}}],"id":1}')
    f.flush()
    assert json.loads(f.readline())["error"] is None
    f.write(b'{"method":"RPCServer.Command","params":[{"name":"continue"}],"id":2}')
    f.flush()
    r = json.loads(f.readline())
    assert r["result"]["State"]["currentThread"]["breakPoint"]["id"] == 1, r
    # The fixture exits quickly; a tight loop is not available, so drop mid-continue and
    # check that the server survives and reports the exit to the next client.
    f.write(b'{"method":"RPCServer.Command","params":[{"name":"continue"}],"id":3}')
    f.flush()
    s.close()
    s2 = connect(addr)
    f2 = s2.makefile("rwb")
    f2.write(b'{"method":"RPCServer.Command","params":[{"name":"halt"}],"id":1}')
    f2.flush()
    r = json.loads(f2.readline())
    assert r["error"] is None, r
    f2.write(b'{"method":"RPCServer.Detach","params":[{"Kill":true}],"id":2}')
    f2.flush()
    assert json.loads(f2.readline())["error"] is None
    stop(p)
    print("PASS")


{"go-client": go_client, "dlv-connect": dlv_connect, "malformed": malformed,
 "drop": drop, "watch": watch}[MODE]()
