// DeviceCounterStore: the columns in device memory in forward form, the frame
// on the host, per-slot operations queued on the host and applied by the
// flush pass, and the bulk passes either as hand-written kernels + CUB
// (`cuda`, cuda/device_passes.h) or as thrust/thrust_passes.h on the CUDA
// device system (`thrust`). Compiled with --fmad=false (cuda/CMakeLists.txt):
// decay and gate must round like the scalar reference. Every launch and
// runtime call is checked (cuda/cuda_error.h).
#include "cuda/device_store.h"

#include <cuda_runtime_api.h>

#include <cub/device/device_reduce.cuh>
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
#include "cuda/device_passes.h"
#include "cuda/staged_append.h"
#include "math/forward_math.h"
#include "thrust/forward_tick.h"
#include "thrust/thrust_passes.h"

namespace heatkit::gpu {
namespace {

// Host copies of `n` slots' five columns, for one bulk read or write.
struct HostColumnChunk {
  explicit HostColumnChunk(std::size_t n)
      : rate(n), last_update(n), last_emitted(n), half_life(n), flags(n) {}
  CounterColumns columns() noexcept {
    return {rate.data(), last_update.data(), last_emitted.data(), half_life.data(), flags.data(),
            rate.size(), nullptr};
  }
  std::vector<double> rate;
  std::vector<std::int64_t> last_update;
  std::vector<double> last_emitted;
  std::vector<std::int64_t> half_life;
  std::vector<std::uint8_t> flags;
};

// Candidates are copied back byte for byte into the host's std::vector, and
// queued operations go up the same way: host and device must lay them out alike.
static_assert(sizeof(Candidate) == 16 && offsetof(Candidate, kind) == 4 &&
              offsetof(Candidate, rate) == 8);
static_assert(sizeof(PendingOp) == 32);
static_assert(sizeof(Decision) == 1);


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
  // The forward encoding's frame: changed here only (note_queued when an
  // operation is queued, forward_after_tick at ticks, note_write after device
  // bumps); every pass gets a copy.
  ForwardFrame frame;
  // == the literal last_update after every call. A tick costs it O(1)
  // (store/last_updates.h), not a write of every slot (800 MB at 100M slots).
  LastUpdateMirror last_update_mirror;
  unsigned threads = 0;  // for the mirror's occasional clear; 0 = all

  // Queued per-slot operations, in page-locked memory: the flush uploads
  // them into op_scratch.ops at full bus speed.
  PinnedQueue<PendingOp> pending;
  OpScratch op_scratch;
  // Scratch of the bulk passes and of device-side bumps, grown to the largest
  // pass seen, then reused.
  PassScratch pass_scratch;
  BumpScratch bump_scratch;
  DeviceBuffer<std::uint32_t> touched_slots;
  DeviceBuffer<std::int64_t> touched_times;
  std::vector<std::uint32_t> touched_slots_host;
  std::vector<std::int64_t> touched_times_host;
  // Page-locked staging for results coming back (candidates, prunable slots):
  // two buffers of at most kStagingChunkBytes, grown to the largest chunk
  // seen, so that one chunk's copy overlaps the append of the one before
  // (cuda/staged_append.h).
  PinnedBuffer<std::byte> staging[2];

  // The device columns; `frame` points at the host's frame (never read on
  // the device: the passes take a copy).
  CounterColumns columns() {
    return CounterColumns{rate.data(),      last_update.data(), last_emitted.data(),
                          half_life.data(), flags.data(),       size,
                          &frame};
  }

  void check_slot(Slot slot) const {
    if (slot >= size) {
      throw std::out_of_range("device counter store: slot " + std::to_string(slot) +
                              " is out of range (" + std::to_string(size) + " slots)");
    }
  }

