// The `cuda` and `thrust` backends (cuda/device_store.cu), which hold forward
// decay's encodings (math/forward_math.h), against the scalar reference on
// literal columns. Two groups:
//  - tests that run everywhere (no GPU needed): the backend rows follow the
//    device probe, selecting a device backend without a device fails with
//    BackendUnavailable naming the reason, CudaError names the failed call,
//    and the device store's algorithm run on the host over the functions its
//    kernels run (cuda/device_ops.h, thrust/forward_tick.h): queued
//    operations applied as the flush applies them (grouped by slot, same-
//    instant bumps as one), the frame's bookkeeping, ticks (fast and
//    relayout) and prunes between them, decoded reads, grouped and
//    backwards bumps, a device bump run's stored result, all against a
//    literal store;
//  - device tests, skipped with "no CUDA device: <reason>" where none can run
//    the kernels: the store's tick vs scalar on random columns of awkward
//    sizes (uploaded literal columns, and forward ones of each tick kind), a
//    million duplicate bumps on one slot, timed bump batches applied on the
//    device (hot slots, time going back, gaps at the epsilon clamp, missing
//    slots), none / all candidates, prune of everything, and whole-registry
//    agreement, for both device backends.
#include <gtest/gtest.h>

#include <cuda_runtime_api.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <optional>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "cuda/cuda_backend.h"
#include "cuda/cuda_error.h"
#include "cuda/device_buffer.h"
#include "cuda/device_passes.h"
#include "cuda/device_ops.h"
#include "cuda/device_store.h"
#include "cuda/staged_append.h"
#include "backends/backend.h"
#include "forward_agreement.h"
#include "kernel_agreement.h"
#include "kernels/scalar_kernels.h"
#include "math/forward_math.h"
#include "math/slot_ops.h"
#include "thrust/forward_tick.h"

