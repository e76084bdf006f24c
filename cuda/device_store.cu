// DeviceCounterStore: the columns in device memory, per-slot operations queued
// on the host and applied by one flush kernel, and the bulk passes either as
// hand-written kernels + CUB (`cuda`) or as cuda/thrust_passes.h on the CUDA
// device system (`thrust`). Compiled with --fmad=false (cuda/CMakeLists.txt):
// decay and gate must round like the scalar reference.
//
// Kernels are grid-stride loops over 64-bit indices and never throw; the host
// code checks every launch and every runtime call (cuda/cuda_error.h).
#include "cuda/device_store.h"

#include <cuda_runtime_api.h>

#include <cub/device/device_radix_sort.cuh>
#include <cub/device/device_select.cuh>
#include <thrust/iterator/counting_iterator.h>
#include <thrust/iterator/transform_iterator.h>
#include <thrust/system/cuda/error.h>
#include <thrust/system/cuda/execution_policy.h>
#include <thrust/system_error.h>

#include <algorithm>
#include <bit>
#include <cstddef>
#include <limits>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>

#include "cuda/cuda_error.h"
#include "cuda/device_buffer.h"
#include "cuda/device_ops.h"
#include "cuda/thrust_passes.h"

namespace heatkit::gpu {
namespace {

// Candidates are copied back byte for byte into the host's std::vector, and
// queued operations go up the same way: host and device must lay them out alike.
static_assert(sizeof(Candidate) == 16 && offsetof(Candidate, kind) == 4 &&
              offsetof(Candidate, rate) == 8);
static_assert(sizeof(PendingOp) == 32);
static_assert(sizeof(Decision) == 1);

constexpr unsigned kBlockSize = 256;
// Enough blocks to fill any current GPU several times; grid-stride loops
// cover the rest.
constexpr std::size_t kMaxBlocks = 8192;

// Blocks for a grid-stride pass over n > 0 items.
unsigned blocks_for(std::size_t n) {
  return static_cast<unsigned>(
      std::min<std::size_t>((n + kBlockSize - 1) / kBlockSize, kMaxBlocks));
}

__device__ inline std::size_t first_index() {
  return static_cast<std::size_t>(blockIdx.x) * blockDim.x + threadIdx.x;
}
__device__ inline std::size_t grid_stride() {
  return static_cast<std::size_t>(blockDim.x) * gridDim.x;
}

// Sort keys (the slot) and values (the queue position) of the queued ops.
__global__ void split_ops_kernel(const PendingOp* ops, std::size_t count, std::uint32_t* slots,
                                 std::uint32_t* positions) {
  for (std::size_t i = first_index(); i < count; i += grid_stride()) {
    slots[i] = ops[i].slot;
    positions[i] = static_cast<std::uint32_t>(i);
  }
}

// Applies the queue, stably sorted by slot: one run per slot (apply_run_at).
__global__ void apply_runs_kernel(CounterColumns columns, const PendingOp* ops,
                                  const std::uint32_t* sorted_slots, const std::uint32_t* positions,
                                  std::size_t count) {
  for (std::size_t i = first_index(); i < count; i += grid_stride()) {
    apply_run_at(columns, ops, sorted_slots, positions, count, i);
  }
}

// The fused tick: decay and gate of every slot (tick_one), one decision byte each.
__global__ void decide_kernel(CounterColumns c, TickParams params, Decision* decisions) {
  for (std::size_t i = first_index(); i < c.size; i += grid_stride()) {
    decisions[i] = tick_one(c.rate[i], c.last_update[i], c.last_emitted[i], c.half_life[i],
                            c.flags[i], params);
  }
}

// Bits a radix sort needs for slots below `slot_count` (at least one).
int slot_key_bits(std::size_t slot_count) {
  const auto highest = static_cast<std::uint64_t>(slot_count > 0 ? slot_count - 1 : 0);
  return std::clamp(static_cast<int>(std::bit_width(highest)), 1, 32);
}

// Switches the calling thread to the store's device for one call, and back.
class DeviceScope {
 public:
  explicit DeviceScope(int device) {
    int current = 0;
    HEATKIT_CUDA_CHECK(cudaGetDevice(&current));
    if (current != device) {
      HEATKIT_CUDA_CHECK(cudaSetDevice(device));
      previous_ = current;
    }
  }
  DeviceScope(const DeviceScope&) = delete;
  DeviceScope& operator=(const DeviceScope&) = delete;
  ~DeviceScope() {
    if (previous_ >= 0) (void)cudaSetDevice(previous_);
  }

