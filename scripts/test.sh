#!/usr/bin/env bash
# README's second command: install what is missing, build, run every test (unit and
# integration) in parallel.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
"$root/scripts/install-deps.sh"
"$root/scripts/build.sh"
cd "$root/build"
ctest --output-on-failure -j"$(nproc)" --timeout 300 "$@"
