// A small fork-join pool for the bulk passes (Highway 1.0.3 has none). One
// job runs at a time: `run` splits it into tasks that the workers and the
// calling thread claim in turn, and returns when all are done.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace heatkit {

class ThreadPool {
 public:
  // `threads` counts the caller: threads - 1 workers are started. Throws
  // std::system_error when one cannot be (the ones started are stopped first).
  explicit ThreadPool(unsigned threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  unsigned threads() const noexcept { return static_cast<unsigned>(workers_.size()) + 1; }

  // Runs task(i) for every i in [0, tasks) on at most `max_threads` threads
  // (the caller included). Concurrent calls from different threads take turns.
  // `task` must not throw.
  void run(std::size_t tasks, unsigned max_threads, const std::function<void(std::size_t)>& task);

  // The process-wide pool, one thread per hardware thread, started on first
  // use; with fewer when the system will not start that many (halving the
  // count until it does, down to the caller alone).
  static ThreadPool& shared();

 private:
  void worker_loop(unsigned index);
  void stop_workers() noexcept;
  void work_on_current_job();

  std::vector<std::thread> workers_;
  std::mutex job_mutex_;  // one job at a time
  std::mutex mutex_;
  std::condition_variable wake_;
  std::condition_variable done_;
  std::uint64_t generation_ = 0;  // bumped per job
  bool stopping_ = false;
  // The current job.
  const std::function<void(std::size_t)>* task_ = nullptr;
  std::size_t tasks_ = 0;
  unsigned participants_ = 0;        // workers asked to join (index < participants_)
  std::atomic<std::size_t> next_task_{0};
  unsigned active_ = 0;              // workers still inside the current job
};

// std::thread::hardware_concurrency(), or 1 where it is unknown.
unsigned hardware_threads() noexcept;

// The number of threads a request for `requested` runs on, the one rule for
// every backend's passes (RegistryOptions::threads, `heatkit simulate
// --threads`): 0 is every hardware thread, and a request above the hardware
// threads is capped at them. The pool has no more threads than that, and a
// team any bigger (thrust-omp's OpenMP team) only oversubscribes the cores,
// or fails to start under a memory limit.
unsigned resolve_threads(unsigned requested) noexcept;

}  // namespace heatkit
