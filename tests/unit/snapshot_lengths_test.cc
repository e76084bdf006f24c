// Lengths and counts that promise far more than a snapshot holds, with every
// checksum correct (docs/SNAPSHOT_FORMAT.md: a damaged length is caught
// before anything is read on its strength). A reader must find that the
// data ends, or that the length is not one the counts give, without first
// making room for what was promised: each read runs in a child whose
// address space is limited to 1 GiB more than it has (not under
// AddressSanitizer, whose shadow memory needs more; ASan's allocator aborts
// on a request of that size there anyway).
#include <gtest/gtest.h>

#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <string>
#include <typeinfo>

#include <sys/resource.h>

#include "snapshot_test_util.h"

#if defined(__SANITIZE_ADDRESS__)
#define HEATKIT_TEST_UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define HEATKIT_TEST_UNDER_ASAN 1
#endif
#endif

namespace heatkit::test {
namespace {

using namespace snapshot_format;
using namespace snapshot_samples;

constexpr std::uint64_t kMostSlots = 0x7FFF'FFFE;  // m < 2^31 - 1

// Limits this process's address space to 1 GiB more than it uses now
// (nothing under ASan, see above); false when the limit cannot be set.
bool limit_address_space() {
#ifdef HEATKIT_TEST_UNDER_ASAN
  return true;
#else
  std::ifstream statm("/proc/self/statm");
  std::size_t pages = 0;
  statm >> pages;
  const rlim_t limit = pages * static_cast<rlim_t>(::sysconf(_SC_PAGESIZE)) + (rlim_t{1} << 30);
  const rlimit as{limit, limit};
  return ::setrlimit(RLIMIT_AS, &as) == 0;
#endif
}

// Reads `bytes` as a snapshot of `shape` (by default a single u64 registry's)
// with every reader, in a child under the address-space limit; returns one
// line per reader: the problem's name, "loaded", or what else was thrown.
std::string read_in_limited_child(const Bytes& bytes, const ScratchFolder& folder,
                                  const SnapshotShape& shape = SnapshotShape{}) {
  ChildProcess child = ChildProcess::start([&](int report_fd) {
    if (!limit_address_space()) return 3;
    std::string lines;
    for (Reader reader : kAllReaders) {
      try {
        const ReadOutcome outcome =
            read_snapshot(shape, bytes, reader, folder / "crafted.heat", exact_options());
        lines += outcome.loaded ? std::string("loaded") : std::string(problem_name(*outcome.problem));
      } catch (const std::exception& error) {
        lines += std::string("threw ") + typeid(error).name() + ": " + error.what();
      }
      lines += "\n";
    }
    write_report(report_fd, lines);
    return 0;
  });
  const int status = child.wait();
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return "the child died (status " + std::to_string(status) + ") after:\n" + child.report();
  }
  return child.report();
}

std::string expected_lines(SnapshotProblem problem) {
  std::string line = std::string(problem_name(problem)) + "\n";
  return line + line + line + line;
}

class SnapshotLengthsTest : public ::testing::Test {
 protected:
  void SetUp() override { base_ = decode(save_small_snapshot(SnapshotShape{})); }

  // The file header and the sections before `tag`, in the order `snapshot`
  // has them.
  Bytes prefix_before(const Snapshot& snapshot, std::string_view tag) {
    Bytes bytes = encode_file_header(snapshot);
    for (const Section& s : snapshot.sections) {
      if (s.tag == tag) break;
      bytes += encode_section(s);
    }
    return bytes;
  }

