#!/usr/bin/env bash
# README's first command: install what is missing, build goscope, then trace the bundled
# example program (examples/hello): first as `dlv trace` prints it, then as a call graph
# with per-function statistics.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
"$root/scripts/install-deps.sh"
"$root/scripts/build.sh"
cd "$root/examples/hello"
re='^main\.(parse|total|discount|fib|label)$'
echo
echo "+ goscope trace . '$re'        (dlv trace's output, on stderr)"
"$root/build/bin/goscope" trace -o "$root/build/hello-debug" . "$re"
echo
echo "+ goscope trace . '$re' --graph --stats"
"$root/build/bin/goscope" trace -o "$root/build/hello-debug" . "$re" --graph --stats
