// The structure-of-arrays counter store: one column per field, indexed by slot.
// A store knows nothing of keys; the registry maps keys to slots. Backends
// differ in where the columns live (host or device) and which kernels run the
// bulk passes; the registry talks to every store through this interface.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <new>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "util/huge_page_allocator.h"
#include "store/last_updates.h"
#include "util/prefetch.h"
#include "math/counter_math.h"
#include "math/forward_math.h"

namespace heatkit {

using Slot = std::uint32_t;

// One counter's state as read back from a store.
struct CounterState {
  double rate = 0.0;
  std::int64_t last_update = 0;
  bool has_emitted = false;
  double last_emitted = 0.0;
  std::int64_t half_life = 0;
  bool in_flight = false;
};

// A slot's state from its five column values.
constexpr CounterState counter_state(double rate, std::int64_t last_update, double last_emitted,
                                     std::int64_t half_life, std::uint8_t flags) noexcept {
  return CounterState{rate,         last_update, (flags & kHasEmitted) != 0,
                      last_emitted, half_life,   (flags & kInFlight) != 0};
}

// What CounterStore::tick throws when it ran over every counter but could
// not keep all of its candidates (no memory for them): the tick happened
// (every counter decayed to its instant), no candidate is marked in flight,
// and what the caller's list holds is not to be used.
class TickCandidatesLost : public std::bad_alloc {
 public:
  const char* what() const noexcept override {
    return "heat counter store: the tick's candidates could not be kept (out of memory)";
  }
};

class CounterStore {
 public:
  virtual ~CounterStore() = default;

  // The backend's name, as `make_store` takes it.
  virtual std::string_view backend() const noexcept = 0;

  // Slots [0, slot_count()) exist. Grows to at least `n`, keeping contents;
  // new slots are empty (rate 0, no emission, no flags). Never shrinks. On
  // failure (std::bad_alloc) the slots and their contents are as they were
  // (columns may have moved: host_columns() again).
  virtual void ensure_slots(std::size_t n) = 0;
  virtual std::size_t slot_count() const noexcept = 0;

  // Per-slot operations (SEMANTICS.md "Counter").
  virtual void init(Slot slot, std::int64_t half_life, std::int64_t now) = 0;
  virtual void clear(Slot slot) = 0;  // empty again: ignored by tick and prune
  virtual void bump(Slot slot, std::int64_t now) = 0;
  virtual void decay_to(Slot slot, std::int64_t now) = 0;
  virtual void record(Slot slot, Decision kind, double rate) = 0;  // Emit: rate; Withdraw: 0
  virtual void set_in_flight(Slot slot, bool in_flight) = 0;
  virtual CounterState read(Slot slot) const = 0;
  // read() of slots [first, first + out.size()) into `out`, in one go: a
  // device store copies each column's range back at once and synchronizes
  // once, where read() costs a round trip per slot. Throws std::out_of_range
  // (check_read_range) when the range passes slot_count(); an empty range
  // ending there reads nothing.
  virtual void read_range(Slot first, std::span<CounterState> out) const = 0;
  // The reverse, for loading a snapshot: slots [first, first + states.size())
  // become live counters with these states (rate at last_update, the
  // emission, the half-life), none in flight, as if each had been built by
  // SEMANTICS.md's operations. Throws std::out_of_range like read_range.
  virtual void write_range(Slot first, std::span<const CounterState> states) = 0;

  // Bulk passes over every slot. `tick` decays all counters to params.now and
  // appends the candidates in slot order; `collect_prunable` appends the slots
  // commit must prune, in slot order. A host store's tick throws either with
  // nothing changed or TickCandidatesLost; collect_prunable changes nothing.
  virtual void tick(const TickParams& params, std::vector<Candidate>& out) = 0;
  virtual void collect_prunable(std::vector<Slot>& out) = 0;
  // Whether commit must prune `slot`: collect_prunable's test for one slot
  // (for a commit with no memory for the list).
  virtual bool prunable(Slot slot) const {
    const CounterState s = read(slot);
    return is_prunable(s.rate, s.has_emitted, s.last_emitted);
  }

