// MPI calls that throw: every call the distributed registry makes returns its
// code (the registry's communicator has MPI_ERRORS_RETURN), and a failure
// becomes an MpiError naming the call and the rank.
#pragma once

#include <mpi.h>

#include <climits>
#include <exception>
#include <string_view>
#include <utility>

#include <heatkit/distributed_registry.h>

namespace heatkit::mpi {

// Throws MpiError(call, rank, code) unless `code` is MPI_SUCCESS.
inline void check(int code, const char* call, int rank) {
  if (code != MPI_SUCCESS) throw MpiError(call, rank, code);
}

// When rank `failed`'s error is a SnapshotError, every rank of `comm` throws
// it, its message prefixed with `call` and the rank; otherwise returns on
// every rank. Collective (MPI_Bcast from `failed`).
void throw_if_snapshot_error(MPI_Comm comm, int rank, int failed, std::string_view call,
                             const std::exception_ptr& error);

// Runs `step` on every rank of `comm` and agrees on how it went (one
// MPI_Allreduce): when it threw on some ranks, the lowest of them rethrows
// its own error and every other rank throws PeerRankFailed naming it. So a
// failure on one rank is seen by all before any data moves, and a failure
// on many (a backend no node has) is one error, not one per rank. A
// SnapshotError is thrown by every rank instead, naming the rank: a rank
// file that cannot be read or written is the snapshot's problem on all.
template <class Step>
void on_every_rank(MPI_Comm comm, int rank, const char* call, Step&& step) {
  std::exception_ptr error;
  try {
    std::forward<Step>(step)();
  } catch (...) {
    error = std::current_exception();
  }
  int mine = error ? rank : INT_MAX;
  int first = INT_MAX;
  check(MPI_Allreduce(&mine, &first, 1, MPI_INT, MPI_MIN, comm), "MPI_Allreduce", rank);
  if (first == INT_MAX) return;
  throw_if_snapshot_error(comm, rank, first, call, error);
  if (first == rank) std::rethrow_exception(error);
  throw PeerRankFailed(call, rank, first);
}

}  // namespace heatkit::mpi
