#!/usr/bin/env python3
"""Hostile and edge-case inputs through the JSON-RPC API (issue 13 items 2 and 3): user
regexps (RE2, Go's syntax and texts), deeply nested expressions and breakpoint conditions,
64-bit numbers in locations, a huge Disassemble range, the entry stop's current thread,
runtime.curg, and a SIGKILLed debuggee's exit status. Each mode drives a real server on
127.0.0.1:0 and checks that it answers (and is still alive) after every hostile request.

Usage: inputs_test.py MODE SERVER FIXTURE_DIR [--dlv]
  With --dlv, SERVER is dlv 1.20.2: every mode passes against it too (checks dlv cannot
  pass, such as the Disassemble range dlv dies on, are skipped), which is how the
  expected texts were taken.
MODE: regexp | trace | expr | cond | numbers | state
"""
import json
import os
import signal
import socket
import subprocess
import sys
import time

import rpctest
from rpctest import Client, check, track

MODE, SERVER, FIXTURES = sys.argv[1:4]
DLV = "--dlv" in sys.argv[4:]
VALUES = os.path.join(FIXTURES, "values")
TICKER = os.path.join(FIXTURES, "ticker")
TIMEOUT = 120  # seconds, for any single reply (deep inputs take a while under a load)
LOAD = {"FollowPointers": True, "MaxVariableRecurse": 1, "MaxStringLen": 64,
        "MaxArrayValues": 64, "MaxStructFields": -1}


def log(msg):
    rpctest.log(msg, 400)


def start_server(target, *args):
    p, addr = rpctest.start_server(SERVER, "exec", target, "--accept-multiclient", args=args)
    return p, Client(addr, TIMEOUT)


def alive(c, p):
    """The server still answers and has not died (a crash closes the connection)."""
    check(p.poll() is None, "server process alive")
    c.call("State", {"NonBlocking": True})


def finish(c, p):
    try:
        c.raw("Detach", {"Kill": True})
    except Exception:
        pass
    try:
        p.wait(timeout=30)
    except subprocess.TimeoutExpired:
        p.kill()
    check(p.returncode in (0, None) or DLV, "server exited cleanly (status %s)" % p.returncode)


def ev(c, expr):
    return c.raw("Eval", {"Scope": {"GoroutineID": -1, "Frame": 0}, "Expr": expr, "Cfg": LOAD})


def at_inspect(c):
    c.call("CreateBreakpoint", {"Breakpoint": {"FunctionName": "main.inspect", "Line": 50}})
    st = c.call("Command", {"name": "continue"})["State"]
    check(st["currentThread"]["function"]["name"] == "main.inspect", "stopped in main.inspect")


# --------------------------------------------------------------------------------- modes

def regexp_mode():
    p, c = start_server(VALUES)
    nested = "(" * 40000 + ")" * 40000
    err = c.error("ListFunctions", {"Filter": "(ab"})
    check(err == "invalid filter argument: error parsing regexp: missing closing ): `(ab`",
          "ListFunctions (ab: Go's text (%s)" % err)
    err = c.error("ListFunctions", {"Filter": "a{1001}"})
    check(err.endswith("invalid repeat count: `{1001}`"), "a{1001} refused: " + err)
    err = c.error("ListFunctions", {"Filter": "a**"})
    check(err.endswith("invalid nested repetition operator: `**`"), "a** refused: " + err)
    for method, key in [("ListFunctions", "Filter"), ("ListSources", "Filter"),
                        ("ListTypes", "Filter"), ("ListPackageVars", "Filter")]:
        args = {key: nested}
        if method == "ListPackageVars":
            args["Cfg"] = LOAD
        err = c.error(method, args)
        check("expression nests too deeply" in err, method + ": 40,000 nested groups refused")
        alive(c, p)
        args[key] = "a" * 100000
        r = c.call(method, args)
        listed = r.get("Funcs") or r.get("Sources") or r.get("Types") or r.get("Variables")
        check(not listed, method + ": 100,000 characters match nothing")
    err = c.error("FindLocation", {"Scope": {"GoroutineID": -1}, "Loc": "/" + nested + "/"})
    check("expression nests too deeply" in err, "FindLocation /re/ nested: refused")
    alive(c, p)
    # Go's syntax: (?i), \pL, named groups.
    fns = c.call("ListFunctions", {"Filter": "(?i)^MAIN\\.INSPECT$"})["Funcs"]
    check(fns == ["main.inspect"], "(?i) matches main.inspect: %s" % fns)
    fns = c.call("ListFunctions", {"Filter": "^main\\.\\pL+3$"})["Funcs"]
    check(fns == ["main.sum3"], "\\pL: %s" % fns)
    fns = c.call("ListFunctions", {"Filter": "^(?P<pkg>main)\\.(?P<fn>divide)$"})["Funcs"]
    check(fns == ["main.divide"], "(?P<n>...): %s" % fns)
    locs = c.call("FindLocation", {"Scope": {"GoroutineID": -1},
                                   "Loc": "/^main\\.(?P<f>divide)$/"})["Locations"]
    check(len(locs) == 1 and locs[0]["function"]["name"] == "main.divide", "FindLocation /re/")
    vs = c.call("ListPackageVars", {"Filter": "(?i)^main\\.globalint$", "Cfg": LOAD})
    check([v["name"] for v in vs["Variables"]] == ["main.GlobalInt"], "ListPackageVars (?i)")
    finish(c, p)


