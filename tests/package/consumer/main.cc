// Uses the installed heatkit the way an outside program would: through the
// umbrella header and heatkit::heatkit only. Every expected value follows from
// the contract (docs/SEMANTICS.md); exits non-zero on the first mismatch.
#include <heatkit/heatkit.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string_view>
#include <vector>

namespace {

int failures = 0;

void check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "heatkit_consumer: FAILED: %s\n", what);
    ++failures;
  }
}

}  // namespace

int main() {
  using heatkit::Duration;
  using heatkit::HeatEmission;
  using heatkit::Instant;

  const heatkit::Policy policy;  // enabled, ratio 2.0, half-life 30 min
  const Duration half_life = policy.decay_half_life;
  const Instant t0 = heatkit::instant_from_ns(1'000'000'000);

  auto registry = heatkit::HeatRegistry::with_cap(2);
  check(registry.backend() == heatkit::default_backend(), "a registry uses the default backend");

  // Two bumps at one instant: rate 2, never emitted -> Emit(2).
  registry.entry(10, half_life, t0).bump(t0);
  registry.entry(10, half_life, t0).bump(t0);
  auto emissions = registry.tick(policy, t0);
  check(emissions.size() == 1 && emissions[0].first == 10 &&
            emissions[0].second == HeatEmission::emit(2.0),
        "first tick emits key 10 at rate 2");
  check(!registry.get(10)->last_emitted().has_value(), "tick does not record the emission");
  registry.commit(emissions);
  check(registry.get(10)->last_emitted() == std::optional<double>(2.0), "commit records rate 2");
  check(registry.tick(policy, t0).empty(), "an unchanged rate is suppressed");

  // One half-life later the rate is exactly 1: prev/rate = 2 >= ratio -> Emit(1).
  emissions = registry.tick(policy, t0 + half_life);
  check(emissions.size() == 1 && emissions[0].second == HeatEmission::emit(1.0),
        "after one half-life key 10 re-emits at rate 1");
  registry.commit(emissions);

  // Past 64 half-lives the rate is zero: Withdraw; committing it prunes the entry.
  emissions = registry.tick(policy, t0 + 66 * half_life);
  check(emissions.size() == 1 && emissions[0].second == HeatEmission::withdraw(),
        "a fully decayed key is withdrawn");
  registry.commit(emissions);
  check(registry.empty() && registry.stats().pruned == 1, "commit prunes the withdrawn key");

  // Cap 2: a third key evicts the one with the oldest last_update.
  const Instant t1 = t0 + 100 * half_life;
  registry.entry(1, half_life, t1).bump(t1);
  registry.entry(2, half_life, t1 + Duration(1)).bump(t1 + Duration(1));
  registry.entry(3, half_life, t1 + Duration(2)).bump(t1 + Duration(2));
  check(registry.size() == 2 && !registry.contains(1) && registry.contains(2) &&
            registry.contains(3) && registry.stats().evictions == 1,
        "the oldest key is evicted at the cap");

  // Blob keys track in-flight emissions by default.
  heatkit::BlobHeatRegistry blobs;
  heatkit::BlobKey key{};
  key[0] = 0x42;
  blobs.entry(key, half_life, t0).bump(t0);
  check(blobs.tick(policy, t0).size() == 1, "a blob key emits");
  check(blobs.tick(policy, t0).empty(), "an in-flight blob key is skipped");
  blobs.rollback(key);
  check(blobs.tick(policy, t0).size() == 1, "rollback lets the next tick reissue");

  // Typed errors cross the library boundary.
  heatkit::Policy bad = policy;
  bad.emit_threshold_ratio = 0.5f;
  try {
    (void)registry.tick(bad, t1);
    check(false, "an out-of-range ratio throws InvalidPolicy");
  } catch (const heatkit::InvalidPolicy& e) {
    check(e.error().kind == heatkit::PolicyErrorKind::kRatioOutOfRange,
          "InvalidPolicy names the ratio");
  }
  try {
    heatkit::RegistryOptions options;
    options.backend = "no-such-backend";
    const heatkit::HeatRegistry unknown(options);
    check(false, "an unknown backend throws UnknownBackend");
  } catch (const heatkit::UnknownBackend&) {
  }
  check(heatkit::backend_info(heatkit::default_backend()).available, "the default backend runs here");

  // for_each takes any callable, a generic lambda included.
  std::size_t visited = 0;
  registry.for_each([&](const auto& key, const heatkit::HeatCounter& c) {
    visited += (key == 2 || key == 3) && c.rate() == 1.0 ? 1 : 0;
  });
  check(visited == 2, "for_each visits every key with its counter");

  // The sharded registry, many threads' entry point: batches, with_entry, tick.
  heatkit::ConcurrentHeatRegistry sharded(heatkit::RegistryOptions{}, 4);
  const std::vector<std::uint64_t> keys{1, 2, 3, 1};
  sharded.bump_batch(keys, half_life, t0);
  const double rate = sharded.with_entry(1, half_life, t0, [&](auto& entry) { return entry.rate(); });
  check(rate == 2.0 && sharded.size() == 3, "a batch bumps each key in turn");
  check(sharded.tick(policy, t0).size() == 3, "every bumped key emits once");

  if (failures != 0) return EXIT_FAILURE;
  std::puts("heatkit_consumer: ok");
  return EXIT_SUCCESS;
}
