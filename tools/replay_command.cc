// `heatkit replay TRACE [--backend NAME]`: replays a heat trace and prints what
// the registry answered (docs/TRACE_FORMAT.md).
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <exception>
#include <iostream>
#include <memory>
#include <optional>
#include <streambuf>
#include <string>
#include <system_error>

#include "backends/backend.h"  // make_store: the backend checked before the trace is read
#include "tools/command.h"
#include "tools/mpi_session.h"
#include "tools/replay.h"
#include "tools/trace.h"
#if HEATKIT_HAVE_MPI
#include "tools/distributed_replay.h"
#endif

namespace heatkit::cli {
namespace {

constexpr const char* kReplayNotes = R"(
A trace (docs/TRACE_FORMAT.md, version 1) is header lines, then one operation
per line; `#` starts a comment. Headers, each optional: registry u64|blob,
cap N, inflight on|off, policy enabled=B ratio=R half_life_ns=H.
Operations, and what they print:
  bump KEY T        nothing (gets or creates KEY at T, then bumps it)
  touch KEY T       nothing (gets or creates KEY at T)
  decay KEY T       nothing (decays KEY to T if present)
  tick T            tick T N, then N lines sorted by key:
                    emit KEY RATE or withdraw KEY
  commit [KEY...]   nothing (commits the last tick's candidates, or KEY's)
  rollback KEY      nothing (clears KEY's in-flight mark)
  remove KEY        nothing
  get KEY           get KEY absent, or get KEY RATE LAST T_UPDATE
  len               len N
Cases the format leaves open:
  - each header line (registry, cap, inflight, policy) may appear once; a
    repeat is an error, as is a repeated policy field or an unknown one;
  - `policy` with no fields keeps every default;
  - `cap N` takes any decimal N that fits in 64 bits (0 = unbounded);
  - `commit` before any tick commits nothing; `commit KEY...` ignores keys
    with no candidate in the last tick; the last tick's candidates stay until
    the next tick, so committing one twice records it twice;
  - `decay`, `rollback` and `remove` of an absent key do nothing;
  - a carriage return counts as a field separator (CRLF files work), and a
    UTF-8 byte-order mark at the start of the trace is skipped;
  - a line may hold at most 1048576 bytes.
A malformed line stops the replay before it runs: `error: line L: WHAT` on
stderr, exit status 2; what earlier lines printed stays printed. A read error
stops it the same way with exit status 3, a write error on stdout with 4.
Under mpirun (`mpirun -np N heatkit replay TRACE`, a file) the registry is
sharded over the ranks and rank 0 prints the same answers (on a
forward-decayed backend, rates within 1e-12, as between backends); the cap
is split over the ranks (a cap below N is refused), each evicting among its
own keys, so when a rank evicts the answers can differ: rank 0 warns.)";
static_assert(trace::kMaxLineBytes == 1048576, "the notes above name the line limit");

// A trace file or standard input, read with read(2). A failed read throws
// std::system_error, which the trace reader reports with its line; std::cin
// would report it as the end of the input (a directory or a closed
// descriptor on stdin would read as an empty trace).
class FileInput : public std::streambuf {
 public:
  // Opens `path`, or takes standard input for "-". Throws UsageError.
  explicit FileInput(const std::string& path) {
    if (path == "-") return;
    fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd_ < 0) throw UsageError("cannot open " + path + ": " + std::strerror(errno));
    struct stat st {};
    if (::fstat(fd_, &st) == 0 && S_ISDIR(st.st_mode)) {
      ::close(fd_);  // the destructor of a half-built object does not run
      throw UsageError("cannot open " + path + ": " + std::strerror(EISDIR));
    }
    owned_ = true;
  }
  FileInput(const FileInput&) = delete;
  FileInput& operator=(const FileInput&) = delete;
  ~FileInput() override {
    if (owned_) ::close(fd_);
  }

