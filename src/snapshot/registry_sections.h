// One registry's sections (docs/SNAPSHOT_FORMAT.md): REGI, FREE, CNTR, ORDR,
// written from a registry and read into a fresh one. The registry lets
// RegistryAccess at its keys, eviction order, free list and store; nothing
// else reaches them.
//
// Memory: a save reads the counters kForEachChunk slots at a time and
// writes through one block of buffer. A load grows the registry's arrays
// only as far as the data read so far proves slots exist (every slot below
// the REGI's count is a counter or listed free), so a forged count costs
// nothing until bytes back it; it holds the free list (4 bytes per free
// slot) and a bit per slot while it checks them.
#pragma once

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <type_traits>
#include <limits>
#include <span>
#include <string>
#include <vector>

#include "registry/registry.h"
#include "snapshot/snapshot_io.h"
#include "util/prefetch.h"

namespace heatkit::snapshot {

template <class Key>
inline constexpr KeyType kKeyTypeOf = sizeof(Key) == 8 ? KeyType::kU64 : KeyType::kBlob32;

inline constexpr std::size_t kRegistryFieldBytes = 64;
template <class Key>
inline constexpr std::size_t kCounterRecordBytes = sizeof(Key) + 40;

// REGI.
struct RegistryFields {
  std::uint64_t counters = 0;  // n
  std::uint64_t slots = 0;     // m, live and free
  std::uint64_t cap = 0;
  RegistryStats stats;
  bool tracks_in_flight = false;
};

void write_registry_fields(ByteSink& sink, const RegistryFields& fields);
RegistryFields read_registry_fields(ByteSource& source);

struct RegistryAccess {
  template <class Key, class Hasher>
  static RegistryFields fields_of(const BasicHeatRegistry<Key, Hasher>& r) {
    RegistryFields f;
    f.counters = r.index_.size();
    f.slots = r.high_water_;
    f.cap = r.cap_;
    f.stats = r.stats_;
    f.tracks_in_flight = r.track_in_flight_;
    return f;
  }

  // REGI, FREE, CNTR, ORDR of `r`, whose queued reads are applied.
  template <class Key, class Hasher>
  static void save(const BasicHeatRegistry<Key, Hasher>& r, ByteSink& sink) {
    r.apply_queue();
    const RegistryFields fields = fields_of(r);
    write_registry_fields(sink, fields);
    const std::uint64_t free_slots = fields.slots - fields.counters;
    {
      SectionWriter section(sink, kFreeTag, free_slots * 4);
      for (Slot s = r.free_head_; s != kNoSlot; s = r.keys_.next_free(s)) put_u32(section, s);
      section.finish();
    }
    {
      SectionWriter section(sink, kCountersTag, fields.counters * kCounterRecordBytes<Key>);
      std::vector<CounterState> states(std::min<std::size_t>(r.high_water_, kChunk));
      for (std::size_t first = 0; first < r.high_water_; first += states.size()) {
        const auto chunk = std::span(states).first(std::min(states.size(), r.high_water_ - first));
        r.store_->read_range(static_cast<Slot>(first), chunk);
        for (std::size_t i = 0; i < chunk.size(); ++i) {
          const auto slot = static_cast<Slot>(first + i);
          if (r.lru_.contains(slot)) write_counter(section, r.keys_[slot], slot, chunk[i]);
        }
      }
      section.finish();
    }
    SectionWriter section(sink, kOrderTag, fields.counters * 4);
    r.lru_.for_each_in_bump_order([&](Slot slot) { put_u32(section, slot); });
    section.finish();
  }

