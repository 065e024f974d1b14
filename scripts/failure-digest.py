#!/usr/bin/env python3
"""Print, for each test that failed in a ctest run, the last lines of its output (from
Testing/Temporary/LastTest.log). test.sh prints this digest last, so that a CI log cut to
its head and tail still shows why each test failed, not only which.

Usage: failure-digest.py BUILD_DIR [LINES]"""
import os
import sys


def main():
    build = sys.argv[1]
    keep = int(sys.argv[2]) if len(sys.argv) > 2 else 40
    tmp = os.path.join(build, "Testing", "Temporary")
    try:
        failed = [l.split(":", 1)[1].strip() for l in open(os.path.join(tmp, "LastTestsFailed.log"))
                  if ":" in l]
        log = open(os.path.join(tmp, "LastTest.log"), errors="replace").read()
    except OSError:
        return
    for name in failed:
        marker = "Test: %s\n" % name
        at = log.find(marker)
        if at < 0:
            continue
        start = log.find("Output:\n", at)
        end = log.find("<end of output>", start)
        if start < 0 or end < 0:
            continue
        lines = log[start:end].splitlines()[2:]
        print("== %s: the last %d of %d lines of its output" % (name, min(keep, len(lines)),
                                                              len(lines)))
        for l in lines[-keep:]:
            print("   " + l[:400])


if __name__ == "__main__":
    main()