def expr_mode():
    p, c = start_server(VALUES)
    at_inspect(c)
    for depth in (1000, 7000, 10000, 50000):
        r = ev(c, "(" * depth + "n" + ")" * depth)
        check(r["error"] is None and r["result"]["Variable"]["value"] == "5",
              "%d nested parentheses evaluate" % depth)
    r = ev(c, "(" * 100000 + "n" + ")" * 100000)
    check(r["error"] == "1:100001: exceeded max nesting depth", "100,000 parentheses refused "
          "as go/parser refuses them: %s" % r["error"])
    r = ev(c, "+".join(["n"] * 10000))
    check(r["error"] is None and r["result"]["Variable"]["value"] == "50000", "n+n+... x10000")
    r = ev(c, "+".join(["n"] * 100000))
    check(r["error"] == "1:200000: exceeded max nesting depth", "n+n+... x100000 refused")
    r = ev(c, "- " * 10000 + "n")
    check(r["error"] is None and r["result"]["Variable"]["value"] == "5", "- - ... n x10000")
    r = ev(c, "!" * 10001 + "true")
    check(r["error"] is None and r["result"]["Variable"]["value"] == "false", "!!!... x10001")
    for expr in ["*" * 7000 + "pp", "*" * 100000 + "pp", "s" + "[0]" * 7000,
                 "s" + "[0]" * 100000, "s[" * 7000 + "0" + "]" * 7000, "-" * 7000 + "n"]:
        r = ev(c, expr)
        check(r["error"] is not None, "%s... (%d chars) is an error: %s" %
              (expr[:10], len(expr), (r["error"] or "")[:80]))
        alive(c, p)
    if not DLV:  # an array length past uint64 (std::stoull's text before)
        for expr in ["*(*[99999999999999999999]int)(pp)", "[99999999999999999999]int(nil)"]:
            r = ev(c, expr)
            check(r["error"] == "array length 99999999999999999999 out of range",
                  "%s: %s" % (expr, r["error"]))
    deep_one = "(" * 10000 + "7" + ")" * 10000
    c.call("Set", {"Scope": {"GoroutineID": -1}, "Symbol": "n", "Value": deep_one})
    r = ev(c, "n")
    check(r["result"]["Variable"]["value"] == "7", "Set n = 10,000-deep 7")
    r = c.raw("Set", {"Scope": {"GoroutineID": -1}, "Symbol": "n",
                        "Value": "(" * 100000 + "7" + ")" * 100000})
    check(r["error"] == "1:100001: exceeded max nesting depth", "Set with 100,000 refused")
    finish(c, p)


