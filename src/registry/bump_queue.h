// The registry's bump queue (RegistryOptions::bump_queue): reads made by
// entry() that wait to be applied together by the batch pipeline
// (registry/batch_pipeline.h), each with the bump its entry may have joined
// to it, and the tickets that let an entry find its read again.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "registry/key_hash.h"

namespace heatkit {

template <class Key>
class BumpQueue {
 public:
  // A read waiting in the queue: entry(key, half_life, created_at), hashing
  // to `hash` (under the index's hash when it was queued: the index is not
  // rehashed while reads wait), and its bump at bumped_at if `bumps`.
  struct Read {
    Key key;
    std::uint64_t hash;
    std::int64_t half_life;
    std::int64_t created_at;
    std::int64_t bumped_at;
    bool bumps;
  };
  // The number of a read: how many reads were queued before it.
  using Ticket = std::uint64_t;

  // The queued reads as a batch source (registry/batch_pipeline.h), hashed
  // under the secret `seed`; `done` hears how many reads are applied.
  struct Source {
    std::span<const Read> reads;
    std::uint64_t seed;  // of the hash the reads were queued under
    std::size_t* done;   // reads applied so far, for a read that throws
    std::size_t size() const noexcept { return reads.size(); }
    const Key& key(std::size_t i) const noexcept { return reads[i].key; }
    template <class Hasher>
    std::uint64_t hash(std::size_t i, const Hasher& h) const noexcept {
      return hash_under(h, reads[i].key, reads[i].hash, seed);
    }
    std::int64_t now(std::size_t i) const noexcept { return reads[i].created_at; }
    std::int64_t half_life(std::size_t i) const noexcept { return reads[i].half_life; }
    bool bumps(std::size_t i) const noexcept { return reads[i].bumps; }
    std::int64_t bump_at(std::size_t i) const noexcept { return reads[i].bumped_at; }
    void applied(std::size_t k) const noexcept { *done = k; }
  };

  explicit BumpQueue(std::size_t limit = 0) : limit_(limit) {}

  // Reads that may wait; 0: none (every read is applied at its call).
  std::size_t limit() const noexcept { return limit_; }
  bool enabled() const noexcept { return limit_ > 0; }
  // Sets the limit; the caller applies the queued reads first. A limit of 0
  // gives the queue's memory back.
  void set_limit(std::size_t limit) {
    limit_ = limit;
    if (limit == 0) std::vector<Read>().swap(reads_);
  }

  std::size_t size() const noexcept { return reads_.size(); }
  bool empty() const noexcept { return reads_.empty(); }
  // `limit()` reads wait: apply them before queuing another.
  bool full() const noexcept { return reads_.size() >= limit_; }
  std::size_t memory_bytes() const noexcept { return reads_.capacity() * sizeof(Read); }

  // Queues entry(key, half_life, now) without a bump; returns its ticket.
  Ticket push(const Key& key, std::uint64_t hash, std::int64_t half_life, std::int64_t now) {
    reads_.push_back(Read{key, hash, half_life, now, 0, false});
    return next_ticket_++;
  }

  // Entry::bump right after its entry(): joins a bump at `now` to the read
  // `ticket` if it is the last one queued and has no bump yet. False when
  // the bump must be applied on its own (the read was applied, or others
  // were queued since).
  bool join_bump(Ticket ticket, std::int64_t now) noexcept {
    if (reads_.empty() || ticket + 1 != next_ticket_ || reads_.back().bumps) return false;
    reads_.back().bumped_at = now;
    reads_.back().bumps = true;
    return true;
  }

  // Applies the queued reads in order by bump_each(Source{..., seed, ...}),
  // then empties the queue. When bump_each throws, the reads before the one
  // that threw are done and leave the queue; that one is dropped (as if its
  // entry() had thrown: a read fails with nothing changed); the later ones
  // stay queued. Dropping them allocates nothing.
  template <class BumpEach>
  void apply(std::uint64_t seed, BumpEach&& bump_each) {
    std::size_t applied = 0;
    try {
      bump_each(Source{reads_, seed, &applied});
    } catch (...) {
      reads_.erase(reads_.begin(),
                   reads_.begin() + static_cast<std::ptrdiff_t>(std::min(applied + 1, reads_.size())));
      throw;
    }
    reads_.clear();
  }

 private:
  std::size_t limit_;
  std::vector<Read> reads_;  // not applied yet, in call order
  Ticket next_ticket_ = 0;   // reads ever queued: the next one's ticket
};

}  // namespace heatkit
