// LruOrder against a full scan, shared by the tests of LruOrder and of
// LastUpdateMirror (which the order reads in the device store): random
// inserts, bumps, decays, erases, ticks and evictions over a few slots, with
// time repeating and going back, checking the victim after every step.
#pragma once

#include <algorithm>
#include <cstdint>
#include <optional>
#include <vector>

#include <gtest/gtest.h>

#include "registry/key_records.h"
#include "registry/lru_order.h"
#include "store/last_updates.h"
#include "tests/unit/test_support.h"

namespace heatkit::test {

// Full-scan model: the victim is the live slot with the smallest
// (last_update, order of its last bump or creation).
struct LruModel {
  struct Slot {
    bool live = false;
    std::uint64_t order = 0;
  };
  std::vector<Slot> slots;
  std::vector<std::int64_t> last_update;  // the column LruOrder reads
  std::uint64_t next_order = 0;

  explicit LruModel(std::size_t n) : slots(n), last_update(n, 0) {}

  std::uint32_t victim() const {
    std::uint32_t best = LruOrder::kNone;
    for (std::uint32_t s = 0; s < slots.size(); ++s) {
      if (!slots[s].live) continue;
      if (best == LruOrder::kNone || last_update[s] < last_update[best] ||
          (last_update[s] == last_update[best] && slots[s].order < slots[best].order)) {
        best = s;
      }
    }
    return best;
  }
  std::size_t size() const {
    return static_cast<std::size_t>(
        std::count_if(slots.begin(), slots.end(), [](const Slot& s) { return s.live; }));
  }
};

// `max_stale` 0 means LruOrder's default (compact once the log holds twice
// the slot count). With `records`, the positions live in those (12-byte
// records beside u64 keys, as in the registry) instead of the order's own
// array, and the records are first sized to half the slots and grown to all
// of them midway, moving them, as registry growth does. With `mirror`, the
// order reads last_update from that mirror (the device store's), which is
// given every write and tick of the model's column and must read like it.
inline void run_lru_against_model(std::size_t max_stale, std::size_t slot_count, std::uint64_t seed,
                           int steps, KeyRecords<std::uint64_t>* records = nullptr,
                           LastUpdateMirror* mirror = nullptr) {
  Rng rng(seed);
  LruOrder lru = max_stale == 0 ? LruOrder() : LruOrder(max_stale);
  std::size_t usable = slot_count;  // slots the order has been given so far
  if (records != nullptr) {
    usable = slot_count / 2;
    records->ensure_slots(usable);
    lru.ensure_slots(usable, records->lru_positions());
  } else {
    lru.ensure_slots(slot_count);
  }
  LruModel model(slot_count);
  std::int64_t now = 1000;
  if (mirror != nullptr) mirror->resize(slot_count);
  auto set_last_update = [&](std::uint32_t s, std::int64_t at) {
    model.last_update[s] = at;
    if (mirror != nullptr) mirror->set(s, at);
  };
  auto last_update = [&]() -> LastUpdates {
    return mirror != nullptr ? mirror->view() : LastUpdates(model.last_update.data());
  };

  auto pick_slot = [&](bool live) -> std::optional<std::uint32_t> {
    std::vector<std::uint32_t> candidates;
    for (std::uint32_t s = 0; s < usable; ++s) {
      if (model.slots[s].live == live) candidates.push_back(s);
    }
    if (candidates.empty()) return std::nullopt;
    return candidates[rng.below(candidates.size())];
  };

  for (int step = 0; step < steps; ++step) {
    if (records != nullptr && step == steps / 2) {
      usable = slot_count;
      records->ensure_slots(usable);
      lru.ensure_slots(usable, records->lru_positions());
    }
    // Time: mostly forward in small steps, often repeated, sometimes back.
    const std::uint64_t move = rng.below(10);
    if (move < 4) {
      now += static_cast<std::int64_t>(rng.below(3));
    } else if (move < 6) {
      now -= static_cast<std::int64_t>(rng.below(4));
    }
    const char* op = "";
    const std::uint64_t kind = rng.below(100);
    if (kind < 25) {
      op = "insert";
      if (auto s = pick_slot(false)) {
        set_last_update(*s, now);
        model.slots[*s] = {true, model.next_order++};
        lru.on_insert(*s, now);
      }
    } else if (kind < 50) {
      op = "bump";
      if (auto s = pick_slot(true)) {
        set_last_update(*s, now);
        model.slots[*s].order = model.next_order++;
        lru.on_bump(*s, now);
      }
    } else if (kind < 70) {
      op = "decay";
      if (auto s = pick_slot(true)) {
        const std::int64_t at = now - static_cast<std::int64_t>(rng.below(3));
        set_last_update(*s, at);
        lru.on_decay(*s, at, last_update());
      }
    } else if (kind < 78) {
      op = "erase";
      if (auto s = pick_slot(true)) {
        model.slots[*s].live = false;
        lru.on_erase(*s);
      }
    } else if (kind < 84) {
      op = "tick";
      std::fill(model.last_update.begin(), model.last_update.end(), now);
      if (mirror != nullptr) mirror->tick(now);
      lru.on_tick(now);
    } else {
      op = "evict";
      const std::uint32_t v = lru.victim(last_update());
      ASSERT_EQ(v, model.victim()) << "seed " << seed << " step " << step;
      if (v != LruOrder::kNone) {
        model.slots[v].live = false;
        lru.on_erase(v);
      }
    }
    ASSERT_EQ(lru.size(), model.size()) << "seed " << seed << " step " << step << " " << op;
    ASSERT_EQ(lru.victim(last_update()), model.victim())
        << "seed " << seed << " step " << step << " after " << op;
    for (std::uint32_t s = 0; s < usable; ++s) {
      ASSERT_EQ(lru.contains(s), model.slots[s].live) << "slot " << s << " step " << step;
      ASSERT_EQ(last_update()[s], model.last_update[s])
          << "last_update of slot " << s << " step " << step << " after " << op;
    }
  }
}

}  // namespace heatkit::test
