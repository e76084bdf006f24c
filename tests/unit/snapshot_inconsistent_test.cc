// Snapshots whose checksums all match but whose contents contradict the
// format (docs/SNAPSHOT_FORMAT.md): each file is a real save, decoded,
// changed in one field and encoded again with correct checksums, so that
// only the reader's checks of the contents stand between it and a broken
// registry. Each must be refused by every reader with `inconsistent` and a
// message that names the section and the field.
#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <cctype>
#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "snapshot_test_util.h"

namespace heatkit::test {
namespace {

using namespace snapshot_format;
using namespace snapshot_samples;

std::string lower(std::string text) {
  for (char& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return text;
}

bool contains_any(const std::string& text, const std::vector<std::string>& words) {
  for (const std::string& word : words) {
    if (lower(text).find(lower(word)) != std::string::npos) return true;
  }
  return false;
}

std::string joined(const std::vector<std::string>& words) {
  std::string out;
  for (const std::string& w : words) out += (out.empty() ? "'" : " or '") + w + "'";
  return out;
}

// One registry's four sections, decoded. For a sharded snapshot: one shard's.
struct Group {
  std::uint64_t live = 0;   // REGI n
  std::uint64_t slots = 0;  // REGI m
  std::vector<CounterRecord> counters;
  std::vector<std::uint32_t> order;
  std::vector<std::uint32_t> free;
};

// The snapshot under change and the group a test changes; store() puts the
// group's records back into the snapshot's payloads.
struct Crafted {
  Snapshot snapshot;
  std::size_t shard = 0;
  Group group;

  Section& regi() { return snapshot.section("REGI", shard); }
  Section& cntr() { return snapshot.section("CNTR", shard); }
  Section& ordr() { return snapshot.section("ORDR", shard); }
  Section& free_section() { return snapshot.section("FREE", shard); }

  void store() {
    cntr().payload = encode_counter_records(group.counters);
    ordr().payload = encode_slot_list(group.order);
    free_section().payload = encode_slot_list(group.free);
  }
};

class SnapshotInconsistentTest : public ::testing::TestWithParam<SnapshotShape> {
 protected:
  void SetUp() override {
    whole_ = save_small_snapshot(GetParam());
    base_.snapshot = decode(whole_);
    ASSERT_EQ(encode(base_.snapshot), whole_) << "the test's encoder does not give the library's bytes back";
    // The group with the most free slots, so that every change below has
    // two counters and two free slots to work with.
    std::size_t best_free = 0;
    for (std::size_t shard = 0; shard < GetParam().shards(); ++shard) {
      base_.shard = shard;
      Group g = decode_group(base_);
      if (g.counters.size() >= 2 && g.free.size() >= best_free) {
        best_free = g.free.size();
        base_.group = g;
        chosen_shard_ = shard;
      }
    }
    base_.shard = chosen_shard_;
    ASSERT_GE(base_.group.counters.size(), 2u);
    ASSERT_GE(base_.group.free.size(), 2u) << "the sample registry needs two free slots in one group";
  }

  static Group decode_group(Crafted& crafted) {
    Group g;
    g.live = read_le<std::uint64_t>(crafted.regi().payload, kRegiLive);
    g.slots = read_le<std::uint64_t>(crafted.regi().payload, kRegiSlots);
    g.counters = counter_records(crafted.snapshot, crafted.cntr());
    g.order = slot_list(crafted.ordr());
    g.free = slot_list(crafted.free_section());
    return g;
  }

  // Applies `change` to a copy of the snapshot and expects every reader to
  // refuse it with kInconsistent and a message holding one of `sections`
  // and one of `fields` (none asked: the section alone).
  void expect_inconsistent(const std::string& what, const std::function<void(Crafted&)>& change,
                           const std::vector<std::string>& sections,
                           const std::vector<std::string>& fields = {}) {
    Crafted crafted = base_;
    change(crafted);
    const Bytes bytes = encode(crafted.snapshot);
    for (Reader reader : kAllReaders) {
      const ReadOutcome outcome = read_snapshot(GetParam(), bytes, reader, folder_ / "crafted.heat");
      if (outcome.loaded || *outcome.problem != SnapshotProblem::kInconsistent) {
        ADD_FAILURE() << what << ": " << reader_name(reader) << " gave " << outcome.describe()
                      << ", expected inconsistent";
        continue;
      }
      EXPECT_TRUE(contains_any(outcome.message, sections))
          << what << ": " << reader_name(reader) << "'s message names none of " << joined(sections)
          << ": " << outcome.message;
      if (!fields.empty()) {
        EXPECT_TRUE(contains_any(outcome.message, fields))
            << what << ": " << reader_name(reader) << "'s message names none of " << joined(fields)
            << ": " << outcome.message;
      }
    }
  }

  ScratchFolder folder_{"inconsistent"};
  Bytes whole_;
  Crafted base_;
  std::size_t chosen_shard_ = 0;
};

TEST_P(SnapshotInconsistentTest, TheUnchangedSnapshotLoads) {
  Crafted crafted = base_;
  crafted.store();  // re-encoding the decoded records changes nothing
  const Bytes bytes = encode(crafted.snapshot);
  EXPECT_EQ(bytes, whole_);
  for (Reader reader : kAllReaders) {
    const ReadOutcome outcome = read_snapshot(GetParam(), bytes, reader, folder_ / "crafted.heat");
    EXPECT_TRUE(outcome.loaded) << reader_name(reader) << ": " << outcome.describe();
  }
}

TEST_P(SnapshotInconsistentTest, CounterRecordsThatContradictTheFormat) {
  expect_inconsistent("two records with one key", [](Crafted& c) {
    c.group.counters[1].key = c.group.counters[0].key;
    c.store();
  }, {"CNTR"}, {"key"});
  expect_inconsistent("a slot repeated", [](Crafted& c) {
    c.group.counters[1].slot = c.group.counters[0].slot;
    c.store();
  }, {"CNTR"}, {"slot"});
  expect_inconsistent("slots not increasing", [](Crafted& c) {
    std::swap(c.group.counters[0].slot, c.group.counters[1].slot);
    c.store();
  }, {"CNTR"}, {"slot"});
  // A slot at or past m, with ORDR following it so that only the range is wrong.
  const std::vector<std::optional<std::uint32_t>> bad_slots = {std::nullopt, 0x7FFF'FFFFu, 0xFFFF'FFFFu};
  for (const std::optional<std::uint32_t> bad : bad_slots) {
    expect_inconsistent("the last slot at " + (bad ? std::to_string(*bad) : "m"), [bad](Crafted& c) {
      const std::uint32_t old_slot = c.group.counters.back().slot;
      const std::uint32_t new_slot = bad.value_or(static_cast<std::uint32_t>(c.group.slots));
      c.group.counters.back().slot = new_slot;
      std::replace(c.group.order.begin(), c.group.order.end(), old_slot, new_slot);
      c.store();
    }, {"CNTR"}, {"slot"});
  }
  for (double rate : {-1.0, -std::numeric_limits<double>::min(), std::nan(""),
                      std::numeric_limits<double>::infinity(), -std::numeric_limits<double>::infinity()}) {
    expect_inconsistent("rate " + std::to_string(rate), [rate](Crafted& c) {
      c.group.counters[0].rate = rate;
      c.store();
    }, {"CNTR"}, {"rate"});
  }
  for (std::int64_t half_life : {std::int64_t{-1}, std::numeric_limits<std::int64_t>::min()}) {
    expect_inconsistent("half-life " + std::to_string(half_life), [half_life](Crafted& c) {
      c.group.counters[1].half_life = half_life;
      c.store();
    }, {"CNTR"}, {"half-life", "half_life", "half life"});
  }
  for (std::uint32_t flag : {1u << 1, 1u << 7, 1u << 31}) {
    expect_inconsistent("counter flag bit " + std::to_string(std::countr_zero(flag)), [flag](Crafted& c) {
      c.group.counters[0].flags |= flag;
      c.store();
    }, {"CNTR"}, {"flag"});
  }
}

TEST_P(SnapshotInconsistentTest, AnEvictionOrderOrFreeListThatDoesNotCoverTheSlots) {
  expect_inconsistent("ORDR with a live slot twice and one missing", [](Crafted& c) {
    c.group.order[0] = c.group.order[1];
    c.store();
  }, {"ORDR"});
  expect_inconsistent("ORDR listing a free slot", [](Crafted& c) {
    c.group.order[0] = c.group.free[0];
    c.store();
  }, {"ORDR"});
  expect_inconsistent("ORDR listing slot m", [](Crafted& c) {
    c.group.order[0] = static_cast<std::uint32_t>(c.group.slots);
    c.store();
  }, {"ORDR"});
  expect_inconsistent("FREE listing a live slot", [](Crafted& c) {
    c.group.free[0] = c.group.counters[0].slot;
    c.store();
  }, {"FREE"});
  expect_inconsistent("FREE with a slot twice and one missing", [](Crafted& c) {
    c.group.free[1] = c.group.free[0];
    c.store();
  }, {"FREE"});
  expect_inconsistent("FREE listing slot m", [](Crafted& c) {
    c.group.free[0] = static_cast<std::uint32_t>(c.group.slots);
    c.store();
  }, {"FREE"});
}

TEST_P(SnapshotInconsistentTest, RegistryCountsThatDisagreeWithTheSections) {
  expect_inconsistent("REGI n one more than CNTR holds", [](Crafted& c) {
    write_le<std::uint64_t>(c.regi().payload, kRegiLive, c.group.live + 1);
  }, {"CNTR", "REGI"});
  expect_inconsistent("REGI n one less than CNTR holds", [](Crafted& c) {
    write_le<std::uint64_t>(c.regi().payload, kRegiLive, c.group.live - 1);
  }, {"CNTR", "REGI"});
  expect_inconsistent("REGI m one more than CNTR and FREE cover", [](Crafted& c) {
    write_le<std::uint64_t>(c.regi().payload, kRegiSlots, c.group.slots + 1);
  }, {"FREE", "REGI"});
  expect_inconsistent("REGI m below n", [](Crafted& c) {
    write_le<std::uint64_t>(c.regi().payload, kRegiSlots, c.group.live - 1);
  }, {"REGI"});
  expect_inconsistent("REGI m of 2^31 - 1", [](Crafted& c) {
    write_le<std::uint64_t>(c.regi().payload, kRegiSlots, 0x7FFF'FFFF);
  }, {"REGI"});
  expect_inconsistent("REGI cap below n", [](Crafted& c) {
    write_le<std::uint64_t>(c.regi().payload, kRegiCap, c.group.live - 1);
  }, {"REGI"}, {"cap"});
  expect_inconsistent("CNTR one record short, REGI n to match but ORDR not", [](Crafted& c) {
    c.group.counters.pop_back();
    c.store();
    write_le<std::uint64_t>(c.regi().payload, kRegiLive, c.group.live - 1);
  }, {"ORDR", "FREE", "CNTR", "REGI"});
}

TEST_P(SnapshotInconsistentTest, ReservedBitsSet) {
  expect_inconsistent("REGI flag bit 1", [](Crafted& c) {
    write_le<std::uint32_t>(c.regi().payload, kRegiFlags, read_le<std::uint32_t>(c.regi().payload, kRegiFlags) | 2);
  }, {"REGI"}, {"flag"});
  for (std::size_t byte : {kRegiReserved, kRegiBytes - 1}) {
    expect_inconsistent("REGI reserved byte " + std::to_string(byte), [byte](Crafted& c) {
      c.regi().payload[byte] = 1;
    }, {"REGI"}, {"reserved"});
  }
  for (const char* tag : {"REGI", "CNTR", "ORDR", "FREE"}) {
    expect_inconsistent(std::string(tag) + " header's reserved word", [tag](Crafted& c) {
      c.snapshot.section(tag, c.shard).reserved = 0x100;
    }, {tag}, {"reserved"});
  }
}

TEST_P(SnapshotInconsistentTest, SectionsOutOfOrderOrUnknown) {
  expect_inconsistent("ORDR before FREE", [](Crafted& c) {
    std::swap(c.ordr(), c.free_section());
  }, {"ORDR", "FREE"});
  expect_inconsistent("CNTR before REGI", [](Crafted& c) {
    std::swap(c.regi(), c.cntr());
  }, {"REGI", "CNTR"});
  expect_inconsistent("an unknown tag where ORDR belongs", [](Crafted& c) {
    c.ordr().tag = "ORDX";
  }, {"ORDR", "ORDX"});
}

// A sharded snapshot's own section, and keys that the shard selector's secret
// does not put where the file has them.
TEST_P(SnapshotInconsistentTest, ShardSectionAndKeysInTheWrongShard) {
  if (!GetParam().sharded) GTEST_SKIP() << "a single registry's snapshot has no SHRD section";
  for (std::uint32_t count : {0u, 3u, 1u << 17}) {
    expect_inconsistent("SHRD shard count " + std::to_string(count), [count](Crafted& c) {
      write_le<std::uint32_t>(c.snapshot.section("SHRD").payload, kShrdCount, count);
    }, {"SHRD"}, {"shard"});
  }
  expect_inconsistent("SHRD reserved word", [](Crafted& c) {
    write_le<std::uint32_t>(c.snapshot.section("SHRD").payload, kShrdReserved, 1);
  }, {"SHRD"}, {"reserved"});
  expect_inconsistent("SHRD header's reserved word", [](Crafted& c) {
    c.snapshot.section("SHRD").reserved = 1;
  }, {"SHRD"}, {"reserved"});

  // One key in two shards: the registry's keys are not distinct.
  expect_inconsistent("a key of another shard repeated in this one", [this](Crafted& c) {
    const std::size_t other = (c.shard + 1) % GetParam().shards();
    const auto others = counter_records(c.snapshot, c.snapshot.section("CNTR", other));
    ASSERT_FALSE(others.empty());
    c.group.counters[0].key = others[0].key;
    c.store();
  }, {"CNTR", "SHRD"}, {"key", "shard"});

  // A key the secret sends to another shard: get and bump would look for it
  // there and never find it, so the file contradicts its own secret.
  expect_inconsistent("a key the secret sends to another shard", [this](Crafted& c) {
    RegistryOptions options = exact_options();
    options.hash_seed = read_le<std::uint64_t>(c.snapshot.section("SHRD").payload, kShrdSecret);
    with_registry_type(GetParam(), [&]<class Key, bool>() {
      const ConcurrentHeatRegistryOf<Key> selector(options, GetParam().shards());
      for (std::uint64_t i = 1'000'000;; ++i) {
        const Key key = sample_key<Key>(i);
        if (selector.shard_of(key) != c.shard) {
          std::memcpy(c.group.counters[0].key.data(), &key, sizeof key);
          break;
        }
      }
    });
    c.store();
  }, {"CNTR", "SHRD"}, {"key", "shard"});
}

// Each shard's REGI holds its share of SHRD's cap, and the shards of one
// registry track in-flight marks alike (a loaded registry has one setting).
// inspect_snapshot applies every rule a load does, these too.
TEST_P(SnapshotInconsistentTest, ShardsThatDisagreeWithEachOther) {
  if (!GetParam().sharded) GTEST_SKIP() << "a single registry's snapshot has no shards";
  expect_inconsistent("a shard's cap one more than its share of SHRD's", [](Crafted& c) {
    const auto cap = read_le<std::uint64_t>(c.regi().payload, kRegiCap);
    write_le<std::uint64_t>(c.regi().payload, kRegiCap, cap + 1);
  }, {"REGI", "SHRD"}, {"cap"});
  expect_inconsistent("one shard tracking in-flight marks, the others not", [](Crafted& c) {
    const auto flags = read_le<std::uint32_t>(c.regi().payload, kRegiFlags);
    write_le<std::uint32_t>(c.regi().payload, kRegiFlags, flags ^ 1u);
  }, {"REGI"}, {"in-flight", "in flight", "tracking"});
}

INSTANTIATE_TEST_SUITE_P(Shapes, SnapshotInconsistentTest,
                         ::testing::Values(SnapshotShape{false, false, false}, SnapshotShape{true, false, false},
                                           SnapshotShape{false, true, false}, SnapshotShape{true, true, false}),
                         [](const auto& shape) { return shape.param.name(); });

// The format page gives one registry's sections in the order REGI, FREE,
// CNTR, ORDR (SHRD before the groups, APPL last) and the reader refuses
// tags out of order: a writer of the page's order (this test's encoder,
// another implementation) must be read, and the library must write it.
TEST(SnapshotSectionOrder, SavesAndLoadsTheSectionsInTheFormatsOrder) {
  const std::vector<std::string> group = {"REGI", "FREE", "CNTR", "ORDR"};  // SNAPSHOT_FORMAT.md "Sections"
  ScratchFolder folder("order");
  for (const SnapshotShape& shape : small_snapshot_shapes()) {
    Snapshot snapshot = decode(save_small_snapshot(shape));
    std::vector<std::string> expected, saved;
    if (shape.sharded) expected.push_back("SHRD");
    for (std::size_t shard = 0; shard < shape.shards(); ++shard) {
      expected.insert(expected.end(), group.begin(), group.end());
    }
    if (shape.application) expected.push_back("APPL");
    for (const Section& section : snapshot.sections) saved.push_back(section.tag);
    EXPECT_EQ(saved, expected) << shape.name() << ": the saved sections are not in the format's order";

    // The same sections put in the format's order.
    std::vector<Section> ordered;
    if (shape.sharded) ordered.push_back(snapshot.section("SHRD"));
    for (std::size_t shard = 0; shard < shape.shards(); ++shard) {
      for (const std::string& tag : group) ordered.push_back(snapshot.section(tag, shard));
    }
    if (shape.application) ordered.push_back(snapshot.section("APPL"));
    snapshot.sections = ordered;
    for (Reader reader : kAllReaders) {
      const ReadOutcome outcome = read_snapshot(shape, encode(snapshot), reader, folder / "ordered.heat");
      EXPECT_TRUE(outcome.loaded) << shape.name() << " in the format's order: " << reader_name(reader)
                                  << " gave " << outcome.describe();
    }
  }
}

// The application section holds at most kMaxApplicationBytes.
TEST(SnapshotInconsistent, AnApplicationSectionOverItsLimit) {
  const SnapshotShape shape{false, false, true};
  Snapshot snapshot = decode(save_small_snapshot(shape));
  snapshot.section("APPL").payload = Bytes(kMaxApplicationBytes + 1, 'a');
  const Bytes bytes = encode(snapshot);
  ScratchFolder folder("inconsistent");
  for (Reader reader : kAllReaders) {
    const ReadOutcome outcome = read_snapshot(shape, bytes, reader, folder / "crafted.heat");
    ASSERT_FALSE(outcome.loaded) << reader_name(reader);
    EXPECT_EQ(*outcome.problem, SnapshotProblem::kInconsistent) << reader_name(reader) << ": " << outcome.describe();
    EXPECT_TRUE(contains_any(outcome.message, {"APPL"})) << outcome.message;
  }
}

}  // namespace
}  // namespace heatkit::test
