#!/usr/bin/env python3
"""`goscope trace` on bad input: a one-line error, a non-zero exit, no hang, nothing left
running. Also `goscope version` and a plain successful trace of the bundled example."""
import os
import shutil
import subprocess
import sys
import tempfile


def run(args, **kw):
    return subprocess.run(args, capture_output=True, text=True, timeout=60, **kw)


def main() -> int:
    goscope, fx = sys.argv[1], sys.argv[2]
    basic = os.path.join(fx, "basic")
    failures = []
    tmp = tempfile.mkdtemp()
    try:
        notelf = os.path.join(tmp, "notelf")
        with open(notelf, "w") as f:
            f.write("#!/bin/sh\necho hi\n")
        os.chmod(notelf, 0o755)
        stripped = os.path.join(tmp, "stripped")
        shutil.copy(basic, stripped)
        subprocess.run(["strip", stripped], check=True)

        cases = [
            ("missing binary", ["--exec", os.path.join(tmp, "nope"), "main"], "no such file"),
            ("not ELF", ["--exec", notelf, "main"], "not an ELF"),
            ("stripped", ["--exec", stripped, "main"], "debug info"),
            ("not Go", ["--exec", "/bin/true", "main"], "not a Go"),
            ("no match", ["--exec", basic, "^zzz_nomatch$"], "no breakpoints set"),
            ("bad regexp", ["--exec", basic, "(("], "invalid filter argument"),
            ("no regexp", ["--exec", basic], "function to trace"),
            ("no such pid", ["-p", "999999", "main"], "no such process"),
            ("unknown flag", ["--frobnicate", basic, "main"], "unknown flag"),
        ]
        for name, args, needle in cases:
            r = run([goscope, "trace", *args])
            lines = [l for l in r.stderr.splitlines() if l.strip()]
            if r.returncode == 0:
                failures.append(f"{name}: exit status 0")
            if not lines or needle not in lines[0]:
                failures.append(f"{name}: expected {needle!r} in first line, got {r.stderr!r}")
            if "Usage" not in r.stderr and len(lines) != 1:
                failures.append(f"{name}: expected one line, got {r.stderr!r}")
            if r.stdout:
                failures.append(f"{name}: the target ran: {r.stdout!r}")

        v = run([goscope, "version"])
        if v.returncode != 0 or "Version:" not in v.stdout:
            failures.append(f"version: {v.stdout!r} {v.returncode}")

        ok = run([goscope, "trace", "--exec", basic, "^main\\.add$"])
        if ok.returncode != 0 or "> goroutine(1): main.add(2, 3)" not in ok.stderr \
                or ">> goroutine(1): => (5)" not in ok.stderr \
                or "has exited with status 0" not in ok.stderr:
            failures.append(f"trace main.add: rc={ok.returncode} stderr={ok.stderr!r}")
        if not ok.stdout.startswith("5\n9801\n"):
            failures.append(f"program stdout changed: {ok.stdout!r}")

        # Arguments after -- reach the program.
        gr = run([goscope, "trace", "--exec", os.path.join(fx, "goroutines"), "^main\\.compute$",
                  "--", "2", "3"])
        calls = gr.stderr.count("main.compute(")
        if gr.returncode != 0 or calls != 6 or "sum 3006" not in gr.stdout:
            failures.append(f"args after --: rc={gr.returncode} calls={calls} out={gr.stdout!r}")
        # Build modes: a package (go build -gcflags='all=-N -l') and a test binary (--test).
        src = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests",
                           "fixtures", "go")
        out_bin = os.path.join(tmp, "built")
        r = run([goscope, "trace", "-o", out_bin, "./basic", "^main\\.add$"], cwd=src)
        if r.returncode != 0 or "> goroutine(1): main.add(2, 3)" not in r.stderr:
            failures.append(f"package build: rc={r.returncode} {r.stderr[-500:]!r}")
        if os.path.exists(out_bin):
            failures.append("the built binary was not removed after the trace")
        r = run([goscope, "trace", "--test", "-o", out_bin, "./testpkg",
                 "^goscope.test/fixtures/testpkg\\.Add$", "--", "-test.v"], cwd=src)
        if r.returncode != 0 or "testpkg.Add(2, 40)" not in r.stderr \
                or ">> goroutine(" not in r.stderr or "--- PASS: TestAdd" not in r.stdout:
            failures.append(f"--test: rc={r.returncode} {r.stderr[-500:]!r} {r.stdout[-300:]!r}")
        r = run([goscope, "trace", "-o", out_bin, "./nonexistent", "main"], cwd=src)
        if r.returncode == 0 or "could not build" not in r.stderr:
            failures.append(f"bad package: rc={r.returncode} {r.stderr!r}")

        # --timestamp prefixes each line with an RFC 3339 time, as dlv HEAD does.
        r = run([goscope, "trace", "--exec", basic, "^main\\.add$", "--timestamp"])
        import re
        if not re.search(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d) > goroutine\(1\): main\.add\(2, 3\)$",
                         r.stderr, re.M):
            failures.append(f"--timestamp: {r.stderr!r}")
    finally:
        shutil.rmtree(tmp)
    if failures:
        print("\n".join(failures))
        return 1
    print("all CLI cases behave")
    return 0


if __name__ == "__main__":
    sys.exit(main())
