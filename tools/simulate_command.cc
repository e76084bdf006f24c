// Placeholder until the simulation lands: replaced by the real command.
#include "tools/command.h"

namespace heatkit::cli {
RunFn add_simulate_command(CLI::App& app) {
  app.add_subcommand("simulate", "run the default simulation workload");
  return [] () -> int { throw UsageError("simulate is not implemented yet"); };
}
}  // namespace heatkit::cli
