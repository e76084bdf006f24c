#include "mpi/mpi_call.h"

#include <cstdio>
#include <iostream>
#include <string>

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