  // The last_update column readable on the host, exact after every call above
  // (store/last_updates.h). The registry's LRU order reads it. Valid until the
  // next call that changes the store.
  virtual LastUpdates last_update_host() const noexcept = 0;

  // Bytes this store holds for its columns (host and device together) and
  // the scratch of its bulk passes.
  virtual std::size_t memory_bytes() const noexcept = 0;

  // The columns, when they live in host memory and a per-slot bump may be
  // applied to them directly with `bump_columns` (the registry's bump path
  // does: no virtual call per read, and a batch can prefetch them). Nothing
  // for a store whose columns live elsewhere. Invalidated by ensure_slots.
  virtual std::optional<CounterColumns> host_columns() noexcept { return std::nullopt; }

  // Threads the bulk passes may use (0 = every hardware thread). Results and
  // their order do not depend on it. Stores that do not split work ignore it.
  virtual void set_threads(unsigned threads) { (void)threads; }
};

// The precondition of CounterStore::read_range, for every store alike.
inline void check_read_range(std::string_view store, Slot first, std::size_t count,
                             std::size_t slot_count) {
  if (first > slot_count || count > slot_count - first) {
    throw std::out_of_range(std::string(store) + ": cannot read slots [" + std::to_string(first) +
                            ", " + std::to_string(std::size_t{first} + count) + ") of " +
                            std::to_string(slot_count));
  }
}

// A bump on host columns for a caller that knows the slot's half-life (it
// must equal c.half_life[slot]): one cache line fewer to read. SEMANTICS.md
// "bump" on literal columns; forward_bump on a forward store's (c.frame set).
// HostCounterStore::bump is this; the registry calls it through
// host_columns(). Forced inline, as the batch loop's other steps are
// (registry.h, bump_each).
[[gnu::always_inline]] inline void bump_columns(const CounterColumns& c, Slot slot,
                                                std::int64_t now, std::int64_t half_life) noexcept {
  if (c.frame != nullptr) {
    c.frame->note_bump(now);
    forward_bump(c.rate[slot], c.last_update[slot], half_life, now, 1.0, *c.frame);
    return;
  }
  c.rate[slot] = bumped_rate(c.rate[slot], c.last_update[slot], now, half_life);
  c.last_update[slot] = now;
}
// The same, reading the half-life column.
inline void bump_columns(const CounterColumns& c, Slot slot, std::int64_t now) noexcept {
  bump_columns(c, slot, now, c.half_life[slot]);
}

// Asks for the cache lines a bump of `slot` reads and writes (the half-life
// too unless the caller knows it).
[[gnu::always_inline]] inline void prefetch_for_bump(const CounterColumns& c, Slot slot,
                                                     bool half_life_known = false) noexcept {
  prefetch_for_write(c.rate + slot);
  prefetch_for_write(c.last_update + slot);
  if (!half_life_known) prefetch_for_read(c.half_life + slot);
}

// The bulk passes of a host-memory backend: free functions over columns.
// Kernels that spread a pass over threads themselves (Thrust on OpenMP) set
// the `_threaded` pair instead: the store calls them once over all columns
// with its thread count (0 = every hardware thread) rather than splitting
// the columns into chunks on its own pool.
//
// A tick never stops part way: it throws only before it changes a column
// (nothing changed), and where its list cannot grow (std::bad_alloc) it
// runs on over every counter without keeping more candidates and returns
// false (with p.mark_in_flight, the candidates it dropped may be marked:
// the store marks from the list instead). A collect_prunable changes
// nothing, and may throw.
struct HostKernels {
  bool (*tick)(const CounterColumns&, const TickParams&, std::vector<Candidate>&) = nullptr;
  void (*collect_prunable)(const CounterColumns&, std::vector<std::uint32_t>&) = nullptr;
  bool (*tick_threaded)(const CounterColumns&, const TickParams&, std::vector<Candidate>&,
                        unsigned threads) = nullptr;
  void (*collect_prunable_threaded)(const CounterColumns&, std::vector<std::uint32_t>&,
                                    unsigned threads) = nullptr;
};

// How a host store's rate column holds a counter's rate.
enum class Representation {
  kLiteral,  // the rate at last_update (SEMANTICS.md as written): `scalar`
  kForward,  // forward decay against a landmark (math/forward_math.h)
};

// Columns in host memory. The per-slot operations are the counter_math.h
// functions (forward_math.h's for a forward store); the bulk passes are the
// backend's kernels, except a forward store's relayout tick, which is the
// same for every backend (rare: it runs here, over chunks on the pool).
class HostCounterStore final : public CounterStore {
 public:
  HostCounterStore(std::string_view backend, HostKernels kernels,
                   Representation representation = Representation::kLiteral)
      : backend_(backend), kernels_(kernels), forward_(representation == Representation::kForward) {}

