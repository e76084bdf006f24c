#include "util/thread_pool.h"

#include <algorithm>
#include <system_error>

namespace heatkit {

unsigned hardware_threads() noexcept { return std::max(1u, std::thread::hardware_concurrency()); }

unsigned resolve_threads(unsigned requested) noexcept {
  const unsigned all = hardware_threads();
  return requested == 0 ? all : std::min(requested, all);
}

ThreadPool::ThreadPool(unsigned threads) {
  const unsigned workers = threads > 1 ? threads - 1 : 0;
  try {
    workers_.reserve(workers);
    for (unsigned i = 0; i < workers; ++i) workers_.emplace_back([this, i] { worker_loop(i); });
  } catch (...) {
    stop_workers();  // a joinable std::thread destroyed unjoined would terminate the process
    throw;
  }
}

ThreadPool::~ThreadPool() { stop_workers(); }

void ThreadPool::stop_workers() noexcept {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  for (auto& w : workers_) w.join();
}

ThreadPool& ThreadPool::shared() {
  for (unsigned threads = resolve_threads(0);; threads /= 2) {
    try {
      // A static whose construction throws is tried again the next time
      // through, here with half the threads; once built, it is returned.
      static ThreadPool pool(threads);
      return pool;
    } catch (const std::system_error&) {
      if (threads <= 1) throw;  // not reached: one thread starts no worker
    }
  }
}

void ThreadPool::work_on_current_job() {
  for (std::size_t i = next_task_.fetch_add(1); i < tasks_; i = next_task_.fetch_add(1)) {
    (*task_)(i);
  }
}

void ThreadPool::run(std::size_t tasks, unsigned max_threads,
                     const std::function<void(std::size_t)>& task) {
  if (tasks == 0) return;
  const unsigned helpers =
      static_cast<unsigned>(std::min<std::size_t>({workers_.size(), tasks - 1,
                                                   max_threads > 0 ? max_threads - 1 : 0}));
  if (helpers == 0) {
    for (std::size_t i = 0; i < tasks; ++i) task(i);
    return;
  }
  std::lock_guard job(job_mutex_);
  {
    std::lock_guard lock(mutex_);
    task_ = &task;
    tasks_ = tasks;
    next_task_.store(0);
    participants_ = helpers;
    active_ = helpers;
    ++generation_;
  }
  wake_.notify_all();
  work_on_current_job();
  std::unique_lock lock(mutex_);
  done_.wait(lock, [this] { return active_ == 0; });
  task_ = nullptr;
}

void ThreadPool::worker_loop(unsigned index) {
  std::uint64_t seen = 0;
  for (;;) {
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [&] { return stopping_ || (generation_ != seen && index < participants_); });
      if (stopping_) return;
      seen = generation_;
    }
    work_on_current_job();
    std::lock_guard lock(mutex_);
    if (--active_ == 0) done_.notify_one();
  }
}

}  // namespace heatkit
