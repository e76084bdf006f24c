// A routed exchange over a communicator: each rank sends each item to the
// rank that owns it and gets the items owned by it, in one MPI_Alltoallv
// (docs/ARCHITECTURE.md, "Past one machine"). Before anything moves, an
// MPI_Alltoall tells every rank how many items it will get from whom (and
// one word from each sender: the half-life of its reads), and an
// MPI_Allreduce agrees that every rank could pack its items and can hold
// what it will get (on_every_rank): a failure on one rank is seen by all,
// and no rank has changed anything.
#pragma once

#include <mpi.h>

#include <algorithm>
#include <chrono>
#include <climits>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <span>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

#include <heatkit/distributed_registry.h>  // ExchangeStats
#include "mpi/mpi_call.h"

namespace heatkit::mpi {

// What a routed exchange leaves: the items this rank packed (`sent`, by
// destination) and those it received (`received`, by source); the items
// from source s are RoutedExchange::segment(s). A rank's items for itself
// never pass through MPI: its own segment is read where it was packed. Kept
// between calls, so the memory is reused.
template <class Wire>
struct Routed {
  std::vector<Wire> sent;
  std::vector<Wire> received;
};

class RoutedExchange {
 public:
  RoutedExchange(MPI_Comm comm, int rank, int size) : comm_(comm), rank_(rank), size_(size) {}

  // Collective. Routes n items: `validate()` checks the call's arguments,
  // `place(i)` is item i's owner, `wire(i)` its bytes; `word` goes to every
  // rank with the counts (word_from). Throws what `validate`, `place` or
  // `wire` throw on that rank and PeerRankFailed on the others, or
  // std::invalid_argument when counts pass what an int holds; MpiError.
  // Adds what it moved to `stats`.
  template <class Wire, class Validate, class Place, class Make>
  void route(const char* call, std::size_t n, std::int64_t word, Validate validate, Place place, Make wire,
             Routed<Wire>& out, ExchangeStats& stats);

  // The items of the last route() that came from `source`.
  template <class Wire>
  std::span<const Wire> segment(const Routed<Wire>& routed, int source) const {
    const auto s = static_cast<std::size_t>(source);
    if (source == rank_) {
      return std::span<const Wire>(routed.sent).subspan(static_cast<std::size_t>(send_displs_[s]),
                                                        static_cast<std::size_t>(headers_out_[s].count));
    }
    return std::span<const Wire>(routed.received)
        .subspan(static_cast<std::size_t>(recv_displs_[s]), static_cast<std::size_t>(recv_counts_[s]));
  }

  // The word `source` sent with its counts in the last route().
  std::int64_t word_from(int source) const { return headers_in_[static_cast<std::size_t>(source)].word; }

 private:
  struct Header {
    std::int64_t count;
    std::int64_t word;
  };

