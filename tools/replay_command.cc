// `heatkit replay TRACE [--backend NAME]`: replays a heat trace and prints what
// the registry answered (/work/shared/TRACE_FORMAT.md).
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <string>

#include "host/backend.h"
#include "tools/command.h"
#include "tools/replay.h"

namespace heatkit::cli {
namespace {

constexpr const char* kReplayNotes = R"(
Trace format: TRACE_FORMAT.md, version 1. Cases the format leaves open:
  - each header line (registry, cap, inflight, policy) may appear once; a
    repeat is an error, as is a repeated policy field or an unknown one;
  - `policy` with no fields keeps every default;
  - `cap N` takes any decimal N that fits in 64 bits (0 = unbounded);
  - `commit` before any tick commits nothing; `commit KEY...` ignores keys
    with no candidate in the last tick; the last tick's candidates stay until
    the next tick, so committing one twice records it twice;
  - `decay`, `rollback` and `remove` of an absent key do nothing;
  - a carriage return counts as a field separator (CRLF files work).
A malformed line stops the replay before it runs: `error: line L: WHAT` on
stderr, exit status 2; what earlier lines printed stays printed.)";

}  // namespace

RunFn add_replay_command(CLI::App& app) {
  struct Args {
    std::string trace;
    std::string backend = std::string(default_backend());
  };
  auto args = std::make_shared<Args>();
  CLI::App* cmd = app.add_subcommand("replay", "replay a heat trace and print the registry's answers");
  cmd->add_option("TRACE", args->trace, "the trace file, or - for standard input")->required();
  cmd->add_option("--backend", args->backend, "the registry's backend (see `heatkit backends`)")
      ->capture_default_str();
  cmd->footer(kReplayNotes);

  return [args]() -> int {
    // Check the backend before touching the trace: a wrong name is the first thing to fix.
    try {
      make_store(args->backend);
    } catch (const std::exception& e) {
      throw UsageError(e.what());
    }

    std::ifstream file;
    std::istream* in = &std::cin;
    if (args->trace != "-") {
      std::error_code ec;
      if (std::filesystem::is_directory(args->trace, ec)) {
        throw UsageError("cannot open " + args->trace + ": " + std::strerror(EISDIR));
      }
      errno = 0;
      file.open(args->trace);
      if (!file.is_open()) {
        const int err = errno;
        throw UsageError("cannot open " + args->trace + ": " +
                         (err != 0 ? std::strerror(err) : "unreadable"));
      }
      in = &file;
    }

    trace::ReplayOptions options;
    options.backend = args->backend;
    try {
      trace::replay(*in, std::cout, options);
    } catch (const trace::TraceError& e) {
      throw UsageError(e.what());  // main flushes stdout, then prints "error: line L: WHAT"
    }
    if (in->bad()) throw UsageError("cannot read " + args->trace + ": read error");
    std::cout.flush();
    return 0;
  };
}

}  // namespace heatkit::cli
