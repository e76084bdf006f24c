// The contract between the heatkit CLI's main() and its subcommands.
#pragma once

#include <functional>
#include <stdexcept>

#include <CLI/CLI.hpp>

namespace heatkit::cli {

// Bad input that is the user's (an out-of-range number, an invalid policy, an
// unknown backend, a malformed trace): main prints "error: WHAT" on stderr
// and exits with status 2.
class UsageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A subcommand registers its options on `app` and returns the function main
// calls when that subcommand was chosen; the function returns the exit status.
using RunFn = std::function<int()>;

RunFn add_replay_command(CLI::App& app);    // tools/replay_command.cc
RunFn add_backends_command(CLI::App& app);  // tools/backends_command.cc
RunFn add_simulate_command(CLI::App& app);  // tools/simulate_command.cc

}  // namespace heatkit::cli