 private:
  int previous_ = -1;
};

// Runs one Thrust pass; a Thrust failure becomes a CudaError naming the pass.
template <class Pass>
auto thrust_checked(const char* pass_name, const char* file, int line, Pass&& pass) {
  try {
    return pass();
  } catch (const thrust::system_error& e) {
    const cudaError_t code = e.code().category() == thrust::cuda_category()
                                 ? static_cast<cudaError_t>(e.code().value())
                                 : cudaErrorUnknown;
    throw CudaError(code, std::string(pass_name) + " [" + e.what() + "]", file, line);
  }
}
#define HEATKIT_THRUST_CHECK(pass_name, ...) \
  thrust_checked(pass_name, __FILE__, __LINE__, [&]() { return __VA_ARGS__; })

int current_device() {
  int device = 0;
  HEATKIT_CUDA_CHECK(cudaGetDevice(&device));
  return device;
}

}  // namespace

struct DeviceCounterStore::Impl {
  explicit Impl(DevicePasses p) : passes(p), device(current_device()) {}

  DevicePasses passes;
  int device;
  CudaStream stream;  // declared first: destroyed after every buffer below

  // The columns, `size` slots each.
  DeviceBuffer<double> rate;
  DeviceBuffer<std::int64_t> last_update;
  DeviceBuffer<double> last_emitted;
  DeviceBuffer<std::int64_t> half_life;
  DeviceBuffer<std::uint8_t> flags;
  std::size_t size = 0;
  std::vector<std::int64_t> last_update_mirror;  // == last_update after every call

  // Queued per-slot operations, and the flush's device copies of them.
  std::vector<PendingOp> pending;
  DeviceBuffer<PendingOp> ops;
  DeviceBuffer<std::uint32_t> op_slots, op_slots_sorted, op_positions, op_positions_sorted;

  // Scratch of the bulk passes, grown to the largest pass seen, then reused.
  DeviceBuffer<Decision> decisions;
  DeviceBuffer<Candidate> candidates;
  DeviceBuffer<std::uint32_t> prunable;
  DeviceBuffer<std::int64_t> selected_count{1};
  DeviceBuffer<std::byte> cub_temp;

  CounterColumns columns() {
    return CounterColumns{rate.data(),      last_update.data(), last_emitted.data(),
                          half_life.data(), flags.data(),       size};
  }

  // CUB's temporary storage of `bytes` (never null: a null pointer would make
  // CUB answer a size query instead of running).
  void* temp_storage(std::size_t bytes) {
    cub_temp.reserve_discarding(std::max<std::size_t>(bytes, 1));
    return cub_temp.data();
  }

  void check_slot(Slot slot) const {
    if (slot >= size) {
      throw std::out_of_range("device counter store: slot " + std::to_string(slot) +
                              " is out of range (" + std::to_string(size) + " slots)");
    }
  }

  void enqueue(const PendingOp& op) {
    pending.push_back(op);
    if (pending.size() >= kMaxPendingOps) flush();
  }

