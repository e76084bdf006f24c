#!/usr/bin/env bash
# Everything that needs a GPU, in one go, on a machine with one: the device
# tests, compute-sanitizer over them, the simulation on every backend (counts
# side by side; with Open MPI also sharded over two ranks on the GPU), and the
# GPU benchmarks. For a built tree:
#   cmake -S . -B build-cuda -G Ninja -DCMAKE_BUILD_TYPE=Release -DHEATKIT_ENABLE_CUDA=ON
#   cmake --build build-cuda
#   scripts/gpu_check.sh build-cuda/bin gpu-results
# Results (logs, simulate JSON, benchmark JSON) go to the output folder; the
# end of the output is a short summary. Environment: GPU_CHECK_STEPS (a
# space-separated subset of: tests sanitizer simulate bench cpubench; default
# all but cpubench), GPU_BENCH_ARGS (extra heatkit_gpu_bench arguments),
# CPU_BENCH_FILTER (heatkit_bench's --benchmark_filter for cpubench).
set -uo pipefail

bin=$(cd "${1:?usage: gpu_check.sh BIN_DIR OUT_DIR}" && pwd -P)
out=${2:?usage: gpu_check.sh BIN_DIR OUT_DIR}
mkdir -p "$out"
out=$(cd "$out" && pwd -P)
steps=${GPU_CHECK_STEPS:-"tests sanitizer simulate bench"}
summary=()
note() { summary+=("$*"); }
step() { printf '\n==> %s\n' "$*"; }
wants() { [[ " $steps " == *" $1 "* ]]; }
# Runs a command with a time limit; records PASS/FAIL for the summary.
check() {
  local name=$1 limit=$2
  shift 2
  local start=$SECONDS
  timeout "$limit" "$@" >"$out/$name.log" 2>&1
  local rc=$?
  tail -n 25 "$out/$name.log"
  if ((rc == 0)); then note "PASS $name ($((SECONDS - start)) s)"; else note "FAIL $name (exit $rc, $((SECONDS - start)) s; $out/$name.log)"; fi
  return $rc
}

step device
nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm,clocks.max.mem --format=csv | tee "$out/device.txt"
"$bin/heatkit" backends | tee -a "$out/device.txt"

if wants tests; then
  step "device tests"
  for t in cuda_test conformance_test store_bulk_read_test tick_shapes_test cuda_simulation_test trace_backends_test simulation_test thrust_omp_test registry_test batch_bump_test; do
    [[ -x "$bin/$t" ]] && check "$t" 300 "$bin/$t"
  done
fi

if wants bench && [[ -x "$bin/heatkit_gpu_bench" ]]; then
  step "GPU benchmarks"
  # shellcheck disable=SC2086  # GPU_BENCH_ARGS is a list of flags
  check gpu_bench 500 "$bin/heatkit_gpu_bench" --benchmark_out="$out/gpu_bench.json" \
    --benchmark_out_format=json ${GPU_BENCH_ARGS:-}
fi

if wants sanitizer && command -v compute-sanitizer >/dev/null; then
  step "compute-sanitizer"
  # The small device tests (the million-counter ones take minutes under the tools).
  filter='*DeviceStore*:DeviceReads.pruned*:DeviceReads.a_cap*:-*million*:*appends_after*:*two_pass*'
  check memcheck 300 compute-sanitizer --tool memcheck --error-exitcode 9 --print-limit 20 \
    "$bin/cuda_test" --gtest_filter="$filter"
  check racecheck 200 compute-sanitizer --tool racecheck --error-exitcode 9 --print-limit 20 \
    "$bin/cuda_test" --gtest_filter='*DeviceStore*tick_of_uploaded*:*DeviceStore*prunable*:*DeviceStore*timed_bumps_on*'
  check synccheck 200 compute-sanitizer --tool synccheck --error-exitcode 9 --print-limit 20 \
    "$bin/cuda_test" --gtest_filter='*DeviceStore*tick_of_uploaded*:*DeviceStore*timed_bumps_on*'
fi

if wants simulate; then
  step "simulate (default workload) on each backend"
  for backend in highway cuda thrust; do
    check "simulate_$backend" 300 "$bin/heatkit" simulate --backend "$backend" --json
    cp "$out/simulate_$backend.log" "$out/simulate_$backend.json"
  done
  python3 - "$out" <<'EOF' | tee "$out/simulate_counts.txt"
import json, sys, pathlib
out = pathlib.Path(sys.argv[1])
keys = ["emits_committed", "emits_rolled_back", "withdrawals_committed", "withdrawals_rolled_back",
        "prunes", "evictions", "bumps", "reads_on_device", "tick_s_per_tick", "bump_s", "wall_s"]
rows = {}
for backend in ["highway", "cuda", "thrust"]:
    try:
        rows[backend] = json.loads((out / f"simulate_{backend}.json").read_text())
    except Exception as e:
        print(f"{backend}: no JSON ({e})")
print("field".ljust(26) + "".join(b.rjust(16) for b in rows))
for k in keys:
    print(k.ljust(26) + "".join(str(r.get(k, "-")).rjust(16) for r in rows.values()))
EOF
fi

# One rank per GPU: two ranks on the device backend (on a one-GPU machine both
# take GPU 0) give one process's counts (no eviction: cap 0).
if wants simulate && command -v mpirun >/dev/null; then
  step "simulate sharded over two MPI ranks on cuda"
  check simulate_mpi_cuda 300 env OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 \
    OMPI_MCA_btl_vader_single_copy_mechanism=none \
    mpirun -q --oversubscribe -np 2 "$bin/heatkit" simulate --backend cuda --cap 0 --keys 200000 \
    --reads-per-second 400000 --duration-s 10 --json
  check simulate_one_process_cuda 300 "$bin/heatkit" simulate --backend cuda --cap 0 --keys 200000 \
    --reads-per-second 400000 --duration-s 10 --host-reads --json
  python3 - "$out" <<'EOF' | tee "$out/simulate_mpi_counts.txt"
import json, sys, pathlib
out = pathlib.Path(sys.argv[1])
a = json.loads((out / "simulate_mpi_cuda.log").read_text().splitlines()[-1])
b = json.loads((out / "simulate_one_process_cuda.log").read_text().splitlines()[-1])
for k in ["emits_committed", "emits_rolled_back", "withdrawals_committed", "prunes", "counters_live"]:
    print(k.ljust(24), str(a.get(k)).rjust(12), str(b.get(k)).rjust(12), "same" if a.get(k) == b.get(k) else "DIFFERENT")
EOF
fi

if wants cpubench && [[ -x "$bin/heatkit_bench" ]]; then
  step "comparison suite, device backends beside highway"
  check heatkit_bench 500 "$bin/heatkit_bench" --heatkit_variants=cuda/t1,thrust/t1,highway/tN \
    --benchmark_filter="${CPU_BENCH_FILTER:-^(floor|floor_shared_hl|tick_pass|tick|tick_quiet|commit_prune)/}" --benchmark_min_time=0.2 \
    --benchmark_out="$out/heatkit_bench.json" --benchmark_out_format=json
fi

printf '\n==> summary\n'
printf '%s\n' "${summary[@]}"
