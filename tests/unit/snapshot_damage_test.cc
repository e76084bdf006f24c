// Damaged and foreign snapshots (docs/SNAPSHOT_FORMAT.md "What a reader
// refuses"): a snapshot cut at every byte, single-bit flips anywhere and at
// every bit of every header, files of another key type, registry kind or
// version, and bytes after the last section. Each is refused by every
// reader (load and inspect_snapshot, from a file and from a stream) with the
// one problem the format page names for it, for small snapshots of both key
// types, single and sharded, with and without an application section.
#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <set>
#include <sstream>
#include <string>

#include "snapshot_test_util.h"

namespace heatkit::test {
namespace {

using namespace snapshot_format;
using namespace snapshot_samples;

using Problems = std::set<SnapshotProblem>;

std::string names(const Problems& problems) {
  std::string out;
  for (SnapshotProblem p : problems) out += std::string(out.empty() ? "" : " or ") + std::string(problem_name(p));
  return out;
}

class SnapshotDamageTest : public ::testing::TestWithParam<SnapshotShape> {
 protected:
  void SetUp() override {
    whole_ = save_small_snapshot(GetParam());
    // The undamaged snapshot must load every way, or no refusal below means anything.
    for (Reader reader : kAllReaders) {
      const ReadOutcome outcome = read_snapshot(GetParam(), whole_, reader, scratch());
      ASSERT_TRUE(outcome.loaded) << reader_name(reader) << ": " << outcome.describe();
      ASSERT_GT(outcome.counters, 10u);
    }
  }

  std::filesystem::path scratch() const { return folder_ / "snapshot.heat"; }

  // `bytes` is refused by `readers`, each with one of `allowed`; returns
  // false (after reporting) when a reader did otherwise.
  bool expect_refused(const SnapshotShape& shape, std::string_view bytes, const Problems& allowed,
                      const std::string& what, std::span<const Reader> readers = kAllReaders) {
    bool ok = true;
    for (Reader reader : readers) {
      const ReadOutcome outcome = read_snapshot(shape, bytes, reader, scratch());
      if (outcome.loaded || !allowed.contains(*outcome.problem)) {
        ADD_FAILURE() << what << ": " << reader_name(reader) << " gave " << outcome.describe()
                      << ", expected " << names(allowed);
        ok = false;
      }
    }
    return ok;
  }
  bool expect_refused(std::string_view bytes, const Problems& allowed, const std::string& what) {
    return expect_refused(GetParam(), bytes, allowed, what);
  }

