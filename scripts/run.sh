#!/usr/bin/env bash
# Sets up a fresh Debian 12 machine, builds the heatkit CLI with the release
# preset and runs the main job: `heatkit simulate` on its default workload.
# Extra arguments go to `heatkit simulate` (try --help).
set -euo pipefail

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
cd "$repo_root"

jobs=${HEATKIT_JOBS:-2}
run() {
  printf '+ %s\n' "$*"
  "$@"
}

printf '==> set-up: Debian packages\n'
bash scripts/setup.sh

printf '==> build: release preset, the heatkit CLI\n'
run cmake --preset release
# Other presets copy their own (sanitizer) build of the CLI to build/bin/heatkit;
# removing it makes the release build link its own again.
rm -f build/bin/heatkit
run cmake --build --preset release -j"$jobs" --target heatkit_cli

printf '==> run: heatkit simulate\n'
run build/bin/heatkit simulate "$@"