 protected:
  int_type underflow() override {
    if (gptr() == egptr()) {
      ssize_t n = 0;
      do {
        n = ::read(fd_, buffer_.data(), buffer_.size());
      } while (n < 0 && errno == EINTR);
      if (n < 0) throw std::system_error(errno, std::generic_category(), "read");
      if (n == 0) return traits_type::eof();
      setg(buffer_.data(), buffer_.data(), buffer_.data() + n);
    }
    return traits_type::to_int_type(*gptr());
  }

 private:
  int fd_ = STDIN_FILENO;
  bool owned_ = false;
  std::array<char, 64 * 1024> buffer_{};
};

struct ReplayArgs {
  std::string trace;
  std::string backend = std::string(default_backend());
};

// The backend, as a usage error: a wrong name is the first thing to fix.
void check_backend(const std::string& backend) {
  try {
    make_store(backend);
  } catch (const std::exception& e) {
    throw UsageError(e.what());
  }
}

// Runs `replay` (which reads the trace `name` from `in`), reporting a
// malformed line as a usage error and a failed read as an input error.
template <class Replay>
void reporting_trace_errors(const std::string& name, Replay replay) {
  try {
    replay();
  } catch (const trace::TraceError& e) {
    throw UsageError(e.what());  // main flushes stdout, then prints "error: line L: WHAT"
  } catch (const trace::TraceReadError& e) {
    throw InputError("line " + std::to_string(e.line()) + ": cannot read " + name + ": " +
                     e.reason());
  }
}

#if HEATKIT_HAVE_MPI

// `heatkit replay` under mpirun (tools/distributed_replay.h). Errors stay
// alike (rank 0 reports them) while every rank does the same thing on the
// same input: the arguments, then each line of the trace as it is read.
// Opening the file and making the backend can fail on some ranks only: the
// ranks agree on that (agree_on_every_rank). Running a line can fail on one
// rank too (collectives, per-rank backends): that rank reports its own error
// and ends the job.
int replay_on_ranks(const ReplayArgs& args) {
  if (args.trace == "-") {
    throw UsageError("under mpirun, replay reads a trace file, not standard input (which reaches rank 0 only)");
  }
  std::optional<FileInput> file;
  agree_on_every_rank(world(), [&] {
    check_backend(args.backend);
    file.emplace(args.trace);
  });
  std::istream in(&*file);
  trace::DistributedReplayOptions options;
  options.replay.backend = args.backend;
  options.errors_alike = set_errors_alike;
  options.warnings = &std::cerr;
  try {
    reporting_trace_errors(args.trace, [&] { trace::replay_distributed(in, std::cout, world(), options); });
  } catch (const trace::CapBelowRanks& e) {
    throw UsageError(e.what());
  }
  return kExitSuccess;  // main checks that stdout took every answer
}

#endif

}  // namespace

RunFn add_replay_command(CLI::App& app) {
  using Args = ReplayArgs;
  auto args = std::make_shared<Args>();
  CLI::App* cmd = app.add_subcommand("replay", "replay a heat trace and print the registry's answers");
  cmd->add_option("TRACE", args->trace, "the trace file, or - for standard input")->required();
  cmd->add_option("--backend", args->backend, "the registry's backend (see `heatkit backends`)")
      ->capture_default_str();
  cmd->footer(kReplayNotes);

  return [args]() -> int {
#if HEATKIT_HAVE_MPI
    if (mpi_running()) return replay_on_ranks(*args);
#endif
    // Check the backend before touching the trace: a wrong name is the first thing to fix.
    check_backend(args->backend);
    FileInput file(args->trace);
    std::istream in(&file);
    const std::string name = args->trace == "-" ? "standard input" : args->trace;
    trace::ReplayOptions options;
    options.backend = args->backend;
    reporting_trace_errors(name, [&] { trace::replay(in, std::cout, options); });
    return kExitSuccess;  // main checks that stdout took every answer
  };
}

}  // namespace heatkit::cli
