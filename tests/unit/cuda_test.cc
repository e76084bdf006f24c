// The `cuda` and `thrust` backends (cuda/device_store.cu) against the scalar
// reference. Two groups:
//  - tests that run everywhere (no GPU needed): the backend rows follow the
//    device probe, selecting a device backend without a device fails with
//    BackendUnavailable naming the reason, CudaError names the failed call,
//    and the queued per-slot operations the flush kernel applies (apply_op,
//    grouped by slot) give exactly HostCounterStore's columns;
//  - device tests, skipped with "no CUDA device: <reason>" where none can run
//    the kernels: kernel vs scalar on random columns of awkward sizes, a
//    million duplicate bumps on one slot, timed bump batches applied on the
//    device (hot slots, time going back, gaps at the epsilon clamp, missing
//    slots), none / all candidates, prune of everything, and whole-registry
//    agreement, for both device backends.
#include <gtest/gtest.h>

#include <cuda_runtime_api.h>

#include <algorithm>
#include <cmath>
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
#include "kernel_agreement.h"
#include "kernels/scalar_kernels.h"

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

// The queue the flush kernel applies, checked on the host: apply_op in queue
// order is HostCounterStore's per-slot operations exactly, and so is applying
// the queue grouped by slot with a stable sort (what the flush does).
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

void apply_to_host_store(HostCounterStore& store, const gpu::PendingOp& op) {
  switch (op.kind) {
    case gpu::OpKind::kInit: store.init(op.slot, op.half_life, op.now); break;
    case gpu::OpKind::kClear: store.clear(op.slot); break;
    case gpu::OpKind::kBump: store.bump(op.slot, op.now); break;
    case gpu::OpKind::kDecayTo: store.decay_to(op.slot, op.now); break;
    case gpu::OpKind::kRecord: store.record(op.slot, op.decision, op.rate); break;
    case gpu::OpKind::kSetInFlight: store.set_in_flight(op.slot, op.in_flight); break;
  }
}

void expect_same_columns(HostCounterStore& want, const Columns& got, std::size_t slots) {
  const CounterColumns w = want.columns();
  for (std::size_t i = 0; i < slots; ++i) {
    ASSERT_TRUE(same_double(w.rate[i], got.rate[i])) << "slot " << i;
    ASSERT_EQ(w.last_update[i], got.last_update[i]) << "slot " << i;
    ASSERT_TRUE(same_double(w.last_emitted[i], got.last_emitted[i])) << "slot " << i;
    ASSERT_EQ(w.half_life[i], got.half_life[i]) << "slot " << i;
    ASSERT_EQ(w.flags[i], got.flags[i]) << "slot " << i;
  }
}

Columns zeroed_columns(std::size_t n) {
  Columns c(n);
  std::fill(c.rate.begin(), c.rate.end(), 0.0);
  std::fill(c.last_emitted.begin(), c.last_emitted.end(), 0.0);
  std::fill(c.last_update.begin(), c.last_update.end(), 0);
  std::fill(c.half_life.begin(), c.half_life.end(), 0);
  std::fill(c.flags.begin(), c.flags.end(), 0);
  return c;
}

// The flush algorithm on the host: stable sort by slot, group heads
// (is_group_head), then apply_groups_at for every group in a shuffled order.
// Returns the number of groups.
std::size_t apply_as_the_flush_does(const std::vector<gpu::PendingOp>& ops, Columns& columns,
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
    gpu::apply_groups_at(columns.view(), ops.data(), sorted_slots.data(), positions.data(),
                         heads.data(), heads.size(), ops.size(), g);
  }
  return heads.size();
}

