// The heatkit CLI: `heatkit replay`, `heatkit backends`, `heatkit simulate`,
// `heatkit snapshot info`.
//
// Exit status (tools/command.h): 0 success; 1 an unexpected failure; 2 bad
// input or usage (usage errors, unknown or unavailable backend, invalid policy,
// malformed trace or snapshot); 3 the input could not be read; 4 standard
// output or a snapshot could not be written. Every failure prints
// `error: WHAT` on stderr.
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <exception>
#include <iostream>
#include <string>
#include <utility>
#include <optional>
#include <vector>

#include <heatkit/backend.h>
#include <heatkit/policy.h>
#include "tools/command.h"
#include "tools/mpi_session.h"
#if HEATKIT_HAVE_MPI
#include <heatkit/distributed_registry.h>  // PeerRankFailed
#endif

namespace {

using heatkit::cli::kExitFailure;
using heatkit::cli::kExitInputFailed;
using heatkit::cli::kExitOutputFailed;
using heatkit::cli::kExitSuccess;
using heatkit::cli::kExitUsage;

// How a command ended: its exit status and, for a failure, what to print.
struct Outcome {
  int status = kExitSuccess;
  std::string error;         // empty: nothing to say
  bool peer_failed = false;  // under MPI: another rank failed, and says why
};

// std::cout's buffer while heatkit runs: it passes everything on to the
// buffer std::cout had (stdio's stdout, shared with printf) and keeps the
// errno of the first write or flush that failed, since std::cout only keeps
// a bit. Installed for the life of the object.
class StdoutWatch : public std::streambuf {
 public:
  StdoutWatch() : inner_(std::cout.rdbuf(this)) {}
  StdoutWatch(const StdoutWatch&) = delete;
  StdoutWatch& operator=(const StdoutWatch&) = delete;
  ~StdoutWatch() override { std::cout.rdbuf(inner_); }

  // Flushes standard output. False when anything written there was lost, now
  // or by an earlier write; `reason` then says why, if the system said.
  bool flush(std::string& reason) {
    std::cout.flush();
    // The C flush too: a command may have written through printf.
    if (std::fflush(stdout) != 0) note_failure();
    const bool lost = std::cout.fail() || std::ferror(stdout) != 0 || failed_;
    if (lost && first_errno_ != 0) reason = std::strerror(first_errno_);
    return !lost;
  }

 protected:
  // A failed fwrite or fflush of stdout is a failed write(2): errno is its.
  std::streamsize xsputn(const char* s, std::streamsize n) override {
    const std::streamsize written = inner_->sputn(s, n);
    if (written != n) note_failure();
    return written;
  }
  int_type overflow(int_type c) override {
    if (traits_type::eq_int_type(c, traits_type::eof())) return traits_type::not_eof(c);
    const int_type result = inner_->sputc(traits_type::to_char_type(c));
    if (traits_type::eq_int_type(result, traits_type::eof())) note_failure();
    return result;
  }
  int sync() override {
    const int result = inner_->pubsync();
    if (result != 0) note_failure();
    return result;
  }

 private:
  void note_failure() {
    if (!failed_) first_errno_ = errno;
    failed_ = true;
  }

  std::streambuf* inner_;
  bool failed_ = false;
  int first_errno_ = 0;
};

// Parses the command line and runs the command chosen. Throws the errors main
// maps to exit statuses.
int run(int argc, char** argv) {
  CLI::App app{"heatkit: decaying heat counters, ticked in batches", "heatkit"};
  app.set_version_flag("--version", "heatkit 0.1.0");
  app.require_subcommand(1);
  app.footer(std::string("Run `heatkit COMMAND --help` for a command's options.\n\n") +
             heatkit::cli::kExitStatusHelp);

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
  add(heatkit::cli::add_snapshot_command(app));

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
      throw heatkit::cli::UsageError("unknown option or command: " + list + see);
    }
    throw heatkit::cli::UsageError(e.what() + see);
  }

  for (const Command& command : commands) {
    if (command.app->parsed()) return command.run();
  }
  throw heatkit::cli::UsageError("no command given (see heatkit --help)");
}

Outcome run_and_catch(int argc, char** argv) {
  try {
    return {run(argc, argv), {}};
  } catch (const heatkit::cli::UsageError& e) {
    return {kExitUsage, e.what()};
  } catch (const heatkit::cli::InputError& e) {
    return {kExitInputFailed, e.what()};
  } catch (const heatkit::cli::OutputError& e) {
    return {kExitOutputFailed, e.what()};
  } catch (const heatkit::UnknownBackend& e) {
    return {kExitUsage, e.what()};
  } catch (const heatkit::BackendUnavailable& e) {
    return {kExitUsage, e.what()};
  } catch (const heatkit::InvalidPolicy& e) {
    return {kExitUsage, e.what()};
#if HEATKIT_HAVE_MPI
  } catch (const heatkit::PeerRankFailed& e) {
    return {kExitFailure, e.what(), true};
#endif
  } catch (const std::exception& e) {
    return {kExitFailure, e.what()};
  } catch (...) {
    return {kExitFailure, "unexpected failure"};
  }
}

// Discards what is written to it: standard output of ranks other than 0.
class NullBuffer : public std::streambuf {
 protected:
  int_type overflow(int_type c) override { return traits_type::not_eof(c); }
  std::streamsize xsputn(const char*, std::streamsize n) override { return n; }
};

}  // namespace

int main(int argc, char** argv) {
  // Under mpirun every rank runs this; rank 0 alone prints (tools/mpi_session.h).
  std::optional<heatkit::cli::MpiSession> mpi;
  try {
    mpi.emplace(argc, argv);
  } catch (const std::exception& e) {
    std::cerr << "error: " << e.what() << '\n';
    return kExitFailure;
  }
  StdoutWatch out;
  NullBuffer discard;
  if (heatkit::cli::world_rank() != 0) std::cout.rdbuf(&discard);
  // Ranks started with other arguments would meet different collectives and
  // hang: refuse that first, on every rank alike.
  const std::string differ = heatkit::cli::arguments_differ_between_ranks(argc, argv);
  Outcome outcome = differ.empty() ? run_and_catch(argc, argv) : Outcome{kExitUsage, differ};
  if (outcome.status != kExitSuccess &&
      !heatkit::cli::report_failure_under_mpi(outcome.error.c_str(), outcome.status, outcome.peer_failed)) {
    outcome.error.clear();  // rank 0 reports an error every rank met alike
  }
  // Every command's output, --help's too, is checked here: a write that
  // failed is a failure even when the command itself succeeded. The flush
  // comes first, so that what the command printed stays before its error.
  std::string reason;
  const bool written = out.flush(reason);
  if (!written) {
    std::cerr << "error: cannot write standard output" << (reason.empty() ? "" : ": " + reason)
              << '\n';
  }
  if (!outcome.error.empty()) std::cerr << "error: " << outcome.error << '\n';
  std::cerr.flush();
  if (!written && outcome.status == kExitSuccess) return kExitOutputFailed;
  return outcome.status;
}