  // Queues `op` once its slot is checked; the ops that set last_update (init,
  // bump, decay_to) update the host mirror and the frame at once.
  // Copies host columns [0, host.size) into slots [first, first + host.size)
  // on stream `s` (asynchronously: the caller synchronizes).
  void copy_up(std::size_t first, const CounterColumns& host, cudaStream_t s) {
    const std::size_t n = host.size;
    HEATKIT_CUDA_CHECK(cudaMemcpyAsync(rate.data() + first, host.rate, n * sizeof(double),
                                       cudaMemcpyHostToDevice, s));
    HEATKIT_CUDA_CHECK(cudaMemcpyAsync(last_update.data() + first, host.last_update,
                                       n * sizeof(std::int64_t), cudaMemcpyHostToDevice, s));
    HEATKIT_CUDA_CHECK(cudaMemcpyAsync(last_emitted.data() + first, host.last_emitted,
                                       n * sizeof(double), cudaMemcpyHostToDevice, s));
    HEATKIT_CUDA_CHECK(cudaMemcpyAsync(half_life.data() + first, host.half_life,
                                       n * sizeof(std::int64_t), cudaMemcpyHostToDevice, s));
    HEATKIT_CUDA_CHECK(cudaMemcpyAsync(flags.data() + first, host.flags, n * sizeof(std::uint8_t),
                                       cudaMemcpyHostToDevice, s));
  }

  // Copies slots [first, first + host.size) into host columns [0, host.size)
  // on stream `s` (asynchronously: the caller synchronizes).
  void copy_down(std::size_t first, const CounterColumns& host, cudaStream_t s) const {
    const std::size_t n = host.size;
    HEATKIT_CUDA_CHECK(cudaMemcpyAsync(host.rate, rate.data() + first, n * sizeof(double),
                                       cudaMemcpyDeviceToHost, s));
    HEATKIT_CUDA_CHECK(cudaMemcpyAsync(host.last_update, last_update.data() + first,
                                       n * sizeof(std::int64_t), cudaMemcpyDeviceToHost, s));
    HEATKIT_CUDA_CHECK(cudaMemcpyAsync(host.last_emitted, last_emitted.data() + first,
                                       n * sizeof(double), cudaMemcpyDeviceToHost, s));
    HEATKIT_CUDA_CHECK(cudaMemcpyAsync(host.half_life, half_life.data() + first,
                                       n * sizeof(std::int64_t), cudaMemcpyDeviceToHost, s));
    HEATKIT_CUDA_CHECK(cudaMemcpyAsync(host.flags, flags.data() + first, n * sizeof(std::uint8_t),
                                       cudaMemcpyDeviceToHost, s));
  }

  void queue(const PendingOp& op) {
    check_slot(op.slot);
    pending.push_back(op);
    note_queued(frame, op);
    if (op.kind == OpKind::kInit || op.kind == OpKind::kBump || op.kind == OpKind::kDecayTo) {
      last_update_mirror.set(op.slot, op.now);
    }
    if (pending.size() >= kMaxPendingOps) flush();
  }

