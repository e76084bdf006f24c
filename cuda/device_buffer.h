// Owners of device resources: DeviceBuffer<T> (cudaMalloc'd elements, never
// managed memory) and CudaStream. Both move-only; the destructors release
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
