#!/usr/bin/env bash
# Installs, only when missing, every Debian 12 package heatkit's build, tests and
# fuzzing need. Idempotent: when everything is present it changes nothing and
# touches no network. Runs as root (or through sudo when available); runs
# `apt-get update` itself only when something has to be installed, so it also
# works on a machine whose apt lists are empty.
set -euo pipefail

packages=(
  cmake ninja-build g++ make git pkg-config
  libhwy-dev                    # Highway 1.0.3 (SIMD kernels)
  libgtest-dev libgmock-dev     # GoogleTest 1.12
  libbenchmark-dev              # Google Benchmark 1.7.1
  libcli11-dev                  # CLI parser for the heatkit CLI (header-only)
  clang-14 libclang-rt-14-dev   # libFuzzer + sanitizer runtimes for the fuzz preset
  llvm-14                       # llvm-symbolizer-14: readable sanitizer stacks
  libopenmpi-dev openmpi-bin    # Open MPI: heatkit::mpi and the CLI under mpirun
  python3
  python3-venv python3-dev      # the Python package: a virtual environment and Python's headers
  libxxhash-dev                 # xxHash: the snapshots' checksums (header-only use)
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if ((${#missing[@]} == 0)); then
  echo "setup: all ${#packages[@]} packages present" >&2
  exit 0
fi

as_root=()
if [[ $(id -u) -ne 0 ]]; then
  if ! command -v sudo >/dev/null; then
    echo "setup: missing packages (${missing[*]}) and not root, no sudo: install them as root" >&2
    exit 1
  fi
  as_root=(sudo)
fi
# `env` carries the setting through sudo, which resets the environment.
apt=("${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get)
echo "setup: installing ${missing[*]}" >&2
"${apt[@]}" update -qq
"${apt[@]}" install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "setup: done" >&2
