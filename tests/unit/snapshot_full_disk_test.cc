// Saves that run out of room (docs/SNAPSHOT_FORMAT.md "Files": a failed save
// removes its temporary file and leaves the old snapshot as it was): a
// process whose file size limit (RLIMIT_FSIZE, no privilege needed) cuts the
// temporary file short, a real tmpfs filled up where one can be mounted, and
// streams that refuse bytes. Each save throws SnapshotError kIo naming the
// path (or "stream").
#include <gtest/gtest.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <streambuf>
#include <string>
#include <vector>

#include <sched.h>
#include <sys/mount.h>
#include <sys/resource.h>

#include "snapshot_test_util.h"

namespace heatkit::test {
namespace {

using namespace snapshot_format;
using namespace snapshot_samples;

constexpr std::size_t kBigCounters = 40'000;  // a 2 MB snapshot: two blocks of CNTR

HeatRegistry big_registry() {
  HeatRegistry registry(exact_options());
  std::vector<std::uint64_t> keys(kBigCounters);
  for (std::uint64_t i = 0; i < kBigCounters; ++i) keys[i] = sample_key<std::uint64_t>(i);
  registry.bump_batch(keys, std::chrono::seconds(1), sample_start());
  return registry;
}

HeatRegistry small_registry() {
  HeatRegistry registry(exact_options(36));
  fill_sample(registry, kSmallSnapshotCounters);
  return registry;
}

// A save's outcome as a child reports it: "saved", or the SnapshotError's
// problem and message, or another exception.
std::string save_outcome(const std::function<void()>& save) {
  try {
    save();
    return "saved";
  } catch (const SnapshotError& error) {
    return std::string(problem_name(error.problem())) + ": " + error.what();
  } catch (const std::exception& error) {
    return std::string("not a SnapshotError: ") + error.what();
  }
}

std::string io_error_prefix() { return std::string(problem_name(SnapshotProblem::kIo)) + ": "; }

// The old snapshot is byte for byte what it was, loads, and stands alone in
// its folder.
void expect_old_snapshot_intact(const ScratchFolder& folder, const std::filesystem::path& path,
                                const Bytes& old_bytes, const std::string& when) {
  EXPECT_TRUE(read_file(path) == old_bytes) << when << ": the old snapshot changed";
  std::vector<std::byte> application;
  EXPECT_NO_THROW(HeatRegistry::load(path, exact_options(), &application)) << when;
  EXPECT_EQ(application.size(), sample_application().size()) << when;
  EXPECT_EQ(folder.names(), std::vector<std::string>{path.filename().string()})
      << when << ": a temporary file was left behind";
}

TEST(SnapshotFullDisk, ASaveCutShortByTheFileSizeLimitFailsAndKeepsTheOldSnapshot) {
  ScratchFolder folder("full-disk");
  const std::filesystem::path path = folder / "registry.heat";
  small_registry().save(path, as_byte_span(sample_application()));
  const Bytes old_bytes = read_file(path);
  const HeatRegistry big = big_registry();

  // Limits inside the file header, the first section, the first CNTR block
  // and the second one.
  for (rlim_t limit : {rlim_t{1}, rlim_t{40}, rlim_t{4096}, rlim_t{(1 << 20) + 4096}}) {
    const std::string when = "file size limit " + std::to_string(limit);
    ChildProcess child = ChildProcess::start([&](int report_fd) {
      ::signal(SIGXFSZ, SIG_IGN);  // a write past the limit then fails with EFBIG
      const rlimit fsize{limit, limit};
      if (::setrlimit(RLIMIT_FSIZE, &fsize) != 0) return 3;
      write_report(report_fd, save_outcome([&] { big.save(path); }));
      return 0;
    });
    const int status = child.wait();
    ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << when << ": status " << status;
    const std::string outcome = child.report();
    EXPECT_EQ(outcome.rfind(io_error_prefix(), 0), 0u) << when << ": " << outcome;
    EXPECT_NE(outcome.find(path.string()), std::string::npos) << when << ": the message does not name the path: " << outcome;
    expect_old_snapshot_intact(folder, path, old_bytes, when);
  }
}

// A real file system that runs out of room (ENOSPC): a 1 MiB tmpfs, mounted
// in a mount namespace of a child's own so nothing outlives it. Needs the
// right to mount (root with CAP_SYS_ADMIN, or unprivileged user namespaces);
// the checks run in the child, which reports each failure as a line.
TEST(SnapshotFullDisk, ASaveThatFillsATmpfsFailsAndKeepsTheOldSnapshot) {
  ScratchFolder folder("tmpfs");
  const HeatRegistry big = big_registry();
  const HeatRegistry small = small_registry();
  ChildProcess child = ChildProcess::start([&](int report_fd) {
    const uid_t uid = ::geteuid();
    const gid_t gid = ::getegid();
    if (::unshare(uid == 0 ? CLONE_NEWNS : CLONE_NEWNS | CLONE_NEWUSER) != 0) {
      write_report(report_fd, std::string("SKIP: unshare: ") + std::strerror(errno));
      return 0;
    }
    if (uid != 0) {  // map ourselves into the new user namespace, to own files there
      try {
        write_file("/proc/self/setgroups", "deny");
        write_file("/proc/self/uid_map", std::to_string(uid) + " " + std::to_string(uid) + " 1");
        write_file("/proc/self/gid_map", std::to_string(gid) + " " + std::to_string(gid) + " 1");
      } catch (const std::exception& error) {
        write_report(report_fd, std::string("SKIP: user namespace ids: ") + error.what());
        return 0;
      }
    }
    if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0 ||
        ::mount("heatkit-test", folder.path().c_str(), "tmpfs", 0, "size=1m,mode=0700") != 0) {
      write_report(report_fd, std::string("SKIP: mount tmpfs: ") + std::strerror(errno));
      return 0;
    }
    const std::filesystem::path path = folder / "registry.heat";
    small.save(path, as_byte_span(sample_application()));
    const Bytes old_bytes = read_file(path);
    const std::string outcome = save_outcome([&] { big.save(path); });
    std::string failures;
    if (outcome.rfind(io_error_prefix(), 0) != 0) failures += "FAIL: the save gave " + outcome + "\n";
    if (outcome.find(path.string()) == std::string::npos) failures += "FAIL: the message does not name the path: " + outcome + "\n";
    if (read_file(path) != old_bytes) failures += "FAIL: the old snapshot changed\n";
    if (folder.names() != std::vector<std::string>{"registry.heat"}) failures += "FAIL: a temporary file was left behind\n";
    try {
      HeatRegistry::load(path, exact_options());
    } catch (const SnapshotError& error) {
      failures += std::string("FAIL: the old snapshot does not load: ") + error.what() + "\n";
    }
    write_report(report_fd, failures.empty() ? "OK: " + outcome : failures);
    return 0;
  });
  const int status = child.wait();
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "status " << status << ": " << child.report();
  if (child.report().rfind("SKIP: ", 0) == 0) {
    GTEST_SKIP() << "cannot mount a tmpfs here (" << child.report().substr(6)
                 << "); the file size limit test covers a save that runs out of room";
  }
  EXPECT_EQ(child.report().rfind("OK: ", 0), 0u) << child.report();
  std::printf("%s\n", child.report().c_str());
}

// A stream buffer that takes `room` bytes and refuses the rest.
class StreamBufferWithRoomFor : public std::streambuf {
 public:
  explicit StreamBufferWithRoomFor(std::size_t room) : room_(room) {}
  const std::string& taken() const { return taken_; }