  ScratchFolder folder_{"lengths"};
  Snapshot base_;
};

// The limit leaves room for what a real snapshot needs: without this, a
// refusal below could be the limit's doing.
TEST_F(SnapshotLengthsTest, AWholeSnapshotLoadsUnderTheLimit) {
  const std::string loaded = "loaded\n";
  EXPECT_EQ(read_in_limited_child(encode(base_), folder_), loaded + loaded + loaded + loaded);
}

// And it is a limit: an allocation of 2 GiB fails under it.
TEST_F(SnapshotLengthsTest, TheLimitRefusesTwoGiB) {
#ifdef HEATKIT_TEST_UNDER_ASAN
  GTEST_SKIP() << "no address-space limit under AddressSanitizer";
#endif
  ChildProcess child = ChildProcess::start([](int report_fd) {
    if (!limit_address_space()) return 3;
    static void* volatile kept;  // volatile: the allocation cannot be left out
    kept = std::malloc(std::size_t{2} << 30);
    write_report(report_fd, kept == nullptr ? "refused" : "allocated");
    return 0;
  });
  const int status = child.wait();
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  EXPECT_EQ(child.report(), "refused");
}

// An empty payload has no block, and nothing bars an empty APPL section:
// it loads, with no application bytes.
TEST_F(SnapshotLengthsTest, AnEmptyApplicationSectionLoads) {
  const SnapshotShape shape{false, false, true};
  Snapshot s = decode(save_small_snapshot(shape));
  s.section("APPL").payload.clear();
  const std::string loaded = "loaded\n";
  EXPECT_EQ(read_in_limited_child(encode(s), folder_, shape), loaded + loaded + loaded + loaded);
}

// REGI says 2^31 - 2 live counters (a cap of 0 allows them), so CNTR's
// length of 48 bytes each agrees: 103 GB promised, none present.
TEST_F(SnapshotLengthsTest, CountersPromisedButAbsent) {
  Snapshot s = base_;
  Section& regi = s.section("REGI");
  write_le<std::uint64_t>(regi.payload, kRegiLive, kMostSlots);
  write_le<std::uint64_t>(regi.payload, kRegiSlots, kMostSlots);
  write_le<std::uint64_t>(regi.payload, kRegiCap, 0);
  s.section("FREE").payload.clear();  // m = n: no free slot (whether FREE comes before CNTR or after)
  s.section("CNTR").payload.clear();
  const Bytes bytes = prefix_before(s, "CNTR") + encode_section(s.section("CNTR"), kMostSlots * s.record_bytes());
  EXPECT_EQ(read_in_limited_child(bytes, folder_), expected_lines(SnapshotProblem::kTruncated));
}

// No counter but 2^31 - 2 slots handed out: FREE must list them all (8 GiB).
TEST_F(SnapshotLengthsTest, FreeSlotsPromisedButAbsent) {
  Snapshot s = base_;
  Section& regi = s.section("REGI");
  write_le<std::uint64_t>(regi.payload, kRegiLive, 0);
  write_le<std::uint64_t>(regi.payload, kRegiSlots, kMostSlots);
  write_le<std::uint64_t>(regi.payload, kRegiCap, 0);
  s.section("CNTR").payload.clear();
  s.section("ORDR").payload.clear();
  s.section("FREE").payload.clear();
  const Bytes bytes = prefix_before(s, "FREE") + encode_section(s.section("FREE"), kMostSlots * 4);
  EXPECT_EQ(read_in_limited_child(bytes, folder_), expected_lines(SnapshotProblem::kTruncated));
}

// Lengths no count can give: refused on the section header alone.
TEST_F(SnapshotLengthsTest, LengthsNoCountGives) {
  for (std::uint64_t length : {std::uint64_t{65}, std::uint64_t{1} << 40, ~std::uint64_t{0}}) {
    const Bytes bytes = prefix_before(base_, "REGI") + encode_section(base_.section("REGI"), length);
    EXPECT_EQ(read_in_limited_child(bytes, folder_), expected_lines(SnapshotProblem::kInconsistent))
        << "REGI length " << length;
  }
  Snapshot with_application = decode(save_small_snapshot(SnapshotShape{false, false, true}));
  const Bytes bytes = prefix_before(with_application, "APPL") +
                      encode_section(with_application.section("APPL"), std::uint64_t{1} << 40);
  EXPECT_EQ(read_in_limited_child(bytes, folder_), expected_lines(SnapshotProblem::kInconsistent))
      << "APPL length 2^40 (at most 1 MiB)";
}

// The most shards the format allows, none of them present: the file ends.
TEST_F(SnapshotLengthsTest, ShardsPromisedButAbsent) {
  Snapshot s = decode(save_small_snapshot(SnapshotShape{false, true, false}));
  write_le<std::uint32_t>(s.section("SHRD").payload, kShrdCount, 1u << 16);
  s.section_count = 1 + 4 * (1u << 16);
  const Bytes bytes = encode_file_header(s) + encode_section(s.section("SHRD"));
  EXPECT_EQ(read_in_limited_child(bytes, folder_, SnapshotShape{false, true, false}),
            expected_lines(SnapshotProblem::kTruncated));
}

}  // namespace
}  // namespace heatkit::test