  void flush();
  void tick_with_kernels(const TickParams& params, std::vector<Candidate>& out);
  void tick_with_thrust(const TickParams& params, std::vector<Candidate>& out);
  void prunable_with_kernels(std::vector<Slot>& out);
  void prunable_with_thrust(std::vector<Slot>& out);
  // Appends `count` device elements to `out`; on failure `out` is as before.
  template <class T>
  void append_from_device(std::vector<T>& out, const T* device_items, std::size_t count);
  std::size_t read_selected_count(std::size_t at_most);
};

void DeviceCounterStore::Impl::flush() {
  const std::size_t count = pending.size();
  if (count == 0) return;
  const DeviceScope scope(device);
  const cudaStream_t s = stream.get();
  ops.reserve_discarding(count);
  op_slots.reserve_discarding(count);
  op_slots_sorted.reserve_discarding(count);
  op_positions.reserve_discarding(count);
  op_positions_sorted.reserve_discarding(count);
  HEATKIT_CUDA_CHECK(cudaMemcpyAsync(ops.data(), pending.data(), count * sizeof(PendingOp),
                                     cudaMemcpyHostToDevice, s));
  split_ops_kernel<<<blocks_for(count), kBlockSize, 0, s>>>(ops.data(), count, op_slots.data(),
                                                            op_positions.data());
  HEATKIT_CUDA_CHECK_LAUNCH("split_ops_kernel");

  // Radix sort is stable: equal slots keep their queue order.
  const auto items = static_cast<std::uint32_t>(count);  // <= kMaxPendingOps
  const int end_bit = slot_key_bits(size);
  std::size_t temp_bytes = 0;
  HEATKIT_CUDA_CHECK(cub::DeviceRadixSort::SortPairs(
      nullptr, temp_bytes, op_slots.data(), op_slots_sorted.data(), op_positions.data(),
      op_positions_sorted.data(), items, 0, end_bit, s));
  HEATKIT_CUDA_CHECK(cub::DeviceRadixSort::SortPairs(
      temp_storage(temp_bytes), temp_bytes, op_slots.data(), op_slots_sorted.data(),
      op_positions.data(), op_positions_sorted.data(), items, 0, end_bit, s));

  apply_runs_kernel<<<blocks_for(count), kBlockSize, 0, s>>>(
      columns(), ops.data(), op_slots_sorted.data(), op_positions_sorted.data(), count);
  HEATKIT_CUDA_CHECK_LAUNCH("apply_runs_kernel");
  // Waits before the host queue is reused, and makes faults surface here.
  stream.synchronize();
  pending.clear();
}

std::size_t DeviceCounterStore::Impl::read_selected_count(std::size_t at_most) {
  std::int64_t selected = 0;
  HEATKIT_CUDA_CHECK(cudaMemcpyAsync(&selected, selected_count.data(), sizeof selected,
                                     cudaMemcpyDeviceToHost, stream.get()));
  stream.synchronize();
  if (selected < 0 || static_cast<std::uint64_t>(selected) > at_most) {
    throw std::logic_error("device counter store: compaction selected " + std::to_string(selected) +
                           " of " + std::to_string(at_most) + " items");
  }
  return static_cast<std::size_t>(selected);
}

template <class T>
void DeviceCounterStore::Impl::append_from_device(std::vector<T>& out, const T* device_items,
                                                  std::size_t count) {
  if (count == 0) return;
  const std::size_t base = out.size();
  out.resize(base + count);
  try {
    HEATKIT_CUDA_CHECK(cudaMemcpyAsync(out.data() + base, device_items, count * sizeof(T),
                                       cudaMemcpyDeviceToHost, stream.get()));
    stream.synchronize();
  } catch (...) {
    out.resize(base);
    throw;
  }
}

void DeviceCounterStore::Impl::tick_with_kernels(const TickParams& params,
                                                 std::vector<Candidate>& out) {
  const std::size_t n = size;
  const cudaStream_t s = stream.get();
  decisions.reserve_discarding(n);
  candidates.reserve_discarding(n);
  decide_kernel<<<blocks_for(n), kBlockSize, 0, s>>>(columns(), params, decisions.data());
  HEATKIT_CUDA_CHECK_LAUNCH("decide_kernel");
  std::fill(last_update_mirror.begin(), last_update_mirror.end(), params.now);

  // Stable compaction of the non-Suppress slots (Suppress is byte 0).
  const auto all_candidates =
      thrust::make_transform_iterator(thrust::counting_iterator<std::uint32_t>(0),
                                      thrust_passes::ToCandidate{rate.data(), decisions.data()});
  const auto* selected_flags = reinterpret_cast<const std::uint8_t*>(decisions.data());
  const auto items = static_cast<std::int64_t>(n);
  std::size_t temp_bytes = 0;
  HEATKIT_CUDA_CHECK(cub::DeviceSelect::Flagged(nullptr, temp_bytes, all_candidates, selected_flags,
                                                candidates.data(), selected_count.data(), items,
                                                s));
  HEATKIT_CUDA_CHECK(cub::DeviceSelect::Flagged(temp_storage(temp_bytes), temp_bytes,
                                                all_candidates, selected_flags, candidates.data(),
                                                selected_count.data(), items, s));
  append_from_device(out, candidates.data(), read_selected_count(n));
}

void DeviceCounterStore::Impl::tick_with_thrust(const TickParams& params,
                                                std::vector<Candidate>& out) {
  const CounterColumns c = columns();
  const auto policy = thrust::cuda::par.on(stream.get());
  decisions.reserve_discarding(size);
  const std::size_t count =
      HEATKIT_THRUST_CHECK("thrust decide (transform + count_if)",
                           thrust_passes::decide(policy, c, params, decisions.data()));
  std::fill(last_update_mirror.begin(), last_update_mirror.end(), params.now);
  if (count == 0) return;
  if (count > size) throw std::logic_error("device counter store: more candidates than slots");
  candidates.reserve_discarding(count);
  HEATKIT_THRUST_CHECK(
      "thrust compact_candidates (copy_if)",
      (thrust_passes::compact_candidates(policy, c, decisions.data(), candidates.data()), 0));
  append_from_device(out, candidates.data(), count);
}

void DeviceCounterStore::Impl::prunable_with_kernels(std::vector<Slot>& out) {
  const std::size_t n = size;
  const cudaStream_t s = stream.get();
  prunable.reserve_discarding(n);
  const thrust::counting_iterator<std::uint32_t> all_slots(0);
  const thrust_passes::IsPrunable is_prunable{columns()};
  const auto items = static_cast<std::int64_t>(n);
  std::size_t temp_bytes = 0;
  HEATKIT_CUDA_CHECK(cub::DeviceSelect::If(nullptr, temp_bytes, all_slots, prunable.data(),
                                           selected_count.data(), items, is_prunable, s));
  HEATKIT_CUDA_CHECK(cub::DeviceSelect::If(temp_storage(temp_bytes), temp_bytes, all_slots,
                                           prunable.data(), selected_count.data(), items,
                                           is_prunable, s));
  append_from_device(out, prunable.data(), read_selected_count(n));
}

void DeviceCounterStore::Impl::prunable_with_thrust(std::vector<Slot>& out) {
  const CounterColumns c = columns();
  const auto policy = thrust::cuda::par.on(stream.get());
  const std::size_t count = HEATKIT_THRUST_CHECK("thrust count_prunable (count_if)",
                                                 thrust_passes::count_prunable(policy, c));
  if (count == 0) return;
  if (count > size) throw std::logic_error("device counter store: more prunable slots than slots");
  prunable.reserve_discarding(count);
  HEATKIT_THRUST_CHECK("thrust compact_prunable (copy_if)",
                       (thrust_passes::compact_prunable(policy, c, prunable.data()), 0));
  append_from_device(out, prunable.data(), count);
}

// ---------------------------------------------------------------------------

DeviceCounterStore::DeviceCounterStore(DevicePasses passes)
    : impl_(std::make_unique<Impl>(passes)) {}
DeviceCounterStore::~DeviceCounterStore() = default;

std::string_view DeviceCounterStore::backend() const noexcept {
  return impl_->passes == DevicePasses::kCudaKernels ? "cuda" : "thrust";
}

std::size_t DeviceCounterStore::slot_count() const noexcept { return impl_->size; }

void DeviceCounterStore::ensure_slots(std::size_t n) {
  Impl& m = *impl_;
  if (n <= m.size) return;
  if (n > std::size_t{std::numeric_limits<Slot>::max()} + 1) {
    throw std::length_error("device counter store: " + std::to_string(n) +
                            " slots do not fit 32-bit slot numbers");
  }
  const DeviceScope scope(m.device);
  m.flush();
  const cudaStream_t s = m.stream.get();
  const std::size_t old = m.size;
  // Grown copies: old contents, then zeros (an empty slot is all-zero bytes:
  // rate 0.0, no emission, no flags). Swapped in only once all succeeded.
  auto grown = [&](auto& column) {
    using T = std::remove_reference_t<decltype(*column.data())>;
    DeviceBuffer<T> next(n);
    if (old > 0) {
      HEATKIT_CUDA_CHECK(cudaMemcpyAsync(next.data(), column.data(), old * sizeof(T),
                                         cudaMemcpyDeviceToDevice, s));
    }
    HEATKIT_CUDA_CHECK(cudaMemsetAsync(next.data() + old, 0, (n - old) * sizeof(T), s));
    return next;
  };
  DeviceBuffer<double> rate = grown(m.rate);
  DeviceBuffer<std::int64_t> last_update = grown(m.last_update);
  DeviceBuffer<double> last_emitted = grown(m.last_emitted);
  DeviceBuffer<std::int64_t> half_life = grown(m.half_life);
  DeviceBuffer<std::uint8_t> flags = grown(m.flags);
  m.stream.synchronize();
  m.last_update_mirror.resize(n, 0);
  m.rate = std::move(rate);
  m.last_update = std::move(last_update);
  m.last_emitted = std::move(last_emitted);
  m.half_life = std::move(half_life);
  m.flags = std::move(flags);
  m.size = n;
}

void DeviceCounterStore::init(Slot slot, std::int64_t half_life, std::int64_t now) {
  impl_->check_slot(slot);
  PendingOp op;
  op.slot = slot;
  op.kind = OpKind::kInit;
  op.now = now;
  op.half_life = half_life;
  impl_->last_update_mirror[slot] = now;
  impl_->enqueue(op);
}

void DeviceCounterStore::clear(Slot slot) {
  impl_->check_slot(slot);
  PendingOp op;
  op.slot = slot;
  op.kind = OpKind::kClear;
  impl_->enqueue(op);
}

void DeviceCounterStore::bump(Slot slot, std::int64_t now) {
  impl_->check_slot(slot);
  PendingOp op;
  op.slot = slot;
  op.kind = OpKind::kBump;
  op.now = now;
  impl_->last_update_mirror[slot] = now;
  impl_->enqueue(op);
}

void DeviceCounterStore::decay_to(Slot slot, std::int64_t now) {
  impl_->check_slot(slot);
  PendingOp op;
  op.slot = slot;
  op.kind = OpKind::kDecayTo;
  op.now = now;
  impl_->last_update_mirror[slot] = now;
  impl_->enqueue(op);
}

void DeviceCounterStore::record(Slot slot, Decision kind, double rate) {
  impl_->check_slot(slot);
  if (kind == Decision::kSuppress) return;  // records nothing, as on the host
  PendingOp op;
  op.slot = slot;
  op.kind = OpKind::kRecord;
  op.decision = kind;
  op.rate = rate;
  impl_->enqueue(op);
}

void DeviceCounterStore::set_in_flight(Slot slot, bool in_flight) {
  impl_->check_slot(slot);
  PendingOp op;
  op.slot = slot;
  op.kind = OpKind::kSetInFlight;
  op.in_flight = in_flight;
  impl_->enqueue(op);
}

CounterState DeviceCounterStore::read(Slot slot) const {
  Impl& m = *impl_;
  m.check_slot(slot);
  const DeviceScope scope(m.device);
  m.flush();
  const cudaStream_t s = m.stream.get();
  double rate = 0.0, last_emitted = 0.0;
  std::int64_t last_update = 0, half_life = 0;
  std::uint8_t flags = 0;
  HEATKIT_CUDA_CHECK(
      cudaMemcpyAsync(&rate, m.rate.data() + slot, sizeof rate, cudaMemcpyDeviceToHost, s));
  HEATKIT_CUDA_CHECK(cudaMemcpyAsync(&last_update, m.last_update.data() + slot, sizeof last_update,
                                     cudaMemcpyDeviceToHost, s));
  HEATKIT_CUDA_CHECK(cudaMemcpyAsync(&last_emitted, m.last_emitted.data() + slot,
                                     sizeof last_emitted, cudaMemcpyDeviceToHost, s));
  HEATKIT_CUDA_CHECK(cudaMemcpyAsync(&half_life, m.half_life.data() + slot, sizeof half_life,
                                     cudaMemcpyDeviceToHost, s));
  HEATKIT_CUDA_CHECK(
      cudaMemcpyAsync(&flags, m.flags.data() + slot, sizeof flags, cudaMemcpyDeviceToHost, s));
  m.stream.synchronize();
  return CounterState{rate,         last_update, (flags & kHasEmitted) != 0,
                      last_emitted, half_life,   (flags & kInFlight) != 0};
}

void DeviceCounterStore::tick(const TickParams& params, std::vector<Candidate>& out) {
  Impl& m = *impl_;
  const DeviceScope scope(m.device);
  m.flush();
  if (m.size == 0) return;
  if (m.passes == DevicePasses::kCudaKernels) {
    m.tick_with_kernels(params, out);
  } else {
    m.tick_with_thrust(params, out);
  }
}

void DeviceCounterStore::collect_prunable(std::vector<Slot>& out) {
  Impl& m = *impl_;
  const DeviceScope scope(m.device);
  m.flush();
  if (m.size == 0) return;
  if (m.passes == DevicePasses::kCudaKernels) {
    m.prunable_with_kernels(out);
  } else {
    m.prunable_with_thrust(out);
  }
}

const std::int64_t* DeviceCounterStore::last_update_host() const noexcept {
  return impl_->last_update_mirror.data();
}

std::size_t DeviceCounterStore::memory_bytes() const noexcept {
  const Impl& m = *impl_;
  return m.rate.bytes() + m.last_update.bytes() + m.last_emitted.bytes() + m.half_life.bytes() +
         m.flags.bytes() + m.last_update_mirror.capacity() * sizeof(std::int64_t) +
         m.pending.capacity() * sizeof(PendingOp) + m.ops.bytes() + m.op_slots.bytes() +
         m.op_slots_sorted.bytes() + m.op_positions.bytes() + m.op_positions_sorted.bytes() +
         m.decisions.bytes() + m.candidates.bytes() + m.prunable.bytes() +
         m.selected_count.bytes() + m.cub_temp.bytes();
}

void DeviceCounterStore::flush() const { impl_->flush(); }

std::size_t DeviceCounterStore::pending_ops() const noexcept { return impl_->pending.size(); }

void DeviceCounterStore::upload(const CounterColumns& host) {
  Impl& m = *impl_;
  const DeviceScope scope(m.device);
  ensure_slots(host.size);  // flushes the queue first
  m.flush();
  const std::size_t n = host.size;
  if (n == 0) return;
  const cudaStream_t s = m.stream.get();
  HEATKIT_CUDA_CHECK(
      cudaMemcpyAsync(m.rate.data(), host.rate, n * sizeof(double), cudaMemcpyHostToDevice, s));
  HEATKIT_CUDA_CHECK(cudaMemcpyAsync(m.last_update.data(), host.last_update,
                                     n * sizeof(std::int64_t), cudaMemcpyHostToDevice, s));
  HEATKIT_CUDA_CHECK(cudaMemcpyAsync(m.last_emitted.data(), host.last_emitted, n * sizeof(double),
                                     cudaMemcpyHostToDevice, s));
  HEATKIT_CUDA_CHECK(cudaMemcpyAsync(m.half_life.data(), host.half_life, n * sizeof(std::int64_t),
                                     cudaMemcpyHostToDevice, s));
  HEATKIT_CUDA_CHECK(cudaMemcpyAsync(m.flags.data(), host.flags, n * sizeof(std::uint8_t),
                                     cudaMemcpyHostToDevice, s));
  m.stream.synchronize();
  std::copy(host.last_update, host.last_update + n, m.last_update_mirror.begin());
}

void DeviceCounterStore::download(const CounterColumns& host) const {
  Impl& m = *impl_;
  if (host.size > m.size) {
    throw std::out_of_range("device counter store: cannot download " + std::to_string(host.size) +
                            " slots from " + std::to_string(m.size));
  }
  const DeviceScope scope(m.device);
  m.flush();
  const std::size_t n = host.size;
  if (n == 0) return;
  const cudaStream_t s = m.stream.get();
  HEATKIT_CUDA_CHECK(
      cudaMemcpyAsync(host.rate, m.rate.data(), n * sizeof(double), cudaMemcpyDeviceToHost, s));
  HEATKIT_CUDA_CHECK(cudaMemcpyAsync(host.last_update, m.last_update.data(),
                                     n * sizeof(std::int64_t), cudaMemcpyDeviceToHost, s));
  HEATKIT_CUDA_CHECK(cudaMemcpyAsync(host.last_emitted, m.last_emitted.data(), n * sizeof(double),
                                     cudaMemcpyDeviceToHost, s));
  HEATKIT_CUDA_CHECK(cudaMemcpyAsync(host.half_life, m.half_life.data(), n * sizeof(std::int64_t),
                                     cudaMemcpyDeviceToHost, s));
  HEATKIT_CUDA_CHECK(cudaMemcpyAsync(host.flags, m.flags.data(), n * sizeof(std::uint8_t),
                                     cudaMemcpyDeviceToHost, s));
  m.stream.synchronize();
}

}  // namespace heatkit::gpu
