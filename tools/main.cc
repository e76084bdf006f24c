// The heatkit CLI: `heatkit replay`, `heatkit backends`, `heatkit simulate`.
//
// Exit status: 0 success; 2 bad input (usage errors, unknown or unavailable
// backend, invalid policy, malformed trace), with `error: WHAT` on stderr;
// 1 an unexpected failure, also as `error: WHAT`.
#include <exception>
#include <iostream>
#include <string>
#include <utility>
#include <vector>

#include "host/backend.h"
#include "kernels/policy.h"
#include "tools/command.h"

namespace {

constexpr int kExitUsage = 2;
constexpr int kExitFailure = 1;

int fail(int status, const std::string& what) {
  // Whatever the command printed before the error stays printed, and before it.
  std::cout.flush();
  std::cerr << "error: " << what << std::endl;
  return status;
}

int run(int argc, char** argv) {
  CLI::App app{"heatkit: decaying heat counters, ticked in batches", "heatkit"};
  app.set_version_flag("--version", "heatkit 0.1.0");
  app.require_subcommand(1);
  app.footer("Run `heatkit COMMAND --help` for a command's options.");

  struct Command {
    CLI::App* app;
    heatkit::cli::RunFn run;
  };
  std::vector<Command> commands;
  auto add = [&](heatkit::cli::RunFn run) {
    // The command just registered is the last subcommand.
    auto all = app.get_subcommands([](CLI::App*) { return true; });
    commands.push_back({all.back(), std::move(run)});
  };
  add(heatkit::cli::add_replay_command(app));
  add(heatkit::cli::add_backends_command(app));
  add(heatkit::cli::add_simulate_command(app));

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // --help and --version: CLI11 prints them and says success.
    if (e.get_exit_code() == static_cast<int>(CLI::ExitCodes::Success)) return app.exit(e);
    // `heatkit --bogus` fails the subcommand requirement before CLI11 looks at
    // extras; name the argument it could not use, which is the real mistake.
    const auto chosen = app.get_subcommands();
    const std::string see =
        " (see heatkit " + (chosen.empty() ? "" : chosen.front()->get_name() + " ") + "--help)";
    if (const auto extras = app.remaining(); !extras.empty() && chosen.empty()) {
      std::string list;
      for (const std::string& arg : extras) list += (list.empty() ? "" : " ") + arg;
      return fail(kExitUsage, "unknown option or command: " + list + see);
    }
    return fail(kExitUsage, e.what() + see);
  }

  for (const Command& command : commands) {
    if (command.app->parsed()) return command.run();
  }
  return fail(kExitUsage, "no command given (see heatkit --help)");
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const heatkit::cli::UsageError& e) {
    return fail(kExitUsage, e.what());
  } catch (const heatkit::UnknownBackend& e) {
    return fail(kExitUsage, e.what());
  } catch (const heatkit::BackendUnavailable& e) {
    return fail(kExitUsage, e.what());
  } catch (const heatkit::InvalidPolicy& e) {
    return fail(kExitUsage, e.what());
  } catch (const std::exception& e) {
    return fail(kExitFailure, e.what());
  } catch (...) {
    return fail(kExitFailure, "unexpected failure");
  }
}
