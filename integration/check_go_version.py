#!/usr/bin/env python3
"""--check-go-version on a headless server (exec), goscope against dlv 1.20.2 side by side:
a binary built by a Go that dlv 1.20.2 does not support (1.29: the fixture with its Go
version rewritten, same length, in DWARF's producer and the build info) is refused after the
listening line with Delve's text and exit status 1; with --check-go-version=false the server
says Delve's warning and serves. A supported binary says nothing.

Usage: check_go_version.py GOSCOPE GO_FIXTURE_SOURCE_DIR"""
import os
import re
import subprocess
import sys
import tempfile
import time


def build(src, out):
    subprocess.run(["go", "build", "-gcflags=all=-N -l", "-ldflags=-compressdwarf=false",
                    "-o", out, "./basic"], cwd=src, check=True,
                   env=dict(os.environ, GOFLAGS="-buildvcs=false"))
    data = open(out, "rb").read()
    m = re.search(rb"go1\.(\d\d)\.", data)
    if not m:
        sys.exit("no Go version string in the fixture")
    return data, m.group(0)


def refused(server, binary):
    """The whole output and exit status of a server that exits on its own."""
    p = subprocess.run([server, "exec", binary, "--headless", "--listen=127.0.0.1:0"],
                       capture_output=True, text=True, timeout=60)
    out = re.sub(r"127\.0\.0\.1:\d+", "ADDR", p.stdout + p.stderr)
    return out.strip().splitlines(), p.returncode


def serving(server, binary, flag):
    """The lines a server says before it serves (it is ended once they are in)."""
    p = subprocess.Popen([server, "exec", binary, "--headless", "--listen=127.0.0.1:0", flag],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        first = p.stdout.readline()
        time.sleep(1.0)  # what it says right after listening (the warning) is in by now
    finally:
        p.kill()
        _, err = p.communicate(timeout=30)
    lines = [re.sub(r"127\.0\.0\.1:\d+", "ADDR", first.strip())]
    # The server's own lines about the version: once the server is killed, dlv's target
    # (detached, not killed) runs to its end and prints its own output.
    lines += [l for l in err.splitlines() if "Go version" in l]
    return lines


def main():
    goscope, src = sys.argv[1:3]
    failures = []
    with tempfile.TemporaryDirectory() as d:
        ok_bin = os.path.join(d, "basic")
        data, ver = build(src, ok_bin)
        new_bin = os.path.join(d, "basic129")
        with open(new_bin, "wb") as f:
            f.write(data.replace(ver, b"go1.29."))
        os.chmod(new_bin, 0o755)

        for name, fn in (("refused", lambda s: refused(s, new_bin)),
                         ("warned", lambda s: serving(s, new_bin, "--check-go-version=false")),
                         ("supported", lambda s: serving(s, ok_bin, "--check-go-version=true"))):
            ours, theirs = fn(goscope), fn("dlv")
            print("%s: goscope %r\n%s  dlv     %r" % (name, ours, " " * len(name), theirs))
            if ours != theirs:
                failures.append(name)
        text, status = refused(goscope, new_bin)
        if status != 1 or not any("too old for Go version 1.29" in l for l in text):
            failures.append("refused: exit status %d, %r" % (status, text))
    if failures:
        sys.exit("FAILED: " + ", ".join(failures))
    print("ok")


if __name__ == "__main__":
    main()
