#!/usr/bin/env python3
"""Post-mortem differential test (issue 16): `goscope core` and `dlv core` 1.20.2 open the
same core file of the corex fixture, get the same JSON-RPC requests, and their replies
must be equal after rpc_diff.py's normalisation (imported, not copied).

Cores (each one compared, each a test of its own: MODE):
  kernel  the kernel's core of corex crashing with GOTRACEBACK=crash (a nil-map write turned
          into SIGABRT), when /proc/sys/kernel/core_pattern writes a file (a pipe to a
          program, systemd-coredump or apport, keeps it: skipped, with the reason);
  gcore   Debian gdb's gcore of corex waiting in main.ready;
  dump    goscope's own dump (DumpStart/DumpWait) of corex stopped at a breakpoint in
          main.ready, which dlv core must open too.

Compared: State, ListThreads, every thread's registers (ListRegisters, with and without
the FP registers), ListGoroutines, the stacks of every goroutine (with locals and
arguments), locals and arguments of main.hold's frame, package variables, Eval of values
of every common kind, Disassemble at the current pc, ExamineMemory of the stack, and the
refusals of what needs a live process (continue, next, step, stepout, call, Restart,
CreateBreakpoint, CreateWatchpoint, Set, DumpStart).

kernel_pie and dump_pie do the same with corex built -buildmode=pie.

Usage: core_diff.py MODE GOSCOPE DLV FIXTURES (FIXTURES holds the built corex)
Exit 77 (CTest's SKIP_RETURN_CODE) when the machine cannot make that core.
"""
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time

MODE, GOSCOPE, DLV, FIXTURES = sys.argv[1:5]
SKIP = 77
# rpc_diff reads MODE GOSCOPE DLV FIXTURES from its command line when imported.
sys.argv = [sys.argv[0], "core", GOSCOPE, DLV, FIXTURES]
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "diff"))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "rpc"))
import rpc_diff  # noqa: E402
import rpctest  # noqa: E402
from rpc_diff import DEFAULT_CFG, Pair, log, user_frames  # noqa: E402

# MODE_pie: the position-independent build (a load bias from the core's auxiliary vector).
PIE = MODE.endswith("_pie")
MODE = MODE[:-len("_pie")] if PIE else MODE
BIN = os.path.join(FIXTURES, "corex_pie" if PIE else "corex")
WORK = tempfile.mkdtemp(prefix="goscope-core-")



def hard_core_limit():
    """RLIMIT_CORE's hard limit: the most a process may raise its own soft limit to."""
    return resource.getrlimit(resource.RLIMIT_CORE)[1]

def cleanup():
    shutil.rmtree(WORK, ignore_errors=True)


def wait_ready(p, what):
    line = p.stdout.readline()
    if not line.startswith("ready"):
        p.kill()
        sys.exit("%s: corex did not get ready: %r" % (what, line))


def kernel_core():
    """corex crashing with GOTRACEBACK=crash in WORK, where the kernel writes `core`."""
    try:
        with open("/proc/sys/kernel/core_pattern") as f:
            pattern = f.read().strip()
    except OSError as e:
        return None, "cannot read /proc/sys/kernel/core_pattern: %s" % e
    if pattern.startswith("|"):
        return None, ("core_pattern pipes cores to a program (%s): no file to open" %
                      pattern.split()[0])
    if "/" in pattern:
        return None, "core_pattern writes cores elsewhere (%s), not in the crash's directory" % (
            pattern)

    if hard_core_limit() == 0:
        return None, "RLIMIT_CORE's hard limit is 0: this process may not dump a core"

    def limits():
        resource.setrlimit(resource.RLIMIT_CORE, (hard_core_limit(), hard_core_limit()))

    env = dict(os.environ, GOTRACEBACK="crash")
    r = subprocess.run([BIN, "crash"], cwd=WORK, env=env, preexec_fn=limits,
                       capture_output=True, text=True, timeout=60)
    if r.returncode != -6:
        sys.exit("corex crash: expected SIGABRT, got %d: %s" % (r.returncode, r.stderr[-500:]))
    cores = [f for f in os.listdir(WORK) if f.startswith("core")]
    if not cores:
        return None, ("the kernel wrote no core for the crash (core_pattern %r; RLIMIT_CORE "
                      "or a container's settings keep it)" % pattern)
    return os.path.join(WORK, cores[0]), None


