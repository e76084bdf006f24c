#include "tools/replay.h"

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <utility>

#include "backends/backend.h"  // make_store: the backend checked before any input
#include <heatkit/registry.h>

namespace heatkit::trace {
namespace {

template <class Key>
class Replayer {
 public:
  using Registry = HeatRegistryOf<Key>;

  Replayer(const TraceHeader& header, const ReplayOptions& options, std::ostream& out)
      : policy_(header.policy), out_(out), registry_(registry_options(header, options)) {}

  void run(const Operation& op) {
    const Instant now = instant_from_ns(op.time);
    switch (op.kind) {
      case OpKind::kBump:
        registry_.entry(key_of(op), policy_.decay_half_life, now).bump(now);
        break;
      case OpKind::kTouch:
        registry_.entry(key_of(op), policy_.decay_half_life, now);
        break;
      case OpKind::kDecay:
        // get-or-create only finds here: the key is known to be present.
        if (registry_.contains(key_of(op))) {
          registry_.entry(key_of(op), policy_.decay_half_life, now).decay_to(now);
        }
        break;
      case OpKind::kTick:
        tick(op.time, now);
        break;
      case OpKind::kCommit:
        commit(op.keys);
        break;
      case OpKind::kRollback:
        registry_.rollback(key_of(op));
        break;
      case OpKind::kRemove:
        registry_.remove(key_of(op));
        break;
      case OpKind::kGet:
        print_get(out_, key_of(op), registry_.get(key_of(op)));
        break;
      case OpKind::kLen:
        out_ << "len " << registry_.size() << '\n';
        break;
    }
  }

 private:
  static const Key& key_of(const Operation& op) { return std::get<Key>(op.keys.front()); }

  void tick(std::int64_t time, Instant now) {
    last_tick_ = registry_.tick(policy_, now);
    print_tick(out_, time, last_tick_);
  }

  void commit(const std::vector<TraceKey>& named) { registry_.commit(named_candidates(last_tick_, named)); }

  Policy policy_;
  std::ostream& out_;
  Registry registry_;
  typename Registry::Emissions last_tick_;  // sorted by key
};

template <class Key>
void run_all(TraceReader& reader, const TraceHeader& header, const ReplayOptions& options,
             std::ostream& out) {
  Replayer<Key> replayer(header, options, out);
  // A failed write stops the replay: running on would only lose more output.
  while (out) {
    const auto op = reader.next();
    if (!op) break;
    replayer.run(*op);
  }
}

}  // namespace

void replay(std::istream& in, std::ostream& out, const ReplayOptions& options) {
  make_store(options.backend);  // an unknown or unavailable backend fails before any input
  TraceReader reader(in);
  const TraceHeader& header = reader.header();
  if (header.key_kind == KeyKind::kU64) {
    run_all<std::uint64_t>(reader, header, options, out);
  } else {
    run_all<BlobKey>(reader, header, options, out);
  }
}

std::string format_number(double value) {
  char buffer[32];
  const auto result = std::to_chars(buffer, buffer + sizeof buffer, value);
  return std::string(buffer, result.ptr);
}

RegistryOptions registry_options(const TraceHeader& header, const ReplayOptions& options) {
  RegistryOptions o;
  o.cap = header.cap;
  if (options.max_cap > 0 && (o.cap == 0 || o.cap > options.max_cap)) o.cap = options.max_cap;
  o.track_in_flight = header.track_in_flight;
  o.backend = options.backend;
  return o;
}

template <class Key>
void print_tick(std::ostream& out, std::int64_t time,
                std::vector<std::pair<Key, HeatEmission>>& candidates) {
  std::sort(candidates.begin(), candidates.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  out << "tick " << time << ' ' << candidates.size() << '\n';
  for (const auto& [key, emission] : candidates) {
    if (emission.is_emit()) {
      out << "emit " << format_key(key) << ' ' << format_number(emission.rate) << '\n';
    } else {
      out << "withdraw " << format_key(key) << '\n';
    }
  }
}
template void print_tick(std::ostream&, std::int64_t,
                         std::vector<std::pair<std::uint64_t, HeatEmission>>&);
template void print_tick(std::ostream&, std::int64_t, std::vector<std::pair<BlobKey, HeatEmission>>&);

void print_get(std::ostream& out, const TraceKey& key, const std::optional<HeatCounter>& counter) {
  out << "get " << format_key(key);
  if (!counter) {
    out << " absent\n";
    return;
  }
  const auto last = counter->last_emitted();
  out << ' ' << format_number(counter->rate()) << ' '
      << (last ? format_number(*last) : std::string("none")) << ' ' << to_ns(counter->last_update())
      << '\n';
}

}  // namespace heatkit::trace