  void flush();
  // The fast tick (`relayout` false) or the relayout tick, under `frame`.
  void tick_with_kernels(const TickParams& params, bool relayout, std::vector<Candidate>& out);
  void tick_with_thrust(const TickParams& params, bool relayout, std::vector<Candidate>& out);
  void prunable_with_kernels(std::vector<Slot>& out);
  void prunable_with_thrust(std::vector<Slot>& out);
  // Appends `count` device elements to `out` through the staging buffers; on
  // failure `out` is as before.
  template <class T>
  void append_from_device(std::vector<T>& out, const T* device_items, std::size_t count);
};

void DeviceCounterStore::Impl::flush() {
  const std::size_t count = pending.size();
  if (count == 0) return;
  const DeviceScope scope(device);
  const cudaStream_t s = stream.get();
  op_scratch.ops.reserve_discarding(count);
  HEATKIT_CUDA_CHECK(cudaMemcpyAsync(op_scratch.ops.data(), pending.data(),
                                     count * sizeof(PendingOp), cudaMemcpyHostToDevice, s));
  enqueue_apply_ops(columns(), frame, count, op_scratch, s);
  // Waits before the host queue is reused, and makes faults surface here.
  stream.synchronize();
  pending.clear();
}

template <class T>
void DeviceCounterStore::Impl::append_from_device(std::vector<T>& out, const T* device_items,
                                                  std::size_t count) {
  static_assert(std::is_trivially_copyable_v<T> && alignof(T) <= 256);  // cudaMallocHost: 256
  if (count == 0) return;
  const std::size_t chunk = std::min(count, kStagingChunkBytes / sizeof(T));
  staging[0].reserve_discarding(chunk * sizeof(T));
  if (count > chunk) staging[1].reserve_discarding(chunk * sizeof(T));
  T* const buffers[2] = {reinterpret_cast<T*>(staging[0].data()),
                         reinterpret_cast<T*>(staging[1].data())};
  const cudaStream_t s = stream.get();
  append_through_staging(
      out, count, buffers, chunk,
      [&](std::size_t buffer, std::size_t first, std::size_t n) {
        HEATKIT_CUDA_CHECK(cudaMemcpyAsync(buffers[buffer], device_items + first, n * sizeof(T),
                                           cudaMemcpyDeviceToHost, s));
      },
      [&] { stream.synchronize(); });
}

void DeviceCounterStore::Impl::tick_with_kernels(const TickParams& params, bool relayout,
                                                 std::vector<Candidate>& out) {
  const cudaStream_t s = stream.get();
  // One pass: rate at params.now, gate, marks and the compacted candidates
  // (slot order).
  if (relayout) {
    enqueue_relayout_tick(columns(), params, frame, pass_scratch, s);
  } else {
    enqueue_one_pass_tick(columns(), params, forward_pass::tick_inputs(frame, params),
                          pass_scratch, s);
  }
  append_from_device(out, pass_scratch.candidates.data(), read_selected_count(pass_scratch, s, size));
}

void DeviceCounterStore::Impl::tick_with_thrust(const TickParams& params, bool relayout,
                                                std::vector<Candidate>& out) {
  const CounterColumns c = columns();
  const auto policy = thrust::cuda::par.on(stream.get());
  PassScratch& p = pass_scratch;
  p.decisions.reserve_discarding(size);
  const forward_pass::TickInputs in =
      relayout ? forward_pass::TickInputs{frame, 0.0} : forward_pass::tick_inputs(frame, params);
  const std::size_t count =
      relayout ? HEATKIT_THRUST_CHECK(
                     "thrust decide_relayout (transform + count_if)",
                     thrust_passes::decide_relayout(policy, c, params, frame, p.decisions.data()))
               : HEATKIT_THRUST_CHECK(
                     "thrust decide_forward (transform + count_if)",
                     thrust_passes::decide_forward(policy, c, params, in, p.decisions.data()));
  if (count == 0) return;
  if (count > size) throw std::logic_error("device counter store: more candidates than slots");
  p.candidates.reserve_discarding(count);
  if (relayout) {
    // s is the rate after a relayout: the literal gather takes it.
    HEATKIT_THRUST_CHECK(
        "thrust compact_candidates (copy_if)",
        (thrust_passes::compact_candidates(policy, c, p.decisions.data(), p.candidates.data()), 0));
  } else {
    HEATKIT_THRUST_CHECK("thrust compact_forward_candidates (copy_if)",
                         (thrust_passes::compact_forward_candidates(
                              policy, c, params, in, p.decisions.data(), p.candidates.data()),
                          0));
  }
  append_from_device(out, p.candidates.data(), count);
}

void DeviceCounterStore::Impl::prunable_with_kernels(std::vector<Slot>& out) {
  const cudaStream_t s = stream.get();
  enqueue_select_prunable(columns(), frame, pass_scratch, s);
  append_from_device(out, pass_scratch.selected.data(), read_selected_count(pass_scratch, s, size));
}

void DeviceCounterStore::Impl::prunable_with_thrust(std::vector<Slot>& out) {
  const CounterColumns c = columns();
  const auto policy = thrust::cuda::par.on(stream.get());
  const std::size_t count =
      HEATKIT_THRUST_CHECK("thrust count_forward_prunable (count_if)",
                           thrust_passes::count_forward_prunable(policy, c, frame));
  if (count == 0) return;
  if (count > size) throw std::logic_error("device counter store: more prunable slots than slots");
  pass_scratch.selected.reserve_discarding(count);
  HEATKIT_THRUST_CHECK(
      "thrust compact_forward_prunable (copy_if)",
      (thrust_passes::compact_forward_prunable(policy, c, frame, pass_scratch.selected.data()), 0));
  append_from_device(out, pass_scratch.selected.data(), count);
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
  // no emission, no flags), except the rate column's -0.0 (rate 0 stored
  // literally: it reads last_update 0 until a tick converts it, as an empty
  // slot of the literal store does). Swapped in only once all succeeded.
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
  enqueue_fill_literal_zero(rate.data() + old, n - old, s);
  DeviceBuffer<std::int64_t> last_update = grown(m.last_update);
  DeviceBuffer<double> last_emitted = grown(m.last_emitted);
  DeviceBuffer<std::int64_t> half_life = grown(m.half_life);
  DeviceBuffer<std::uint8_t> flags = grown(m.flags);
  m.stream.synchronize();
  m.last_update_mirror.resize(n);
  m.rate = std::move(rate);
  m.last_update = std::move(last_update);
  m.last_emitted = std::move(last_emitted);
  m.half_life = std::move(half_life);
  m.flags = std::move(flags);
  m.size = n;
}

void DeviceCounterStore::init(Slot slot, std::int64_t half_life, std::int64_t now) {
  impl_->queue({.slot = slot, .kind = OpKind::kInit, .now = now, .half_life = half_life});
}

void DeviceCounterStore::clear(Slot slot) {
  impl_->queue({.slot = slot, .kind = OpKind::kClear});
}

void DeviceCounterStore::bump(Slot slot, std::int64_t now) {
  impl_->queue({.slot = slot, .kind = OpKind::kBump, .now = now});
}

void DeviceCounterStore::decay_to(Slot slot, std::int64_t now) {
  impl_->queue({.slot = slot, .kind = OpKind::kDecayTo, .now = now});
}

void DeviceCounterStore::record(Slot slot, Decision kind, double rate) {
  impl_->check_slot(slot);
  if (kind == Decision::kSuppress) return;  // records nothing, as on the host
  impl_->queue({.slot = slot, .kind = OpKind::kRecord, .decision = kind, .rate = rate});
}

void DeviceCounterStore::set_in_flight(Slot slot, bool in_flight) {
  impl_->queue({.slot = slot, .kind = OpKind::kSetInFlight, .in_flight = in_flight});
}

// One slot is a range of one: a copy per column, one synchronization.
CounterState DeviceCounterStore::read(Slot slot) const {
  impl_->check_slot(slot);
  CounterState state;
  read_range(slot, std::span<CounterState>(&state, 1));
  return state;
}

void DeviceCounterStore::tick(const TickParams& params, std::vector<Candidate>& out) {
  Impl& m = *impl_;
  const DeviceScope scope(m.device);
  m.flush();
  // The fast tick where the frame allows it, the relayout tick otherwise;
  // every pass reads the frame as it was before the tick.
  const bool relayout = !forward_tick_allowed(m.frame, params.now);
  if (m.size > 0) {
    if (m.passes == DevicePasses::kCudaKernels) {
      m.tick_with_kernels(params, relayout, out);
    } else {
      m.tick_with_thrust(params, relayout, out);
    }
  }
  forward_after_tick(m.frame, params.now, relayout);
  // Every last_update is params.now now: O(1) for the mirror.
  m.last_update_mirror.tick(params.now, m.threads);
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

void DeviceCounterStore::set_threads(unsigned threads) { impl_->threads = threads; }

LastUpdates DeviceCounterStore::last_update_host() const noexcept {
  return impl_->last_update_mirror.view();
}

std::size_t DeviceCounterStore::memory_bytes() const noexcept {
  const Impl& m = *impl_;
  return m.rate.bytes() + m.last_update.bytes() + m.last_emitted.bytes() + m.half_life.bytes() +
         m.flags.bytes() + m.last_update_mirror.memory_bytes() +
         m.pending.capacity() * sizeof(PendingOp) + m.op_scratch.bytes() +
         m.pass_scratch.bytes() + m.bump_scratch.bytes() + m.touched_slots.bytes() +
         m.touched_times.bytes() + m.touched_slots_host.capacity() * sizeof(std::uint32_t) +
         m.touched_times_host.capacity() * sizeof(std::int64_t) + m.staging[0].bytes() +
         m.staging[1].bytes();
}

void DeviceCounterStore::flush() const { impl_->flush(); }

ForwardFrame DeviceCounterStore::frame() const noexcept { return impl_->frame; }

int DeviceCounterStore::device() const noexcept { return impl_->device; }

void* DeviceCounterStore::stream_handle() const noexcept { return impl_->stream.get(); }

CounterColumns DeviceCounterStore::device_columns() {
  impl_->flush();
  return impl_->columns();
}

namespace {
struct MaxOfSlots {
  __device__ std::uint32_t operator()(std::uint32_t a, std::uint32_t b) const {
    return a < b ? b : a;
  }
};
}  // namespace

void DeviceCounterStore::bump_on_device(const Slot* device_slots,
                                        const std::int64_t* device_times, std::size_t n) {
  Impl& m = *impl_;
  if (n == 0) return;
  const DeviceScope scope(m.device);
  m.flush();
  const cudaStream_t s = m.stream.get();
  if (n > 0xffffffffULL) {
    throw std::length_error("device counter store: " + std::to_string(n) +
                            " device bumps in one batch (at most 2^32 - 1)");
  }
  // Every slot must exist before anything changes: the largest one, checked.
  BumpScratch& b = m.bump_scratch;
  std::size_t bytes = 0;
  HEATKIT_CUDA_CHECK(cub::DeviceReduce::Reduce(nullptr, bytes, device_slots, b.flags.data() + 1,
                                               static_cast<std::uint32_t>(n), MaxOfSlots{},
                                               std::uint32_t{0}, s));
  b.temp.reserve_discarding(std::max<std::size_t>(bytes, 1));
  HEATKIT_CUDA_CHECK(cub::DeviceReduce::Reduce(b.temp.data(), bytes, device_slots,
                                               b.flags.data() + 1, static_cast<std::uint32_t>(n),
                                               MaxOfSlots{}, std::uint32_t{0}, s));
  std::uint32_t largest = 0;
  HEATKIT_CUDA_CHECK(cudaMemcpyAsync(&largest, b.flags.data() + 1, sizeof largest,
                                     cudaMemcpyDeviceToHost, s));
  m.stream.synchronize();
  if (largest >= m.size) {
    throw std::out_of_range("device counter store: device bump of slot " +
                            std::to_string(largest) + ", which is out of range (" +
                            std::to_string(m.size) + " slots)");
  }
  const std::size_t touched = apply_timed_bumps(m.columns(), m.frame, device_slots, device_times,
                                                n, b, m.touched_slots, m.touched_times, s);
  // Keep the host mirror of last_update exact, and the frame's latest write:
  // each touched slot's last read.
  m.touched_slots_host.resize(touched);
  m.touched_times_host.resize(touched);
  HEATKIT_CUDA_CHECK(cudaMemcpyAsync(m.touched_slots_host.data(), m.touched_slots.data(),
                                     touched * sizeof(std::uint32_t), cudaMemcpyDeviceToHost, s));
  HEATKIT_CUDA_CHECK(cudaMemcpyAsync(m.touched_times_host.data(), m.touched_times.data(),
                                     touched * sizeof(std::int64_t), cudaMemcpyDeviceToHost, s));
  m.stream.synchronize();
  for (std::size_t k = 0; k < touched; ++k) {
    m.last_update_mirror.set(m.touched_slots_host[k], m.touched_times_host[k]);
    m.frame.note_write(m.touched_times_host[k]);
  }
}

std::size_t DeviceCounterStore::pending_ops() const noexcept { return impl_->pending.size(); }

void DeviceCounterStore::upload(const CounterColumns& host) {
  Impl& m = *impl_;
  const DeviceScope scope(m.device);
  ensure_slots(host.size);  // flushes the queue first
  m.flush();
  const std::size_t n = host.size;
  if (n == 0) {
    if (host.frame != nullptr) m.frame = *host.frame;
    return;
  }
  const cudaStream_t s = m.stream.get();
  m.copy_up(0, host, s);
  if (host.frame == nullptr) enqueue_store_literal(m.rate.data(), n, s);
  m.stream.synchronize();
  if (host.frame == nullptr) {
    note_literal_upload(m.frame, host);
    m.last_update_mirror.assign(host.last_update, n);
  } else {
    m.frame = *host.frame;
    // The mirror holds the literal last_update: decoded under the frame.
    std::vector<std::int64_t> literal(n);
    for (std::size_t i = 0; i < n; ++i) {
      literal[i] = forward_decode(host.rate[i], host.last_update[i], host.half_life[i], m.frame)
                       .last_update;
    }
    m.last_update_mirror.assign(literal.data(), n);
  }
}

void DeviceCounterStore::download(const CounterColumns& host) const {
  Impl& m = *impl_;
  if (host.size > m.size) {
    throw std::out_of_range("device counter store: cannot download " + std::to_string(host.size) +
                            " slots from " + std::to_string(m.size));
  }
  const DeviceScope scope(m.device);
  m.flush();
  if (host.frame != nullptr) *host.frame = m.frame;
  const std::size_t n = host.size;
  if (n == 0) return;
  m.copy_down(0, host, m.stream.get());
  m.stream.synchronize();
  if (host.frame != nullptr) return;  // encodings as they are
  for (std::size_t i = 0; i < n; ++i) {
    const LiteralState d = forward_decode(host.rate[i], host.last_update[i], host.half_life[i], m.frame);
    host.rate[i] = d.rate;
    host.last_update[i] = d.last_update;
  }
}

void DeviceCounterStore::read_range(Slot first, std::span<CounterState> out) const {
  Impl& m = *impl_;
  check_read_range("device counter store", first, out.size(), m.size);
  const std::size_t n = out.size();
  if (n == 0) return;
  const DeviceScope scope(m.device);
  m.flush();
  HostColumnChunk host(n);
  m.copy_down(first, host.columns(), m.stream.get());
  m.stream.synchronize();
  for (std::size_t i = 0; i < n; ++i) {
    out[i] = decoded_state(host.rate[i], host.last_update[i], host.last_emitted[i], host.half_life[i],
                           host.flags[i], m.frame);
  }
}

void DeviceCounterStore::write_range(Slot first, std::span<const CounterState> states) {
  Impl& m = *impl_;
  check_read_range("device counter store", first, states.size(), m.size);
  const std::size_t n = states.size();
  if (n == 0) return;
  const DeviceScope scope(m.device);
  m.flush();
  HostColumnChunk host(n);
  for (std::size_t i = 0; i < n; ++i) {
    const CounterState& state = states[i];
    host.rate[i] = state.rate;
    host.last_update[i] = state.last_update;
    host.last_emitted[i] = state.has_emitted ? state.last_emitted : 0.0;
    host.half_life[i] = state.half_life;
    host.flags[i] = static_cast<std::uint8_t>(kLive | (state.has_emitted ? kHasEmitted : 0));
  }
  const cudaStream_t s = m.stream.get();
  const CounterColumns literal = host.columns();
  m.copy_up(first, literal, s);
  enqueue_store_literal(m.rate.data() + first, n, s);
  m.stream.synchronize();
  note_literal_upload(m.frame, literal);
  for (std::size_t i = 0; i < n; ++i) m.last_update_mirror.set(first + i, host.last_update[i]);
}

}  // namespace heatkit::gpu
