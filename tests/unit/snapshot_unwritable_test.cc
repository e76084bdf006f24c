// Saves to places a file cannot go (docs/SNAPSHOT_FORMAT.md "Files"): a
// folder the process may not write, a folder that does not exist, a path
// that is a folder. Each save throws SnapshotError kIo naming the path,
// leaves any old snapshot as it was and no temporary file behind.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include <grp.h>
#include <sys/stat.h>

#include "snapshot_test_util.h"

namespace heatkit::test {
namespace {

using namespace snapshot_format;
using namespace snapshot_samples;

constexpr uid_t kNobody = 65534;

HeatRegistry sample_registry(std::size_t counters) {
  HeatRegistry registry(exact_options(counters * 3 / 4));
  fill_sample(registry, counters);
  return registry;
}

// What a save threw: its problem and message ("" when it did not throw).
struct SaveFailure {
  std::string problem;
  std::string message;
};

SaveFailure failure_of(const std::function<void()>& save) {
  try {
    save();
  } catch (const SnapshotError& error) {
    return {std::string(problem_name(error.problem())), error.what()};
  } catch (const std::exception& error) {
    return {"not a SnapshotError", error.what()};
  }
  return {};
}

void expect_io_error_naming(const SaveFailure& failure, const std::filesystem::path& path) {
  EXPECT_EQ(failure.problem, problem_name(SnapshotProblem::kIo)) << failure.message;
  EXPECT_NE(failure.message.find(path.string()), std::string::npos)
      << "the message does not name the path: " << failure.message;
}

// Root writes anywhere, so as root the save runs in a child that has become
// nobody, on a folder root owns with mode 0755; otherwise the folder is made
// read-only (0555) for the save.
TEST(SnapshotUnwritable, AFolderThatMayNotBeWrittenFailsTheSaveAndKeepsTheOldSnapshot) {
  ScratchFolder folder("unwritable");
  std::filesystem::permissions(folder.path(), std::filesystem::perms(0755));  // nobody may pass through
  const std::filesystem::path locked = folder / "locked";
  std::filesystem::create_directory(locked);
  std::filesystem::permissions(locked, std::filesystem::perms(0755));
  const std::filesystem::path path = locked / "registry.heat";
  sample_registry(48).save(path);
  const Bytes old_bytes = read_file(path);
  const HeatRegistry newer = sample_registry(60);

  SaveFailure failure;
  if (::geteuid() == 0) {
    ChildProcess child = ChildProcess::start([&](int report_fd) {
      // Groups first: after setuid it is too late to drop them.
      if (::setgroups(0, nullptr) != 0 || ::setgid(kNobody) != 0 || ::setuid(kNobody) != 0) return 3;
      const SaveFailure f = failure_of([&] { newer.save(path); });
      write_report(report_fd, f.problem + "\n" + f.message);
      return 0;
    });
    const int status = child.wait();
    ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "the child could not become nobody: " << status;
    const std::string& report = child.report();
    failure = {report.substr(0, report.find('\n')), report.substr(report.find('\n') + 1)};
  } else {
    std::filesystem::permissions(locked, std::filesystem::perms(0555));
    failure = failure_of([&] { newer.save(path); });
    std::filesystem::permissions(locked, std::filesystem::perms(0755));
  }
  expect_io_error_naming(failure, path);
  EXPECT_TRUE(read_file(path) == old_bytes) << "the old snapshot changed";
  EXPECT_NO_THROW(HeatRegistry::load(path, exact_options()));
  std::vector<std::string> names;
  for (const auto& entry : std::filesystem::directory_iterator(locked)) names.push_back(entry.path().filename());
  EXPECT_EQ(names, std::vector<std::string>{"registry.heat"});
}

TEST(SnapshotUnwritable, AFolderThatDoesNotExistFailsTheSave) {
  ScratchFolder folder("unwritable");
  const std::filesystem::path path = folder / "missing" / "registry.heat";
  expect_io_error_naming(failure_of([&] { sample_registry(48).save(path); }), path);
  EXPECT_TRUE(folder.names().empty()) << "the save made something in the folder above";
}

// The rename over a folder fails after the temporary file is written in
// full: that failure must remove it too.
TEST(SnapshotUnwritable, APathThatIsAFolderFailsTheSaveAndLeavesNoTemporaryFile) {
  ScratchFolder folder("unwritable");
  const std::filesystem::path path = folder / "registry.heat";
  std::filesystem::create_directory(path);
  std::filesystem::create_directory(path / "inside");  // a non-empty folder: no rename replaces it
  expect_io_error_naming(failure_of([&] { sample_registry(48).save(path); }), path);
  EXPECT_TRUE(std::filesystem::is_directory(path / "inside"));
  EXPECT_EQ(folder.names(), std::vector<std::string>{"registry.heat"}) << "a temporary file was left behind";
}

}  // namespace
}  // namespace heatkit::test
