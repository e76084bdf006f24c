// The options of `heatkit simulate`, and the checks both of its runs make
// with them: the single-process run (tools/simulate_command.cc) and, under
// mpirun, the sharded run (tools/simulate_sharded.cc).
//
// Option values are taken as text and parsed here, so every bad value, from
// "abc" to "nan" to "-1", becomes a UsageError that names its option.
#pragma once

#include <cstdint>
#include <new>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

#include "backends/backend.h"
#include "sim/simulation.h"
#include "tools/cli_errors.h"
#include "tools/memory_budget.h"

namespace heatkit::cli {

// More threads than this is a typo, not a machine (up to it, a request above
// the hardware threads runs on the hardware threads: resolve_threads).
inline constexpr std::uint64_t kMaxThreads = 4096;

// The option text as the user typed it, defaults filled in from SimulationConfig.
struct SimulateOptions {
  std::string keys;
  std::string zipf;
  std::string reads_per_second;
  std::string tick_interval_s;
  std::string duration_s;
  std::string half_life_s;
  std::string ratio;
  std::string cap;
  std::string commit_failure_rate;
  std::string seed;
  std::string backend;
  std::string threads;
  std::string max_memory;  // empty: the memory available now
  bool host_reads = false;
  bool json = false;
};

// The options as the CLI shows them when none is given: SimulationConfig's
// defaults, the default backend, every hardware thread.
SimulateOptions default_simulate_options();

// `text` as a non-negative integer ("2e6" too, when it is exactly one);
// throws UsageError naming `flag`.
std::uint64_t parse_count(std::string_view flag, std::string_view text);

// The option that sets `field`: "--keys", "--zipf", ...
std::string flag_of(sim::ConfigField field);

// The options parsed; throws UsageError naming the option of a bad value.
sim::SimulationConfig to_config(const SimulateOptions& o);

// ---------------------------------------------------------------------------
// Memory: a run that cannot fit is refused before it allocates anything big.

// --max-memory, or else the memory available now; nullopt when nothing is
// known to check against.
std::optional<MemoryLimit> memory_limit(const SimulateOptions& o);

// "the 64.0 MiB allowed (--max-memory)", "the 20.1 GiB available (MemAvailable; ...)".
std::string limit_words(const MemoryLimit& limit);

// Throws UsageError when the estimate `e` exceeds the limit; `per` follows
// the amount ("" for the whole run, " per rank").
void refuse_over_limit(const sim::MemoryEstimate& e, const SimulateOptions& options,
                       const sim::SimulationConfig& config, const MemoryLimit& limit, std::string_view per);

// Throws UsageError when the run's estimate exceeds the limit; the estimate's
// own errors (an invalid config, an unknown backend) propagate.
void check_memory(const sim::SimulationConfig& config, const SimulateOptions& options,
                  const std::optional<MemoryLimit>& limit);

// Runs `work` with the engine's errors turned into the CLI's: a config or
// backend error becomes a UsageError naming the option, std::bad_alloc a
// failure that names the estimate (`estimate_bytes()`) the run started under.
template <class Work, class Estimate>
void with_cli_errors(Work&& work, Estimate&& estimate_bytes, const std::optional<MemoryLimit>& limit) {
  try {
    work();
  } catch (const std::bad_alloc&) {
    // The estimate let the run start: say so, it is the estimate's to mend.
    std::string message =
        "out of memory (std::bad_alloc) in a run estimated at about " + about_bytes(estimate_bytes());
    if (limit) message += ", within " + limit_words(*limit);
    throw OutOfMemory(message);
  } catch (const sim::InvalidSimulationConfig& e) {
    throw UsageError(flag_of(e.field()) + " " + e.requirement());
  } catch (const UnknownBackend& e) {
    throw UsageError(std::string("--backend: ") + e.what());
  } catch (const BackendUnavailable& e) {
    throw UsageError(std::string("--backend: ") + e.what());
  }
}

// The single-process run with every check above: parses the options, refuses
// a run over the memory limit, runs it with the CLI's errors. What `heatkit
// simulate` runs outside mpirun, and what the Python package's simulate runs.
sim::SimulationSummary run_checked_simulation(const SimulateOptions& options, sim::ProgressFn progress = {});

#if HEATKIT_HAVE_MPI
// The run under mpirun, sharded over the ranks (tools/simulate_sharded.cc);
// returns the exit status.
int run_simulate_sharded(const SimulateOptions& options);
#endif

}  // namespace heatkit::cli
