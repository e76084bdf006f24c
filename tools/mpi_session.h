// The CLI under an MPI launcher: `mpirun -np N heatkit simulate|replay ...`.
//
// main() starts MPI only when a launcher started the process (its
// environment says so), so a plain `heatkit ...` never touches MPI. Under
// a launcher the commands that can run sharded (simulate, replay) take the
// distributed path, even with one rank; the others run on every rank, and
// only rank 0 prints.
//
// Errors: at first every rank has the same options and input, so an error is
// one that every rank throws alike: rank 0 reports it, every rank ends MPI
// normally with that exit status. Once a command starts work a rank can fail
// at alone (set_errors_alike(false)), a failing rank prints
// `error: rank R of N: WHAT` and ends the job with MPI_Abort; a rank that
// only learned that another failed (PeerRankFailed) waits for that abort.
#pragma once

#include <functional>
#include <string>

#if HEATKIT_HAVE_MPI
#include <mpi.h>
#endif

namespace heatkit::cli {

// Whether an MPI launcher (Open MPI's mpirun, a PMI/PMIx launcher such as
// MPICH's mpiexec or Slurm's srun) started this process.
bool launched_by_mpi() noexcept;

// Whether MPI is running in this process (main started it).
bool mpi_running() noexcept;
// This process's rank and the number of ranks: 0 and 1 without MPI.
int world_rank() noexcept;
int world_size() noexcept;

// See the header comment. True from the start.
void set_errors_alike(bool alike) noexcept;
bool errors_alike() noexcept;

#if HEATKIT_HAVE_MPI
// MPI_COMM_WORLD while MPI runs, MPI_COMM_NULL otherwise.
MPI_Comm world() noexcept;

// Collective: runs `step` on every rank of `comm` and agrees on how it went
// (one MPI_Allreduce; two MPI_Bcast when it failed), for work a rank can
// fail at alone (opening a file, making a backend, checking its memory).
// When it threw anywhere, every rank throws the same error, that of the
// lowest rank whose error was its own (not PeerRankFailed): a UsageError
// where main would exit 2 for it, else std::runtime_error, prefixed
// "rank R of N: " unless every rank failed on its own. So rank 0 reports it
// once and every rank ends alike, with no rank left in a collective.
void agree_on_every_rank(MPI_Comm comm, const std::function<void()>& step);
#endif

// Starts MPI when launched_by_mpi() (and this build has MPI); ends it in the
// destructor, which main reaches only when every rank ends alike. Throws
// std::runtime_error when MPI fails to start. In a build without MPI under a
// launcher, warns (once) that every rank runs alone.
class MpiSession {
 public:
  MpiSession(int& argc, char**& argv);
  MpiSession(const MpiSession&) = delete;
  MpiSession& operator=(const MpiSession&) = delete;
  ~MpiSession();
};

// Under MPI (collective): empty when every rank was started with the same
// arguments (argv[1..]; the program's path may differ), else an error that
// names the first rank whose arguments differ from rank 0's. Empty without MPI.
std::string arguments_differ_between_ranks(int argc, char** argv);

// After a command failed with `message` and exit `status` under MPI: reports
// it as the header comment says and, when the ranks are out of step, never
// returns. Returns whether this rank should print the error itself.
bool report_failure_under_mpi(const char* message, int status, bool peer_failed);

}  // namespace heatkit::cli
