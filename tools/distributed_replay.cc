#include "tools/distributed_replay.h"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <string>
#include <utility>
#include <vector>

#include <heatkit/distributed_registry.h>
#include "mpi/mpi_call.h"  // mpi::check: an MPI error as MpiError

namespace heatkit::trace {
namespace {

// The most consecutive bumps that one exchange carries: bounds the memory a
// long run of bumps holds before it is applied.
constexpr std::size_t kMaxBumpRun = std::size_t{1} << 16;

// The bumps of a run that one rank issues, [begin, end) in trace order.
struct Slice {
  std::size_t begin = 0;
  std::size_t end = 0;
};

// Rank r's slice of a run of n bumps over `ranks` ranks. Slices are
// contiguous and in rank order, so the owners, which apply rank 0's reads
// first, apply them in trace order. A run shorter than the ranks goes to
// consecutive ranks starting at a rank that `rotation` moves along, so that
// short runs too come from every rank.
Slice slice_of(int rank, std::size_t n, int ranks, std::size_t rotation) {
  const auto r = static_cast<std::size_t>(rank);
  const auto size = static_cast<std::size_t>(ranks);
  if (n >= size) return {r * n / size, (r + 1) * n / size};
  const std::size_t first = rotation % (size - n + 1);
  if (r < first || r >= first + n) return {};
  return {r - first, r - first + 1};
}

std::string eviction_warning(std::uint64_t evictions, int ranks, std::size_t cap) {
  return "warning: " + std::to_string(evictions) + (evictions == 1 ? " eviction" : " evictions") +
         ": each of the " + std::to_string(ranks) + " ranks evicts among its own keys (cap " +
         std::to_string(cap) + " split over them), so the answers can differ from one process's";
}

template <class Key>
class DistributedReplayer {
 public:
  using Registry = DistributedHeatRegistryOf<Key>;

  DistributedReplayer(const TraceHeader& header, const ReplayOptions& options, MPI_Comm comm,
                      std::ostream& out)
      : policy_(header.policy), out_(out), registry_(comm, registry_options(header, options)) {}

  // Runs one line's operation on this rank. False once rank 0's output has
  // failed: every rank learns it at the same line.
  bool run(const Operation& op) {
    if (op.kind == OpKind::kBump) {
      pending_bumps_.emplace_back(key_of(op), instant_from_ns(op.time));
      if (pending_bumps_.size() == kMaxBumpRun) flush_bumps();
      return true;
    }
    flush_bumps();  // the bumps before this line run first
    const Instant now = instant_from_ns(op.time);
    switch (op.kind) {
      case OpKind::kBump:
        break;
      case OpKind::kTouch:
        registry_.touch(key_of(op), policy_.decay_half_life, now);
        break;
      case OpKind::kDecay:
        registry_.decay(key_of(op), now);
        break;
      case OpKind::kTick:
        tick(op.time, now);
        return output_still_good();
      case OpKind::kCommit:
        commit(op.keys);
        break;
      case OpKind::kRollback:
        registry_.rollback(key_of(op));
        break;
      case OpKind::kRemove:
        registry_.remove(key_of(op));
        break;
      case OpKind::kGet: {
        const auto counter = registry_.get(key_of(op));
        if (printing()) print_get(out_, key_of(op), counter);
        return output_still_good();
      }
      case OpKind::kLen: {
        const std::size_t size = registry_.size();
        if (printing()) out_ << "len " << size << '\n';
        return output_still_good();
      }
    }
    return true;
  }

  // Collective: applies the bumps read since the last other line.
  void flush_bumps() {
    if (pending_bumps_.empty()) return;  // the same on every rank: each read the same lines
    const Slice mine = slice_of(registry_.rank(), pending_bumps_.size(), registry_.ranks(), runs_++);
    keys_.clear();
    times_.clear();
    for (std::size_t i = mine.begin; i < mine.end; ++i) {
      keys_.push_back(pending_bumps_[i].first);
      times_.push_back(pending_bumps_[i].second);
    }
    registry_.bump_batch(keys_, times_, policy_.decay_half_life);
    pending_bumps_.clear();
  }

