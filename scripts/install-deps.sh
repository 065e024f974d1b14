#!/usr/bin/env bash
# Brings a fresh Debian 12 machine (root, apt) to the point where goscope builds and tests.
# Idempotent: when every package is already installed it only checks and exits.
set -euo pipefail

packages=(
  build-essential g++-12 cmake ninja-build ccache pkg-config git
  libboost1.81-dev libboost-json1.81-dev
  libdwarf-dev libelf-dev zlib1g-dev libzydis-dev libre2-dev
  catch2 golang-go delve python3
  clang libclang-rt-14-dev
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all packages present"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
