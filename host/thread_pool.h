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
  // `threads` counts the caller: threads - 1 workers are started.
  explicit ThreadPool(unsigned threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  unsigned threads() const noexcept { return static_cast<unsigned>(workers_.size()) + 1; }

  // Runs task(i) for every i in [0, tasks) on at most `max_threads` threads
  // (the caller included). Concurrent calls from different threads take turns.
  // `task` must not throw.
  void run(std::size_t tasks, unsigned max_threads, const std::function<void(std::size_t)>& task);

  // The process-wide pool, one thread per hardware thread, started on first use.
  static ThreadPool& shared();

 private:
  void worker_loop(unsigned index);
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

// The number of threads `requested` means: 0 is every hardware thread.
unsigned resolve_threads(unsigned requested) noexcept;

}  // namespace heatkit