 protected:
  int_type overflow(int_type c) override {
    if (traits_type::eq_int_type(c, traits_type::eof()) || room_ == 0) return traits_type::eof();
    --room_;
    taken_.push_back(traits_type::to_char_type(c));
    return c;
  }
  std::streamsize xsputn(const char* s, std::streamsize n) override {
    const auto take = static_cast<std::streamsize>(std::min<std::size_t>(room_, static_cast<std::size_t>(n)));
    taken_.append(s, static_cast<std::size_t>(take));
    room_ -= static_cast<std::size_t>(take);
    return take;
  }

 private:
  std::size_t room_;
  std::string taken_;
};

TEST(SnapshotFullDisk, AStreamThatRefusesBytesFailsTheSave) {
  const HeatRegistry registry = small_registry();
  std::ostringstream whole;
  registry.save(whole);
  const std::size_t size = whole.str().size();
  for (std::size_t room = 0; room < size; ++room) {
    StreamBufferWithRoomFor buffer(room);
    std::ostream out(&buffer);
    const std::string outcome = save_outcome([&] { registry.save(out); });
    ASSERT_EQ(outcome.rfind(io_error_prefix(), 0), 0u) << "room for " << room << " of " << size << " bytes: " << outcome;
    ASSERT_NE(outcome.find("stream"), std::string::npos) << "the message does not say 'stream': " << outcome;
  }
  StreamBufferWithRoomFor enough(size);  // the buffer itself is right: room for all of it is enough
  std::ostream out(&enough);
  EXPECT_EQ(save_outcome([&] { registry.save(out); }), "saved");
  EXPECT_TRUE(enough.taken() == whole.str());
}

// /dev/full takes writes into the ofstream's buffer and fails them when the
// buffer goes to the device: a small snapshot fits in the buffer, so only a
// save that flushes its stream finds out.
TEST(SnapshotFullDisk, AFileStreamOnAFullDeviceFailsTheSave) {
  if (!std::filesystem::exists("/dev/full")) GTEST_SKIP() << "no /dev/full here";
  const HeatRegistry small = small_registry();
  const HeatRegistry big = big_registry();
  for (const HeatRegistry* registry : {&small, &big}) {
    std::ofstream out("/dev/full", std::ios::binary);
    ASSERT_TRUE(out.is_open());
    const std::string outcome = save_outcome([&] { registry->save(out); });
    EXPECT_EQ(outcome.rfind(io_error_prefix(), 0), 0u)
        << registry->size() << " counters into /dev/full: " << outcome;
  }
}

}  // namespace
}  // namespace heatkit::test
