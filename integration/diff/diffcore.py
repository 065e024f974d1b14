"""The machinery of the live differential tests against dlv 1.20.2 (rpc_diff.py on the
fixtures, realprog_diff.py on programs built from GOROOT): goscope and dlv run headless on
the same binary (rpctest.start_server), get the same JSON-RPC requests (Pair), and their
replies' JSON is compared (Diff) after normalising what legitimately differs between two
processes; rpc_diff.py's docstring lists that normalisation. Diff counts the leaves it
compares (one leaf = one line of the replies' flattened JSON) and how many were identical.
"""
import json
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "rpc"))
import rpctest  # noqa: E402  (integration/rpc: the server start-up and the JSON-RPC client)

TIMEOUT = 30

DEFAULT_CFG = {"FollowPointers": True, "MaxVariableRecurse": 1, "MaxStringLen": 64,
               "MaxArrayValues": 64, "MaxStructFields": -1}
GOLAND_CFG = {"FollowPointers": True, "MaxVariableRecurse": 3, "MaxStringLen": 512,
              "MaxArrayValues": 100, "MaxStructFields": -1}
SHORT_CFG = {"FollowPointers": False, "MaxVariableRecurse": 0, "MaxStringLen": 64,
             "MaxArrayValues": 0, "MaxStructFields": 3}


HEAP = 0xc000000000
FAKE = 0xbeed000000000000  # Delve's fake addresses of register-resident values


def log(msg):
    print(msg, flush=True)


class Bijection:
    def __init__(self, what):
        self.what, self.fwd, self.back = what, {}, {}

    def same(self, a, b):
        """a (goscope) and b (dlv) denote the same object."""
        if a in self.fwd or b in self.back:
            return self.fwd.get(a) == b and self.back.get(b) == a
        self.fwd[a], self.back[b] = b, a
        return True


DROP = {"Pid", "When", "waitSince", "addrpid", "pcpids", "threadID", "exitStatus"}
GOID_KEYS = {"goroutineID", "GoroutineID"}
# len and cap: a slice or string header read from a stale location holds an address there.
ADDR_KEYS = {"addr", "base", "addrs", "SP", "pc", "len", "cap"}


