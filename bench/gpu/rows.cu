// rows.h: the workbench and row registration.
#include "bench/gpu/rows.h"

#include <deque>
#include <exception>
#include <utility>

namespace heatkit::gpu_bench {
namespace {

const char* keep_message(std::string message) {
  static std::deque<std::string> messages;  // SkipWithError may keep the pointer
  messages.push_back(std::move(message));
  return messages.back().c_str();
}

void run_row(benchmark::State& state, const std::function<void(benchmark::State&)>& body) {
  try {
    body(state);
  } catch (const std::exception& e) {
    workbench().release();
    state.SkipWithError(keep_message(e.what()));
  }
}

}  // namespace

bench::Workbench& workbench() {
  static bench::Workbench bench;
  return bench;
}

void add_row(const std::string& name, std::int64_t n, std::function<void(benchmark::State&)> body) {
  benchmark::RegisterBenchmark(name.c_str(),
                               [body = std::move(body)](benchmark::State& s) { run_row(s, body); })
      ->Arg(n)
      ->UseManualTime()
      ->Unit(benchmark::kMicrosecond)
      ->Repetitions(settings().repetitions);
}

}  // namespace heatkit::gpu_bench