  // Collective: rank 0 warns when any rank has evicted and there is more
  // than one rank (one rank evicts exactly as one process does).
  void warn_of_evictions(std::ostream* warnings) const {
    const std::uint64_t mine = registry_.local().stats().evictions;
    std::uint64_t total = 0;
    mpi::check(MPI_Allreduce(&mine, &total, 1, MPI_UINT64_T, MPI_SUM, registry_.communicator()),
               "MPI_Allreduce", registry_.rank());
    if (printing() && warnings != nullptr && total > 0 && registry_.ranks() > 1) {
      *warnings << eviction_warning(total, registry_.ranks(), registry_.cap()) << '\n';
    }
  }

 private:
  static const Key& key_of(const Operation& op) { return std::get<Key>(op.keys.front()); }

  bool printing() const { return registry_.rank() == 0; }

  // Collective: whether rank 0's output still takes answers, told to all
  // (only rank 0 writes, so only it can see a write fail).
  bool output_still_good() {
    int good = printing() ? static_cast<int>(static_cast<bool>(out_)) : 1;
    mpi::check(MPI_Bcast(&good, 1, MPI_INT, 0, registry_.communicator()), "MPI_Bcast",
               registry_.rank());
    return good != 0;
  }

  void tick(std::int64_t time, Instant now) {
    registry_.tick(policy_, now, last_tick_);
    auto all = registry_.gather(last_tick_, 0);
    if (printing()) print_tick(out_, time, all);
  }

  // Each rank commits its own candidates of the last tick (or the named
  // ones), as one process commits all of them.
  void commit(const std::vector<TraceKey>& named) { registry_.commit(named_candidates(last_tick_, named)); }

  Policy policy_;
  std::ostream& out_;
  Registry registry_;
  typename Registry::Emissions last_tick_;  // this rank's candidates of the last tick
  std::vector<std::pair<Key, Instant>> pending_bumps_;  // a run of bumps not yet applied
  std::size_t runs_ = 0;                                // bump runs applied so far
  std::vector<Key> keys_;                               // this rank's slice of a run
  std::vector<Instant> times_;
};

template <class Key>
void run_all(TraceReader& reader, const TraceHeader& header, const DistributedReplayOptions& options,
             MPI_Comm comm, std::ostream& out) {
  // From here on a rank can fail alone (a backend, an allocation, an MPI
  // call) until the next line is read: that rank ends the job. Reading and
  // parsing a line fails on every rank alike (the same bytes), at a point
  // where no rank is inside a collective: rank 0 reports it for all.
  options.errors_alike(false);
  DistributedReplayer<Key> replayer(header, options.replay, comm, out);
  std::exception_ptr malformed;
  try {
    for (bool writing = true; writing;) {
      options.errors_alike(true);
      const auto op = reader.next();
      options.errors_alike(false);
      if (!op) break;
      writing = replayer.run(*op);
    }
  } catch (const TraceError&) {
    malformed = std::current_exception();
  } catch (const TraceReadError&) {
    malformed = std::current_exception();
  }
  // The lines before a malformed one all run, as in one process.
  options.errors_alike(false);
  replayer.flush_bumps();
  replayer.warn_of_evictions(options.warnings);
  options.errors_alike(true);
  if (malformed) std::rethrow_exception(malformed);
}

}  // namespace

void replay_distributed(std::istream& in, std::ostream& out, MPI_Comm comm,
                        const DistributedReplayOptions& options) {
  TraceReader reader(in);
  const TraceHeader& header = reader.header();
  int ranks = 1;
  mpi::check(MPI_Comm_size(comm, &ranks), "MPI_Comm_size", -1);
  // The registry refuses this too, but as std::invalid_argument, which could
  // be anything; this says what to change.
  const std::size_t cap = registry_options(header, options.replay).cap;
  if (cap != 0 && cap < static_cast<std::size_t>(ranks)) {
    throw CapBelowRanks("the trace's cap " + std::to_string(cap) + " is below the " +
                        std::to_string(ranks) +
                        " ranks: under mpirun each rank keeps its share of the cap, at least one "
                        "counter; run at most " +
                        std::to_string(cap) + " ranks or raise the cap");
  }
  if (header.key_kind == KeyKind::kU64) {
    run_all<std::uint64_t>(reader, header, options, comm, out);
  } else {
    run_all<BlobKey>(reader, header, options, comm, out);
  }
}

}  // namespace heatkit::trace