class Diff:
    """expected: (case-name regexp, reason) pairs, the documented expected differences: a
    listed case that differs is reported, not failed; one that matches is reported too."""

    def __init__(self, expected=()):
        self.addrs = Bijection("address")
        self.goids = Bijection("goroutine")
        self.expected = list(expected)
        self.expected_reasons = {}  # case name -> reason, for the cases that matched a pattern
        self.failures = []
        self.expected_seen = []
        self.cases = 0
        self.leaves = 0  # leaves compared (lines of the flattened JSON)
        self.leaves_same = 0

    def expected_reason(self, name):
        for pat, why in self.expected:
            if re.search(pat, name):
                return why
        return None

    def leaf(self, ok):
        self.leaves += 1
        self.leaves_same += 1 if ok else 0

    def addr_eq(self, a, b):
        if isinstance(a, int) and isinstance(b, int):
            if a == b:
                return True
            if a >= FAKE and b >= FAKE:
                return True  # both fake: the numbering is each debugger's own
            if HEAP <= a < FAKE and HEAP <= b < FAKE:
                return self.addrs.same(a, b)
        return a == b

    def text_eq(self, a, b):
        """Strings that may embed heap addresses (hex or decimal)."""
        if a == b:
            return True
        pa = re.split(r"(0x[0-9a-f]+|\d{12,})", a)
        pb = re.split(r"(0x[0-9a-f]+|\d{12,})", b)
        if len(pa) != len(pb):
            return False
        for i, (x, y) in enumerate(zip(pa, pb)):
            if i % 2 == 0:
                if x != y:
                    return False
            elif not self.addr_eq(int(x, 0), int(y, 0)):
                return False
        return True

    def compare(self, a, b, path, out, key=None, goroutine=False):
        if key in DROP:
            return
        if isinstance(a, dict) and isinstance(b, dict):
            if seeded_map(a) and seeded_map(b):
                a, b = map_shape(a), map_shape(b)
            is_g = "currentLoc" in a or "userCurrentLoc" in a
            for k in sorted(set(a) | set(b)):
                if k in DROP:
                    continue
                if k not in a or k not in b:
                    self.leaf(False)
                    out.append("%s.%s: goscope %s, dlv %s" % (
                        path, k, short(a.get(k, "<missing>")), short(b.get(k, "<missing>"))))
                    continue
                self.compare(a[k], b[k], path + "." + k, out, k, is_g)
            return
        if isinstance(a, list) and isinstance(b, list):
            if len(a) != len(b):
                for _ in range(max(count_leaves(a), count_leaves(b))):
                    self.leaf(False)
                out.append("%s: length goscope %d, dlv %d: goscope %s, dlv %s" % (
                    path, len(a), len(b), short(a), short(b)))
                return
            for i, (x, y) in enumerate(zip(a, b)):
                self.compare(x, y, "%s[%d]" % (path, i), out, key)
            return
        ok = a == b
        if not ok:
            if (key == "FramePointerOffset" and isinstance(a, int) and isinstance(b, int)
                    and a <= -HEAP and b <= -HEAP):
                # bp 0 (the outermost frame): -stack.hi, a goroutine stack address.
                ok = self.addr_eq(-a, -b)
            elif key in GOID_KEYS or (key == "id" and goroutine):
                ok = self.goids.same(a, b)
            elif key in ADDR_KEYS:
                ok = self.addr_eq(a, b)
            elif isinstance(a, str) and isinstance(b, str):
                ok = self.text_eq(a, b)
        self.leaf(ok)
        if not ok:
            out.append("%s: goscope %s, dlv %s" % (path, short(a), short(b)))

    def check(self, name, a, b):
        """One case: a (goscope's reply) against b (dlv's). A difference is expected when
        "NAME | DIFFERENCE" matches one of the expected patterns; a case is an expected
        difference when all of its differences are."""
        self.cases += 1
        out = []
        self.compare(a, b, "", out)
        whys = [self.expected_reason("%s | %s" % (name, o)) for o in out]
        if not out:
            why = self.expected_reason(name)
            if why is not None:
                log("NOW MATCHES (expected difference): %s (%s)" % (name, why))
            else:
                log("same: %s" % name)
            return True
        if None not in whys:
            self.expected_seen.append(name)
            self.expected_reasons[name] = sorted(set(whys))
            log("expected difference: %s (%s)" % (name, "; ".join(sorted(set(whys)))))
            for o in out[:5]:
                log("    " + o)
            return False
        self.failures.append(name)
        log("DIFFERENT: %s" % name)
        shown = [o for o, why in zip(out, whys) if why is None]
        for o in shown[:12]:
            log("    " + o)
        if len(shown) > 12:
            log("    ... %d more" % (len(shown) - 12))
        return False


def count_leaves(v):
    if isinstance(v, dict):
        return sum(count_leaves(x) for x in v.values()) or 1
    if isinstance(v, list):
        return sum(count_leaves(x) for x in v) or 1
    return 1


def seeded_map(v):
    """A loaded map of more than one bucket (more than 8 entries): the bucket each key lands
    in depends on the map's hash seed (hmap.hash0, random in every process), so two
    processes list its entries in different orders, and a partial load shows different
    entries. Both debuggers walk the buckets the same way (Delve's mapIterator)."""
    return (v.get("kind") == 21 and isinstance(v.get("children"), list) and
            isinstance(v.get("len"), int) and v["len"] > 8)


def map_shape(v):
    """What of a seeded map two processes share: everything but its children, which are
    reduced to their count and their key/value types, plus the entries themselves (sorted,
    without addresses) when all of them were loaded."""
    v = dict(v)
    ch = v.pop("children")
    v["children (count)"] = len(ch)
    v["children (types)"] = sorted({(c.get("type"), c.get("kind")) for c in ch})
    if len(ch) == 2 * v["len"]:
        strip = lambda c: json.dumps(c, sort_keys=True, default=str).replace(
            str(c.get("addr")), "")
        v["entries (sorted)"] = sorted(
            (strip(ch[i]), strip(ch[i + 1])) for i in range(0, len(ch), 2))
    return v


def short(v):
    s = json.dumps(v)
    return s if len(s) < 400 else s[:400] + "..."