  std::string_view backend() const noexcept override { return backend_; }
  void ensure_slots(std::size_t n) override;
  std::size_t slot_count() const noexcept override { return rate_.size(); }

  void init(Slot slot, std::int64_t half_life, std::int64_t now) override;
  void clear(Slot slot) override;
  void bump(Slot slot, std::int64_t now) override;
  void decay_to(Slot slot, std::int64_t now) override;
  void record(Slot slot, Decision kind, double rate) override;
  void set_in_flight(Slot slot, bool in_flight) override;
  CounterState read(Slot slot) const override;
  void read_range(Slot first, std::span<CounterState> out) const override;
  // A forward store keeps each written counter literally (its rate at its
  // last_update, exactly); its next tick converts it, as after a bump back in time.
  void write_range(Slot first, std::span<const CounterState> states) override;

  // The kernels run without marking; the candidates are marked in flight
  // from the list once it holds all of them (so a tick that cannot keep
  // them, TickCandidatesLost, marks none).
  void tick(const TickParams& params, std::vector<Candidate>& out) override;
  void collect_prunable(std::vector<Slot>& out) override;
  bool prunable(Slot slot) const override;

  LastUpdates last_update_host() const noexcept override {
    if (forward_) return LastUpdates::forward(last_update_.data(), rate_.data(), frame_.tick_instant);
    return last_update_.data();
  }
  std::size_t memory_bytes() const noexcept override;

  void set_threads(unsigned threads) override { threads_ = threads; }
  std::optional<CounterColumns> host_columns() noexcept override { return columns(); }

  // The raw columns, for kernels and tests (a forward store's carry its frame).
  CounterColumns columns() noexcept;
  // A forward store's frame; nullptr for a literal store.
  const ForwardFrame* forward_frame() const noexcept { return forward_ ? &frame_ : nullptr; }

 private:
  bool tick_with_kernels(const TickParams& params, std::vector<Candidate>& out);

  std::string_view backend_;
  HostKernels kernels_;
  unsigned threads_ = 0;  // 0 = every hardware thread
  bool forward_;
  ForwardFrame frame_;  // a forward store's landmark and tick bookkeeping
  // On huge pages once large: a bump reads three columns at a random slot.
  HugePageVector<double> rate_;
  HugePageVector<std::int64_t> last_update_;
  HugePageVector<double> last_emitted_;
  HugePageVector<std::int64_t> half_life_;
  HugePageVector<std::uint8_t> flags_;
  // Per-chunk outputs of multi-threaded passes (chunk 0 writes to the
  // caller's buffer), kept across passes; counted in memory_bytes.
  std::vector<std::vector<Candidate>> tick_parts_;
  std::vector<std::vector<Slot>> prune_parts_;
};

}  // namespace heatkit
