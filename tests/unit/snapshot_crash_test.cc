// A process killed while it saves (docs/SNAPSHOT_FORMAT.md "Files": a crash
// at any point leaves the old snapshot or the new one, whole). A child saves
// a registry of 80,000 counters (a 4 MB snapshot) to one path over and over,
// changing it between saves; the parent SIGKILLs it at a random moment,
// spread over the child's saves, so that kills land while the temporary
// file is written, while it is flushed to disk and around the rename. After
// each kill the file at the path must load and hold exactly one generation
// that was being saved or had been: its application bytes name the
// generation and its counters are those of a registry rebuilt to it.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <sys/stat.h>

#include "snapshot_test_util.h"

namespace heatkit::test {
namespace {

using namespace snapshot_samples;
using Clock = std::chrono::steady_clock;

constexpr std::size_t kCounters = 80'000;  // 52 bytes each in the file (CNTR and ORDR): 4 MB
constexpr int kKills = 120;
constexpr int kFirstSaveKills = 30;
constexpr const char* kName = "registry.heat";

// Which registry a snapshot holds: the child's run (one per kill) and how
// many times it has changed since it was built. Saved as the application
// bytes.
struct Generation {
  std::uint32_t run = 0;
  std::uint32_t step = 0;
  friend auto operator<=>(const Generation&, const Generation&) = default;
  std::string name() const { return "run " + std::to_string(run) + " step " + std::to_string(step); }
};

constexpr std::uint64_t kGenerationTag = 0x6b696c6c2d746573;  // marks this test's bytes

std::vector<std::byte> application_bytes(Generation g) {
  std::vector<std::byte> bytes(16);
  std::memcpy(bytes.data(), &kGenerationTag, 8);
  std::memcpy(bytes.data() + 8, &g.run, 4);
  std::memcpy(bytes.data() + 12, &g.step, 4);
  return bytes;
}

std::optional<Generation> generation_of(const std::vector<std::byte>& bytes) {
  std::uint64_t tag = 0;
  if (bytes.size() != 16) return std::nullopt;
  std::memcpy(&tag, bytes.data(), 8);
  if (tag != kGenerationTag) return std::nullopt;
  Generation g;
  std::memcpy(&g.run, bytes.data() + 8, 4);
  std::memcpy(&g.step, bytes.data() + 12, 4);
  return g;
}

std::uint64_t key_of(std::uint32_t run, std::uint64_t i) {
  return sample_key<std::uint64_t>((std::uint64_t{run} << 32) | i);
}

// Step `step` of a run: a sixteenth of the keys bumped, two keys created
// (two evictions at the cap) and one removed (a free slot), so every
// section of the snapshot changes.
void advance(HeatRegistry& registry, std::uint32_t run, std::uint32_t step) {
  const Instant at = sample_start() + std::chrono::milliseconds(step);
  std::vector<std::uint64_t> keys;
  for (std::uint64_t i = step % 16; i < kCounters; i += 16) keys.push_back(key_of(run, i));
  keys.push_back(key_of(run, kCounters + 2 * step));
  keys.push_back(key_of(run, kCounters + 2 * step + 1));
  registry.bump_batch(keys, std::chrono::seconds(1), at);
  registry.remove(key_of(run, (std::uint64_t{step} * 7919) % kCounters));
}

HeatRegistry registry_at(Generation g) {
  HeatRegistry registry(exact_options(kCounters));
  std::vector<std::uint64_t> keys(kCounters);
  for (std::uint64_t i = 0; i < kCounters; ++i) keys[i] = key_of(g.run, i);
  registry.bump_batch(keys, std::chrono::seconds(1 + g.run % 3), sample_start());
  for (std::uint32_t step = 1; step <= g.step; ++step) advance(registry, g.run, step);
  return registry;
}

// The child: saves run `run` at step 0, 1, 2, ... and reports each step once
// its save has returned.
int save_over_and_over(const std::filesystem::path& path, std::uint32_t run, int report_fd) {
  HeatRegistry registry = registry_at({run, 0});
  for (std::uint32_t step = 0; step < 10'000; ++step) {
    if (step > 0) advance(registry, run, step);
    registry.save(path, application_bytes({run, step}));
    write_report(report_fd, std::to_string(step) + "\n");
  }
  return 0;
}

std::optional<std::uint32_t> last_reported_step(const std::string& report) {
  std::optional<std::uint32_t> last;
  std::size_t at = 0;
  for (std::size_t end; (end = report.find('\n', at)) != std::string::npos; at = end + 1) {
    last = static_cast<std::uint32_t>(std::stoul(report.substr(at, end - at)));
  }
  return last;
}

class SnapshotCrashTest : public ::testing::Test {
 protected:
  // How long building a run's registry and saving it take here: the kills
  // are spread over that.
  void SetUp() override {
    const auto start = Clock::now();
    HeatRegistry registry = registry_at({0, 0});
    build_time_ = Clock::now() - start;
    const auto save_start = Clock::now();
    registry.save(folder_ / "timing.heat");
    save_time_ = Clock::now() - save_start;
    ASSERT_GT(std::filesystem::file_size(folder_ / "timing.heat"), 3'000'000u);
    std::filesystem::remove(folder_ / "timing.heat");
  }

