#!/usr/bin/env bash
# Configures (once) and builds goscope and its tests into build/. CI=true turns warnings
# into errors.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
# go needs a cache and a GOPATH; CI may run without HOME.
if [ -z "${HOME:-}" ]; then
  export GOCACHE="${GOCACHE:-$root/build/go-cache}" GOPATH="${GOPATH:-$root/build/gopath}"
fi
werror=OFF
if [ "${CI:-}" = "true" ]; then werror=ON; fi
cmake -S "$root" -B "$root/build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DGOSCOPE_WARNINGS_AS_ERRORS=$werror >/dev/null
ninja -C "$root/build" -j"$(nproc)"