def gcore_core():
    if shutil.which("gcore") is None:
        return None, "gcore (Debian's gdb) is not installed"
    p = rpctest.track(subprocess.Popen([BIN], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                       text=True))
    wait_ready(p, "gcore")
    prefix = os.path.join(WORK, "gcore")
    r = subprocess.run(["gcore", "-o", prefix, str(p.pid)], capture_output=True, text=True,
                       timeout=240)
    p.kill()
    p.wait()
    path = "%s.%d" % (prefix, p.pid)
    if r.returncode != 0 or not os.path.exists(path):
        # ptrace_scope or a seccomp profile can forbid gdb to attach.
        return None, "gcore could not dump the fixture: %s" % (r.stderr.strip()[-300:])
    return path, None


def goscope_dump():
    """goscope exec corex, stopped at main.ready; DumpStart, DumpWait until done."""
    p, addr = rpctest.start_server(GOSCOPE, "exec", BIN)
    c = rpctest.Client(addr, timeout=120)
    c.call("CreateBreakpoint", {"Breakpoint": {"functionName": "main.ready"}})
    st = c.call("Command", {"name": "continue"})["State"]
    fn = ((st.get("currentThread") or {}).get("function") or {}).get("name")
    rpctest.check(fn == "main.ready", "stopped in main.ready before the dump (%s)" % fn)
    path = os.path.join(WORK, "goscope.core")
    bad = c.error("DumpStart", {"Destination": os.path.join(WORK, "no/such/dir/x.core")})
    rpctest.check(bad.startswith("open ") and "no such file or directory" in bad,
                  "DumpStart to a missing directory: %r" % bad)
    state = c.call("DumpStart", {"Destination": path})["State"]
    rpctest.check(state["Dumping"] or state["AllDone"], "DumpStart reports a dump under way")
    deadline = time.time() + 240
    while state["Dumping"] and time.time() < deadline:
        state = c.call("DumpWait", {"Wait": 1000})["State"]
    rpctest.check(state["AllDone"] and not state["Dumping"] and state["Err"] == "",
                  "DumpWait: the dump is done: %r" % state)
    rpctest.check(state["ThreadsDone"] == state["ThreadsTotal"] > 0 and
                  state["MemDone"] == state["MemTotal"] > 0,
                  "every thread and every byte dumped: %r" % state)
    # The process is still there and still debuggable after the dump.
    st = c.call("State", {})["State"]
    rpctest.check(not st["exited"], "the target survives its dump")
    c.call("Detach", {"Kill": True})
    c.close()
    p.wait(timeout=30)
    return path, None


def frames_of(pr, side, goid):
    c = pr.g if side == "g" else pr.d
    r = c.raw("Stacktrace", {"Id": goid, "Depth": 20, "Full": False})["result"]
    return [((f.get("function") or {}).get("name") or "") for f in r["Locations"]]