  ScratchFolder folder_{"damage"};
  Bytes whole_;
};

// A cut anywhere leaves every byte before it intact, so the first thing a
// reader finds wrong is the end of the data: inside the header, inside a
// section, or where a section should begin ("sections are missing"). A
// reader that reported a checksum of a partial block, or a count that
// disagrees with what it could not read, would report the wrong problem.
TEST_P(SnapshotDamageTest, CutAtEveryByteIsTruncated) {
  for (std::size_t cut = 0; cut < whole_.size(); ++cut) {
    if (!expect_refused(std::string_view(whole_).substr(0, cut), {SnapshotProblem::kTruncated},
                        "cut at byte " + std::to_string(cut) + " of " + std::to_string(whole_.size()))) {
      return;  // one cut's report is enough to go on
    }
  }
}

// The magic is checked first (another file is "not a snapshot"); every other
// header byte, the version, key type and kind included, is covered by the
// header checksum, checked before any of them is believed.
TEST_P(SnapshotDamageTest, EveryBitOfTheFileHeaderIsCaught) {
  for (std::size_t bit = 0; bit < kFileHeaderBytes * 8; ++bit) {
    Bytes damaged = whole_;
    damaged[bit / 8] = static_cast<char>(damaged[bit / 8] ^ (1 << (bit % 8)));
    const Problems allowed = bit < 64 ? Problems{SnapshotProblem::kNotASnapshot}
                                      : Problems{SnapshotProblem::kChecksum};
    if (!expect_refused(damaged, allowed, "file header bit " + std::to_string(bit))) return;
  }
}

// A section header (tag, reserved, length) is checksummed so that a damaged
// length is caught before anything is read on its strength; a flip in a
// stored checksum is a checksum mismatch too.
TEST_P(SnapshotDamageTest, EveryBitOfEverySectionHeaderAndBlockChecksumIsCaught) {
  std::vector<std::pair<std::size_t, std::string>> ranges;  // (first byte, what)
  const std::vector<SectionLayout> sections = layout(whole_);
  ASSERT_GE(sections.size(), 4u);
  for (std::size_t s = 0; s < sections.size(); ++s) {
    const SectionLayout& section = sections[s];
    for (std::size_t byte = 0; byte < kSectionHeaderBytes; ++byte) {
      ranges.emplace_back(section.header_offset + byte,
                          "section " + std::to_string(s) + " (" + section.tag + ") header byte " +
                              std::to_string(byte));
    }
    for (std::size_t b = 0; b < section.block_offsets.size(); ++b) {
      for (std::size_t byte = 0; byte < kChecksumBytes; ++byte) {
        ranges.emplace_back(section.block_offsets[b] + section.block_lengths[b] + byte,
                            "section " + std::to_string(s) + " (" + section.tag + ") block " +
                                std::to_string(b) + " checksum byte " + std::to_string(byte));
      }
    }
  }
  for (const auto& [offset, what] : ranges) {
    for (int bit = 0; bit < 8; ++bit) {
      Bytes damaged = whole_;
      damaged[offset] = static_cast<char>(damaged[offset] ^ (1 << bit));
      if (!expect_refused(damaged, {SnapshotProblem::kChecksum}, what + " bit " + std::to_string(bit))) {
        return;
      }
    }
  }
}

// Single-bit flips anywhere in the file, the payload blocks included: each
// is a checksum mismatch, or "not a snapshot" in the magic.
TEST_P(SnapshotDamageTest, RandomBitFlipsAreCaught) {
  const SnapshotShape shape = GetParam();
  std::mt19937_64 random(0x5eed0 + 4 * shape.blob + 2 * shape.sharded + shape.application);
  constexpr int kFlips = 2000;
  for (int i = 0; i < kFlips; ++i) {
    const std::size_t bit = random() % (whole_.size() * 8);
    Bytes damaged = whole_;
    damaged[bit / 8] = static_cast<char>(damaged[bit / 8] ^ (1 << (bit % 8)));
    const Problems allowed = bit < 64 ? Problems{SnapshotProblem::kNotASnapshot}
                                      : Problems{SnapshotProblem::kChecksum};
    if (!expect_refused(damaged, allowed, "bit " + std::to_string(bit) + " flipped")) return;
  }
}

// A header field rewritten with its checksum recomputed: the reader must then
// name the field, in the order the format gives (version, key type, kind).
Bytes with_header_field(std::string_view file, std::size_t offset, std::uint32_t value) {
  Bytes bytes(file);
  write_le(bytes, offset, value);
  write_le(bytes, kHeaderChecksumOffset, checksum(std::string_view(bytes).substr(0, 24)));
  return bytes;
}

TEST_P(SnapshotDamageTest, AFutureOrPastVersionIsNamed) {
  for (std::uint32_t version : {0u, 2u, 0xFFFF'FFFFu}) {
    expect_refused(with_header_field(whole_, kVersionOffset, version), {SnapshotProblem::kVersion},
                   "version " + std::to_string(version));
  }
  // The version is checked before the key type and kind.
  Bytes future = with_header_field(whole_, kVersionOffset, 2);
  future = with_header_field(future, kKeyTypeOffset, 7);
  future = with_header_field(future, kKindOffset, 7);
  expect_refused(future, {SnapshotProblem::kVersion}, "version 2 with key type 7 and kind 7");
}

TEST_P(SnapshotDamageTest, AnUnknownKeyTypeOrKindIsNamed) {
  for (std::uint32_t key_type : {0u, 3u, 0x100u}) {
    expect_refused(with_header_field(whole_, kKeyTypeOffset, key_type), {SnapshotProblem::kKeyType},
                   "key type " + std::to_string(key_type));
  }
  for (std::uint32_t kind : {0u, 3u, 0x100u}) {
    expect_refused(with_header_field(whole_, kKindOffset, kind), {SnapshotProblem::kRegistryKind},
                   "registry kind " + std::to_string(kind));
  }
  // The key type is checked before the kind.
  Bytes both = with_header_field(whole_, kKeyTypeOffset, 3);
  both = with_header_field(both, kKindOffset, 3);
  expect_refused(both, {SnapshotProblem::kKeyType}, "key type 3 and kind 3");
}

// A whole, valid snapshot of the other key type or registry kind: inspect
// reads it (it asks for no type), every load names what differs.
TEST_P(SnapshotDamageTest, ASnapshotOfAnotherKeyTypeOrKindIsNamed) {
  const SnapshotShape shape = GetParam();
  constexpr Reader kLoads[] = {Reader::kLoadFile, Reader::kLoadStream};
  SnapshotShape other_key = shape, other_kind = shape, other_both = shape;
  other_key.blob = !shape.blob;
  other_kind.sharded = !shape.sharded;
  other_both.blob = !shape.blob;
  other_both.sharded = !shape.sharded;
  expect_refused(shape, save_small_snapshot(other_key), {SnapshotProblem::kKeyType},
                 "a " + other_key.name() + " snapshot", kLoads);
  expect_refused(shape, save_small_snapshot(other_kind), {SnapshotProblem::kRegistryKind},
                 "a " + other_kind.name() + " snapshot", kLoads);
  expect_refused(shape, save_small_snapshot(other_both), {SnapshotProblem::kKeyType},
                 "a " + other_both.name() + " snapshot (key type first)", kLoads);
}

// The header's section count is what a registry of its kind has (four per
// registry, SHRD first when sharded, APPL last when present): one more
// where APPL could follow promises a section that is missing (the data
// ends); a count no registry of the kind has is inconsistent; one fewer
// that drops APPL leaves it as bytes after the last section.
TEST_P(SnapshotDamageTest, TheSectionCountGovernsWhereTheSnapshotEnds) {
  const SnapshotShape shape = GetParam();
  const auto count = read_le<std::uint32_t>(whole_, kSectionCountOffset);
  ASSERT_EQ(count, 4 * shape.shards() + (shape.sharded ? 1 : 0) + (shape.application ? 1 : 0));
  expect_refused(with_header_field(whole_, kSectionCountOffset, count + 1),
                 {shape.application ? SnapshotProblem::kInconsistent : SnapshotProblem::kTruncated},
                 "section count one more than written");
  for (std::uint32_t impossible : {0u, 2u, count + 2, 0xFFFF'FFFFu}) {
    expect_refused(with_header_field(whole_, kSectionCountOffset, impossible), {SnapshotProblem::kInconsistent},
                   "section count " + std::to_string(impossible));
  }
  if (!shape.application) return;
  const Bytes without_application = with_header_field(whole_, kSectionCountOffset, count - 1);
  constexpr Reader kFileReaders[] = {Reader::kLoadFile, Reader::kInspectFile};
  expect_refused(shape, without_application, {SnapshotProblem::kInconsistent},
                 "section count one less than written (APPL left over)", kFileReaders);
  const ReadOutcome streamed = read_snapshot(shape, without_application, Reader::kInspectStream, scratch());
  EXPECT_TRUE(streamed.loaded) << "a stream is read up to the last section the header counts: "
                               << streamed.describe();
}

// A file ends right after its last section; a stream is read up to its last
// section and no further, so what follows is left in the stream.
TEST_P(SnapshotDamageTest, TrailingBytesAreRefusedInAFileAndLeftInAStream) {
  constexpr Reader kFileReaders[] = {Reader::kLoadFile, Reader::kInspectFile};
  for (const Bytes& trailer : {Bytes(1, '\0'), Bytes("more bytes"), whole_}) {
    const Bytes bytes = whole_ + trailer;
    expect_refused(GetParam(), bytes, {SnapshotProblem::kInconsistent},
                   std::to_string(trailer.size()) + " trailing bytes", kFileReaders);
    for (Reader reader : {Reader::kLoadStream, Reader::kInspectStream}) {
      std::istringstream in(bytes, std::ios::binary);
      ASSERT_NO_THROW(with_registry_type(GetParam(), [&]<class Key, bool Sharded>() {
        if (reader == Reader::kInspectStream) {
          inspect_snapshot(in);
        } else if constexpr (Sharded) {
          ConcurrentHeatRegistryOf<Key>::load(in);
        } else {
          HeatRegistryOf<Key>::load(in);
        }
      })) << reader_name(reader);
      const std::string rest((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      EXPECT_EQ(rest, trailer) << reader_name(reader) << " read past the snapshot's last section";
    }
  }
}

TEST_P(SnapshotDamageTest, AFileThatIsNotASnapshotIsNamed) {
  for (const Bytes& other : {Bytes(64, '\0'), Bytes("#!/bin/sh\necho this is a shell script, not a heat snapshot\n"),
                             Bytes("HEATSNAQ") + whole_.substr(8)}) {
    expect_refused(other, {SnapshotProblem::kNotASnapshot}, "'" + other.substr(0, 8) + "...'");
  }
}

TEST_P(SnapshotDamageTest, AMissingFileIsAnIoError) {
  const std::filesystem::path missing = folder_ / "no-such-snapshot.heat";
  with_registry_type(GetParam(), [&]<class Key, bool Sharded>() {
    try {
      if constexpr (Sharded) {
        ConcurrentHeatRegistryOf<Key>::load(missing);
      } else {
        HeatRegistryOf<Key>::load(missing);
      }
      ADD_FAILURE() << "a missing file loaded";
    } catch (const SnapshotError& error) {
      EXPECT_EQ(error.problem(), SnapshotProblem::kIo) << error.what();
      EXPECT_NE(std::string(error.what()).find(missing.string()), std::string::npos)
          << "the message does not name the path: " << error.what();
    }
  });
  EXPECT_THROW(inspect_snapshot(missing), SnapshotError);
}

// A failed stream load hands back nothing and takes nothing with it: a good
// snapshot loads afterwards from a fresh stream, with all its counters.
TEST_P(SnapshotDamageTest, AGoodLoadAfterAFailedOneWorks) {
  Bytes damaged = whole_;
  damaged[damaged.size() / 2] = static_cast<char>(damaged[damaged.size() / 2] ^ 0x10);
  ASSERT_FALSE(read_snapshot(GetParam(), damaged, Reader::kLoadStream, scratch()).loaded);
  const ReadOutcome good = read_snapshot(GetParam(), whole_, Reader::kLoadStream, scratch());
  EXPECT_TRUE(good.loaded) << good.describe();
  const ReadOutcome first = read_snapshot(GetParam(), whole_, Reader::kInspectStream, scratch());
  EXPECT_EQ(good.counters, first.counters);
}

INSTANTIATE_TEST_SUITE_P(Shapes, SnapshotDamageTest, ::testing::ValuesIn(small_snapshot_shapes()),
                         [](const auto& shape) { return shape.param.name(); });

}  // namespace
}  // namespace heatkit::test