def cond_mode():
    p, c = start_server(VALUES)
    bp = {"FunctionName": "main.stop"}
    err = c.error("CreateBreakpoint", {"Breakpoint": dict(bp, Cond="n ==")})
    check(err == "1:5: expected operand, found 'EOF'", "'n ==' refused at creation: " + err)
    err = c.error("CreateBreakpoint", {"Breakpoint": dict(bp, Cond="(" * 100001 + "n" +
                                                          ")" * 100001)})
    check(err == "1:100001: exceeded max nesting depth", "100,001-deep condition refused")
    # (dlv 1.20.2 leaves an empty breakpoint behind after the second refusal.)
    user_bps = [x for x in c.call("ListBreakpoints", {})["Breakpoints"] if x["id"] > 0]
    check(DLV or user_bps == [], "nothing was created")
    deep = "(" * 10000 + "n == 5" + ")" * 10000
    b = c.call("CreateBreakpoint", {"Breakpoint": dict(bp, Cond=deep)})["Breakpoint"]
    err = c.error("AmendBreakpoint", {"Breakpoint": dict(b, Cond="n ==")})
    check(err == "1:5: expected operand, found 'EOF'", "amend to 'n ==' refused")
    got = [x for x in c.call("ListBreakpoints", {})["Breakpoints"] if x["id"] == b["id"]][0]
    # (dlv 1.20.2 keeps the refused condition, printed as "n == BadExpr".)
    check(DLV or got["Cond"] == deep, "the refused amendment changed nothing")
    if DLV:
        c.call("AmendBreakpoint", {"Breakpoint": dict(got, Cond=deep)})
    st = c.call("Command", {"name": "continue"})["State"]
    check(st["currentThread"]["breakPoint"]["id"] == b["id"], "the 10,000-deep condition stops")
    # Not a boolean: Delve stops at the breakpoint and the continue answers the error.
    c.call("AmendBreakpoint", {"Breakpoint": dict(got, Cond="n")})
    c.call("CreateBreakpoint", {"Breakpoint": {"FunctionName": "main.divide",
                                               "Cond": "nosuch == 1"}})
    c.call("Restart", {})
    err = c.error("Command", {"name": "continue"})
    check(err == "error evaluating expression: could not find symbol value for nosuch",
          "an unevaluable condition: the continue fails with the error: " + err)
    st = c.call("State", {"NonBlocking": True})["State"]
    check(st["currentThread"]["function"]["name"] == "main.divide" and
          st["currentThread"]["breakPoint"] is not None, "and stops at the breakpoint")
    err = c.error("Command", {"name": "continue"})
    check(err == "condition expression not boolean", "a non-boolean condition: " + err)
    st = c.call("State", {"NonBlocking": True})["State"]
    check(st["currentThread"]["function"]["name"] == "main.stop", "stopped in main.stop")
    finish(c, p)


def numbers_mode():
    p, c = start_server(VALUES)
    at_inspect(c)

    def loc(spec):
        return c.raw("FindLocation", {"Scope": {"GoroutineID": -1}, "Loc": spec})

    r = loc("main.go:99999999999999999999")
    check(r["error"] == 'Malformed breakpoint location "main.go:99999999999999999999" at 8: '
          "line offset negative or not a number", "file:huge line: %s" % r["error"])
    r = loc("main.go:-1")
    check(r["error"] == 'Malformed breakpoint location "main.go:-1" at 8: '
          "line offset negative or not a number", "file:-1: %s" % r["error"])
    r = loc("main.go:2147483648")
    check(r["error"] is not None and r["error"].startswith("could not find statement at ") and
          r["error"].endswith("main.go:2147483648, please use a line with a statement"),
          "file:2^31 (a Go int): %s" % r["error"])
    r = loc("+99999999999999999999")
    check(r["error"] == 'Malformed breakpoint location "+99999999999999999999" at 0: '
          'strconv.Atoi: parsing "+99999999999999999999": value out of range', "+huge")
    r = loc("main.inspect:99999999999999999999")
    check(r["error"] == 'Malformed breakpoint location "main.inspect:99999999999999999999" at '
          "13: line offset negative or not a number", "func:huge: %s" % r["error"])
    r = loc("99999999999999999999")
    check(r["error"] is None and r["result"]["Locations"][0]["pc"] == 99999999999999999999 % 2**64,
          "a huge bare number is an address modulo 2^64, as Delve")
    r = loc("*0xffffffffffffffffffff")
    check(r["error"] is None and r["result"]["Locations"][0]["pc"] == 2**64 - 1, "*huge hex")
    alive(c, p)
    if not DLV:  # dlv 1.20.2 allocates the whole range and dies
        pc = c.call("State", {"NonBlocking": True})["State"]["currentThread"]["pc"]
        for start, end in [(pc, pc + (1 << 40)), (0, 2**64 - 1), (pc, pc + (4 << 20) + 1)]:
            err = c.error("Disassemble", {"Scope": {"GoroutineID": -1}, "StartPC": start,
                                          "EndPC": end, "Flavour": 0})
            check(err.startswith("disassemble range too large: "), "huge range: " + err)
            alive(c, p)
        r = c.call("Disassemble", {"Scope": {"GoroutineID": -1}, "StartPC": pc,
                                   "EndPC": pc + 16, "Flavour": 0})
        check(len(r["Disassemble"]) > 0, "a small range still disassembles")
    finish(c, p)


def start_attached(pid):
    p, addr = rpctest.start_server(SERVER, "attach", str(pid), "--accept-multiclient")
    return p, Client(addr, TIMEOUT)


