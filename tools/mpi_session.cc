#include "tools/mpi_session.h"

#include <cstdint>
#include <cstdlib>
#include <iostream>
#include <stdexcept>
#include <string>
#include <vector>

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

MpiSession::MpiSession(int&, char**&) {}
MpiSession::~MpiSession() = default;
std::string arguments_differ_between_ranks(int, char**) { return {}; }
bool report_failure_under_mpi(const char*, int, bool) { return true; }

#endif

}  // namespace heatkit::cli
