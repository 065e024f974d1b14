#!/usr/bin/env python3
"""Differential test: `goscope trace` must print what `dlv trace` (1.20.2) prints.

Both tracers run on the same fixture binary with the same regexp; the trace lines on
stderr (and the exit line) are compared line by line. Heap/stack addresses and pids are
normalised, since they legitimately differ between two runs; the pcs of `--stack` frames
are code addresses and are compared as they are (frame 0 of a call is where the tracer
stopped: after the stack-split check, for both), in a position-independent binary by
their offset in the page (ASLR moves the two runs' code differently). The program's own stdout must be
identical and untouched.
"""
import re
import subprocess
import sys

ADDR = re.compile(r"0x[0-9a-f]{6,}")
# A --stack frame: `\t\t<n>  0x<16 hex digits> in <function>`.
FRAME = re.compile(r"^\t\t *\d+  0x[0-9a-f]{16} in ")
PID = re.compile(r"^Process \d+ has exited")


GOID = re.compile(r"goroutine\((\d+)\)")


def is_pie(path: str) -> bool:
    with open(path, "rb") as f:
        header = f.read(18)
    return header[16] == 3  # e_type ET_DYN


def trace_lines(stderr: str, pie: bool = False) -> list[str]:
    """The trace's lines, with addresses and pids normalised and goroutine ids renumbered
    by first appearance (the runtime's own goroutines make the ids vary from run to run)."""
    out = []
    ids: dict[str, str] = {}

    def renumber(m: re.Match) -> str:
        return f"goroutine(G{ids.setdefault(m[1], str(len(ids) + 1))})"

    for line in stderr.splitlines():
        if line.startswith((">", "\t")) or line == "" or PID.match(line):
            if not FRAME.match(line):
                line = ADDR.sub("0xADDR", line)
            elif pie:
                line = ADDR.sub(lambda m: "0x..." + m[0][-3:], line)
            line = PID.sub("Process PID has exited", line)
            line = GOID.sub(renumber, line)
            out.append(line)
    return out


def run(cmd: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120)


# Every engine goscope has is compared with dlv: auto (uprobe where eBPF is allowed, else
# ptrace) and the in-process engine.
ENGINES = ["auto", "inproc"]


def main() -> int:
    goscope, binary, regexp = sys.argv[1], sys.argv[2], sys.argv[3]
    extra = sys.argv[4:]
    theirs = run(["dlv", "trace", "--exec", binary, regexp, *extra])
    pie = is_pie(binary)
    b = trace_lines(theirs.stderr, pie)
    status = 0
    for engine in ENGINES:
        ours = run([goscope, "trace", "--engine", engine, "--exec", binary, regexp, *extra])
        failures = []
        if ours.returncode != theirs.returncode:
            failures.append(f"exit code: goscope {ours.returncode}, dlv {theirs.returncode}")
        if ours.stdout != theirs.stdout:
            failures.append(f"program stdout differs:\n--- goscope\n{ours.stdout}\n--- dlv\n{theirs.stdout}")
        a = trace_lines(ours.stderr, pie)
        if not b:
            failures.append("dlv printed no trace lines (oracle broken?):\n" + theirs.stderr)
        for i in range(max(len(a), len(b))):
            la = a[i] if i < len(a) else "<missing>"
            lb = b[i] if i < len(b) else "<missing>"
            if la != lb:
                failures.append(f"line {i + 1}:\n  goscope: {la}\n  dlv:     {lb}")
        if failures:
            print(f"--engine {engine}:")
            print("\n".join(failures[:40]))
            print("--- goscope stderr\n" + ours.stderr[-4000:])
            status = 1
        else:
            print(f"--engine {engine}: {len(a)} trace lines identical to dlv")
    return status


if __name__ == "__main__":
    sys.exit(main())