def start(server, binary, args=(), wd=None, verb=None):
    """A headless server on 127.0.0.1:0 with a client speaking API v2; the debuggee's
    output is discarded (nobody reads a pipe after the listening line). verb: the words
    before the flags (default: exec BINARY; a core: core BINARY CORE)."""
    extra = ["--accept-multiclient"] + (["--wd=" + wd] if wd else [])
    verb = verb or ["exec", binary]
    p, addr = rpctest.start_server(server, verb[0], verb[1:], *extra, args=args,
                                   stderr=subprocess.DEVNULL)
    c = rpctest.Client(addr, timeout=TIMEOUT, verbose=False)
    c.raw("SetApiVersion", {"APIVersion": 2})
    return p, c


class Pair:
    """The same requests to goscope (g) and dlv (d), both running BINARY ARGS in WD."""

    def __init__(self, goscope, dlv, binary, args=(), wd=None, expected=(), verb=None):
        self.procs = []
        p, self.g = start(goscope, binary, args, wd, verb)
        self.procs.append(p)
        p, self.d = start(dlv, binary, args, wd, verb)
        self.procs.append(p)
        self.diff = Diff(expected)

    def raw(self, method, args):
        """args: a dict, or a function side -> dict (side is 'g' or 'd')."""
        ga = args("g") if callable(args) else args
        da = args("d") if callable(args) else args
        return self.g.raw(method, ga), self.d.raw(method, da)

    def same(self, name, method, args, pick=lambda r: r):
        rg, rd = self.raw(method, args)
        a = {"error": rg["error"]} if rg["error"] is not None else pick(rg["result"])
        b = {"error": rd["error"]} if rd["error"] is not None else pick(rd["result"])
        self.diff.check(name, a, b)
        return rg, rd

    def close(self):
        for c in (self.g, self.d):
            try:
                c.raw("Detach", {"Kill": True})
            except Exception:
                pass
            c.close()
        for p in self.procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()

    def finish(self):
        self.close()
        d = self.diff
        log("%d cases, %d expected differences, %d unexpected" % (
            d.cases, len(d.expected_seen), len(d.failures)))
        if d.failures:
            log("FAILED: " + ", ".join(d.failures))
            sys.exit(1)
        log("PASS")


def stop_loc(st):
    """What a stop is: where the current thread stands, and what stepout returned."""
    st = st["State"]
    th = st.get("currentThread") or {}
    return {"exited": st["exited"], "file": th.get("file"), "line": th.get("line"),
            "function": (th.get("function") or {}).get("name"),
            "ReturnValues": th.get("ReturnValues"),
            "breakPoint": (th.get("breakPoint") or {}).get("id")}


def loc_of(st):
    th = st["State"].get("currentThread") or {}
    return "%s:%s" % ((th.get("function") or {}).get("name"), th.get("line"))


def scope(frame=0):
    return {"GoroutineID": -1, "Frame": frame, "DeferredCall": 0}


# Variables of library frames whose values differ between any two runs, per function:
# masked on both sides (type and kind are still compared). A decimal value of 12 digits or
# more would otherwise pass or fail as a "heap address" depending on the machine's uptime.
PER_RUN_VARS = {
    "sync.(*Mutex).lockSlow": {
        "waitStartTime": "runtime_nanotime() when the goroutine first parked",
        "iter": "spins before parking: depends on what the other Ps were running",
    },
}


def mask_per_run(fn, variables):
    """`variables` (a list of api.Variable, from frame function `fn`) with PER_RUN_VARS'
    values replaced by their reason."""
    masked = PER_RUN_VARS.get(fn, {})
    for v in variables or []:
        if isinstance(v, dict) and v.get("name") in masked:
            v["value"] = "<per run: %s>" % masked[v["name"]]
    return variables


def user_frames(r):
    """A Stacktrace reply without the variables of runtime frames: runtime.main's `g` holds
    per-process state (thread ids, fastrand, the P's address) that no two runs share; and
    the PER_RUN_VARS of library frames masked."""
    for f in r["Locations"]:
        fn = (f.get("function") or {}).get("name") or ""
        if fn.startswith("runtime."):
            f["Locals"] = f["Arguments"] = "<runtime frame>"
        else:
            mask_per_run(fn, f.get("Locals"))
            mask_per_run(fn, f.get("Arguments"))
    return r
