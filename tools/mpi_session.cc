#include "tools/mpi_session.h"

#include <climits>
#include <cstdint>
#include <cstdlib>
#include <iostream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <heatkit/backend.h>
#include <heatkit/policy.h>
#include "tools/command.h"
#if HEATKIT_HAVE_MPI
#include <heatkit/distributed_registry.h>
#endif

namespace heatkit::cli {
namespace {

bool g_running = false;
bool g_errors_alike = true;
int g_rank = 0;
int g_size = 1;

}  // namespace

bool launched_by_mpi() noexcept {
  // Open MPI's mpirun, then PMIx and PMI launchers (MPICH's Hydra, Slurm).
  for (const char* name : {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK", "PMI_SIZE"}) {
    if (std::getenv(name) != nullptr) return true;
  }
  return false;
}

bool mpi_running() noexcept { return g_running; }
int world_rank() noexcept { return g_rank; }
int world_size() noexcept { return g_size; }
void set_errors_alike(bool alike) noexcept { g_errors_alike = alike; }
bool errors_alike() noexcept { return g_errors_alike; }

#if HEATKIT_HAVE_MPI

MPI_Comm world() noexcept { return g_running ? MPI_COMM_WORLD : MPI_COMM_NULL; }

MpiSession::MpiSession(int& argc, char**& argv) {
  if (!launched_by_mpi()) return;
  int provided = 0;
  if (MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS) {
    throw std::runtime_error("MPI_Init_thread failed");
  }
  g_running = true;
  MPI_Comm_rank(MPI_COMM_WORLD, &g_rank);
  MPI_Comm_size(MPI_COMM_WORLD, &g_size);
}

MpiSession::~MpiSession() {
  if (g_running) MPI_Finalize();
  g_running = false;
}

std::string arguments_differ_between_ranks(int argc, char** argv) {
  if (!g_running) return {};
  // FNV-1a over the arguments, each ended by a zero byte.
  std::uint64_t hash = 0xcbf29ce484222325ULL;
  for (int i = 1; i < argc; ++i) {
    for (const char* c = argv[i];; ++c) {
      hash = (hash ^ static_cast<unsigned char>(*c)) * 0x100000001b3ULL;
      if (*c == '\0') break;
    }
  }
  std::vector<std::uint64_t> all(static_cast<std::size_t>(g_size));
  if (MPI_Allgather(&hash, 1, MPI_UINT64_T, all.data(), 1, MPI_UINT64_T, MPI_COMM_WORLD) != MPI_SUCCESS) {
    return "MPI_Allgather failed while comparing the ranks' arguments";
  }
  for (std::size_t r = 1; r < all.size(); ++r) {
    if (all[r] != all[0]) {
      return "rank " + std::to_string(r) + " was started with other arguments than rank 0: " +
             "run every rank with the same command line";
    }
  }
  return {};
}

void agree_on_every_rank(MPI_Comm comm, const std::function<void()>& step) {
  enum Kind : int { kOk, kUsage, kFailure, kPeerFailed };
  Kind kind = kOk;
  std::string message;
  try {
    step();
  } catch (const UsageError& e) {
    kind = kUsage, message = e.what();
  } catch (const InvalidPolicy& e) {
    kind = kUsage, message = e.what();
  } catch (const UnknownBackend& e) {
    kind = kUsage, message = e.what();
  } catch (const BackendUnavailable& e) {
    kind = kUsage, message = e.what();
  } catch (const PeerRankFailed& e) {
    kind = kPeerFailed, message = e.what();
  } catch (const std::exception& e) {
    kind = kFailure, message = e.what();
  } catch (...) {
    kind = kFailure, message = "unexpected failure";
  }
  int rank = 0;
  int ranks = 1;
  MPI_Comm_rank(comm, &rank);
  MPI_Comm_size(comm, &ranks);
  const bool own = kind == kUsage || kind == kFailure;
  // The lowest rank whose failure is its own, the lowest that failed at all,
  // and whether every rank failed on its own (the least of the flags).
  int mine[3] = {own ? rank : INT_MAX, kind != kOk ? rank : INT_MAX, own ? 1 : 0};
  int first[3] = {};
  if (MPI_Allreduce(mine, first, 3, MPI_INT, MPI_MIN, comm) != MPI_SUCCESS) {
    throw std::runtime_error("MPI_Allreduce failed on rank " + std::to_string(rank));
  }
  if (first[1] == INT_MAX) return;
  const int from = first[0] != INT_MAX ? first[0] : first[1];
  int head[2] = {kind, static_cast<int>(message.size())};
  MPI_Bcast(head, 2, MPI_INT, from, comm);
  message.resize(static_cast<std::size_t>(head[1]));
  MPI_Bcast(message.data(), head[1], MPI_CHAR, from, comm);
  if (first[2] == 0) message = "rank " + std::to_string(from) + " of " + std::to_string(ranks) + ": " + message;
  if (head[0] == kUsage) throw UsageError(message);
  throw std::runtime_error(message);
}

bool report_failure_under_mpi(const char* message, int status, bool peer_failed) {
  if (!g_running) return true;
  if (g_errors_alike) return g_rank == 0;
  std::cout.flush();
  if (peer_failed) {
    // The rank that failed prints its error and aborts the job: wait for it.
    MPI_Barrier(MPI_COMM_WORLD);
  } else {
    std::cerr << "error: rank " << g_rank << " of " << g_size << ": " << message << '\n';
    std::cerr.flush();
  }
  MPI_Abort(MPI_COMM_WORLD, status == 0 ? 1 : status);
  std::_Exit(status == 0 ? 1 : status);
}

#else

MpiSession::MpiSession(int&, char**&) {
  if (!launched_by_mpi()) return;
  // Said once, by the launcher's first rank.
  for (const char* name : {"OMPI_COMM_WORLD_RANK", "PMIX_RANK", "PMI_RANK"}) {
    if (const char* rank = std::getenv(name); rank != nullptr && std::string_view(rank) != "0") return;
  }
  std::cerr << "warning: heatkit was built without MPI (HEATKIT_ENABLE_MPI=OFF): under an MPI launcher "
               "each rank runs the whole command alone\n";
}
MpiSession::~MpiSession() = default;
std::string arguments_differ_between_ranks(int, char**) { return {}; }
bool report_failure_under_mpi(const char*, int, bool) { return true; }

#endif

}  // namespace heatkit::cli
