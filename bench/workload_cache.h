// Workbench: the one prepared benchmark workload alive at a time, shared by
// heatkit_bench and heatkit_gpu_bench. Plain C++.
#pragma once

#include <memory>
#include <string>

namespace heatkit::bench {

// One prepared workload alive at a time, found again by id: Google
// Benchmark calls a benchmark function several times (iteration sizing,
// repetitions), and rows that differ only in thread count or implementation
// share a workload; building the next frees the previous one first (host or
// device memory).
class Workbench {
 public:
  template <class W, class Make>
  W& get(const std::string& id, Make&& make) {
    if (id != id_ || !held_) {
      release();  // free the previous workload before building the next
      std::unique_ptr<W> built = make();
      held_ = std::shared_ptr<void>(built.release(), [](void* p) { delete static_cast<W*>(p); });
      id_ = id;
    }
    return *static_cast<W*>(held_.get());
  }
  void release() {
    held_.reset();
    id_.clear();
  }

 private:
  std::string id_;
  std::shared_ptr<void> held_;
};

}  // namespace heatkit::bench
