#!/usr/bin/env bash
# Installs, only when missing, every Debian 12 package heatkit's build, tests and
# fuzzing need. Idempotent; runs as root (or through sudo when available).
set -euo pipefail

packages=(
  cmake ninja-build g++ make git pkg-config
  libhwy-dev            # Highway 1.0.3 (SIMD kernels)
  libgtest-dev libgmock-dev
  libbenchmark-dev
  libcli11-dev          # CLI parser for tools/heatkit (header-only)
  clang-14 libclang-rt-14-dev   # libFuzzer + sanitizer runtimes for the fuzz preset
  python3
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if ((${#missing[@]})); then
  sudo_cmd=()
  if [[ $(id -u) -ne 0 ]]; then sudo_cmd=(sudo); fi
  echo "setup: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  "${sudo_cmd[@]}" apt-get update -qq
  "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  echo "setup: all packages present" >&2
fi
