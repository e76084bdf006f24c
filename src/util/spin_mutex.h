// A mutex for short critical sections under light contention: a waiter first
// spins briefly (a pause instruction per round) and only then sleeps in the
// kernel (std::atomic wait/notify, a futex on Linux). std::mutex sleeps at
// once, which costs two system calls and a wake-up latency of microseconds
// when the holder would have been done within a few hundred nanoseconds.
//
// The state is the usual three-valued futex word: 0 free, 1 held, 2 held with
// (possibly) a sleeping waiter. Only a lock that saw 2 may sleep, and only an
// unlock that replaces 2 notifies, so the uncontended path is one atomic
// read-modify-write each way and never a system call.
#pragma once

#include <atomic>
#include <cstdint>

#if defined(_MSC_VER) && (defined(_M_X64) || defined(_M_IX86))
#include <intrin.h>
#endif

namespace heatkit {

// Tells the core this is a spin-wait loop: on x86 `pause` (saves power, frees
// the sibling hyper-thread, avoids the memory-order flush on loop exit).
inline void cpu_relax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(_MSC_VER) && (defined(_M_X64) || defined(_M_IX86))
  _mm_pause();
#elif defined(__aarch64__) || defined(__arm__)
  __asm__ __volatile__("yield");
#endif
}

// Lockable (lock, try_lock, unlock): usable with std::lock_guard,
// std::unique_lock and std::scoped_lock. Not recursive, not fair.
class SpinMutex {
 public:
  // Spin rounds (one pause and one load each) before sleeping: 1.7 us on an
  // AMD EPYC (a pause is 10 to 140 cycles by core), a few times a bump that
  // misses cache a few times. A longer hold (a shard's tick) sends waiters to
  // sleep.
  static constexpr int kSpinRounds = 64;

  SpinMutex() noexcept = default;
  SpinMutex(const SpinMutex&) = delete;
  SpinMutex& operator=(const SpinMutex&) = delete;

  bool try_lock() noexcept {
    std::uint32_t expected = kFree;
    return state_.compare_exchange_strong(expected, kHeld, std::memory_order_acquire,
                                          std::memory_order_relaxed);
  }

  void lock() noexcept {
    if (try_lock()) return;
    lock_contended();
  }

  void unlock() noexcept {
    if (state_.exchange(kFree, std::memory_order_release) == kHeldWithWaiters) {
      state_.notify_one();
    }
  }

 private:
  static constexpr std::uint32_t kFree = 0;
  static constexpr std::uint32_t kHeld = 1;
  static constexpr std::uint32_t kHeldWithWaiters = 2;

  void lock_contended() noexcept {
    // Spin on plain loads (no cache-line ping-pong while it stays held), and
    // try to take it whenever it looks free, even ahead of a sleeper (which
    // the unlock has woken, and which sleeps again if it finds it taken).
    std::uint32_t seen = state_.load(std::memory_order_relaxed);
    for (int round = 0; round < kSpinRounds; ++round) {
      if (seen == kFree &&
          state_.compare_exchange_weak(seen, kHeld, std::memory_order_acquire,
                                       std::memory_order_relaxed)) {
        return;
      }
      cpu_relax();
      seen = state_.load(std::memory_order_relaxed);
    }
    // Sleep until it is free. Taking it as 2 (not 1) is conservative: another
    // waiter may still sleep, so our unlock must notify.
    while (state_.exchange(kHeldWithWaiters, std::memory_order_acquire) != kFree) {
      state_.wait(kHeldWithWaiters, std::memory_order_relaxed);
    }
  }

  std::atomic<std::uint32_t> state_{kFree};
};

}  // namespace heatkit