  // FREE, CNTR, ORDR into `r`, a registry just made (nothing in it) with
  // `fields`' cap and in-flight tracking. `belongs`, when set, says whether
  // a key may be in this registry (a shard takes only its own keys).
  template <class Key, class Hasher>
  static void load(BasicHeatRegistry<Key, Hasher>& r, const RegistryFields& fields,
                          ByteSource& source,
                          std::type_identity_t<std::function<bool(const Key&)>> belongs = {}) {
    r.stats_ = fields.stats;
    const std::vector<Slot> free = read_free(source, fields);
    Loader<Key, Hasher> loader(r, fields, source, free.size());
    loader.belongs = std::move(belongs);
    loader.read_counters();
    loader.read_order();
    // Every slot is now a counter or free, and the free ones are named once.
    for (const Slot s : free) {
      if (loader.live[s]) {
        loader.inconsistent_free("slot " + std::to_string(s) + " holds a counter or is listed free twice");
      }
      loader.live[s] = true;
    }
    for (std::size_t i = free.size(); i-- > 0;) {
      r.keys_.set_next_free(free[i], r.free_head_);
      r.free_head_ = free[i];
    }
    r.high_water_ = static_cast<Slot>(fields.slots);
  }

 private:
  static constexpr Slot kNoSlot = UINT32_MAX;
  static constexpr std::size_t kChunk = 4096;  // counters read or written at a time

  template <class Sink>
  static void put_u32(Sink& section, std::uint32_t v) {
    std::array<std::byte, 4> b{};
    put<std::uint32_t>(b.data(), v);
    section.write(b.data(), b.size());
  }

  template <class Key>
  static void write_counter(SectionWriter& section, const Key& key, Slot slot, const CounterState& c) {
    std::array<std::byte, kCounterRecordBytes<Key>> b{};
    if constexpr (sizeof(Key) == 8) {
      put<std::uint64_t>(b.data(), key);
    } else {
      std::memcpy(b.data(), key.data(), key.size());
    }
    std::byte* f = b.data() + sizeof(Key);
    put<std::uint32_t>(f, slot);
    put<std::uint32_t>(f + 4, c.has_emitted ? 1u : 0u);
    put<double>(f + 8, c.rate);
    put<std::int64_t>(f + 16, c.last_update);
    put<double>(f + 24, c.has_emitted ? c.last_emitted : 0.0);
    put<std::int64_t>(f + 32, c.half_life);
    section.write(b.data(), b.size());
  }

  static std::vector<Slot> read_free(ByteSource& source, const RegistryFields& fields) {
    SectionReader section(source, kFreeTag);
    const std::uint64_t count = fields.slots - fields.counters;
    section.expect_length(count * 4, "REGI's slot and counter counts");
    std::vector<Slot> free;
    // Reserved only as far as the bytes are known to be there.
    const auto left = source.size_left();
    if (left && *left >= count * 4) free.reserve(static_cast<std::size_t>(count));
    for (std::uint64_t i = 0; i < count; ++i) {
      std::array<std::byte, 4> b{};
      section.read(b.data(), b.size());
      const auto slot = get<std::uint32_t>(b.data());
      if (slot >= fields.slots) {
        section.inconsistent("free slot " + std::to_string(slot) + " is not below the " +
                             std::to_string(fields.slots) + " slots of REGI");
      }
      free.push_back(slot);
    }
    section.finish();
    return free;
  }

  template <class Key, class Hasher>
  struct Loader {
    using Registry = BasicHeatRegistry<Key, Hasher>;
    Registry& r;
    const RegistryFields& fields;
    ByteSource& source;
    std::size_t free_count;
    std::vector<bool> live;  // per slot: holds a counter (then: or is listed free)
    std::function<bool(const Key&)> belongs;  // unset: every key may be here
    std::string origin;

    Loader(Registry& registry, const RegistryFields& f, ByteSource& src, std::size_t free_slots)
        : r(registry), fields(f), source(src), free_count(free_slots), origin(src.origin()) {}

    [[noreturn]] void inconsistent_free(const std::string& what) const {
      fail(SnapshotProblem::kInconsistent, origin, "section FREE: " + what);
    }

    // Grows every array to `n` slots (the registry's grow(), to a size of ours).
    void grow_to(std::size_t n) {
      if (live.size() < n) live.resize(n, false);
      if (n <= r.room_) return;
      r.store_->ensure_slots(n);
      r.host_columns_ = r.store_->host_columns();
      r.keys_.ensure_slots(n);
      r.lru_.ensure_slots(n, r.keys_.lru_positions());
      r.index_.reserve(n, r.keys_);
      r.room_ = n;
    }

