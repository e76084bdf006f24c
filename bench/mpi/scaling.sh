#!/usr/bin/env bash
# Weak and strong scaling of reads routed across MPI ranks (heatkit_mpi_bench)
# on this machine: 1 and 2 ranks timed; 4 ranks oversubscribed, for
# correctness only (more ranks than cores measure the scheduler); 32-byte
# keys on 1 and 2 ranks (strong). Then
# `heatkit simulate --cap 0` (the default workload otherwise) in one process
# and sharded over 1 and 2 ranks. Writes one JSON object per run, as a JSON
# array, to OUT (default docs/bench/mpi-scaling.json).
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
bench_row() {  # bench_row RANKS MODE KEY
  local line
  line=$(mpirun -q --oversubscribe -np "$1" "$bench" "$2" "$reads" "$keys" "$batches" "$3")
  [[ $1 -gt $(nproc) ]] && line=${line%\}}', "oversubscribed": true}'
  echo "$line" >&2
  runs+=("$line")
}
for ranks in 1 2 4; do
  for mode in weak strong; do bench_row "$ranks" "$mode" u64; done
done
for ranks in 1 2; do bench_row "$ranks" strong blob; done
heatkit=$build/bin/heatkit
simulate_row() {  # simulate_row RANKS (0: one process, no launcher)
  local json
  if (($1 == 0)); then
    json=$("$heatkit" simulate --cap 0 --json)
  else
    json=$(mpirun -q -np "$1" "$heatkit" simulate --cap 0 --json)
  fi
  python3 -c '
import json, sys
d = json.loads(sys.argv[2])
row = {"mode": "simulate", "ranks": int(sys.argv[1]), "backend": d["backend"]}
for k in ["bumps", "emits_committed", "emits_rolled_back", "counters_live", "wall_s", "read_generation_s",
          "bump_s", "tick_s", "commit_s"]:
    row[k] = d[k]
row["ranks_detail"] = d.get("ranks", [])
print(json.dumps(row))' "$1" "$json"
}
for ranks in 0 1 2; do
  line=$(simulate_row "$ranks")
  echo "$line" >&2
  runs+=("$line")
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