  // After a kill: every name in the folder but the snapshot's is a save's
  // temporary file, private to its owner; removes them and returns how many.
  int remove_temporary_files() {
    int found = 0;
    for (const std::string& name : folder_.names()) {
      if (name == kName) continue;
      EXPECT_TRUE(is_temporary_name(name, kName)) << "unexpected file left in the folder: " << name;
      struct stat st {};
      if (::stat((folder_ / name).c_str(), &st) == 0) {
        EXPECT_EQ(st.st_mode & 0777, 0600u) << name << " is not private to its owner";
      }
      std::filesystem::remove(folder_ / name);
      ++found;
    }
    return found;
  }

  // The file at the path holds one of `allowed`, whole: returns which.
  std::optional<Generation> expect_whole_snapshot(const std::set<Generation>& allowed, const std::string& when) {
    std::vector<std::byte> application;
    std::optional<HeatRegistry> loaded;
    try {
      loaded.emplace(HeatRegistry::load(path_, exact_options(), &application));
    } catch (const SnapshotError& error) {
      ADD_FAILURE() << when << ": the snapshot at the path does not load: " << error.what();
      return std::nullopt;
    }
    const std::optional<Generation> g = generation_of(application);
    if (!g) {
      ADD_FAILURE() << when << ": the application bytes name no generation";
      return std::nullopt;
    }
    std::string expected;
    for (const Generation& a : allowed) expected += " [" + a.name() + "]";
    EXPECT_TRUE(allowed.contains(*g)) << when << ": the file holds " << g->name() << ", expected one of" << expected;
    const HeatRegistry model = registry_at(*g);
    EXPECT_EQ(loaded->size(), model.size()) << when << ", " << g->name();
    EXPECT_EQ(loaded->stats().evictions, model.stats().evictions) << when << ", " << g->name();
    EXPECT_TRUE(counter_values(*loaded) == counter_values(model))
        << when << ": the counters of " << g->name() << " differ from that generation's registry";
    return g;
  }

