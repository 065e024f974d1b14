#!/usr/bin/env python3
"""Differential test: `goscope trace` must print what `dlv trace` (1.20.2) prints.

Both tracers run on the same fixture binary with the same regexp; the trace lines on
stderr (and the exit line) are compared line by line. Heap/stack addresses and pids are
normalised, since they legitimately differ between two runs. The program's own stdout must
be identical and untouched.
"""
import re
import subprocess
import sys

ADDR = re.compile(r"0x[0-9a-f]{6,}")
PID = re.compile(r"^Process \d+ has exited")


GOID = re.compile(r"goroutine\((\d+)\)")


def trace_lines(stderr: str) -> list[str]:
    """The trace's lines, with addresses and pids normalised and goroutine ids renumbered
    by first appearance (the runtime's own goroutines make the ids vary from run to run)."""
    out = []
    ids: dict[str, str] = {}

    def renumber(m: re.Match) -> str:
        return f"goroutine(G{ids.setdefault(m[1], str(len(ids) + 1))})"

    for line in stderr.splitlines():
        if line.startswith((">", "\t")) or line == "" or PID.match(line):
            line = ADDR.sub("0xADDR", line)
            line = PID.sub("Process PID has exited", line)
            line = GOID.sub(renumber, line)
            out.append(line)
    return out


def run(cmd: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120)


def main() -> int:
    goscope, binary, regexp = sys.argv[1], sys.argv[2], sys.argv[3]
    extra = sys.argv[4:]
    ours = run([goscope, "trace", "--exec", binary, regexp, *extra])
    theirs = run(["dlv", "trace", "--exec", binary, regexp, *extra])
    failures = []
    if ours.returncode != theirs.returncode:
        failures.append(f"exit code: goscope {ours.returncode}, dlv {theirs.returncode}")
    if ours.stdout != theirs.stdout:
        failures.append(f"program stdout differs:\n--- goscope\n{ours.stdout}\n--- dlv\n{theirs.stdout}")
    a, b = trace_lines(ours.stderr), trace_lines(theirs.stderr)
    if not b:
        failures.append("dlv printed no trace lines (oracle broken?):\n" + theirs.stderr)
    for i in range(max(len(a), len(b))):
        la = a[i] if i < len(a) else "<missing>"
        lb = b[i] if i < len(b) else "<missing>"
        if la != lb:
            failures.append(f"line {i + 1}:\n  goscope: {la}\n  dlv:     {lb}")
    if failures:
        print("\n".join(failures))
        print("--- goscope stderr\n" + ours.stderr)
        return 1
    print(f"{len(a)} trace lines identical to dlv")
    return 0


if __name__ == "__main__":
    sys.exit(main())
