#!/usr/bin/env bash
# shellcheck disable=SC2317  # the stage_* functions are called as "stage_$name"
# Sets up a fresh Debian 12 machine, then builds and runs every test heatkit
# has, stage by stage:
#   release  the release preset: full build, every CTest test
#   python   the Python package: `pip install .` into a virtual environment
#            (build/python-venv; nanobind, scikit-build-core, numpy and pytest
#            from PyPI), then pytest tests/python
#   debug    the debug preset (ASan + UBSan): full build, every CTest test
#   tsan     the tsan preset (ThreadSanitizer): the concurrency tests
#   fuzz     the fuzz preset (clang-14, libFuzzer + ASan + UBSan):
#            fuzz_trace_parser from tests/fuzz/corpus, fuzz_registries from
#            tests/fuzz/corpus_registries and fuzz_snapshot_load from
#            tests/fuzz/corpus_snapshots, FUZZ_SECONDS (default 60) between them
# A failing stage does not stop the later ones; the script exits non-zero when
# any stage failed and ends with one summary line.
#
# Environment: HEATKIT_JOBS (build and test parallelism, default 2),
# HEATKIT_STAGES (space-separated subset of the stages above, default all),
# FUZZ_SECONDS (default 60: 20 for each fuzz target).
set -euo pipefail

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
cd "$repo_root"
exec </dev/null  # never wait on a terminal (CI has no stdin)

jobs=${HEATKIT_JOBS:-2}
stages=${HEATKIT_STAGES:-"release python debug tsan fuzz"}
fuzz_seconds=${FUZZ_SECONDS:-60}

# The sanitizer runtimes of gcc 12 and clang 14 predate kernels with more than
# 28 bits of mmap randomness (vm.mmap_rnd_bits=32 on recent distributions):
# there ThreadSanitizer aborts ("unexpected memory mapping") and
# AddressSanitizer can crash or hang. Run sanitized programs with ASLR off on
# such kernels, where the container allows it.
sanitized=()
if (($(cat /proc/sys/vm/mmap_rnd_bits 2>/dev/null || echo 0) > 28)) &&
  setarch "$(uname -m)" -R true 2>/dev/null; then
  sanitized=(setarch "$(uname -m)" -R)
fi

say() { printf '\n==> %s\n' "$*"; }
run() {
  printf '+ %s\n' "$*"
  "$@"
}

stage_release() {
  run cmake --preset release
  # Other presets copy their own (sanitizer) build of the CLI to
  # build/bin/heatkit; removing it makes this build link the release one again.
  rm -f build/bin/heatkit
  run cmake --build --preset release -j"$jobs"
  run ctest --preset release -j"$jobs"
}

stage_python() {
  local venv=build/python-venv
  if [[ ! -x $venv/bin/python ]]; then run python3 -m venv "$venv"; fi
  run "$venv/bin/python" -m pip install --quiet --disable-pip-version-check numpy pytest
  # As the README installs it: pip builds the CMake project (pyproject.toml).
  run "$venv/bin/python" -m pip install --quiet --disable-pip-version-check .
  # The tests compare with the CLI when the release stage has built it.
  local cli=()
  if [[ -x build/bin/heatkit ]]; then cli=(env HEATKIT_CLI="$repo_root/build/bin/heatkit"); fi
  # From another folder, so that `import heatkit` finds the installed package.
  (cd build && run "${cli[@]}" "$repo_root/$venv/bin/python" -m pytest -q -p no:cacheprovider "$repo_root/tests/python")
}

stage_debug() {
  run cmake --preset debug
  run cmake --build --preset debug -j"$jobs"
  run "${sanitized[@]}" ctest --preset debug -j"$jobs"
}

stage_tsan() {
  run cmake --preset tsan
  run cmake --build --preset tsan -j"$jobs"
  run "${sanitized[@]}" ctest --preset tsan -j"$jobs"
}