    // A counter record, checked on its own.
    struct Record {
      Key key;
      Slot slot;
      CounterState state;
    };
    Record decode(const SectionReader& section, const std::byte* b, std::uint64_t k,
                  std::uint64_t next_slot) const {
      Record rec;
      if constexpr (sizeof(Key) == 8) {
        rec.key = get<std::uint64_t>(b);
      } else {
        std::memcpy(rec.key.data(), b, rec.key.size());
      }
      const std::byte* f = b + sizeof(Key);
      rec.slot = get<std::uint32_t>(f);
      const auto flags = get<std::uint32_t>(f + 4);
      CounterState& c = rec.state;
      c.rate = get<double>(f + 8);
      c.last_update = get<std::int64_t>(f + 16);
      c.has_emitted = (flags & 1u) != 0;
      c.last_emitted = get<double>(f + 24);
      c.half_life = get<std::int64_t>(f + 32);
      const Slot slot = rec.slot;
      const auto at = [&] { return "counter " + std::to_string(k) + " (slot " + std::to_string(slot) + ")"; };
      if (slot < next_slot) section.inconsistent(at() + ": slots are not increasing");
      if (slot >= fields.slots) {
        section.inconsistent(at() + ": slot not below the " + std::to_string(fields.slots) + " slots of REGI");
      }
      if (slot - k > free_count) {
        section.inconsistent(at() + ": more slots before it lack a counter than FREE lists");
      }
      if ((flags & ~1u) != 0) section.inconsistent(at() + ": flags has reserved bits set");
      if (!std::isfinite(c.rate) || c.rate < 0.0) {
        section.inconsistent(at() + ": rate " + std::to_string(c.rate) + " is not finite and >= 0");
      }
      if (c.half_life < 0) section.inconsistent(at() + ": negative half-life");
      if (!c.has_emitted && c.last_emitted != 0.0) {
        section.inconsistent(at() + ": last_emitted set but flags say it has not emitted");
      }
      return rec;
    }

    // Records are decoded and checked kBatch at a time, and a batch's index
    // buckets asked for while the batch before it is inserted: the look-ups'
    // cache misses overlap with each other and with that work.
    static constexpr std::size_t kBatch = 32;
    struct Batch {
      std::array<Record, kBatch> records;
      std::array<std::uint64_t, kBatch> hashes{};
      std::size_t size = 0;
      std::uint64_t first = 0;  // the first record's number
    };

    // Reads, checks and hashes the next records into `batch`, asking for
    // their buckets; grows the arrays as far as they prove slots exist.
    void next_batch(SectionReader& section, Batch& batch, std::uint64_t first, std::uint64_t& next_slot) {
      std::array<std::byte, kBatch * kCounterRecordBytes<Key>> bytes;
      batch.first = first;
      batch.size = static_cast<std::size_t>(std::min<std::uint64_t>(kBatch, fields.counters - first));
      section.read(bytes.data(), batch.size * kCounterRecordBytes<Key>);
      for (std::size_t i = 0; i < batch.size; ++i) {
        batch.records[i] = decode(section, bytes.data() + i * kCounterRecordBytes<Key>, first + i, next_slot);
        next_slot = std::uint64_t{batch.records[i].slot} + 1;
      }
      if (next_slot > r.room_) {
        grow_to(std::min<std::uint64_t>(fields.slots, std::max<std::uint64_t>(next_slot, 2 * r.room_)));
      }
      rehash(batch, 0);
    }
    void rehash(Batch& batch, std::size_t from) const {
      for (std::size_t i = from; i < batch.size; ++i) {
        batch.hashes[i] = r.index_.hash(batch.records[i].key);
        r.index_.prefetch(batch.hashes[i]);
      }
    }