def state_mode():
    # After attach: a current thread, package variables readable.
    t = subprocess.Popen([TICKER, "100000"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    track(t)
    time.sleep(0.5)
    p, c = start_attached(t.pid)
    st = c.call("State", {"NonBlocking": True})["State"]
    check(st["currentThread"] is not None, "after attach: a current thread")
    r = ev(c, "runtime.buildVersion")
    check(r["error"] is None and r["result"]["Variable"]["value"].startswith("go"),
          "after attach: a package variable reads (%s)" % r["error"])
    finish(c, p)
    t.kill()
    t.wait()

    # The entry stop: a package variable is readable, State has a current thread.
    p, c = start_server(VALUES)
    st = c.call("State", {"NonBlocking": True})["State"]
    check(st["currentThread"] is not None, "entry stop: a current thread")
    r = ev(c, "main.GlobalInt")
    check(r["error"] is None and r["result"]["Variable"]["value"] == "42",
          "entry stop: print main.GlobalInt answers 42 (%s)" % r["error"])
    r = ev(c, "runtime.curg")
    check(r["error"] is None and r["result"]["Variable"]["type"] == "runtime.g",
          "entry stop: runtime.curg is a runtime.g (%s)" % r["error"])
    at_inspect(c)
    r = ev(c, "runtime.curg.goid")
    check(r["error"] is None and r["result"]["Variable"]["value"] == "1", "curg.goid == 1")
    r = ev(c, "runtime.curg._panic")
    check(r["error"] is None and r["result"]["Variable"]["type"] == "*runtime._panic",
          "runtime.curg._panic reads (%s)" % r["error"])
    finish(c, p)

    # A halt while every thread sleeps: still a current thread, package variables readable.
    p, c = start_server(TICKER, "100000")
    c2 = Client(c.sock.getpeername()[0] + ":" + str(c.sock.getpeername()[1]))
    c.file.write(json.dumps({"method": "RPCServer.Command", "params": [{"name": "continue"}],
                             "id": 99}).encode())
    c.file.flush()
    time.sleep(1.0)
    c2.call("Command", {"name": "halt"})
    r = json.loads(c.file.readline())
    check(r["error"] is None, "continue returns at the halt")
    st = c2.call("State", {"NonBlocking": True})["State"]
    check(st["currentThread"] is not None, "after a halt: a current thread")
    r = ev(c2, "runtime.buildVersion")
    check(r["error"] is None and r["result"]["Variable"]["value"].startswith("go"),
          "after a halt: a package variable reads (%s)" % r["error"])
    # SIGKILL: Delve reports the exit status as minus the signal.
    pid = int(subprocess.check_output(["pgrep", "-P", str(p.pid), "-f", TICKER]).split()[0])
    os.kill(pid, signal.SIGKILL)
    r = c2.raw("Command", {"name": "continue"})
    st = r["result"]["State"] if r["result"] else None
    check(st is not None and st["exited"] and st["exitStatus"] == -9,
          "SIGKILLed: exited with status -9 (%s)" % json.dumps(r)[:300])
    err = c2.error("State", {"NonBlocking": True})
    check(err == "Process %d has exited with status -9" % pid, "State: " + err)
    finish(c2, p)


def trace_mode():
    # `goscope trace` regexps (and --exclude): Go's text and status 1, never a crash.
    nested = "(" * 40000 + ")" * 40000
    runs = [([VALUES, "(ab"], "invalid filter argument: error parsing regexp: missing closing ): "
             "`(ab`"),
            ([VALUES, nested], "invalid filter argument: error parsing regexp: expression nests "
             "too deeply: `((((")]
    if not DLV:
        runs.append(([VALUES, "--exclude", nested, "main"], "invalid --exclude argument: error "
                     "parsing regexp: expression nests too deeply"))
    for args, want in runs:
        cmd = [SERVER, "trace", "--exec"] + args
        r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                           timeout=TIMEOUT)
        out = r.stdout + r.stderr
        log("exit %d: %s" % (r.returncode, out[:300]))
        check(r.returncode == 1, "trace %s...: exit status 1" % args[1][:12])
        check(out.startswith(want), "trace %s...: %s" % (args[1][:12], want[:60]))


def main():
    # Whatever still runs at the end is killed, its stderr shown (rpctest's reaper).
    {"trace": trace_mode, "regexp": regexp_mode, "expr": expr_mode, "cond": cond_mode,
     "numbers": numbers_mode, "state": state_mode}[MODE]()
    log("PASS")


if __name__ == "__main__":
    main()
