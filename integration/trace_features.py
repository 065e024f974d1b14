#!/usr/bin/env python3
"""goscope trace's own features on the fixtures: --graph nesting and durations, exact
--stats counts, --json that parses as Chrome trace events, --folded stacks that sum to the
traced time, and the filters. Each check prints what it saw when it fails."""
import json
import os
import re
import subprocess
import sys
import tempfile

failures = []
# Every feature on each engine: auto (uprobe where eBPF is allowed, else ptrace) and inproc.
ENGINES = ["auto", "inproc"]
engine = ENGINES[0]


def check(cond, what, detail=""):
    if not cond:
        failures.append(f"{what}\n{detail}")


def trace(goscope, binary, *args, program_args=()):
    cmd = [goscope, "trace", "--engine", engine, "--exec", binary, *args]
    if program_args:
        cmd += ["--", *program_args]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=240)
    if r.returncode != 0:
        failures.append(f"{cmd} exited {r.returncode}: {r.stderr[-2000:]}")
    return r


DUR = r"(\d+(\.\d+)?(ns|µs|ms|s))"


def main() -> int:
    global engine
    goscope, fx = sys.argv[1], sys.argv[2]
    for engine in ENGINES:
        before = len(failures)
        features(goscope, fx)
        for i in range(before, len(failures)):
            failures[i] = f"[--engine {engine}] " + failures[i]
    if failures:
        print("\n\n".join(failures))
        return 1
    print("all trace features behave on " + ", ".join(ENGINES))
    return 0


