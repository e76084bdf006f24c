// KeyRecords (registry/key_records.h): each slot's key beside its 4-byte
// position in the eviction order; growth keeps both, and writing positions
// leaves the keys alone.
#include <gtest/gtest.h>

#include <cstdint>

#include "registry/key_hash.h"
#include "registry/key_records.h"
#include "registry/lru_order.h"

namespace heatkit {
namespace {

TEST(KeyRecords, a_record_is_the_key_and_four_bytes_of_position) {
  KeyRecords<std::uint64_t> u64;
  u64.ensure_slots(5);
  EXPECT_EQ(u64.lru_positions().stride, 12u);
  KeyRecords<BlobKey> blob;
  blob.ensure_slots(5);
  EXPECT_EQ(blob.lru_positions().stride, 36u);
  EXPECT_EQ(blob.key_bytes(), 5u * 32);
  EXPECT_EQ(blob.position_bytes(), 5u * 4);
}

TEST(KeyRecords, growth_keeps_keys_and_positions_and_new_slots_are_absent) {
  KeyRecords<BlobKey> records;
  records.ensure_slots(3);
  for (std::uint32_t s = 0; s < 3; ++s) {
    EXPECT_EQ(records.lru_positions()[s], LruOrder::kAbsentPosition) << "slot " << s;
  }
  BlobKey key{};
  for (std::uint32_t s = 0; s < 3; ++s) {
    key.fill(static_cast<std::uint8_t>(0xA0 + s));
    records.set_key(s, key);
    records.lru_positions()[s] = 100 + s;
  }
  records.ensure_slots(2);  // never shrinks
  EXPECT_EQ(records.size(), 3u);
  records.ensure_slots(40'000);  // 1.4 MiB: the huge-page path's neighbour
  records.ensure_slots(70'000);  // 2.5 MiB: mapped on huge pages
  ASSERT_EQ(records.size(), 70'000u);
  for (std::uint32_t s = 0; s < 3; ++s) {
    key.fill(static_cast<std::uint8_t>(0xA0 + s));
    EXPECT_EQ(records[s], key) << "slot " << s;
    EXPECT_EQ(records.reader()[s], key) << "slot " << s;
    EXPECT_EQ(records.lru_positions()[s], 100 + s) << "slot " << s;
  }
  EXPECT_EQ(records.lru_positions()[3], LruOrder::kAbsentPosition);
  EXPECT_EQ(records.lru_positions()[69'999], LruOrder::kAbsentPosition);
  EXPECT_EQ(records[69'999], BlobKey{}) << "a new slot's key is zero";
  records.prefetch(69'999);  // hints only: the last record, both of its lines
  records.reader().prefetch(69'999);
}

TEST(KeyRecords, position_writes_leave_the_neighbouring_keys_alone) {
  KeyRecords<std::uint64_t> records;
  records.ensure_slots(64);
  for (std::uint32_t s = 0; s < 64; ++s) records.set_key(s, ~std::uint64_t{0} - s);
  const LruPositions positions = records.lru_positions();
  for (std::uint32_t s = 0; s < 64; ++s) positions[s] = 0;
  for (std::uint32_t s = 0; s < 64; ++s) {
    EXPECT_EQ(records[s], ~std::uint64_t{0} - s) << "slot " << s;
    EXPECT_EQ(positions[s], 0u) << "slot " << s;
  }
}

}  // namespace
}  // namespace heatkit
