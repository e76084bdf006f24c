#include "host/thread_pool.h"

#include <algorithm>

namespace heatkit {

unsigned resolve_threads(unsigned requested) noexcept {
  if (requested != 0) return requested;
  return std::max(1u, std::thread::hardware_concurrency());
}

ThreadPool::ThreadPool(unsigned threads) {
  const unsigned workers = threads > 1 ? threads - 1 : 0;
  workers_.reserve(workers);
  for (unsigned i = 0; i < workers; ++i) workers_.emplace_back([this, i] { worker_loop(i); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  for (auto& w : workers_) w.join();
}

ThreadPool& ThreadPool::shared() {
  static ThreadPool pool(resolve_threads(0));
  return pool;
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