namespace heatkit::test {
namespace {

using gpu::DeviceCounterStore;
using gpu::DevicePasses;

const char* const kDeviceBackends[] = {"cuda", "thrust"};

bool has_substring(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// ---------------------------------------------------------------------------
// Without a GPU.

TEST(CudaBackends, are_listed_after_the_cpu_backends_with_the_probe_answer) {
  const std::vector<BackendInfo> backends = list_backends();
  ASSERT_FALSE(backends.empty());
  EXPECT_EQ(backends.front().name, "scalar");
  const std::string& reason = gpu::unavailable_reason();
  for (const char* name : kDeviceBackends) {
    const auto it = std::find_if(backends.begin(), backends.end(),
                                 [&](const BackendInfo& b) { return b.name == name; });
    ASSERT_NE(it, backends.end()) << name;
    EXPECT_FALSE(it->description.empty()) << name;
    EXPECT_EQ(it->available, reason.empty()) << name;
    EXPECT_EQ(it->unavailable_reason, reason) << name;
  }
}

TEST(CudaBackends, probe_reports_no_device_when_the_runtime_finds_none) {
  int count = 0;
  const cudaError_t e = cudaGetDeviceCount(&count);
  (void)cudaGetLastError();
  if (e == cudaSuccess && count > 0) {
    GTEST_SKIP() << "this machine has " << count << " CUDA device(s); probe answer: '"
                 << gpu::unavailable_reason() << "'";
  }
  const std::string& reason = gpu::unavailable_reason();
  EXPECT_TRUE(has_substring(reason, "cudaGetDeviceCount")) << reason;
  if (e != cudaSuccess) {
    EXPECT_TRUE(has_substring(reason, cudaGetErrorName(e))) << reason;
  }
}

TEST(CudaBackends, selecting_one_fails_with_the_reason_or_gives_a_device_store) {
  const std::string& reason = gpu::unavailable_reason();
  for (const char* name : kDeviceBackends) {
    SCOPED_TRACE(name);
    if (!reason.empty()) {
      try {
        (void)make_store(name);
        ADD_FAILURE() << "make_store(\"" << name << "\") did not throw without a usable device";
      } catch (const BackendUnavailable& e) {
        EXPECT_TRUE(has_substring(e.what(), std::string("'") + name + "'")) << e.what();
        EXPECT_TRUE(has_substring(e.what(), reason)) << e.what();
      }
      RegistryOptions options;
      options.backend = name;
      EXPECT_THROW(HeatRegistry{options}, BackendUnavailable);
      EXPECT_THROW(BlobHeatRegistry{options}, BackendUnavailable);
    } else {
      const auto store = make_store(name);
      EXPECT_EQ(store->backend(), name);
      EXPECT_FALSE(store->host_columns().has_value()) << "device columns are not host columns";
      EXPECT_EQ(store->slot_count(), 0u);
    }
  }
}

TEST(CudaError, message_names_the_call_where_it_was_made_and_what_cuda_said) {
  try {
    HEATKIT_CUDA_CHECK(cudaSetDevice(-1));
    ADD_FAILURE() << "cudaSetDevice(-1) succeeded";
  } catch (const gpu::CudaError& e) {
    const std::string what = e.what();
    EXPECT_NE(e.code(), cudaSuccess);
    EXPECT_EQ(e.call(), "cudaSetDevice(-1)");
    EXPECT_TRUE(has_substring(what, "cudaSetDevice(-1)")) << what;
    EXPECT_TRUE(has_substring(what, "cuda_test.cc:")) << what;
    EXPECT_TRUE(has_substring(what, cudaGetErrorName(e.code()))) << what;
    EXPECT_TRUE(has_substring(what, cudaGetErrorString(e.code()))) << what;
  }
  // With a working runtime the error is not sticky and the check has reset
  // it, so the next check is not blamed. (Without a driver every call fails
  // initialization again, so there is nothing to reset.)
  if (gpu::unavailable_reason().empty()) {
    EXPECT_EQ(cudaGetLastError(), cudaSuccess);
  }
}

TEST(CudaError, check_passes_success_and_is_a_runtime_error_otherwise) {
  EXPECT_NO_THROW(HEATKIT_CUDA_CHECK(cudaSuccess));
  try {
    gpu::check_cuda(cudaErrorMemoryAllocation, "cudaMalloc(&p, huge)", "store.cu", 42);
    ADD_FAILURE() << "check_cuda did not throw";
  } catch (const std::runtime_error& e) {
    const std::string what = e.what();
    EXPECT_TRUE(has_substring(what, "cudaMalloc(&p, huge)")) << what;
    EXPECT_TRUE(has_substring(what, "store.cu:42")) << what;
    EXPECT_TRUE(has_substring(what, "cudaErrorMemoryAllocation")) << what;
  }
}

// The device store's algorithm on the host, over the functions its kernels
// run (cuda/device_ops.h, thrust/forward_tick.h): operations queued with the
// frame's bookkeeping (note_queued) and applied as the flush applies them
// (stable sort by slot, one group per run of same-instant bumps, groups in
// any order), the one-pass tick's steps (fast where forward_tick_allowed
// holds, relayout otherwise) and the prune, with decoded reads. Its columns
// start as DeviceCounterStore::ensure_slots leaves them.
std::vector<gpu::PendingOp> random_ops(std::size_t slots, std::size_t count, std::uint64_t seed) {
  Rng rng(seed);
  std::vector<gpu::PendingOp> ops;
  std::vector<bool> live(slots, false);
  std::int64_t now = kNow;
  while (ops.size() < count) {
    gpu::PendingOp op;
    op.slot = static_cast<std::uint32_t>(rng.below(slots));
    now +=
        static_cast<std::int64_t>(rng.below(3'000'000'000)) - 500'000'000;  // sometimes backwards
    op.now = now;
    if (!live[op.slot]) {
      op.kind = gpu::OpKind::kInit;
      op.half_life = rng.chance(10) ? 0 : kHalfLife * static_cast<std::int64_t>(1 + rng.below(3));
      live[op.slot] = true;
      ops.push_back(op);
      continue;
    }
    switch (rng.below(10)) {
      case 0:
      case 1:
      case 2:
      case 3: op.kind = gpu::OpKind::kBump; break;
      case 4: op.kind = gpu::OpKind::kDecayTo; break;
      case 5:
      case 6:
        op.kind = gpu::OpKind::kRecord;
        op.decision = rng.pick({Decision::kEmit, Decision::kWithdraw, Decision::kSuppress});
        op.rate = static_cast<double>(rng.below(10'000)) / 100.0;
        break;
      case 7:
      case 8:
        op.kind = gpu::OpKind::kSetInFlight;
        op.in_flight = rng.chance(50);
        break;
      default:
        op.kind = gpu::OpKind::kClear;
        live[op.slot] = rng.chance(50);  // sometimes re-initialized next time
        break;
    }
    ops.push_back(op);
  }
  return ops;
}

// The flush algorithm on the host: stable sort by slot, group heads
// (is_group_head), then apply_groups_at for every group in a shuffled order,
// under `frame`. Returns the number of groups.
std::size_t apply_as_the_flush_does(const std::vector<gpu::PendingOp>& ops,
                                    const CounterColumns& columns, const ForwardFrame& frame,
                                    std::uint64_t seed) {
  std::vector<std::uint32_t> positions(ops.size());
  for (std::size_t i = 0; i < ops.size(); ++i) positions[i] = static_cast<std::uint32_t>(i);
  std::stable_sort(positions.begin(), positions.end(), [&](std::uint32_t a, std::uint32_t b) {
    return ops[a].slot < ops[b].slot;
  });
  std::vector<std::uint32_t> sorted_slots(ops.size());
  for (std::size_t i = 0; i < ops.size(); ++i) sorted_slots[i] = ops[positions[i]].slot;
  std::vector<std::uint32_t> heads;
  for (std::size_t i = 0; i < ops.size(); ++i) {
    if (gpu::is_group_head(ops.data(), positions.data(), i)) heads.push_back(static_cast<std::uint32_t>(i));
  }
  std::vector<std::size_t> thread_order(heads.size());
  for (std::size_t g = 0; g < heads.size(); ++g) thread_order[g] = g;
  std::shuffle(thread_order.begin(), thread_order.end(), std::mt19937_64(seed));
  for (const std::size_t g : thread_order) {
    gpu::apply_groups_at(columns, frame, ops.data(), sorted_slots.data(), positions.data(),
                         heads.data(), heads.size(), ops.size(), g);
  }
  return heads.size();
}

// The one-pass tick kernel's work (cuda/one_pass_tick.cuh) slot by slot: the
// fast tick's step where the frame allows it, loading what the kernel loads
// (the half-life only when not shared, last_update only for literal
// counters, writing s only where it was literal), the relayout step
// otherwise. The frame is not changed.
void host_one_pass_tick(const CounterColumns& c, const ForwardFrame& frame, const TickParams& p,
                        std::vector<Candidate>& out) {
  if (forward_tick_allowed(frame, p.now)) {
    const forward_pass::TickInputs in = forward_pass::tick_inputs(frame, p);
    for (std::size_t i = 0; i < c.size; ++i) {
      double s = c.rate[i];
      const bool literal = is_literal(s);
      const std::int64_t last_write = literal ? c.last_update[i] : -12345;  // not read otherwise
      const std::int64_t half_life =
          forward_pass::reads_half_life(p) ? c.half_life[i] : p.shared_half_life;
      double rate = 0.0;
      const Decision d =
          forward_pass::tick_one(s, last_write, half_life, c.last_emitted[i], c.flags[i], rate, p, in);
      if (literal) {
        c.rate[i] = s;
      } else {
        ASSERT_TRUE(same_double(s, c.rate[i])) << "the fast tick wrote a forward s, slot " << i;
      }
      if (d != Decision::kSuppress) {
        out.push_back(Candidate{static_cast<std::uint32_t>(i), d, d == Decision::kEmit ? rate : 0.0});
        if (d == Decision::kEmit) {
          // What a pass that compacts apart from deciding carries (Thrust).
          ASSERT_TRUE(rates_agree(rate, forward_pass::emitted_rate(c.rate[i], half_life, p.now, in)))
              << "slot " << i;
          ASSERT_GT(forward_pass::emitted_rate(c.rate[i], half_life, p.now, in), 0.0);
        }
      }
    }
    return;
  }
  for (std::size_t i = 0; i < c.size; ++i) {
    double rate = 0.0;
    const Decision d = forward_pass::relayout_one(c.rate[i], c.last_update[i], c.half_life[i],
                                                  c.last_emitted[i], c.flags[i], rate, p, frame);
    ASSERT_TRUE(same_double(rate, c.rate[i])) << "a relayout leaves s = rate, slot " << i;
    ASSERT_LE(c.last_update[i], p.now);
    if (d != Decision::kSuppress) {
      out.push_back(Candidate{static_cast<std::uint32_t>(i), d, d == Decision::kEmit ? rate : 0.0});
    }
  }
}

// The device store's prune selection slot by slot.
void host_select_prunable(const CounterColumns& c, const ForwardFrame& frame,
                          std::vector<std::uint32_t>& out) {
  for (std::size_t i = 0; i < c.size; ++i) {
    if (forward_pass::prunable(c, i, frame)) out.push_back(static_cast<std::uint32_t>(i));
  }
}

// DeviceCounterStore's algorithm on host columns.
struct HostDeviceStore {
  explicit HostDeviceStore(std::size_t n) : columns(zeroed_columns(n)) {
    for (std::size_t i = 0; i < n; ++i) columns.rate[i] = -0.0;  // as ensure_slots fills
  }
  static Columns zeroed_columns(std::size_t n) {
    Columns c(n);
    std::fill(c.rate.begin(), c.rate.end(), 0.0);
    std::fill(c.last_emitted.begin(), c.last_emitted.end(), 0.0);
    std::fill(c.last_update.begin(), c.last_update.end(), 0);
    std::fill(c.half_life.begin(), c.half_life.end(), 0);
    std::fill(c.flags.begin(), c.flags.end(), 0);
    return c;
  }
  void queue(const gpu::PendingOp& op) {
    pending.push_back(op);
    gpu::note_queued(frame, op);
  }
  void flush() {
    apply_as_the_flush_does(pending, columns.view(), frame, ++flushes);
    pending.clear();
  }
  // Returns whether it was a relayout.
  bool tick(const TickParams& p, std::vector<Candidate>& out) {
    flush();
    const bool relayout = !forward_tick_allowed(frame, p.now);
    host_one_pass_tick(columns.view(), frame, p, out);
    forward_after_tick(frame, p.now, relayout);
    return relayout;
  }
  void collect_prunable(std::vector<std::uint32_t>& out) {
    flush();
    host_select_prunable(columns.view(), frame, out);
  }
  CounterState read(std::size_t i) {
    flush();
    return gpu::decoded_state(columns.rate[i], columns.last_update[i], columns.last_emitted[i],
                              columns.half_life[i], columns.flags[i], frame);
  }

  Columns columns;
  ForwardFrame frame;
  std::vector<gpu::PendingOp> pending;
  std::uint64_t flushes = 0;
};

// The literal store every backend must agree with: math/slot_ops.h and
// counter_math.h on literal columns, scalar::tick and collect_prunable.
struct LiteralStore {
  explicit LiteralStore(std::size_t n) : columns(HostDeviceStore::zeroed_columns(n)) {}
  void apply(const gpu::PendingOp& op) {
    const CounterColumns c = columns.view();
    switch (op.kind) {
      case gpu::OpKind::kInit: init_slot(c, op.slot, op.half_life, op.now); break;
      case gpu::OpKind::kClear: clear_slot(c, op.slot); break;
      case gpu::OpKind::kBump:
        c.rate[op.slot] = bumped_rate(c.rate[op.slot], c.last_update[op.slot], op.now, c.half_life[op.slot]);
        c.last_update[op.slot] = op.now;
        break;
      case gpu::OpKind::kDecayTo: decay_slot_to(c, op.slot, op.now); break;
      case gpu::OpKind::kRecord: record_slot(c, op.slot, op.decision, op.rate); break;
      case gpu::OpKind::kSetInFlight: set_slot_in_flight(c, op.slot, op.in_flight); break;
    }
  }
  CounterState read(std::size_t i) const {
    return counter_state(columns.rate[i], columns.last_update[i], columns.last_emitted[i],
                         columns.half_life[i], columns.flags[i]);
  }
  Columns columns;
};

void expect_same_state(const CounterState& want, const CounterState& got, std::size_t slot) {
  ASSERT_TRUE(rates_agree(want.rate, got.rate)) << "slot " << slot << ": " << want.rate << " vs " << got.rate;
  ASSERT_EQ(want.last_update, got.last_update) << "slot " << slot;
  ASSERT_EQ(want.has_emitted, got.has_emitted) << "slot " << slot;
  ASSERT_TRUE(same_double(want.last_emitted, got.last_emitted)) << "slot " << slot;
  ASSERT_EQ(want.half_life, got.half_life) << "slot " << slot;
  ASSERT_EQ(want.in_flight, got.in_flight) << "slot " << slot;
}

TEST(DeviceOps, queued_ops_applied_as_the_flush_applies_them_read_as_the_literal_store) {
  for (const std::size_t slots :
       {std::size_t{1}, std::size_t{3}, std::size_t{17}, std::size_t{500}}) {
    SCOPED_TRACE("slots=" + std::to_string(slots));
    const std::vector<gpu::PendingOp> ops = random_ops(slots, 20'000, slots);
    LiteralStore want(slots);
    HostDeviceStore got(slots);
    for (std::size_t k = 0; k < ops.size(); ++k) {
      want.apply(ops[k]);
      got.queue(ops[k]);
      if (k % 997 == 996) got.flush();  // several flushes, each under its frame
    }
    for (std::size_t i = 0; i < slots; ++i) {
      expect_same_state(want.read(i), got.read(i), i);
      ASSERT_FALSE(HasFatalFailure());
    }
    // Queue order within a slot matters (so the agreement above says
    // something): applied backwards, every slot's run backwards, the
    // columns differ.
    HostDeviceStore backwards(slots);
    for (std::size_t k = ops.size(); k-- > 0;) backwards.queue(ops[k]);
    bool differs = false;
    for (std::size_t i = 0; i < slots; ++i) {
      const CounterState a = want.read(i), b = backwards.read(i);
      differs = differs || !rates_agree(a.rate, b.rate) || a.last_update != b.last_update ||
                a.in_flight != b.in_flight;
    }
    EXPECT_TRUE(differs);
  }
}

TEST(DeviceOps, ticks_and_prunes_between_queued_ops_agree_with_the_literal_store) {
  // Random ops with ticks between them: time mostly forward, sometimes back
  // (a relayout), now and then a jump of more than 32 half-lives (a relayout
  // too); a prune after some ticks, with the commit of its candidates.
  for (const std::uint64_t seed : {1u, 2u, 3u}) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    constexpr std::size_t kSlots = 300;
    const std::vector<gpu::PendingOp> ops = random_ops(kSlots, 30'000, 100 + seed);
    LiteralStore want(kSlots);
    HostDeviceStore got(kSlots);
    Rng rng(seed);
    std::int64_t tick_at = kNow;
    std::size_t fast = 0, relayouts = 0, pruned = 0;
    for (std::size_t k = 0; k < ops.size(); ++k) {
      want.apply(ops[k]);
      got.queue(ops[k]);
      if (k % 50 != 49) continue;
      tick_at = std::max(tick_at, ops[k].now) + static_cast<std::int64_t>(rng.below(kHalfLife));
      if (rng.chance(3)) tick_at -= 2 * kHalfLife;                   // behind some writes
      if (rng.chance(2)) tick_at += 40 * kHalfLife;                  // past 32 half-lives
      TickParams p;
      p.now = tick_at;
      p.ratio = 1.5;
      p.skip_in_flight = p.mark_in_flight = rng.chance(50);
      std::vector<Candidate> want_out, got_out;
      scalar::tick(want.columns.view(), p, want_out);
      (got.tick(p, got_out) ? relayouts : fast) += 1;
      ASSERT_FALSE(HasFatalFailure());
      expect_candidates_agree(want_out, got_out);
      ASSERT_FALSE(HasFatalFailure()) << "tick at op " << k;
      // Commit some candidates, as a registry does.
      for (const Candidate& c : want_out) {
        if (!rng.chance(70)) continue;
        gpu::PendingOp record;
        record.slot = c.slot;
        record.kind = gpu::OpKind::kRecord;
        record.decision = c.kind;
        record.rate = c.rate;
        want.apply(record);
        got.queue(record);
      }
      if (rng.chance(30)) {
        std::vector<std::uint32_t> want_pruned, got_pruned;
        scalar::collect_prunable(want.columns.view(), want_pruned);
        got.collect_prunable(got_pruned);
        ASSERT_EQ(want_pruned, got_pruned) << "prune after op " << k;
        pruned += want_pruned.size();
      }
      for (std::size_t i = 0; i < kSlots; ++i) {
        expect_same_state(want.read(i), got.read(i), i);
        ASSERT_FALSE(HasFatalFailure()) << "after the tick at op " << k;
      }
    }
    EXPECT_GT(fast, 100u);
    EXPECT_GT(relayouts, 20u);
    EXPECT_GT(pruned, 0u);
  }
}

TEST(DeviceOps, same_instant_bumps_of_a_slot_apply_as_one_group_and_agree_with_bumping_in_turn) {
  // Bursts of bumps of one slot at one instant, interleaved with other
  // slots' ops and with bumps of the same slot at other instants.
  constexpr std::size_t kSlots = 5;
  Rng rng(7);
  std::vector<gpu::PendingOp> ops;
  for (std::uint32_t slot = 0; slot < kSlots; ++slot) {
    gpu::PendingOp init;
    init.slot = slot;
    init.kind = gpu::OpKind::kInit;
    init.half_life = slot == 4 ? 0 : kHalfLife;
    init.now = kNow;
    ops.push_back(init);
  }
  std::int64_t now = kNow;
  std::size_t bumps_at_repeated_instants = 0;
  for (int burst = 0; burst < 200; ++burst) {
    now += static_cast<std::int64_t>(rng.below(2'000'000'000)) - 300'000'000;
    const auto slot = static_cast<std::uint32_t>(rng.below(kSlots));
    const std::size_t size = 1 + rng.below(3000);
    for (std::size_t k = 0; k < size; ++k) {
      gpu::PendingOp bump;
      bump.slot = slot;
      bump.kind = gpu::OpKind::kBump;
      bump.now = now;
      ops.push_back(bump);
      if (k % 97 == 5) {  // another slot's op in the middle of the burst
        gpu::PendingOp other;
        other.slot = static_cast<std::uint32_t>((slot + 1) % kSlots);
        other.kind = rng.chance(50) ? gpu::OpKind::kDecayTo : gpu::OpKind::kBump;
        other.now = now - 1000;
        ops.push_back(other);
      }
    }
    bumps_at_repeated_instants += size - 1;
  }
  LiteralStore want(kSlots);
  HostDeviceStore got(kSlots);
  for (const gpu::PendingOp& op : ops) {
    want.apply(op);
    got.queue(op);
  }
  const std::size_t groups = apply_as_the_flush_does(got.pending, got.columns.view(), got.frame, 3);
  got.pending.clear();
  EXPECT_LE(groups + bumps_at_repeated_instants, ops.size())
      << "same-instant bumps must share a group";
  for (std::size_t i = 0; i < kSlots; ++i) {
    SCOPED_TRACE("slot " + std::to_string(i));
    const CounterState a = want.read(i), b = got.read(i);
    EXPECT_TRUE(rates_agree(a.rate, b.rate)) << a.rate << " vs " << b.rate;
    EXPECT_GT(b.rate, 1.0);
    EXPECT_EQ(a.last_update, b.last_update);
    EXPECT_EQ(a.in_flight, b.in_flight);
  }
}

TEST(DeviceOps, a_grouped_bump_of_count_k_equals_k_single_bumps) {
  // Forward counters (the bumps after the last tick, in the landmark's
  // range) and literal ones (bumped before their last write), each half-life.
  for (const std::int64_t half_life : {std::int64_t{0}, kHalfLife, 7 * kHalfLife / 3}) {
    for (const std::int64_t at : {kNow + kHalfLife / 3, kNow - kHalfLife / 2}) {
      for (const double k : {1.0, 2.0, 3.0, 17.0, 1000.0, 1'000'000.0}) {
        SCOPED_TRACE("half-life " + std::to_string(half_life) + " at " + std::to_string(at - kNow) +
                     " count " + std::to_string(k));
        ForwardFrame f;
        f.note_write(kNow - 3 * kHalfLife);  // the landmark
        forward_after_tick(f, kNow - kHalfLife, false);
        double grouped = 0.0, single = 0.0;
        std::int64_t grouped_write = 0, single_write = 0;
        forward_init(grouped, grouped_write, kNow - kHalfLife / 2, f);  // after the tick
        forward_init(single, single_write, kNow - kHalfLife / 2, f);
        // Some rate first, and a write at kNow (after the tick); bumps at
        // distinct instants, as a repeat at one instant stores a literal.
        for (int b = 2; b >= 0; --b) {
          forward_bump(grouped, grouped_write, half_life, kNow - b, 1.0, f);
          forward_bump(single, single_write, half_life, kNow - b, 1.0, f);
        }
        forward_bump(grouped, grouped_write, half_life, at, k, f);
        // k single bumps add the scale k times, each addition rounded (a
        // million of them drift by some 1e-12); the group adds k x scale once.
        const double singles = std::min(k, 1000.0);
        for (double b = 0; b < singles; ++b) forward_bump(single, single_write, half_life, at, 1.0, f);
        EXPECT_EQ(is_literal(grouped), at < kNow) << "a bump before the last write is literal";
        EXPECT_EQ(is_literal(single), at < kNow || (singles > 1 && half_life != 0))
            << "a bump at the instant of the last write is literal (no decay: half-life 0 adds exact ones forward)";
        EXPECT_EQ(grouped_write, at);
        EXPECT_EQ(single_write, at);
        const LiteralState a = forward_decode(grouped, grouped_write, half_life, f);
        const LiteralState b = forward_decode(single, single_write, half_life, f);
        if (singles == k) {
          EXPECT_TRUE(rates_agree(a.rate, b.rate)) << a.rate << " vs " << b.rate;
        }
        EXPECT_EQ(a.last_update, at);
        // The literal bumps' value: about 3 at kNow, decayed to `at` (not
        // at all when earlier), then + k.
        const double at_now = bumped_rate(bumped_rate(1.0, kNow - 2, kNow - 1, half_life), kNow - 1, kNow, half_life);
        const double want = bumped_rate(at_now, kNow, at, half_life) - 1.0 + k;
        EXPECT_TRUE(rates_agree(want, a.rate)) << want << " vs " << a.rate;
      }
    }
  }
}

TEST(DeviceOps, a_bump_before_a_counters_last_update_stores_it_literally_and_a_tick_converts_it) {
  HostDeviceStore store(2);
  LiteralStore want(2);
  const auto both = [&](gpu::PendingOp op) {
    store.queue(op);
    want.apply(op);
  };
  both({.slot = 0, .kind = gpu::OpKind::kInit, .now = kNow, .half_life = kHalfLife});
  both({.slot = 0, .kind = gpu::OpKind::kBump, .now = kNow + kHalfLife});
  store.flush();
  EXPECT_FALSE(is_literal(store.columns.rate[0]));
  both({.slot = 0, .kind = gpu::OpKind::kBump, .now = kNow + kHalfLife / 2});  // back in time
  store.flush();
  EXPECT_TRUE(is_literal(store.columns.rate[0]));
  EXPECT_EQ(store.columns.rate[0], -2.0) << "-(1 undecayed + 1)";
  EXPECT_EQ(store.columns.last_update[0], kNow + kHalfLife / 2);
  expect_same_state(want.read(0), store.read(0), 0);
  // The next tick (after the latest write) is the fast one and converts it.
  std::vector<Candidate> want_out, got_out;
  const TickParams p{.now = kNow + 2 * kHalfLife};
  scalar::tick(want.columns.view(), p, want_out);
  EXPECT_FALSE(store.tick(p, got_out)) << "a fast tick";
  EXPECT_FALSE(is_literal(store.columns.rate[0]));
  expect_candidates_agree(want_out, got_out);
  expect_same_state(want.read(0), store.read(0), 0);
  expect_same_state(want.read(1), store.read(1), 1);
  // A decay_to is stored literally too.
  both({.slot = 0, .kind = gpu::OpKind::kDecayTo, .now = kNow + 3 * kHalfLife});
  store.flush();
  EXPECT_TRUE(is_literal(store.columns.rate[0]));
  expect_same_state(want.read(0), store.read(0), 0);
}

TEST(DeviceOps, the_frame_notes_the_first_write_the_latest_and_the_shortest_half_life) {
  ForwardFrame f;
  gpu::note_queued(f, {.slot = 3, .kind = gpu::OpKind::kRecord, .decision = Decision::kEmit, .rate = 1.0});
  gpu::note_queued(f, {.slot = 3, .kind = gpu::OpKind::kClear});
  gpu::note_queued(f, {.slot = 3, .kind = gpu::OpKind::kSetInFlight, .in_flight = true});
  EXPECT_FALSE(f.started) << "writes no counter";
  gpu::note_queued(f, {.slot = 1, .kind = gpu::OpKind::kInit, .now = kNow, .half_life = 0});
  EXPECT_TRUE(f.started);
  EXPECT_EQ(f.landmark, kNow);
  EXPECT_EQ(f.latest, kNow);
  EXPECT_EQ(f.shortest_half_life, INT64_MAX) << "half-life 0 decays nothing";
  gpu::note_queued(f, {.slot = 2, .kind = gpu::OpKind::kInit, .now = kNow - 5, .half_life = 3 * kHalfLife});
  gpu::note_queued(f, {.slot = 2, .kind = gpu::OpKind::kBump, .now = kNow + 7});
  gpu::note_queued(f, {.slot = 1, .kind = gpu::OpKind::kInit, .now = kNow + 1, .half_life = kHalfLife});
  gpu::note_queued(f, {.slot = 2, .kind = gpu::OpKind::kDecayTo, .now = kNow + 9});
  EXPECT_EQ(f.landmark, kNow) << "set by the first write only";
  EXPECT_EQ(f.latest, kNow + 9);
  EXPECT_EQ(f.shortest_half_life, kHalfLife);
  EXPECT_EQ(f.tick_instant, INT64_MIN);
}

TEST(DeviceOps, a_literal_state_stored_forward_where_the_frame_holds_it_reads_back) {
  ForwardFrame f;
  f.note_write(kNow);
  forward_after_tick(f, kNow + kHalfLife, false);
  struct Case {
    std::int64_t at, half_life;
    bool forward;
  };
  for (const Case c : {Case{kNow + 2 * kHalfLife, kHalfLife, true},      // after the tick
                       Case{kNow + kHalfLife, kHalfLife, true},          // at it
                       Case{kNow + kHalfLife - 1, kHalfLife, false},     // before it
                       Case{kNow + 70 * kHalfLife, kHalfLife, false},    // past 2^64
                       Case{kNow + 70 * kHalfLife, 2 * kHalfLife, true},
                       Case{kNow - kHalfLife, 0, false},
                       Case{kNow + 900 * kHalfLife, 0, true}}) {
    for (const double rate : {0.0, 1.0, 12.25, 3e-16}) {
      SCOPED_TRACE("at " + std::to_string(c.at - kNow) + " half-life " + std::to_string(c.half_life) +
                   " rate " + std::to_string(rate));
      double s = 99.0;
      std::int64_t last_write = 0;
      gpu::store_literal_state(s, last_write, c.half_life, rate, c.at, f);
      EXPECT_EQ(last_write, c.at);
      if (rate != 0.0) {
        EXPECT_EQ(!is_literal(s), c.forward);
      }
      const LiteralState d = forward_decode(s, last_write, c.half_life, f);
      EXPECT_EQ(d.last_update, c.at);
      EXPECT_TRUE(rates_agree(d.rate, rate)) << d.rate;
    }
  }
}

TEST(DeviceOps, a_run_of_bumps_stored_through_its_literal_result_equals_bumping_in_turn) {
  // What a batch of device bumps does with one slot's run (apply_timed_bumps):
  // the literal recurrence from the counter's decoded state, its result
  // stored at the run's last read (store_literal_state), against
  // forward_bump read by read (its exact serial path).
  ForwardFrame f;
  f.note_write(kNow);
  forward_after_tick(f, kNow + kHalfLife, false);
  Rng rng(11);
  std::size_t literal_runs = 0;
  for (int run = 0; run < 2000; ++run) {
    SCOPED_TRACE("run " + std::to_string(run));
    const std::int64_t half_life =
        rng.chance(10) ? 0 : kHalfLife * static_cast<std::int64_t>(1 + rng.below(3));
    double s = 0.0;
    std::int64_t last_write = 0;
    forward_init(s, last_write, kNow + static_cast<std::int64_t>(rng.below(2 * kHalfLife)), f);
    if (rng.chance(50)) {
      forward_bump(s, last_write, half_life, last_write, 1.0 + static_cast<double>(rng.below(5)), f);
    }
    double serial = s;
    std::int64_t serial_write = last_write;
    const LiteralState start = forward_decode(s, last_write, half_life, f);
    double rate = 0.0;
    std::int64_t previous = 0;
    std::int64_t t = kNow + static_cast<std::int64_t>(rng.below(3 * kHalfLife));
    const std::size_t reads = 1 + rng.below(20);
    for (std::size_t r = 0; r < reads; ++r) {
      rate = r == 0 ? bumped_rate(start.rate, start.last_update, t, half_life)
                    : bumped_rate(rate, previous, t, half_life);
      forward_bump(serial, serial_write, half_life, t, 1.0, f);
      previous = t;
      t += static_cast<std::int64_t>(rng.below(kHalfLife / 4)) - kHalfLife / 20;  // sometimes back
    }
    gpu::store_literal_state(s, last_write, half_life, rate, previous, f);
    const LiteralState a = forward_decode(s, last_write, half_life, f);
    const LiteralState b = forward_decode(serial, serial_write, half_life, f);
    ASSERT_TRUE(rates_agree(a.rate, b.rate)) << a.rate << " vs " << b.rate;
    ASSERT_EQ(a.last_update, b.last_update);
    literal_runs += is_literal(serial) ? 1 : 0;
  }
  EXPECT_GT(literal_runs, 100u) << "runs with reads back in time, or before the last tick";
}

TEST(DeviceOps, the_one_pass_ticks_steps_match_the_scalar_reference) {
  // The kernel's per-counter steps (host_one_pass_tick) on forward columns
  // with literal counters among them, for each kind of tick.
  std::vector<std::size_t> sizes(std::begin(kSizes), std::end(kSizes));
  for (const ForwardTickKind kind :
       {ForwardTickKind::kFast, ForwardTickKind::kFastShared, ForwardTickKind::kRelayout}) {
    expect_forward_tick_matches_scalar(
        [](Columns& c, const ForwardFrame& before, const TickParams& p, std::vector<Candidate>& out) {
          host_one_pass_tick(c.view(), before, p, out);
        },
        sizes, kind);
  }
}

TEST(DeviceOps, the_prune_selection_is_the_literal_prune_after_a_tick) {
  // Random columns ticked (fast, and relayout), then pruned, against the
  // scalar tick and prune of the literal columns; some rates decayed past
  // epsilon, some counters withdrawn.
  for (const bool relayout : {false, true}) {
    for (const std::size_t n : kSizes) {
      SCOPED_TRACE(std::string(relayout ? "relayout" : "fast") + " n=" + std::to_string(n));
      Columns want = forward_domain_columns(n, 900 + n, false, relayout ? std::nullopt : std::optional(kNow));
      Rng rng(n);
      for (std::size_t i = 0; i < n; ++i) {
        if (rng.chance(30)) want.last_emitted[i] = rng.chance(50) ? 0.0 : -1.0;
        if (rng.chance(20)) want.last_update[i] = kNow - kHalfLife * static_cast<std::int64_t>(50 + rng.below(15));
      }
      Columns got = want;
      ForwardFrame frame = encode_forward(got, kNow - 20 * kHalfLife);
      if (relayout) frame.latest = std::max(frame.latest, kNow + 1);
      TickParams p;
      p.now = kNow;
      std::vector<Candidate> want_out, got_out;
      scalar::tick(want.view(), p, want_out);
      host_one_pass_tick(got.view(), frame, p, got_out);
      forward_after_tick(frame, p.now, relayout);
      std::vector<std::uint32_t> want_pruned{5}, got_pruned{5};
      scalar::collect_prunable(want.view(), want_pruned);
      host_select_prunable(got.view(), frame, got_pruned);
      ASSERT_EQ(want_pruned, got_pruned);
      if (n >= 1000) {
        EXPECT_GT(want_pruned.size(), 1u + n / 100);
      }
    }
  }
}

// ---------------------------------------------------------------------------
// append_through_staging (cuda/staged_append.h): its order of copies, waits
// and appends, with copies that land only at wait() and scribble over their
// buffer at once (as a copy in flight may), so reading a buffer while a copy
// into it is in flight shows as a wrong item.

struct FakeStagedCopies {
  static constexpr std::int64_t kInFlight = -999;
  FakeStagedCopies(const std::vector<std::int64_t>* from, std::int64_t* const* buffers,
                   std::size_t chunk_items)
      : source(from), staging(buffers), chunk(chunk_items) {}
  const std::vector<std::int64_t>* source;
  std::int64_t* const* staging;
  std::size_t chunk;
  struct Copy {
    std::size_t buffer, first, n;
  };
  std::vector<Copy> started;          // every copy, in order
  std::vector<Copy> in_flight;
  int fail_copy_at = -1, fail_wait_at = -1;  // the call (from 0) that throws
  int waits = 0;

  void copy(std::size_t buffer, std::size_t first, std::size_t n) {
    if (static_cast<int>(started.size()) == fail_copy_at) throw std::runtime_error("copy failed");
    ASSERT_LT(buffer, 2u);
    ASSERT_LE(n, chunk);
    ASSERT_TRUE(in_flight.empty()) << "a second copy started before the first landed";
    std::fill(staging[buffer], staging[buffer] + n, kInFlight);
    started.push_back({buffer, first, n});
    in_flight.push_back({buffer, first, n});
  }
  void wait() {
    if (waits++ == fail_wait_at) throw std::runtime_error("wait failed");
    for (const Copy& c : in_flight) {
      std::copy_n(source->begin() + static_cast<std::ptrdiff_t>(c.first), c.n, staging[c.buffer]);
    }
    in_flight.clear();
  }
};

TEST(StagedAppend, appends_every_chunk_in_order_after_what_out_holds) {
  constexpr std::size_t kChunk = 4;
  for (const std::size_t count : {0u, 1u, 3u, 4u, 5u, 8u, 9u, 17u}) {
    SCOPED_TRACE("count " + std::to_string(count));
    std::vector<std::int64_t> source(count);
    for (std::size_t i = 0; i < count; ++i) source[i] = 100 + static_cast<std::int64_t>(i);
    std::vector<std::int64_t> a(kChunk), b(kChunk);
    std::int64_t* const staging[2] = {a.data(), b.data()};
    FakeStagedCopies fake(&source, staging, kChunk);
    std::vector<std::int64_t> out{-1, -2};
    gpu::append_through_staging(
        out, count, staging, kChunk,
        [&](std::size_t buffer, std::size_t first, std::size_t n) { fake.copy(buffer, first, n); },
        [&] { fake.wait(); });
    ASSERT_FALSE(HasFatalFailure());
    std::vector<std::int64_t> want{-1, -2};
    want.insert(want.end(), source.begin(), source.end());
    EXPECT_EQ(out, want);
    EXPECT_TRUE(fake.in_flight.empty()) << "a copy left in flight";
    ASSERT_EQ(fake.started.size(), (count + kChunk - 1) / kChunk) << "one copy per chunk";
    for (std::size_t k = 0; k < fake.started.size(); ++k) {
      EXPECT_EQ(fake.started[k].buffer, k % 2) << "chunk " << k << " alternates buffers";
      EXPECT_EQ(fake.started[k].first, k * kChunk) << "chunk " << k;
    }
  }
}

TEST(StagedAppend, a_failing_copy_or_wait_leaves_out_as_before) {
  constexpr std::size_t kChunk = 4;
  const std::vector<std::int64_t> source(13, 5);
  for (const bool fail_wait : {false, true}) {
    for (const int at : {0, 1, 3}) {
      SCOPED_TRACE(std::string(fail_wait ? "wait" : "copy") + " fails at call " + std::to_string(at));
      std::vector<std::int64_t> a(kChunk), b(kChunk);
      std::int64_t* const staging[2] = {a.data(), b.data()};
      FakeStagedCopies fake(&source, staging, kChunk);
      (fail_wait ? fake.fail_wait_at : fake.fail_copy_at) = at;
      std::vector<std::int64_t> out{-1, -2};
      EXPECT_THROW(gpu::append_through_staging(
                       out, source.size(), staging, kChunk,
                       [&](std::size_t buffer, std::size_t first, std::size_t n) {
                         fake.copy(buffer, first, n);
                       },
                       [&] { fake.wait(); }),
                   std::runtime_error);
      EXPECT_EQ(out, (std::vector<std::int64_t>{-1, -2}));
    }
  }
}

// ---------------------------------------------------------------------------
// On a device: skipped where none can run the kernels.

class DeviceStoreTest : public ::testing::TestWithParam<DevicePasses> {
 protected:
  void SetUp() override {
    if (const std::string& reason = gpu::unavailable_reason(); !reason.empty()) {
      GTEST_SKIP() << "no CUDA device: " << reason;
    }
  }
  const char* backend_name() const {
    return GetParam() == DevicePasses::kCudaKernels ? "cuda" : "thrust";
  }
};

// Runs the device store's tick over literal host columns `c` (uploaded:
// stored literally; ticked: fast or relayout as the frame decides;
// downloaded back into `c`, decoded).
void device_tick(DevicePasses passes, Columns& c, const TickParams& p,
                 std::vector<Candidate>& out) {
  DeviceCounterStore store(passes);
  store.upload(c.view());
  store.tick(p, out);
  ASSERT_EQ(store.slot_count(), c.size);
  for (std::size_t i = 0; i < c.size; ++i) {
    ASSERT_EQ(store.last_update_host()[i], p.now) << "host mirror, slot " << i;
  }
  store.download(c.view());
}

// Runs the device store's tick over forward host columns `c` under the
// frame `before` (uploaded as they are, the frame adopted; downloaded back
// as they are).
void device_forward_tick(DevicePasses passes, Columns& c, const ForwardFrame& before,
                         const TickParams& p, std::vector<Candidate>& out) {
  DeviceCounterStore store(passes);
  ForwardFrame frame = before;
  CounterColumns view = c.view();
  view.frame = &frame;
  store.upload(view);
  store.tick(p, out);
  store.download(view);
  ForwardFrame after = before;
  forward_after_tick(after, p.now, !forward_tick_allowed(before, p.now));
  EXPECT_EQ(frame.landmark, after.landmark);
  EXPECT_EQ(frame.tick_instant, after.tick_instant);
}

// Runs the device store's prune over literal host columns `c` (uploaded
// first), after a tick at `tick_at` if asked.
void device_prune(DevicePasses passes, Columns& c, std::vector<std::uint32_t>& out,
                  std::optional<std::int64_t> tick_at = std::nullopt) {
  DeviceCounterStore store(passes);
  store.upload(c.view());
  if (tick_at) {
    std::vector<Candidate> candidates;
    store.tick(TickParams{.now = *tick_at}, candidates);
  }
  store.collect_prunable(out);
}

TEST_P(DeviceStoreTest, store_is_a_device_store_with_checked_slots) {
  DeviceCounterStore store(GetParam());
  EXPECT_EQ(store.backend(), backend_name());
  EXPECT_FALSE(store.host_columns().has_value());
  store.ensure_slots(3);
  store.init(1, kHalfLife, kNow);
  store.bump(1, kNow);
  EXPECT_EQ(store.pending_ops(), 2u);
  store.ensure_slots(1000);  // keeps contents, new slots empty
  EXPECT_EQ(store.pending_ops(), 0u);
  EXPECT_EQ(store.read(1).rate, 1.0);
  EXPECT_EQ(store.read(1).last_update, kNow);
  EXPECT_EQ(store.read(999).rate, 0.0);
  EXPECT_EQ(store.read(999).last_update, 0);
  EXPECT_EQ(store.last_update_host()[999], 0);
  EXPECT_GE(store.memory_bytes(), 1000u * (8 + 8 + 8 + 8 + 1));
  EXPECT_THROW(store.bump(1000, kNow), std::out_of_range);
  EXPECT_THROW((void)store.read(1000), std::out_of_range);
  // After a tick every slot reads its instant; slots added later read 0, as
  // the literal store's do.
  std::vector<Candidate> out;
  store.tick(TickParams{.now = kNow + kHalfLife}, out);
  EXPECT_EQ(store.read(999).last_update, kNow + kHalfLife);
  EXPECT_EQ(store.read(1).rate, 0.5);
  store.ensure_slots(1001);
  EXPECT_EQ(store.read(1000).last_update, 0);
  EXPECT_EQ(store.last_update_host()[1000], 0);
  EXPECT_EQ(store.read(999).last_update, kNow + kHalfLife);
  EXPECT_EQ(store.frame().tick_instant, kNow + kHalfLife);
}

// Sizes around the block (256) and the one-pass tick's tile (1024), and past
// one full grid of blocks (8192 * 256), where the grid-stride loops take a
// second lap.
std::vector<std::size_t> device_sizes() {
  std::vector<std::size_t> sizes(std::begin(kSizes), std::end(kSizes));
  for (const std::size_t n :
       {255u, 256u, 257u, 1023u, 1024u, 1025u, 2'097'151u, 2'097'152u, 2'100'003u})
    sizes.push_back(n);
  return sizes;
}

TEST_P(DeviceStoreTest, tick_of_uploaded_columns_matches_scalar_reference) {
  // Uploaded counters are literal: the first tick converts them (the fast
  // tick) or relayouts the store (writes after its instant).
  for (const bool writes_after_the_tick : {false, true}) {
    SCOPED_TRACE(writes_after_the_tick ? "relayout" : "fast");
    expect_store_tick_matches_scalar(
        [&](Columns& c, const TickParams& p, std::vector<Candidate>& out) {
          device_tick(GetParam(), c, p, out);
        },
        device_sizes(), writes_after_the_tick);
  }
}

TEST_P(DeviceStoreTest, tick_of_forward_columns_matches_scalar_reference) {
  // Forward counters with literal ones among them, each kind of tick.
  for (const ForwardTickKind kind :
       {ForwardTickKind::kFast, ForwardTickKind::kFastShared, ForwardTickKind::kRelayout}) {
    expect_forward_tick_matches_scalar(
        [&](Columns& c, const ForwardFrame& before, const TickParams& p, std::vector<Candidate>& out) {
          device_forward_tick(GetParam(), c, before, p, out);
        },
        device_sizes(), kind);
  }
}

TEST_P(DeviceStoreTest, tick_appends_after_what_out_holds) {
  TickParams p;
  p.now = kNow;
  p.skip_in_flight = p.mark_in_flight = true;
  for (const bool writes_after_the_tick : {false, true}) {
    Columns want = forward_domain_columns(1'000'003, 4242, false,
                                          writes_after_the_tick ? std::nullopt : std::optional(kNow));
    Columns got = want;
    const Candidate earlier{7, Decision::kWithdraw, 0.0};
    std::vector<Candidate> want_out{earlier}, got_out{earlier};
    scalar::tick(want.view(), p, want_out);
    device_tick(GetParam(), got, p, got_out);
    expect_columns_agree(want, got);
    expect_candidates_agree(want_out, got_out);
  }
}

// The benchmarks' other tick shapes (the two-pass tick, the one-pass
// kernel's other tiles and steps): tick_shapes_test.

TEST_P(DeviceStoreTest, collect_prunable_matches_scalar_reference) {
  // Straight after the upload (literal counters), and after a tick (forward
  // ones, some decayed past epsilon).
  std::uint64_t seed = 1000;
  for (const bool ticked : {false, true}) {
    for (const std::size_t n : kSizes) {
      SCOPED_TRACE(std::string(ticked ? "after a tick" : "uploaded") + " n=" + std::to_string(n));
      Columns c = forward_domain_columns(n, seed++, false);
      Rng rng(seed);
      for (std::size_t i = 0; i < n; ++i) {
        if (rng.chance(30)) c.rate[i] = rng.chance(50) ? 0.0 : -0.0;
        if (rng.chance(20)) c.last_update[i] = kNow - kHalfLife * static_cast<std::int64_t>(50 + rng.below(15));
      }
      Columns reference = c;
      std::vector<std::uint32_t> want{3}, got{3};
      if (ticked) {
        std::vector<Candidate> candidates;
        scalar::tick(reference.view(), TickParams{.now = kNow}, candidates);
      }
      scalar::collect_prunable(reference.view(), want);
      device_prune(GetParam(), c, got, ticked ? std::optional(kNow) : std::nullopt);
      ASSERT_EQ(want, got);
    }
  }
}

TEST_P(DeviceStoreTest, candidates_when_none_and_all_qualify_and_prune_of_everything) {
  expect_candidates_when_none_and_all_qualify(
      4097, [&](Columns& c, const TickParams& p, std::vector<Candidate>& out) {
        device_tick(GetParam(), c, p, out);
      });
  expect_prune_of_everything(
      3001, [&](Columns& c, std::vector<std::uint32_t>& out) { device_prune(GetParam(), c, out); });
}

TEST_P(DeviceStoreTest, a_million_duplicate_bumps_on_one_slot_equal_bumping_in_turn) {
  constexpr std::size_t kSlots = 7;
  DeviceCounterStore got(GetParam());
  HostCounterStore want("scalar", HostKernels{&scalar::tick, &scalar::collect_prunable});
  const auto both = [&](auto op) {
    op(static_cast<CounterStore&>(got));
    op(static_cast<CounterStore&>(want));
  };
  both([](CounterStore& s) { s.ensure_slots(kSlots); });
  for (Slot slot = 0; slot < kSlots; ++slot) {
    const std::int64_t half_life = slot == 6 ? 0 : kHalfLife;
    both([&](CounterStore& s) { s.init(slot, half_life, kNow - 100 * kHalfLife); });
  }
  // Phase 1 (one flush): a million bumps of slot 3 at one `now`, with other
  // slots' operations interleaved and time moving both ways for slot 1.
  std::int64_t now = kNow;
  for (int i = 0; i < 1'000'000; ++i) {
    both([&](CounterStore& s) { s.bump(3, now); });
    if (i % 1000 == 0) {
      const std::int64_t t = kNow + (i % 3000 == 0 ? -1 : 1) * static_cast<std::int64_t>(i) * 1000;
      both([&](CounterStore& s) { s.bump(1, t); });
      both([&](CounterStore& s) { s.decay_to(2, t); });
      both([&](CounterStore& s) { s.bump(6, t); });
    }
    if (i % 250'000 == 0) {
      both([&](CounterStore& s) { s.record(5, Decision::kEmit, 3.5); });
      both([&](CounterStore& s) { s.set_in_flight(5, i % 500'000 == 0); });
    }
  }
  ASSERT_GT(got.pending_ops(), 1'000'000u) << "phase 1 should still be queued";
  for (Slot slot = 0; slot < kSlots; ++slot) {
    ASSERT_EQ(got.last_update_host()[slot], want.last_update_host()[slot])
        << "mirror, slot " << slot;
  }
  // Phase 2: more bumps of slot 4 than the queue holds (flushes on the way).
  now += kHalfLife / 3;
  for (std::size_t i = 0; i < DeviceCounterStore::kMaxPendingOps + 5; ++i) {
    both([&](CounterStore& s) { s.bump(4, now); });
  }
  EXPECT_LT(got.pending_ops(), DeviceCounterStore::kMaxPendingOps);
  for (Slot slot = 0; slot < kSlots; ++slot) {
    SCOPED_TRACE("slot " + std::to_string(slot));
    const CounterState a = want.read(slot), b = got.read(slot);
    EXPECT_TRUE(rates_agree(a.rate, b.rate)) << a.rate << " vs " << b.rate;
    EXPECT_EQ(a.last_update, b.last_update);
    EXPECT_EQ(a.has_emitted, b.has_emitted);
    EXPECT_TRUE(same_double(a.last_emitted, b.last_emitted));
    EXPECT_EQ(a.half_life, b.half_life);
    EXPECT_EQ(a.in_flight, b.in_flight);
  }
  EXPECT_EQ(got.read(3).rate, 1'000'000.0)
      << "100 half-lives of decay leave 0, then +1 a million times";
}

// Timed bumps applied on the device (bump_on_device) against the host store
// bumping each read in turn. `gap_half_lives` > 0 puts one gap of that many
// half-lives inside slot 0's run (past 52 the device takes its exact serial
// path, past 64 the rate resets).
void expect_device_bumps_equal_bumping_in_turn(DevicePasses passes, double gap_half_lives,
                                               std::uint64_t seed) {
  constexpr std::size_t kSlots = 1000;
  constexpr std::size_t kReads = 300'000;
  DeviceCounterStore got(passes);
  HostCounterStore want("scalar", HostKernels{&scalar::tick, &scalar::collect_prunable});
  got.ensure_slots(kSlots);
  want.ensure_slots(kSlots);
  Rng rng(seed);
  for (Slot slot = 0; slot < kSlots; ++slot) {
    const std::int64_t half_life = slot % 10 == 9 ? 0 : kHalfLife * static_cast<std::int64_t>(1 + slot % 3);
    const std::int64_t born = kNow - static_cast<std::int64_t>(rng.below(50)) * kHalfLife;
    for (CounterStore* s : {static_cast<CounterStore*>(&got), static_cast<CounterStore*>(&want)}) {
      s->init(slot, half_life, born);
      if (slot % 4 != 0) s->bump(slot, born);  // some start at rate 0
    }
  }
  std::vector<std::uint32_t> slots(kReads);
  std::vector<std::int64_t> times(kReads);
  std::int64_t now = kNow;
  for (std::size_t i = 0; i < kReads; ++i) {
    // A third of the reads hit slot 0 (a hot key read 100,000 times), the
    // rest spread; time mostly moves forward by small steps, sometimes back.
    slots[i] = rng.chance(33) ? 0 : static_cast<std::uint32_t>(rng.below(kSlots));
    now += rng.chance(2) ? -static_cast<std::int64_t>(rng.below(kHalfLife / 100))
                         : static_cast<std::int64_t>(rng.below(kHalfLife / 1000));
    if (gap_half_lives > 0 && (i == kReads / 2 || i == kReads / 2 + 1)) {
      slots[i] = 0;  // two reads of slot 0 in a row, the gap between them
      if (i == kReads / 2 + 1) {
        now += static_cast<std::int64_t>(gap_half_lives * static_cast<double>(kHalfLife));
      }
    }
    times[i] = now;
  }
  for (std::size_t i = 0; i < kReads; ++i) want.bump(slots[i], times[i]);

  gpu::DeviceBuffer<std::uint32_t> device_slots(kReads);
  gpu::DeviceBuffer<std::int64_t> device_times(kReads);
  ASSERT_EQ(cudaMemcpy(device_slots.data(), slots.data(), kReads * sizeof(std::uint32_t),
                       cudaMemcpyHostToDevice),
            cudaSuccess);
  ASSERT_EQ(cudaMemcpy(device_times.data(), times.data(), kReads * sizeof(std::int64_t),
                       cudaMemcpyHostToDevice),
            cudaSuccess);
  got.bump_on_device(device_slots.data(), device_times.data(), kReads);
  for (Slot slot = 0; slot < kSlots; ++slot) {
    SCOPED_TRACE("slot " + std::to_string(slot));
    const CounterState a = want.read(slot), b = got.read(slot);
    ASSERT_TRUE(rates_agree(a.rate, b.rate)) << a.rate << " vs " << b.rate;
    ASSERT_EQ(a.last_update, b.last_update);
    ASSERT_EQ(got.last_update_host()[slot], a.last_update) << "host mirror";
    ASSERT_EQ(a.half_life, b.half_life);
  }
  EXPECT_GT(want.read(0).rate, gap_half_lives > 64 ? 1.0 : 100.0);
}

TEST_P(DeviceStoreTest, timed_bumps_on_the_device_equal_bumping_each_in_turn) {
  expect_device_bumps_equal_bumping_in_turn(GetParam(), 0.0, 1);
}

TEST_P(DeviceStoreTest, timed_bumps_with_gaps_near_the_epsilon_clamp_take_the_exact_path) {
  expect_device_bumps_equal_bumping_in_turn(GetParam(), 55.0, 2);
  expect_device_bumps_equal_bumping_in_turn(GetParam(), 70.0, 3);
}

TEST_P(DeviceStoreTest, device_bumps_of_a_missing_slot_throw_and_change_nothing) {
  DeviceCounterStore store(GetParam());
  store.ensure_slots(10);
  store.init(3, kHalfLife, kNow);
  const std::vector<std::uint32_t> slots{3, 3, 10};
  const std::vector<std::int64_t> times{kNow + 1, kNow + 2, kNow + 3};
  gpu::DeviceBuffer<std::uint32_t> device_slots(3);
  gpu::DeviceBuffer<std::int64_t> device_times(3);
  ASSERT_EQ(cudaMemcpy(device_slots.data(), slots.data(), sizeof(std::uint32_t) * 3,
                       cudaMemcpyHostToDevice),
            cudaSuccess);
  ASSERT_EQ(cudaMemcpy(device_times.data(), times.data(), sizeof(std::int64_t) * 3,
                       cudaMemcpyHostToDevice),
            cudaSuccess);
  try {
    store.bump_on_device(device_slots.data(), device_times.data(), 3);
    ADD_FAILURE() << "bump_on_device accepted slot 10 of 10";
  } catch (const std::out_of_range& e) {
    EXPECT_TRUE(has_substring(e.what(), "slot 10")) << e.what();
  }
  EXPECT_EQ(store.read(3).rate, 0.0);
  EXPECT_EQ(store.read(3).last_update, kNow);
  store.bump_on_device(device_slots.data(), device_times.data(), 2);
  EXPECT_EQ(store.read(3).last_update, kNow + 2);
  EXPECT_EQ(store.last_update_host()[3], kNow + 2);
  // 0 + 1, then decayed by one nanosecond's worth of half-life, + 1.
  EXPECT_TRUE(rates_agree(store.read(3).rate,
                          std::exp2(-1.0 / static_cast<double>(kHalfLife)) + 1.0))
      << store.read(3).rate;
}

TEST_P(DeviceStoreTest, host_mirror_equals_the_device_column_across_wraps_of_its_stamps) {
  // 600 ticks (the mirror's stamps wrap twice) with writes of a few slots
  // between them, time going back too, and growth midway: the host mirror
  // must read what the device column holds after every tick.
  DeviceCounterStore store(GetParam());
  store.ensure_slots(300);
  std::mt19937_64 rng(9);
  std::int64_t now = kNow;
  std::vector<Candidate> out;
  for (int tick = 1; tick <= 600; ++tick) {
    if (tick == 300) store.ensure_slots(1000);  // new slots read 0 until written
    for (int k = 0; k < 5; ++k) {
      const Slot slot = static_cast<Slot>(rng() % store.slot_count());
      const std::int64_t at = now - static_cast<std::int64_t>(rng() % 3);
      const auto op = rng() % 3;
      if (op == 0) {
        store.init(slot, kHalfLife, at);
      } else if (op == 1) {
        store.bump(slot, at);
      } else {
        store.decay_to(slot, at);
      }
    }
    if (tick % 7 == 0) {
      Columns host(store.slot_count());
      store.download(host.view());
      for (std::size_t i = 0; i < host.size; ++i) {
        ASSERT_EQ(store.last_update_host()[i], host.last_update[i])
            << "slot " << i << " before tick " << tick;
      }
    }
    now += kHalfLife / 10;
    out.clear();
    store.tick(TickParams{.now = now}, out);
    const Slot probe = static_cast<Slot>(rng() % store.slot_count());
    ASSERT_EQ(store.last_update_host()[probe], now) << "slot " << probe << " after tick " << tick;
  }
}

TEST_P(DeviceStoreTest, u64_registry_agrees_with_scalar_backend) {
  for (std::uint64_t seed : {1u, 2u}) {
    registry_agrees_with_scalar<std::uint64_t>(backend_name(), seed, 20'000);
  }
}

TEST_P(DeviceStoreTest, blob_registry_agrees_with_scalar_backend) {
  registry_agrees_with_scalar<BlobKey>(backend_name(), 4, 20'000);
}

std::string passes_name(const ::testing::TestParamInfo<DevicePasses>& info) {
  return info.param == DevicePasses::kCudaKernels ? "cuda" : "thrust";
}

INSTANTIATE_TEST_SUITE_P(Backends, DeviceStoreTest,
                         ::testing::Values(DevicePasses::kCudaKernels, DevicePasses::kThrust),
                         passes_name);

}  // namespace
}  // namespace heatkit::test
