#include "store/counter_store.h"

#include <algorithm>
#include <atomic>
#include <exception>
#include <mutex>
#include <new>

#include "math/slot_ops.h"
#include "util/thread_pool.h"
#include "util/try_append.h"

namespace heatkit {

void HostCounterStore::ensure_slots(std::size_t n) {
  // Each column grows on its own, keeping its contents when it cannot; the
  // rate column, whose size is slot_count(), goes last, so the slot count
  // changes only once every column has the slots. A column grown by an
  // attempt that failed later just has spare slots, and is not grown again.
  grow_exact(last_update_, n);
  grow_exact(last_emitted_, n);
  grow_exact(half_life_, n);
  grow_exact(flags_, n);
  grow_exact(rate_, n);
}

// The per-slot operations are math/slot_ops.h's, which the device store's
// flush kernel runs too.
void HostCounterStore::init(Slot slot, std::int64_t half_life, std::int64_t now) {
  init_slot(columns(), slot, half_life, now);
  if (!forward_) return;
  frame_.note_write(now);
  if (half_life > 0 && half_life < frame_.shortest_half_life) frame_.shortest_half_life = half_life;
  forward_init(rate_[slot], last_update_[slot], now, frame_);
}

void HostCounterStore::clear(Slot slot) { clear_slot(columns(), slot); }

void HostCounterStore::decay_to(Slot slot, std::int64_t now) {
  if (!forward_) {
    decay_slot_to(columns(), slot, now);
    return;
  }
  frame_.note_write(now);
  forward_decay_to(rate_[slot], last_update_[slot], half_life_[slot], now, frame_);
}

void HostCounterStore::bump(Slot slot, std::int64_t now) { bump_columns(columns(), slot, now); }

void HostCounterStore::record(Slot slot, Decision kind, double rate) {
  record_slot(columns(), slot, kind, rate);
}

void HostCounterStore::set_in_flight(Slot slot, bool in_flight) {
  set_slot_in_flight(columns(), slot, in_flight);
}

CounterState HostCounterStore::read(Slot slot) const {
  if (forward_) {
    const LiteralState literal = forward_decode(rate_[slot], last_update_[slot], half_life_[slot], frame_);
    return counter_state(literal.rate, literal.last_update, last_emitted_[slot], half_life_[slot],
                         flags_[slot]);
  }
  return counter_state(rate_[slot], last_update_[slot], last_emitted_[slot], half_life_[slot],
                       flags_[slot]);
}

void HostCounterStore::write_range(Slot first, std::span<const CounterState> states) {
  check_read_range(backend_, first, states.size(), slot_count());
  for (std::size_t i = 0; i < states.size(); ++i) {
    const CounterState& state = states[i];
    const std::size_t slot = first + i;
    rate_[slot] = forward_ ? -state.rate : state.rate;  // forward: literal, -rate (-0.0 for 0)
    last_update_[slot] = state.last_update;
    last_emitted_[slot] = state.has_emitted ? state.last_emitted : 0.0;
    half_life_[slot] = state.half_life;
    flags_[slot] = static_cast<std::uint8_t>(kLive | (state.has_emitted ? kHasEmitted : 0));
    if (forward_) {
      frame_.note_write(state.last_update);
      if (state.half_life > 0 && state.half_life < frame_.shortest_half_life) {
        frame_.shortest_half_life = state.half_life;
      }
    }
  }
}

CounterColumns HostCounterStore::columns() noexcept {
  return CounterColumns{rate_.data(),      last_update_.data(), last_emitted_.data(),
                        half_life_.data(), flags_.data(),       rate_.size(),
                        forward_ ? &frame_ : nullptr};
}

namespace {

// Below this many slots a pass runs on the calling thread: waking workers
// costs more than it saves.
constexpr std::size_t kMinSlotsPerThread = std::size_t{1} << 15;
// Chunk boundaries fall on whole cache lines of every column.
constexpr std::size_t kChunkAlign = 64;

struct ChunkPlan {
  std::size_t chunks;
  std::size_t chunk_size;
};

ChunkPlan plan_chunks(std::size_t n, unsigned threads) {
  const std::size_t wanted = std::min<std::size_t>(resolve_threads(threads), n / kMinSlotsPerThread);
  if (wanted <= 1) return {1, n};
  std::size_t size = (n + wanted - 1) / wanted;
  size = (size + kChunkAlign - 1) / kChunkAlign * kChunkAlign;
  return {(n + size - 1) / size, size};
}

CounterColumns chunk_of(const CounterColumns& c, std::size_t begin, std::size_t end) {
  return CounterColumns{c.rate + begin,      c.last_update + begin, c.last_emitted + begin,
                        c.half_life + begin, c.flags + begin,       end - begin,
                        c.frame};
}

// Runs `pass` over the chunks of `c` in parallel: the first chunk appends to
// `out` directly, every other one to its own part (kept in `parts` across
// calls, so a steady stream of passes maps no fresh pages), and the parts are
// then appended in chunk order with slots made global again: the result is
// the single-threaded one whatever the thread count.
//
// A pass returns whether it kept everything it found. run_chunked returns
// whether every chunk's pass did and the parts could be joined onto `out`
// (a tick's passes run to the end regardless: see HostKernels). It throws
// before any pass runs (the parts, the pool), or, once every chunk is done,
// the first exception a pass threw (a pool task must not throw).
template <class T, class Pass, class Rebase>
bool run_chunked(const CounterColumns& c, unsigned threads, std::vector<T>& out,
                 std::vector<std::vector<T>>& parts, Pass pass, Rebase rebase) {
  const ChunkPlan plan = plan_chunks(c.size, threads);
  if (plan.chunks == 1) return pass(c, out);
  if (parts.size() < plan.chunks) parts.resize(plan.chunks);
  std::vector<unsigned char> kept(plan.chunks, 0);
  std::exception_ptr error;
  std::mutex error_mutex;
  ThreadPool::shared().run(plan.chunks, resolve_threads(threads), [&](std::size_t k) {
    const std::size_t begin = k * plan.chunk_size;
    const std::size_t end = std::min(c.size, begin + plan.chunk_size);
    std::vector<T>& into = k == 0 ? out : parts[k];
    if (k != 0) into.clear();
    try {
      kept[k] = pass(chunk_of(c, begin, end), into) ? 1 : 0;
    } catch (...) {
      const std::lock_guard lock(error_mutex);
      if (!error) error = std::current_exception();
    }
  });
  if (error) std::rethrow_exception(error);
  if (std::find(kept.begin(), kept.end(), 0) != kept.end()) return false;
  std::size_t total = out.size();
  for (std::size_t k = 1; k < plan.chunks; ++k) total += parts[k].size();
  try {
    out.reserve(total);
  } catch (const std::bad_alloc&) {
    return false;
  }
  for (std::size_t k = 1; k < plan.chunks; ++k) {
    const auto base = static_cast<std::uint32_t>(k * plan.chunk_size);
    for (T& item : parts[k]) rebase(item, base);
    out.insert(out.end(), parts[k].begin(), parts[k].end());
    // A part grown by a rare mass emission is given back once passes use
    // little of it again.
    if (parts[k].capacity() > 65536 && parts[k].size() < parts[k].capacity() / 8) {
      std::vector<T>().swap(parts[k]);
    }
  }
  return true;
}

// The relayout tick of a forward store's chunk (math/forward_math.h): every
// counter decayed as the reference decays it, stored at landmark `now`. The
// shortest live half-life is found on the way (the frame keeps it, so the
// next fast ticks may run as long as they can). Runs over every counter
// even when `out` cannot hold all candidates; returns whether it did.
bool relayout_tick(const CounterColumns& c, const TickParams& p, const ForwardFrame& before,
                   std::vector<Candidate>& out, std::atomic<std::int64_t>& shortest) {
  bool kept = true;
  std::int64_t chunk_shortest = INT64_MAX;
  for (std::size_t i = 0; i < c.size; ++i) {
    const std::int64_t half_life = c.half_life[i];
    if ((c.flags[i] & kLive) && half_life > 0 && half_life < chunk_shortest) chunk_shortest = half_life;
    const double r = relayout_tick_rate(c.rate[i], c.last_update[i], half_life, p.now, before);
    const Decision d = tick_gate(r, c.flags[i], c.last_emitted[i], p);
    if (d == Decision::kSuppress) continue;
    if (p.mark_in_flight) c.flags[i] = static_cast<std::uint8_t>(c.flags[i] | kInFlight);
    if (kept) {
      kept = try_push_back(out, Candidate{static_cast<std::uint32_t>(i), d, d == Decision::kEmit ? r : 0.0});
    }
  }
  std::int64_t seen = shortest.load(std::memory_order_relaxed);
  while (chunk_shortest < seen && !shortest.compare_exchange_weak(seen, chunk_shortest)) {
  }
  return kept;
}

}  // namespace

void HostCounterStore::tick(const TickParams& params, std::vector<Candidate>& out) {
  // The passes do not mark: a candidate is marked once every one is kept.
  TickParams pass = params;
  pass.mark_in_flight = false;
  const std::size_t first_new = out.size();
  bool kept = false;
  if (forward_ && !forward_tick_allowed(frame_, params.now)) {
    const ForwardFrame before = frame_;
    std::atomic<std::int64_t> shortest{INT64_MAX};
    kept = run_chunked(
        columns(), threads_, out, tick_parts_,
        [&](const CounterColumns& c, std::vector<Candidate>& o) {
          return relayout_tick(c, pass, before, o, shortest);
        },
        [](Candidate& item, std::uint32_t base) { item.slot += base; });
    forward_after_tick(frame_, params.now, true);
    frame_.shortest_half_life = shortest.load();
  } else {
    kept = tick_with_kernels(pass, out);
    if (forward_) forward_after_tick(frame_, params.now, false);
  }
  if (!kept) {
    // Every counter was ticked; the candidates are not all here.
    out.erase(out.begin() + static_cast<std::ptrdiff_t>(first_new), out.end());
    throw TickCandidatesLost();
  }
  if (params.mark_in_flight) {
    for (std::size_t i = first_new; i < out.size(); ++i) {
      flags_[out[i].slot] = static_cast<std::uint8_t>(flags_[out[i].slot] | kInFlight);
    }
  }
}

bool HostCounterStore::tick_with_kernels(const TickParams& params, std::vector<Candidate>& out) {
  if (kernels_.tick_threaded != nullptr) return kernels_.tick_threaded(columns(), params, out, threads_);
  return run_chunked(
      columns(), threads_, out, tick_parts_,
      [&](const CounterColumns& c, std::vector<Candidate>& o) { return kernels_.tick(c, params, o); },
      [](Candidate& item, std::uint32_t base) { item.slot += base; });
}

void HostCounterStore::collect_prunable(std::vector<Slot>& out) {
  if (kernels_.collect_prunable_threaded != nullptr) {
    kernels_.collect_prunable_threaded(columns(), out, threads_);
    return;
  }
  const bool kept = run_chunked(
      columns(), threads_, out, prune_parts_,
      [&](const CounterColumns& c, std::vector<Slot>& o) {
        kernels_.collect_prunable(c, o);
        return true;
      },
      [](Slot& item, std::uint32_t base) { item += base; });
  if (!kept) throw std::bad_alloc();  // the parts could not be joined
}

bool HostCounterStore::prunable(Slot slot) const {
  const bool has_emitted = (flags_[slot] & kHasEmitted) != 0;
  if (forward_) {
    return forward_prunable(rate_[slot], half_life_[slot], has_emitted, last_emitted_[slot], frame_);
  }
  return is_prunable(rate_[slot], has_emitted, last_emitted_[slot]);
}

namespace {
template <class T>
std::size_t parts_bytes(const std::vector<std::vector<T>>& parts) noexcept {
  std::size_t bytes = parts.capacity() * sizeof(std::vector<T>);
  for (const auto& part : parts) bytes += part.capacity() * sizeof(T);
  return bytes;
}
}  // namespace

std::size_t HostCounterStore::memory_bytes() const noexcept {
  return rate_.capacity() * sizeof(double) + last_update_.capacity() * sizeof(std::int64_t) +
         last_emitted_.capacity() * sizeof(double) + half_life_.capacity() * sizeof(std::int64_t) +
         flags_.capacity() * sizeof(std::uint8_t) + parts_bytes(tick_parts_) +
         parts_bytes(prune_parts_);
}

void HostCounterStore::read_range(Slot first, std::span<CounterState> out) const {
  check_read_range("host counter store", first, out.size(), slot_count());
  for (std::size_t i = 0; i < out.size(); ++i) out[i] = read(static_cast<Slot>(first + i));
}

}  // namespace heatkit
