// Rows beside the references measured earlier in the run: the floor per
// (size, threads) and the port per (operation, size). Registration puts the
// references first.
#include <string>
#include <string_view>

#include "bench/bandwidth_floor.h"
#include "bench/cpu/operations.h"
#include "bench/results.h"

namespace heatkit::bench {
namespace {

std::string floor_key(std::size_t n, unsigned threads, FloorKind kind) {
  return floor_name(kind) + "/" + std::to_string(n) + "/" + std::to_string(threads);
}
std::string port_key(std::string_view op, std::size_t n) {
  return "port/" + std::string(op) + "/" + std::to_string(n);
}

}  // namespace

std::string floor_name(FloorKind kind) {
  switch (kind) {
    case FloorKind::kFiveColumns: return "floor";
    case FloorKind::kSharedHalfLife: return "floor_shared_hl";
    case FloorKind::kForwardRead: return "floor_forward_read";
  }
  return "floor";
}

void record_floor(const benchmark::State& state, std::size_t n, unsigned threads, FloorKind kind,
                  double ns) {
  references().add(floor_key(n, threads, kind), state.iterations(), ns);
}

void relate(benchmark::State& state, std::string_view port_op, const RowInfo& row, std::size_t n,
            double ns, bool against_floor) {
  if (row.is_port) {
    references().add(port_key(port_op, n), state.iterations(), ns);
  } else if (const auto port = references().median(port_key(port_op, n)); port && ns > 0) {
    state.counters["port_speedup"] = *port / ns;
  }
  if (against_floor) {
    state.counters["floor_bytes"] = floor_bytes_per_counter(row.floor);
    const auto floor = references().median(floor_key(n, row.threads, row.floor));
    if (floor && *floor > 0) state.counters["floor_ratio"] = ns / *floor;
    if (row.forward_decay) {
      const auto own = references().median(floor_key(n, row.threads, FloorKind::kForwardRead));
      if (own && *own > 0) state.counters["own_floor_ratio"] = ns / *own;
    }
  }
}

}  // namespace heatkit::bench