def features(goscope, fx):
    basic = os.path.join(fx, "basic")
    tmp = tempfile.mkdtemp()

    # --graph: fact(5) nests five deep; every closing line carries a duration.
    r = trace(goscope, basic, "^main\\.fact$", "--graph")
    lines = [l for l in r.stderr.splitlines() if "main.fact" in l or l.strip().startswith("}")]
    expected_open = [f"{'  ' * i}main.fact({5 - i}) {{" for i in range(4)]
    for i, prefix in enumerate(expected_open):
        check(i < len(lines) and lines[i].startswith(prefix), f"graph line {i}: want {prefix!r}",
              r.stderr)
    leaf = [l for l in lines if l.startswith("        main.fact(1) => (1)")]
    check(len(leaf) == 1 and re.search(DUR, leaf[0]) and "@ basic/main.go:" in leaf[0],
          "graph leaf fact(1) with duration and call site", r.stderr)
    closes = [l for l in lines if l.strip().startswith("} => (")]
    check(len(closes) == 4, "graph: four closing lines", r.stderr)
    check(all(re.search(DUR + "$", l) for l in closes), "graph: closing lines end in a duration",
          r.stderr)
    check("> goroutine" not in r.stderr, "graph replaces dlv lines", r.stderr)

    # --stats: exact counts.
    r = trace(goscope, basic, "^main\\.(fact|add|mayFail)$", "--stats")
    check("Functions called: 8" in r.stderr, "stats: 8 calls (fact x5, add, mayFail x2)", r.stderr)
    check("Unique functions: 3" in r.stderr, "stats: 3 functions", r.stderr)
    row = re.search(r"^main\.fact\s+5\s", r.stderr, re.M)
    check(row is not None, "stats: main.fact row with 5 calls", r.stderr)
    check("0 lost, 0 unmatched" in r.stderr, "stats: no lost or unmatched events", r.stderr)
    check("nsecs" in r.stderr and "distribution" in r.stderr, "stats: histogram", r.stderr)
    check("> goroutine(1): main.add(2, 3)" in r.stderr, "stats keeps dlv lines", r.stderr)

    # --json: Chrome trace events, one complete span per call, goroutines named.
    jpath = os.path.join(tmp, "t.json")
    fpath = os.path.join(tmp, "t.folded")
    r = trace(goscope, basic, "^main\\.(fact|inspect|describe|Rect\\.Area)$", "--json", jpath,
              "--folded", fpath)
    try:
        doc = json.load(open(jpath))
    except Exception as e:  # noqa: BLE001 - report any parse failure
        doc = {"traceEvents": []}
        failures.append(f"json does not parse: {e}")
    spans = [e for e in doc["traceEvents"] if e.get("ph") == "X"]
    names = [e for e in doc["traceEvents"] if e.get("ph") == "M" and e["name"] == "thread_name"]
    facts = [s for s in spans if s["name"] == "main.fact"]
    check(len(facts) == 5, f"json: 5 fact spans, got {len(facts)}")
    check(all(s["dur"] >= 0 and s["tid"] == 1 for s in spans), "json: durations and tid")
    check(any(n["args"]["name"] == "goroutine 1" for n in names), "json: goroutine 1 named")
    outer = max(facts, key=lambda s: s["dur"]) if facts else None
    check(outer is not None and outer["args"]["args"] == "5", "json: outer fact args", str(outer))
    check(outer is not None and outer["args"]["results"] == "120", "json: outer fact results")
    for s in facts:
        inner = [t for t in facts if t is not s and t["ts"] >= s["ts"]
                 and t["ts"] + t["dur"] <= s["ts"] + s["dur"] + 0.002]
        check(len(inner) == int(s["args"]["args"]) - 1, f"json: nesting of fact({s['args']['args']})")

    # --folded: self times that add up to the traced time of the roots.
    folded = {}
    for line in open(fpath):
        stack, _, weight = line.rstrip("\n").rpartition(" ")
        folded[stack] = int(weight)
    check("main.fact;main.fact;main.fact;main.fact;main.fact" in folded, "folded: 5-deep stack",
          str(folded))
    roots_ns = sum(round(s["dur"] * 1000) for s in spans
                   if not any(t is not s and t["ts"] <= s["ts"] and
                              s["ts"] + s["dur"] <= t["ts"] + t["dur"] for t in spans))
    total = sum(folded.values())
    check(abs(total - roots_ns) <= len(spans) * 2, f"folded sums {total} vs roots {roots_ns}")

    # Filters.
    r = trace(goscope, basic, "^main\\.fact$", "--depth", "0")
    check(r.stderr.count("> goroutine(1): main.fact(") == 1, "depth 0: only the root", r.stderr)
    r = trace(goscope, basic, "^main\\.fact$", "--cond", "n == 3 || n == 1")
    calls = re.findall(r"main\.fact\((\d)\)", r.stderr)
    check(calls == ["3", "1"], f"cond: fact(3) and fact(1), got {calls}", r.stderr)
    r = trace(goscope, basic, "^main\\.(fact|add)$", "--exclude", "fact")
    check("main.fact" not in r.stderr and "main.add(2, 3)" in r.stderr, "exclude", r.stderr)
    r = trace(goscope, basic, "^main\\.fact$", "--min-duration", "1h")
    check("main.fact" not in r.stderr, "min-duration hides short calls", r.stderr)
    r = trace(goscope, basic, "--pkg", "main", "--exclude", "^main\\.main$|func1")
    check("main.greet(\"gopher\")" in r.stderr and "main.sum(" in r.stderr, "--pkg main", r.stderr)
    r = trace(goscope, basic, "^main\\.fact$", "--goroutine", "2")
    check("main.fact" not in r.stderr, "goroutine filter", r.stderr)
    gr = os.path.join(fx, "goroutines")
    r = trace(goscope, gr, "^main\\.compute$", "--sample", "10", program_args=("1", "100"))
    check(r.stderr.count("main.compute(") == 10, "sample 1 in 10", r.stderr[-500:])
    r = subprocess.run([goscope, "trace", "--exec", basic, "main", "--cond", "n =="],
                       capture_output=True, text=True, timeout=60)
    check(r.returncode != 0 and "invalid --cond expression" in r.stderr, "bad --cond", r.stderr)

    # Pairing through panics, Goexit and stack growth (tricky fixture).
    tricky = os.path.join(fx, "tricky")
    r = trace(goscope, tricky, "^main\\.(safeCall|leave|explode)$", "--graph")
    out = r.stderr
    check(re.search(r"^  main\.explode\(5\) \(did not return: panic or Goexit\)  " + DUR +
                    r"  @ tricky/main\.go:\d+$", out, re.M) is not None,
          "graph: explode(5) closed by the panic", out)
    check(re.search(r"^\} => \(0,error\(\*errors\.errorString\) 0x[0-9a-f]+\)  " + DUR, out, re.M)
          is not None, "graph: safeCall(5) returns after recovering", out)
    check(re.search(r"^main\.leave\(.*\) \(did not return", out, re.M) and
          out.count("(did not return: panic or Goexit)") == 2, "graph: Goexit closes leave", out)
    r = trace(goscope, tricky, "^main\\.deep$", "--stats", program_args=("3000",))
    check("Functions called: 3001" in r.stderr and "0 unmatched" in r.stderr,
          "deep recursion with stack growth: every call once", r.stderr[-600:])

    # Optimized code: results come from the ABI registers where DWARF has no location at the
    # RET (dlv 1.20.2 prints "(unreadable empty OP stack)" there).
    r = trace(goscope, basic + "_opt", "^main\\.(fact|describe)$")
    check(">> goroutine(1): => (120)" in r.stderr and '>> goroutine(1): => ("area=10")' in r.stderr
          and "unreadable" not in r.stderr, "optimized results", r.stderr)
    check("> goroutine(1): main.fact(5)" in r.stderr, "optimized arguments", r.stderr)
    # Inlined copies (no out-of-line main.greet exists in the optimized build) are traced at
    # their entry, under their own name (dlv 1.20.2 names them after the caller).
    r = trace(goscope, basic + "_opt", "^main\\.greet$")
    check(re.search(r"^> goroutine\(1\): main\.greet\(", r.stderr, re.M) is not None,
          "inlined copy traced", r.stderr)

    # --follow-calls (dlv HEAD's form): the root, its callees indented by frame depth.
    r = trace(goscope, basic, "^main\\.describe$", "--follow-calls", "2")
    lines = [l for l in r.stderr.splitlines() if "goroutine(1):frame(" in l]
    check(lines[:1] == ["> goroutine(1):frame(1) main.describe(main.Shape(main.Rect) {W: 2, H: 5})"],
          "follow-calls root line", r.stderr)
    check(" > goroutine(1):frame(2) fmt.Sprintf(\"area=%d\", []interface {} len: 1, cap: 1, [...])"
          in lines, "follow-calls callee at frame 2", r.stderr)
    check(' >> goroutine(1):frame(2) fmt.Sprintf => ("area=10")' in lines, "follow-calls return",
          r.stderr)
    check(lines[-1:] == ['>> goroutine(1):frame(1) main.describe => ("area=10")'],
          "follow-calls root return", r.stderr)
    check(not any("frame(3)" in l for l in lines), "follow-calls depth bound", r.stderr)


if __name__ == "__main__":
    sys.exit(main())
