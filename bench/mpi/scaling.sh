#!/usr/bin/env bash
# Weak and strong scaling of reads routed across MPI ranks (heatkit_mpi_bench)
# on this machine: 1 and 2 ranks timed; 4 ranks oversubscribed, for
# correctness only (more ranks than cores measure the scheduler). Writes one
# JSON object per run, as a JSON array, to OUT (default
# docs/bench/mpi-scaling.json).
#
#   bash bench/mpi/scaling.sh [OUT]
#
# Environment: READS (per rank and batch for weak, the job's for strong;
# default 1000000), KEYS (default 1000000, per rank for weak), BATCHES
# (default 10), BUILD (default build). Run it on an idle machine: a rank
# waiting in an exchange spins, so other work on the cores shows up as
# exchange time.
set -euo pipefail
repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)
cd "$repo_root"
out=${1:-docs/bench/mpi-scaling.json}
build=${BUILD:-build}
reads=${READS:-1000000}
keys=${KEYS:-1000000}
batches=${BATCHES:-10}
bench=$build/bin/heatkit_mpi_bench
[[ -x $bench ]] || { echo "scaling.sh: no $bench (build with MPI: HEATKIT_ENABLE_MPI)" >&2; exit 1; }

export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
runs=()
for ranks in 1 2 4; do
  for mode in weak strong; do
    line=$(mpirun -q --oversubscribe -np "$ranks" "$bench" "$mode" "$reads" "$keys" "$batches")
    [[ $ranks -gt $(nproc) ]] && line=${line%\}}', "oversubscribed": true}'
    echo "$line" >&2
    runs+=("$line")
  done
done
{
  echo "["
  for i in "${!runs[@]}"; do
    sep=","; ((i == ${#runs[@]} - 1)) && sep=""
    echo "  ${runs[$i]}$sep"
  done
  echo "]"
} >"$out"
echo "scaling.sh: wrote $out" >&2