def compare(core):
    pr = Pair(BIN, ["core", BIN, core])
    log("== comparing on %s" % core)

    def sorted_threads(r):
        # dlv lists a core's threads in Go map order (random); goscope by id.
        st = r.get("State", r)
        if isinstance(st.get("Threads"), list):
            st["Threads"] = sorted(st["Threads"], key=lambda t: t["id"])
        return r

    pr.same("State", "State", {"NonBlocking": False}, sorted_threads)
    pr.same("Recorded", "Recorded", {})
    pr.same("ProcessPid", "ProcessPid", {})
    pr.same("ListThreads", "ListThreads", {}, sorted_threads)
    rg, _ = pr.raw("ListThreads", {})
    tids = [t["id"] for t in rg["result"]["Threads"]]
    for tid in tids:
        for fp in (False, True):
            pr.same("ListRegisters thread %d fp=%s" % (tid, fp), "ListRegisters",
                    {"ThreadID": tid, "IncludeFp": fp})
    pr.same("ListRegisters scope", "ListRegisters",
            {"Scope": {"GoroutineID": -1, "Frame": 0, "DeferredCall": 0}, "IncludeFp": False})
    pr.same("ListGoroutines", "ListGoroutines", {"Start": 0, "Count": 0})
    rg, _ = pr.raw("ListGoroutines", {"Start": 0, "Count": 0})
    goids = [g["id"] for g in rg["result"]["Goroutines"]]
    hold = None
    for goid in goids:
        pr.same("Stacktrace goroutine %d" % goid, "Stacktrace",
                {"Id": goid, "Depth": 30, "Full": True, "Cfg": DEFAULT_CFG}, user_frames)
        names = frames_of(pr, "g", goid)
        if "main.hold" in names:
            hold = (goid, names.index("main.hold"))
        for i, name in enumerate(names):
            if not name.startswith("main."):
                continue
            sc = {"Scope": {"GoroutineID": goid, "Frame": i, "DeferredCall": 0},
                  "Cfg": DEFAULT_CFG}
            pr.same("ListLocalVars g%d frame %d (%s)" % (goid, i, name), "ListLocalVars", sc)
            pr.same("ListFunctionArgs g%d frame %d (%s)" % (goid, i, name), "ListFunctionArgs",
                    sc)
    if hold is None:
        pr.diff.failures.append("no goroutine is in main.hold")
    else:
        goid, frame = hold
        scope = {"GoroutineID": goid, "Frame": frame, "DeferredCall": 0}
        pr.same("Set total", "Set", {"Scope": scope, "Symbol": "total", "Value": "5"})
        pr.same("CreateWatchpoint total", "CreateWatchpoint",
                {"Scope": scope, "Expr": "total", "Type": 2})
        for e in ("p", "p.X + p.Y", "s", "f", "total", "msg", "ratio", "names", "names[1]",
                  "len(names)", "GlobalInt", "GlobalStr", "GlobalSlice", "GlobalMap",
                  "GlobalMap[\"b\"]", "*GlobalPtr", "GlobalPtr.Y", "GlobalShape",
                  "GlobalShape.(main.Rect).W", "GlobalFloat * 2", "main.GlobalInt",
                  "nosuch", "crash"):
            pr.same("Eval %s" % e, "Eval", {"Scope": scope, "Expr": e, "Cfg": DEFAULT_CFG})
    pr.same("ListPackageVars main", "ListPackageVars", {"Filter": "^main\\.", "Cfg": DEFAULT_CFG})
    st, _ = pr.raw("State", {})
    pc = st["result"]["State"]["currentThread"]["pc"]
    for flavour in (0, 1):
        pr.same("Disassemble at pc flavour %d" % flavour, "Disassemble",
                {"Scope": {"GoroutineID": -1, "Frame": 0, "DeferredCall": 0}, "StartPC": pc,
                 "EndPC": 0, "Flavour": flavour})
    regs = pr.g.raw("ListRegisters", {"ThreadID": tids[0], "IncludeFp": False})["result"]
    rsp = [r for r in regs["Regs"] if r["Name"] == "Rsp"]
    if rsp:
        sp = int(rsp[0]["Value"], 0)
        pr.same("ExamineMemory at rsp", "ExamineMemory", {"Address": sp, "Length": 256})
    pr.same("ExamineMemory at pc", "ExamineMemory", {"Address": pc, "Length": 64})
    # What needs a live process: Delve's refusals, word for word.
    for cmd in ("continue", "next", "step", "stepOut", "stepInstruction"):
        pr.same("Command %s" % cmd, "Command", {"name": cmd})
    pr.same("Command call", "Command", {"name": "call", "Expr": "main.ready(1)"})
    pr.same("Command halt", "Command", {"name": "halt"}, sorted_threads)
    pr.same("Restart", "Restart", {})
    pr.same("CreateBreakpoint", "CreateBreakpoint", {"Breakpoint": {"functionName": "main.hold"}})
    pr.same("ListBreakpoints All", "ListBreakpoints", {"All": True})
    pr.same("DumpStart on a core", "DumpStart", {"Destination": os.path.join(WORK, "x.core")})
    pr.finish()


def main():
    if not os.path.exists(BIN):
        sys.exit("no fixture %s" % BIN)
    make = {"kernel": kernel_core, "gcore": gcore_core, "dump": goscope_dump}[MODE]
    core, why = make()
    if core is None:
        log("SKIP: " + why)
        cleanup()
        sys.exit(SKIP)
    try:
        compare(core)
    finally:
        cleanup()


if __name__ == "__main__":
    main()