TEST(DeviceOps, queued_ops_in_order_and_as_the_flush_applies_them_equal_the_host_store) {
  for (const std::size_t slots :
       {std::size_t{1}, std::size_t{3}, std::size_t{17}, std::size_t{500}}) {
    SCOPED_TRACE("slots=" + std::to_string(slots));
    const std::vector<gpu::PendingOp> ops = random_ops(slots, 20'000, slots);
    HostCounterStore want("scalar", HostKernels{&scalar::tick, &scalar::collect_prunable});
    want.ensure_slots(slots);
    for (const gpu::PendingOp& op : ops) apply_to_host_store(want, op);

    Columns in_order = zeroed_columns(slots);
    for (const gpu::PendingOp& op : ops) gpu::apply_op(in_order.view(), op);
    expect_same_columns(want, in_order, slots);

    // The flush: positions stably sorted by slot (the device's radix sort),
    // then apply_groups_at for every group, here in a shuffled order as the
    // device's threads might run them.
    Columns by_slot = zeroed_columns(slots);
    apply_as_the_flush_does(ops, by_slot, slots);
    expect_same_columns(want, by_slot, slots);

    // Order within a slot matters (so the agreement above says something):
    // the queue applied backwards, so every run backwards, gives other columns.
    Columns backwards = zeroed_columns(slots);
    for (std::size_t i = ops.size(); i-- > 0;) gpu::apply_op(backwards.view(), ops[i]);
    bool differs = false;
    const CounterColumns w = want.columns();
    for (std::size_t i = 0; i < slots; ++i) {
      differs = differs || !same_double(w.rate[i], backwards.rate[i]) ||
                w.last_update[i] != backwards.last_update[i] || w.flags[i] != backwards.flags[i];
    }
    EXPECT_TRUE(differs);
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
  HostCounterStore want("scalar", HostKernels{&scalar::tick, &scalar::collect_prunable});
  want.ensure_slots(kSlots);
  for (const gpu::PendingOp& op : ops) apply_to_host_store(want, op);
  Columns got = zeroed_columns(kSlots);
  const std::size_t groups = apply_as_the_flush_does(ops, got, 3);
  EXPECT_LE(groups + bumps_at_repeated_instants, ops.size())
      << "same-instant bumps must share a group";
  const CounterColumns w = want.columns();
  for (std::size_t i = 0; i < kSlots; ++i) {
    SCOPED_TRACE("slot " + std::to_string(i));
    EXPECT_TRUE(rates_agree(w.rate[i], got.rate[i])) << w.rate[i] << " vs " << got.rate[i];
    EXPECT_GT(got.rate[i], 1.0);
    EXPECT_EQ(w.last_update[i], got.last_update[i]);
    EXPECT_EQ(w.flags[i], got.flags[i]);
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

// Runs the device store's tick over host columns `c` (uploaded, ticked,
// downloaded back into `c`).
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

// Runs the device store's prune over host columns `c` (uploaded first).
void device_prune(DevicePasses passes, Columns& c, std::vector<std::uint32_t>& out) {
  DeviceCounterStore store(passes);
  store.upload(c.view());
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
}

TEST_P(DeviceStoreTest, tick_matches_scalar_reference_on_random_columns) {
  // kSizes plus sizes around the block (256) and the one-pass tick's tile
  // (1024), and past one full grid of blocks (8192 * 256), where the
  // grid-stride loops take a second lap.
  std::vector<std::size_t> sizes(std::begin(kSizes), std::end(kSizes));
  for (const std::size_t n :
       {255u, 256u, 257u, 1023u, 1024u, 1025u, 2'097'151u, 2'097'152u, 2'100'003u})
    sizes.push_back(n);
  expect_tick_matches_scalar_on_random_columns(
      [&](Columns& c, const TickParams& p, std::vector<Candidate>& out) {
        device_tick(GetParam(), c, p, out);
      },
      sizes);
}

TEST_P(DeviceStoreTest, tick_appends_after_what_out_holds) {
  expect_tick_matches_scalar_on_many_counters(
      1'000'003, [&](Columns& c, const TickParams& p, std::vector<Candidate>& out) {
        device_tick(GetParam(), c, p, out);
      });
}

// The benchmarks' other tick shapes (the two-pass tick, the one-pass
// kernel's other tiles): tick_shapes_test.

TEST_P(DeviceStoreTest, collect_prunable_matches_scalar_reference) {
  expect_prune_matches_scalar_on_random_columns(
      [&](Columns& c, std::vector<std::uint32_t>& out) { device_prune(GetParam(), c, out); });
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
