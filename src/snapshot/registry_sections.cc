#include "snapshot/registry_sections.h"

#include "registry/lru_order.h"

namespace heatkit::snapshot {

void write_registry_fields(ByteSink& sink, const RegistryFields& fields) {
  std::array<std::byte, kRegistryFieldBytes> b{};
  put<std::uint64_t>(b.data(), fields.counters);
  put<std::uint64_t>(b.data() + 8, fields.slots);
  put<std::uint64_t>(b.data() + 16, fields.cap);
  put<std::uint64_t>(b.data() + 24, fields.stats.evictions);
  put<std::uint64_t>(b.data() + 32, fields.stats.pruned);
  put<std::uint64_t>(b.data() + 40, fields.stats.hash_reseeds);
  put<std::uint32_t>(b.data() + 48, fields.tracks_in_flight ? 1u : 0u);
  write_section(sink, kRegistryTag, b);
}

RegistryFields read_registry_fields(ByteSource& source) {
  SectionReader section(source, kRegistryTag);
  section.expect_length(kRegistryFieldBytes, "its fields");
  std::array<std::byte, kRegistryFieldBytes> b{};
  section.read(b.data(), b.size());
  section.finish();
  RegistryFields f;
  f.counters = get<std::uint64_t>(b.data());
  f.slots = get<std::uint64_t>(b.data() + 8);
  f.cap = get<std::uint64_t>(b.data() + 16);
  f.stats.evictions = get<std::uint64_t>(b.data() + 24);
  f.stats.pruned = get<std::uint64_t>(b.data() + 32);
  f.stats.hash_reseeds = get<std::uint64_t>(b.data() + 40);
  const auto flags = get<std::uint32_t>(b.data() + 48);
  f.tracks_in_flight = (flags & 1u) != 0;
  if ((flags & ~1u) != 0) section.inconsistent("flags has reserved bits set");
  for (std::size_t i = 52; i < b.size(); ++i) {
    if (b[i] != std::byte{0}) section.inconsistent("reserved bytes are not 0");
  }
  if (f.slots > LruOrder::kMaxSlots) {
    section.inconsistent("slots " + std::to_string(f.slots) + " is more than a registry holds (" +
                         std::to_string(LruOrder::kMaxSlots) + ")");
  }
  if (f.counters > f.slots) {
    section.inconsistent("counters " + std::to_string(f.counters) + " is more than its slots " +
                         std::to_string(f.slots));
  }
  if (f.cap != 0 && f.counters > f.cap) {
    section.inconsistent("counters " + std::to_string(f.counters) + " is more than its cap " +
                         std::to_string(f.cap));
  }
  return f;
}

}  // namespace heatkit::snapshot