    void read_counters() {
      SectionReader section(source, kCountersTag);
      section.expect_length(fields.counters * kCounterRecordBytes<Key>, "REGI's counter count");
      // All at once when the file is known to hold the counters; otherwise
      // step by step, as far as the records read prove slots exist.
      const auto left = source.size_left();
      if (left && *left >= fields.counters * kCounterRecordBytes<Key>) grow_to(fields.slots);
      std::vector<CounterState> run;  // consecutive slots, written to the store together
      run.reserve(kChunk);
      Slot run_first = 0;
      std::uint64_t next_slot = 0;  // slots below it are taken care of
      std::array<Batch, 2> batches;
      if (fields.counters > 0) next_batch(section, batches[0], 0, next_slot);
      for (std::size_t cur = 0; batches[cur].size > 0; cur ^= 1) {
        Batch& batch = batches[cur];
        Batch& following = batches[cur ^ 1];
        following.size = 0;
        const std::uint64_t after = batch.first + batch.size;
        if (after < fields.counters) next_batch(section, following, after, next_slot);
        for (std::size_t i = 0; i < batch.size; ++i) {
          const Record& rec = batch.records[i];
          if (belongs && !belongs(rec.key)) {
            section.inconsistent("counter " + std::to_string(batch.first + i) + " (slot " +
                                 std::to_string(rec.slot) + "): its key belongs in another shard");
          }
          if (const Slot other = r.index_.find(rec.key, batch.hashes[i], r.keys_); other != kNoSlot) {
            section.inconsistent("counter " + std::to_string(batch.first + i) + " (slot " +
                                 std::to_string(rec.slot) + "): its key is also the key of slot " +
                                 std::to_string(other));
          }
          if (!run.empty() && (rec.slot != run_first + run.size() || run.size() == kChunk)) {
            r.store_->write_range(run_first, run);
            run.clear();
          }
          if (run.empty()) run_first = rec.slot;
          run.push_back(rec.state);
          r.keys_.set_key(rec.slot, rec.key);
          const std::size_t distance = r.index_.insert(batch.hashes[i], rec.slot, r.keys_);
          if (distance > kLongProbe) [[unlikely]] {
            r.reseed_index();  // perhaps under a fresh secret: hash what is pending again
            rehash(batch, i + 1);
            rehash(following, 0);
          }
          live[rec.slot] = true;
          note_half_life(rec.state.half_life, batch.first + i == 0);
        }
        batch.size = 0;
      }
      if (!run.empty()) r.store_->write_range(run_first, run);
      section.finish();
      grow_to(fields.slots);  // the slots after the last counter, all free
    }

    void note_half_life(std::int64_t half_life, bool first) {
      if (first) {
        r.common_half_life_ = half_life;
      } else if (half_life != r.common_half_life_) {
        r.mixed_half_lives_ = true;
      }
    }

    void read_order() {
      SectionReader section(source, kOrderTag);
      section.expect_length(fields.counters * 4, "REGI's counter count");
      const LastUpdates last_update = r.store_->last_update_host();
      std::array<std::byte, 4 * kBatch> bytes{};
      std::array<Slot, kBatch> slots{};
      for (std::uint64_t first = 0; first < fields.counters; first += kBatch) {
        const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(kBatch, fields.counters - first));
        section.read(bytes.data(), 4 * n);
        for (std::size_t i = 0; i < n; ++i) {
          slots[i] = get<std::uint32_t>(bytes.data() + 4 * i);
          if (slots[i] < fields.slots) {
            r.keys_.prefetch(slots[i]);  // the slot's eviction-order position lives there
            if (r.host_columns_) prefetch_for_read(r.host_columns_->last_update + slots[i]);
          }
        }
        for (std::size_t i = 0; i < n; ++i) {
          const Slot slot = slots[i];
          if (slot >= fields.slots || !live[slot]) {
            section.inconsistent("entry " + std::to_string(first + i) + ": slot " + std::to_string(slot) +
                                 " holds no counter");
          }
          if (r.lru_.contains(slot)) {
            section.inconsistent("entry " + std::to_string(first + i) + ": slot " + std::to_string(slot) +
                                 " is listed twice");
          }
          r.lru_.on_insert(slot, last_update[slot]);
        }
      }
      section.finish();
    }
  };
};

}  // namespace heatkit::snapshot
