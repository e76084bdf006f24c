// The contract between the heatkit CLI's main() and its subcommands.
#pragma once

#include <functional>

#include <CLI/CLI.hpp>

#include "tools/cli_errors.h"

namespace heatkit::cli {

// Exit statuses. Every failure also prints one line, `error: WHAT`, on stderr.
inline constexpr int kExitSuccess = 0;
inline constexpr int kExitFailure = 1;      // an unexpected failure (a bug, out of memory)
inline constexpr int kExitUsage = 2;        // bad input or usage: see UsageError
inline constexpr int kExitInputFailed = 3;  // the input could not be read: see InputError
inline constexpr int kExitOutputFailed = 4; // standard output (main checks it) or a snapshot could not be written

// The exit statuses as --help footers list them.
inline constexpr const char* kExitStatusHelp =
    "Exit status: 0 success; 1 an unexpected failure; 2 bad input or usage (an\n"
    "unknown option, backend or file, an invalid value, a malformed trace); 3 the\n"
    "input could not be read; 4 standard output could not be written (a full disk,\n"
    "a closed descriptor) or a snapshot could not be saved. Each failure prints\n"
    "`error: WHAT` on stderr.";

// A subcommand registers its options on `app` and returns the function main
// calls when that subcommand was chosen; the function returns the exit status.
// It writes its output to std::cout and need not check it: main flushes
// std::cout after it returns and fails with kExitOutputFailed if anything
// written there was lost. A command with long output stops early once
// std::cout has failed.
using RunFn = std::function<int()>;

RunFn add_replay_command(CLI::App& app);    // tools/replay_command.cc
RunFn add_backends_command(CLI::App& app);  // tools/backends_command.cc
RunFn add_simulate_command(CLI::App& app);  // tools/simulate_command.cc
RunFn add_snapshot_command(CLI::App& app);  // tools/snapshot_command.cc

}  // namespace heatkit::cli
