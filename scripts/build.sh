#!/usr/bin/env bash
# Configures (once) and builds goscope and its tests into build/. CI=true turns warnings
# into errors.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
werror=OFF
if [ "${CI:-}" = "true" ]; then werror=ON; fi
cmake -S "$root" -B "$root/build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DGOSCOPE_WARNINGS_AS_ERRORS=$werror >/dev/null
ninja -C "$root/build" -j"$(nproc)"