  MPI_Comm comm_;
  int rank_;
  int size_;
  // Scratch, reused.
  std::vector<int> owners_;
  std::vector<Header> headers_out_, headers_in_;
  std::vector<int> send_counts_, send_displs_, recv_counts_, recv_displs_, next_;
};

template <class Wire, class Validate, class Place, class Make>
void RoutedExchange::route(const char* call, std::size_t n, std::int64_t word, Validate validate, Place place,
                           Make wire, Routed<Wire>& out, ExchangeStats& stats) {
  using Clock = std::chrono::steady_clock;
  // Bytes MPI moves: no pointers, nothing to run on copy or destruction.
  static_assert(std::is_standard_layout_v<Wire> && std::is_trivially_destructible_v<Wire> &&
                std::is_trivially_copy_constructible_v<Wire>);
  const auto ranks = static_cast<std::size_t>(size_);
  const auto me = static_cast<std::size_t>(rank_);
  headers_out_.assign(ranks, Header{0, word});
  headers_in_.assign(ranks, Header{0, 0});

  // Pack by destination. A failure here (arguments, a batch too big to
  // count in an int, an allocation) is agreed on below, before any item
  // moves.
  std::exception_ptr packing;
  try {
    validate();
    if (n > static_cast<std::size_t>(INT_MAX)) {
      throw std::invalid_argument(std::string(call) + ": " + std::to_string(n) +
                                  " items in one call on rank " + std::to_string(rank_) +
                                  ", more than 2^31 - 1: split it");
    }
    owners_.resize(n);
    send_counts_.assign(ranks, 0);
    for (std::size_t i = 0; i < n; ++i) {
      owners_[i] = place(i);
      ++send_counts_[static_cast<std::size_t>(owners_[i])];
    }
    send_displs_.assign(ranks, 0);
    for (std::size_t d = 1; d < ranks; ++d) send_displs_[d] = send_displs_[d - 1] + send_counts_[d - 1];
    out.sent.resize(n);
    next_.assign(send_displs_.begin(), send_displs_.end());
    for (std::size_t i = 0; i < n; ++i) {
      out.sent[static_cast<std::size_t>(next_[static_cast<std::size_t>(owners_[i])]++)] = wire(i);
    }
    for (std::size_t d = 0; d < ranks; ++d) headers_out_[d].count = send_counts_[d];
  } catch (...) {
    packing = std::current_exception();
    for (Header& h : headers_out_) h.count = 0;
    send_counts_.assign(ranks, 0);
    send_displs_.assign(ranks, 0);
  }

  const auto start = Clock::now();
  check(MPI_Alltoall(headers_out_.data(), sizeof(Header), MPI_BYTE, headers_in_.data(), sizeof(Header),
                     MPI_BYTE, comm_),
        "MPI_Alltoall", rank_);
  on_every_rank(comm_, rank_, call, [&] {
    if (packing) std::rethrow_exception(packing);
    recv_counts_.assign(ranks, 0);
    recv_displs_.assign(ranks, 0);
    std::int64_t total = 0;
    for (std::size_t s = 0; s < ranks; ++s) {
      if (s == me) continue;  // read in place: segment()
      recv_displs_[s] = static_cast<int>(std::min<std::int64_t>(total, INT_MAX));
      recv_counts_[s] = static_cast<int>(headers_in_[s].count);
      total += headers_in_[s].count;
    }
    if (total > INT_MAX) {
      throw std::invalid_argument(std::string(call) + ": rank " + std::to_string(rank_) + " would receive " +
                                  std::to_string(total) + " items in one call, more than 2^31 - 1: " +
                                  "split the batches");
    }
    out.received.resize(static_cast<std::size_t>(total));
  });
  // What a rank sends itself stays where it was packed.
  const int own = send_counts_[me];
  send_counts_[me] = 0;
  MPI_Datatype item = MPI_DATATYPE_NULL;
  check(MPI_Type_contiguous(sizeof(Wire), MPI_BYTE, &item), "MPI_Type_contiguous", rank_);
  check(MPI_Type_commit(&item), "MPI_Type_commit", rank_);
  const int code = MPI_Alltoallv(out.sent.data(), send_counts_.data(), send_displs_.data(), item,
                                 out.received.data(), recv_counts_.data(), recv_displs_.data(), item, comm_);
  MPI_Type_free(&item);
  send_counts_[me] = own;
  check(code, "MPI_Alltoallv", rank_);
  stats.seconds += std::chrono::duration<double>(Clock::now() - start).count();

  ++stats.exchanges;
  const std::uint64_t others = ranks - 1;
  std::uint64_t sent = others * sizeof(Header);
  std::uint64_t received = others * sizeof(Header);
  for (std::size_t r = 0; r < ranks; ++r) {
    if (r == me) continue;
    sent += static_cast<std::uint64_t>(send_counts_[r]) * sizeof(Wire);
    received += static_cast<std::uint64_t>(recv_counts_[r]) * sizeof(Wire);
  }
  stats.bytes_sent += sent;
  stats.bytes_received += received;
}

}  // namespace heatkit::mpi