  ScratchFolder folder_{"crash"};
  std::filesystem::path path_ = folder_ / kName;
  Clock::duration build_time_{};
  Clock::duration save_time_{};
};

TEST_F(SnapshotCrashTest, AKillWhileSavingLeavesTheOldSnapshotOrTheNewOneWhole) {
  std::mt19937_64 random(20240601);
  // From the child's start to a few saves in: most kills land inside a save.
  const auto spread = build_time_ + 4 * save_time_;
  std::optional<Generation> on_disk;
  int kills_inside_a_save = 0, kills_after_a_new_save = 0;
  for (std::uint32_t run = 1; run <= kKills; ++run) {
    const std::string when = "kill " + std::to_string(run);
    ChildProcess child = ChildProcess::start(
        [&](int report_fd) { return save_over_and_over(path_, run, report_fd); });
    std::this_thread::sleep_for(std::uniform_int_distribution<Clock::rep>(0, spread.count())(random) *
                                Clock::duration(1));
    child.kill(SIGKILL);
    const int status = child.wait();
    ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
        << when << ": the child ended on its own (status " << status << "), after saving steps:\n" << child.report();

    // Saves that returned are on disk; the one under way may be too.
    const std::optional<std::uint32_t> saved_step = last_reported_step(child.report());
    std::set<Generation> allowed;
    if (saved_step) {
      allowed = {{run, *saved_step}, {run, *saved_step + 1}};
    } else {
      allowed = {{run, 0}};
      if (on_disk) allowed.insert(*on_disk);
    }
    if (remove_temporary_files() > 0) ++kills_inside_a_save;
    if (!std::filesystem::exists(path_)) {
      ASSERT_FALSE(on_disk) << when << ": the snapshot of " << on_disk->name() << " is gone";
      ASSERT_FALSE(saved_step) << when << ": step " << *saved_step << "'s save returned, yet no file is at the path";
      continue;
    }
    const std::optional<Generation> found = expect_whole_snapshot(allowed, when);
    if (HasFailure()) return;  // the first kill that went wrong tells the story
    if (found != on_disk) ++kills_after_a_new_save;
    on_disk = found;
  }
  std::printf("%d kills over %.0f ms each (build %.1f ms, save %.1f ms): %d left a temporary file, "
              "%d found a newer snapshot than the kill before\n",
              kKills, std::chrono::duration<double, std::milli>(spread).count(),
              std::chrono::duration<double, std::milli>(build_time_).count(),
              std::chrono::duration<double, std::milli>(save_time_).count(), kills_inside_a_save,
              kills_after_a_new_save);
  // Otherwise the kills missed what the test is about.
  EXPECT_GE(kills_inside_a_save, kKills / 10) << "too few kills landed while a temporary file existed";
  EXPECT_GE(kills_after_a_new_save, kKills / 10) << "too few kills came after a save had replaced the file";
}

// The first save to a path: a kill leaves no file there, or a whole one.
TEST_F(SnapshotCrashTest, AKillDuringTheFirstSaveLeavesNoFileOrAWholeOne) {
  std::mt19937_64 random(20240602);
  int kills_before_the_rename = 0;
  for (std::uint32_t run = 1; run <= kFirstSaveKills; ++run) {
    const std::string when = "first save, kill " + std::to_string(run);
    ASSERT_FALSE(std::filesystem::exists(path_));
    const HeatRegistry registry = registry_at({run, 0});
    ChildProcess child = ChildProcess::start([&](int) {
      registry.save(path_, application_bytes({run, 0}));
      return 0;
    });
    std::this_thread::sleep_for(std::uniform_int_distribution<Clock::rep>(0, (save_time_ * 2).count())(random) *
                                Clock::duration(1));
    child.kill(SIGKILL);
    const int status = child.wait();
    ASSERT_TRUE(WIFSIGNALED(status) || (WIFEXITED(status) && WEXITSTATUS(status) == 0))
        << when << ": the save failed (status " << status << ")";
    remove_temporary_files();
    if (!std::filesystem::exists(path_)) {
      ++kills_before_the_rename;
      continue;
    }
    expect_whole_snapshot({{run, 0}}, when);
    if (HasFailure()) return;
    std::filesystem::remove(path_);
  }
  std::printf("%d of %d kills left no file at the path\n", kills_before_the_rename, kFirstSaveKills);
  EXPECT_GE(kills_before_the_rename, 1) << "no kill landed before the first save's rename";
}

}  // namespace
}  // namespace heatkit::test