# Fuzzes target $1 (an executable under build/fuzz) for $3 seconds from a
# copy of its seed corpus $2; further arguments go to libFuzzer.
fuzz_target() {
  local name=$1 corpus=$2 seconds=$3
  shift 3
  [[ -d $corpus ]] || { echo "fuzz: $corpus is missing"; return 1; }
  local fuzzer
  fuzzer=$(find build/fuzz -type f -name "$name" -perm -u+x -print -quit)
  [[ -n $fuzzer ]] || { echo "fuzz: no $name executable under build/fuzz"; return 1; }

  # The fuzzer adds what it finds to its corpus: give it a copy, so the
  # repository is never written. Crashing inputs are kept under build/fuzz.
  local work="$fuzz_work/$name" artifacts="$repo_root/build/fuzz/artifacts"
  mkdir -p "$work" "$artifacts" || return 1
  cp -R "$corpus/." "$work/" || return 1
  echo "fuzz: $name: $(find "$work" -type f | wc -l) seed inputs, ${seconds}s"
  # Inputs that run long (a flooded index, a megabyte line) get less of the
  # fuzzer's time than quick ones, so both kinds keep being mutated.
  run "${sanitized[@]}" "$fuzzer" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
    -entropic_scale_per_exec_time=1 -print_final_stats=1 -artifact_prefix="$artifacts/$name-" \
    "$@" "$work"
}

stage_fuzz() {
  run cmake --preset fuzz
  run cmake --build --preset fuzz -j"$jobs"

  # (The stage runs in its own subshell: the global and the trap end with it.)
  fuzz_work=$(mktemp -d "${TMPDIR:-/tmp}/heatkit-fuzz.XXXXXX")
  trap 'rm -rf "$fuzz_work"' EXIT
  local symbolizer=/usr/bin/llvm-symbolizer-14
  if [[ -x $symbolizer ]]; then export ASAN_SYMBOLIZER_PATH=$symbolizer; fi
  export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1

  # FUZZ_SECONDS is split between the three targets; each runs even when an
  # earlier one finds something.
  local seconds=$(((fuzz_seconds + 2) / 3)) rc=0
  local dict=()
  if [[ -f tests/fuzz/trace.dict ]]; then dict=(-dict=tests/fuzz/trace.dict); fi
  fuzz_target fuzz_trace_parser tests/fuzz/corpus "$seconds" "${dict[@]}" || rc=1
  fuzz_target fuzz_registries tests/fuzz/corpus_registries "$seconds" || rc=1
  fuzz_target fuzz_snapshot_load tests/fuzz/corpus_snapshots "$seconds" -dict=tests/fuzz/snapshot.dict || rc=1
  return "$rc"
}

passed=()
failed=()
stage_results=()

# Runs stage $1 in a subshell with errexit on (a function called from `if`
# would run with errexit off), and records how it went.
run_stage() {
  local name=$1 start=$SECONDS rc
  say "stage $name"
  set +e
  ( set -euo pipefail; "stage_$name" )
  rc=$?
  set -e
  local took=$((SECONDS - start)) result
  if ((rc == 0)); then
    passed+=("$name")
    result="PASS"
  else
    failed+=("$name")
    result="FAIL (exit $rc)"
  fi
  stage_results+=("$name: $result in $((took / 60))m$((took % 60))s")
  say "stage ${stage_results[-1]}"
}

for name in $stages; do
  case $name in
    release | python | debug | tsan | fuzz) ;;
    *) echo "test.sh: unknown stage '$name' (known: release python debug tsan fuzz)" >&2; exit 2 ;;
  esac
done

total_start=$SECONDS
if ((${#sanitized[@]})); then
  echo "test.sh: this kernel randomises mmap with more than 28 bits; sanitized runs use ASLR off"
fi
say "set-up: Debian packages"
bash scripts/setup.sh || { echo "test.sh: FAIL: set-up (scripts/setup.sh) failed"; exit 1; }

for name in $stages; do
  run_stage "$name"
done

total=$((SECONDS - total_start))
say "summary"
printf '  %s\n' "${stage_results[@]}"
if ((${#failed[@]} == 0)); then
  echo "test.sh: PASS: all stages passed (${passed[*]}) in $((total / 60))m$((total % 60))s"
  exit 0
fi
echo "test.sh: FAIL: ${failed[*]} failed; passed: ${passed[*]:-none}; $((total / 60))m$((total % 60))s"
exit 1
