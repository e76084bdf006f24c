// Owners of device resources: DeviceBuffer<T> (cudaMalloc'd elements, never
// managed memory), PinnedBuffer<T> and PinnedQueue<T> (page-locked host
// memory, so copies run at full bus speed and asynchronously), CudaStream,
// and DeviceScope (the current device for one scope). Both move-only; the destructors release
// what they own and never throw.
#pragma once

#include <cuda_runtime_api.h>

#include <cstddef>
#include <limits>
#include <new>
#include <type_traits>
#include <utility>

#include "cuda/cuda_error.h"

namespace heatkit::gpu {

// `size` elements of T in device memory, uninitialized. Only trivially
// copyable T: contents move between host and device by byte copies.
template <class T>
class DeviceBuffer {
  static_assert(std::is_trivially_copyable_v<T>, "device buffers hold plain bytes");

 public:
  DeviceBuffer() = default;
  explicit DeviceBuffer(std::size_t size) {
    if (size == 0) return;
    if (size > std::numeric_limits<std::size_t>::max() / sizeof(T))
      throw std::bad_array_new_length();
    void* p = nullptr;
    HEATKIT_CUDA_CHECK(cudaMalloc(&p, size * sizeof(T)));
    data_ = static_cast<T*>(p);
    size_ = size;
  }
  DeviceBuffer(DeviceBuffer&& other) noexcept
      : data_(std::exchange(other.data_, nullptr)), size_(std::exchange(other.size_, 0)) {}
  DeviceBuffer& operator=(DeviceBuffer&& other) noexcept {
    if (this != &other) {
      release();
      data_ = std::exchange(other.data_, nullptr);
      size_ = std::exchange(other.size_, 0);
    }
    return *this;
  }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  ~DeviceBuffer() { release(); }

  T* data() noexcept { return data_; }
  const T* data() const noexcept { return data_; }
  std::size_t size() const noexcept { return size_; }
  std::size_t bytes() const noexcept { return size_ * sizeof(T); }

  // Scratch use: at least `size` elements afterwards; contents are lost when
  // it has to grow. Never shrinks, so a steady stream of passes allocates once.
  void reserve_discarding(std::size_t size) {
    if (size > size_) *this = DeviceBuffer(size);
  }

 private:
  void release() noexcept {
    // cudaFree cannot report to anyone from a destructor; a failure here means
    // the context is already broken and the next checked call will say so.
    if (data_ != nullptr) (void)cudaFree(data_);
    data_ = nullptr;
    size_ = 0;
  }

  T* data_ = nullptr;
  std::size_t size_ = 0;
};

// `size` elements of T in page-locked host memory (cudaMallocHost),
// uninitialized: staging for copies at full bus speed.
template <class T>
class PinnedBuffer {
  static_assert(std::is_trivially_copyable_v<T>, "pinned buffers hold plain bytes");

 public:
  PinnedBuffer() = default;
  explicit PinnedBuffer(std::size_t size) {
    if (size == 0) return;
    if (size > std::numeric_limits<std::size_t>::max() / sizeof(T))
      throw std::bad_array_new_length();
    void* p = nullptr;
    HEATKIT_CUDA_CHECK(cudaMallocHost(&p, size * sizeof(T)));
    data_ = static_cast<T*>(p);
    size_ = size;
  }
  PinnedBuffer(PinnedBuffer&& other) noexcept
      : data_(std::exchange(other.data_, nullptr)), size_(std::exchange(other.size_, 0)) {}
  PinnedBuffer& operator=(PinnedBuffer&& other) noexcept {
    if (this != &other) {
      release();
      data_ = std::exchange(other.data_, nullptr);
      size_ = std::exchange(other.size_, 0);
    }
    return *this;
  }
  PinnedBuffer(const PinnedBuffer&) = delete;
  PinnedBuffer& operator=(const PinnedBuffer&) = delete;
  ~PinnedBuffer() { release(); }

  T* data() noexcept { return data_; }
  const T* data() const noexcept { return data_; }
  std::size_t size() const noexcept { return size_; }
  // At least `size` elements afterwards; contents are lost when it grows.
  void reserve_discarding(std::size_t size) {
    if (size > size_) *this = PinnedBuffer(size);
  }

 private:
  void release() noexcept {
    if (data_ != nullptr) (void)cudaFreeHost(data_);
    data_ = nullptr;
    size_ = 0;
  }

  T* data_ = nullptr;
  std::size_t size_ = 0;
};

// A growable array of T in page-locked host memory (cudaMallocHost): the
// staging queue of a device store. Capacity doubles as it fills, so pushes
// cost no allocation in steady state; clear() keeps the memory.
template <class T>
class PinnedQueue {
  static_assert(std::is_trivially_copyable_v<T>, "pinned queues hold plain bytes");

 public:
  PinnedQueue() = default;
  PinnedQueue(PinnedQueue&& other) noexcept
      : data_(std::exchange(other.data_, nullptr)),
        size_(std::exchange(other.size_, 0)),
        capacity_(std::exchange(other.capacity_, 0)) {}
  PinnedQueue& operator=(PinnedQueue&& other) noexcept {
    if (this != &other) {
      release();
      data_ = std::exchange(other.data_, nullptr);
      size_ = std::exchange(other.size_, 0);
      capacity_ = std::exchange(other.capacity_, 0);
    }
    return *this;
  }
  PinnedQueue(const PinnedQueue&) = delete;
  PinnedQueue& operator=(const PinnedQueue&) = delete;
  ~PinnedQueue() { release(); }

  void push_back(const T& item) {
    if (size_ == capacity_) grow(capacity_ == 0 ? 1024 : capacity_ * 2);
    data_[size_++] = item;
  }
  void clear() noexcept { size_ = 0; }
  const T* data() const noexcept { return data_; }
  std::size_t size() const noexcept { return size_; }
  bool empty() const noexcept { return size_ == 0; }
  std::size_t capacity() const noexcept { return capacity_; }

 private:
  void grow(std::size_t capacity) {
    if (capacity > std::numeric_limits<std::size_t>::max() / sizeof(T))
      throw std::bad_array_new_length();
    void* p = nullptr;
    HEATKIT_CUDA_CHECK(cudaMallocHost(&p, capacity * sizeof(T)));
    auto* grown = static_cast<T*>(p);
    for (std::size_t i = 0; i < size_; ++i) grown[i] = data_[i];
    release_memory();
    data_ = grown;
    capacity_ = capacity;
  }
  void release_memory() noexcept {
    if (data_ != nullptr) (void)cudaFreeHost(data_);
    data_ = nullptr;
  }
  void release() noexcept {
    release_memory();
    size_ = 0;
    capacity_ = 0;
  }

  T* data_ = nullptr;
  std::size_t size_ = 0;
  std::size_t capacity_ = 0;
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
