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
# (default 10), BUILD (default build). Open MPI's shared-memory transport
# copies large messages with one system call (CMA) where the kernel lets it;
# HEATKIT_MPI_SINGLE_COPY=none turns that off (containers that forbid
# process_vm_readv are faster without it).
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
if [[ -n ${HEATKIT_MPI_SINGLE_COPY:-} ]]; then
  export OMPI_MCA_btl_vader_single_copy_mechanism=$HEATKIT_MPI_SINGLE_COPY
fi
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
