#include "mpi/mpi_call.h"

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <iostream>
#include <string>

#include <heatkit/snapshot.h>

namespace heatkit {
namespace {

std::string describe(const std::string& call, int rank, int code) {
  char text[MPI_MAX_ERROR_STRING] = {};
  int length = 0;
  if (MPI_Error_string(code, text, &length) != MPI_SUCCESS) length = 0;
  return call + " failed on rank " + std::to_string(rank) + ": " +
         (length > 0 ? std::string(text, static_cast<std::size_t>(length))
                     : "MPI error " + std::to_string(code));
}

}  // namespace

MpiError::MpiError(std::string call, int rank, int code)
    : std::runtime_error(describe(call, rank, code)), call_(std::move(call)), rank_(rank), code_(code) {}

PeerRankFailed::PeerRankFailed(std::string_view call, int rank, int failed_rank)
    : std::runtime_error(std::string(call) + ": rank " + std::to_string(failed_rank) +
                         " failed (it reports why); rank " + std::to_string(rank) + " stopped too"),
      failed_rank_(failed_rank) {}

namespace mpi {

void throw_if_snapshot_error(MPI_Comm comm, int rank, int failed, std::string_view call,
                             const std::exception_ptr& error) {
  struct Head {
    std::int32_t is_snapshot_error = 0;
    std::int32_t problem = 0;
    std::uint64_t length = 0;
  } head;
  std::string message;
  if (rank == failed) {
    try {
      std::rethrow_exception(error);
    } catch (const SnapshotError& e) {
      message = e.what();
      message.resize(std::min<std::size_t>(message.size(), 1 << 16));  // a message, not a payload
      head = {1, static_cast<std::int32_t>(e.problem()), message.size()};
    } catch (...) {  // not a snapshot's: the caller reports it
    }
  }
  check(MPI_Bcast(&head, sizeof head, MPI_BYTE, failed, comm), "MPI_Bcast", rank);
  if (head.is_snapshot_error == 0) return;
  message.resize(head.length);
  check(MPI_Bcast(message.data(), static_cast<int>(head.length), MPI_CHAR, failed, comm), "MPI_Bcast", rank);
  int size = 0;
  check(MPI_Comm_size(comm, &size), "MPI_Comm_size", rank);
  throw SnapshotError(static_cast<SnapshotProblem>(head.problem),
                      std::string(call) + ": rank " + std::to_string(failed) + " of " + std::to_string(size) +
                          ": " + message);
}

}  // namespace mpi

void abort_job(MPI_Comm comm, std::string_view what, int status) {
  int rank = -1;
  int size = 0;
  MPI_Comm_rank(comm, &rank);
  MPI_Comm_size(comm, &size);
  std::cout.flush();
  std::cerr << "error: rank " << rank << " of " << size << ": " << what << '\n';
  std::cerr.flush();
  MPI_Abort(comm, status == 0 ? 1 : status);
  std::_Exit(status == 0 ? 1 : status);  // MPI_Abort does not return; if it did, end anyway
}

}  // namespace heatkit
