// Owners of CUDA resources: CudaBuffer<T, Memory> as DeviceBuffer<T>
// (cudaMalloc'd elements, never managed memory) and PinnedBuffer<T>
// (page-locked host memory, so copies run at full bus speed and
// asynchronously), PinnedQueue<T> (a growable pinned array), CudaStream, and
// DeviceScope (the current device for one scope). All move-only but the
// scope; the destructors release what they own and never throw.
#pragma once

#include <cuda_runtime_api.h>

#include <algorithm>
#include <cstddef>
#include <limits>
#include <new>
#include <type_traits>
#include <utility>

#include "cuda/cuda_error.h"

namespace heatkit::gpu {

// Where a CudaBuffer's elements live: device memory (cudaMalloc, never
// managed memory) or page-locked host memory (cudaMallocHost).
struct DeviceMemory {
  static constexpr const char* kAllocateCall = "cudaMalloc(&p, bytes)";
  static cudaError_t allocate(void** p, std::size_t bytes) { return cudaMalloc(p, bytes); }
  static void release(void* p) noexcept { (void)cudaFree(p); }
};
struct PinnedMemory {
  static constexpr const char* kAllocateCall = "cudaMallocHost(&p, bytes)";
  static cudaError_t allocate(void** p, std::size_t bytes) { return cudaMallocHost(p, bytes); }
  static void release(void* p) noexcept { (void)cudaFreeHost(p); }
};

// `size` elements of T in `Memory`, uninitialized. Only trivially copyable T:
// contents move between host and device by byte copies.
template <class T, class Memory>
class CudaBuffer {
  static_assert(std::is_trivially_copyable_v<T>, "CUDA buffers hold plain bytes");

 public:
  CudaBuffer() = default;
  explicit CudaBuffer(std::size_t size) {
    if (size == 0) return;
    if (size > std::numeric_limits<std::size_t>::max() / sizeof(T))
      throw std::bad_array_new_length();
    void* p = nullptr;
    check_cuda(Memory::allocate(&p, size * sizeof(T)), Memory::kAllocateCall, __FILE__, __LINE__);
    data_ = static_cast<T*>(p);
    size_ = size;
  }
  CudaBuffer(CudaBuffer&& other) noexcept
      : data_(std::exchange(other.data_, nullptr)), size_(std::exchange(other.size_, 0)) {}
  CudaBuffer& operator=(CudaBuffer&& other) noexcept {
    if (this != &other) {
      release();
      data_ = std::exchange(other.data_, nullptr);
      size_ = std::exchange(other.size_, 0);
    }
    return *this;
  }
  CudaBuffer(const CudaBuffer&) = delete;
  CudaBuffer& operator=(const CudaBuffer&) = delete;
  ~CudaBuffer() { release(); }

  T* data() noexcept { return data_; }
  const T* data() const noexcept { return data_; }
  std::size_t size() const noexcept { return size_; }
  std::size_t bytes() const noexcept { return size_ * sizeof(T); }

  // Scratch use: at least `size` elements afterwards; contents are lost when
  // it has to grow. Never shrinks, so a steady stream of passes allocates once.
  void reserve_discarding(std::size_t size) {
    if (size > size_) *this = CudaBuffer(size);
  }

 private:
  void release() noexcept {
    // Freeing cannot report to anyone from a destructor; a failure here means
    // the context is already broken and the next checked call will say so.
    if (data_ != nullptr) Memory::release(data_);
    data_ = nullptr;
    size_ = 0;
  }

  T* data_ = nullptr;
  std::size_t size_ = 0;
};

template <class T>
using DeviceBuffer = CudaBuffer<T, DeviceMemory>;
// Staging for copies at full bus speed.
template <class T>
using PinnedBuffer = CudaBuffer<T, PinnedMemory>;

// A growable array of T in page-locked host memory (cudaMallocHost): the
// staging queue of a device store. Capacity doubles as it fills, so pushes
// cost no allocation in steady state; clear() keeps the memory.
template <class T>
class PinnedQueue {
 public:
  PinnedQueue() = default;
  PinnedQueue(PinnedQueue&& other) noexcept
      : storage_(std::move(other.storage_)), size_(std::exchange(other.size_, 0)) {}
  PinnedQueue& operator=(PinnedQueue&& other) noexcept {
    storage_ = std::move(other.storage_);
    size_ = std::exchange(other.size_, 0);
    return *this;
  }

  void push_back(const T& item) {
    if (size_ == storage_.size()) grow(storage_.size() == 0 ? 1024 : storage_.size() * 2);
    storage_.data()[size_++] = item;
  }
  void clear() noexcept { size_ = 0; }
  const T* data() const noexcept { return storage_.data(); }
  std::size_t size() const noexcept { return size_; }
  bool empty() const noexcept { return size_ == 0; }
  std::size_t capacity() const noexcept { return storage_.size(); }

 private:
  void grow(std::size_t capacity) {
    PinnedBuffer<T> grown(capacity);
    std::copy_n(storage_.data(), size_, grown.data());
    storage_ = std::move(grown);
  }

  PinnedBuffer<T> storage_;
  std::size_t size_ = 0;
};

// Switches the calling thread to `device` for one scope, and back: a store
// or workload stays on the device it was made on whatever the caller's
// thread has current.
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

// A non-blocking stream (no implicit sync with the legacy default stream).
class CudaStream {
 public:
  CudaStream() { HEATKIT_CUDA_CHECK(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking)); }
  CudaStream(CudaStream&& other) noexcept : stream_(std::exchange(other.stream_, nullptr)) {}
  CudaStream& operator=(CudaStream&& other) noexcept {
    if (this != &other) {
      release();
      stream_ = std::exchange(other.stream_, nullptr);
    }
    return *this;
  }
  CudaStream(const CudaStream&) = delete;
  CudaStream& operator=(const CudaStream&) = delete;
  ~CudaStream() { release(); }

  cudaStream_t get() const noexcept { return stream_; }
  void synchronize() const { HEATKIT_CUDA_CHECK(cudaStreamSynchronize(stream_)); }

 private:
  void release() noexcept {
    if (stream_ != nullptr) (void)cudaStreamDestroy(stream_);
    stream_ = nullptr;
  }

  cudaStream_t stream_ = nullptr;
};

}  // namespace heatkit::gpu
