#include "snapshot/snapshot_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <vector>

namespace heatkit::snapshot {
namespace {

// Appended piece by piece: GCC 12 warns (-Wrestrict, falsely) on "'" + string.
std::string quoted(const std::filesystem::path& path) {
  std::string s(1, '\'');
  s += path.string();
  s += '\'';
  return s;
}

[[noreturn]] void io_error(const std::filesystem::path& path, const std::string& what, int error) {
  fail(SnapshotProblem::kIo, quoted(path), what + ": " + std::strerror(error));
}

// Writes to a file descriptor, every byte or an error naming the file.
class FdSink final : public ByteSink {
 public:
  FdSink(int fd, std::string origin) : fd_(fd), origin_(std::move(origin)) {}
  void write(const std::byte* data, std::size_t n) override {
    while (n > 0) {
      const ssize_t w = ::write(fd_, data, n);
      if (w < 0) {
        if (errno == EINTR) continue;
        fail(SnapshotProblem::kIo, origin_, std::string("write failed: ") + std::strerror(errno));
      }
      data += w;
      n -= static_cast<std::size_t>(w);
    }
  }
  std::string_view origin() const noexcept override { return origin_; }

 private:
  int fd_;
  std::string origin_;
};

void fsync_folder(const std::filesystem::path& folder, const std::filesystem::path& path) {
  const int fd = ::open(folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) io_error(path, "renamed into place, but its folder could not be opened to flush it", errno);
  const int rc = ::fsync(fd);
  const int error = errno;
  ::close(fd);
  if (rc != 0) io_error(path, "renamed into place, but flushing its folder failed", error);
}

}  // namespace

void write_file_atomically(const std::filesystem::path& path,
                           heatkit::detail::FunctionRef<void(ByteSink&)> write) {
  if (path.filename().empty()) {
    fail(SnapshotProblem::kIo, quoted(path), "names a folder, not a file");
  }
  const std::filesystem::path folder = path.has_parent_path() ? path.parent_path() : ".";
  std::string temp_name(1, '.');
  temp_name += path.filename().string();
  temp_name += ".XXXXXX";
  std::string temp = (folder / temp_name).string();
  std::vector<char> name(temp.begin(), temp.end());
  name.push_back('\0');
  const int fd = ::mkostemp(name.data(), O_CLOEXEC);  // mode 0600
  if (fd < 0) io_error(path, "cannot create a temporary file in " + quoted(folder), errno);
  temp.assign(name.data());
  try {
    FdSink sink(fd, quoted(path));
    write(sink);
    if (::fsync(fd) != 0) io_error(path, "flushing the new snapshot to disk failed", errno);
    if (::close(fd) != 0) {
      const int error = errno;
      ::unlink(temp.c_str());
      io_error(path, "closing the new snapshot failed", error);
    }
  } catch (...) {
    ::close(fd);  // a second close after a failed one only fails again (EBADF)
    ::unlink(temp.c_str());
    throw;
  }
  if (::rename(temp.c_str(), path.c_str()) != 0) {
    const int error = errno;
    ::unlink(temp.c_str());
    io_error(path, "cannot rename the new snapshot into place", error);
  }
  fsync_folder(folder, path);
}

FileSource::FileSource(const std::filesystem::path& path) : origin_(quoted(path)) {
  fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd_ < 0) io_error(path, "cannot open", errno);
  struct stat st {};
  if (::fstat(fd_, &st) != 0) {
    const int error = errno;
    ::close(fd_);
    io_error(path, "cannot stat", error);
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd_);
    fail(SnapshotProblem::kIo, origin_, "is not a regular file");
  }
  size_ = static_cast<std::uint64_t>(st.st_size);
  // Read once, front to back: let the kernel read ahead while blocks are checked.
  (void)::posix_fadvise(fd_, 0, 0, POSIX_FADV_SEQUENTIAL);
}

FileSource::~FileSource() {
  if (fd_ >= 0) ::close(fd_);
}

std::size_t FileSource::read(std::byte* data, std::size_t n) {
  // Ask for the next stretch of the file ahead of time: the disk reads it
  // while the blocks before it are checked and loaded (a plain read waits
  // for each block in turn, about a sixth of the disk's bandwidth here).
  // Asked in steps of a quarter of the distance, so that few calls keep it.
  const std::uint64_t wanted = std::min(size_, offset_ + n + kReadAhead);
  if (wanted >= asked_until_ + kReadAhead / 4 || (wanted == size_ && asked_until_ < size_)) {
    const std::uint64_t from = std::max(offset_, asked_until_);
    (void)::posix_fadvise(fd_, static_cast<off_t>(from), static_cast<off_t>(wanted - from),
                          POSIX_FADV_WILLNEED);
    asked_until_ = wanted;
  }
  for (;;) {
    const ssize_t r = ::read(fd_, data, n);
    if (r >= 0) {
      offset_ += static_cast<std::uint64_t>(r);
      return static_cast<std::size_t>(r);
    }
    if (errno != EINTR) fail(SnapshotProblem::kIo, origin_, std::string("read failed: ") + std::strerror(errno));
  }
}

void FileSource::expect_end() const {
  std::byte extra{};
  const ssize_t r = ::pread(fd_, &extra, 1, static_cast<off_t>(offset_));
  if (r > 0) {
    fail(SnapshotProblem::kInconsistent, origin_,
         "bytes follow the last section (the snapshot ends at byte " + std::to_string(offset_) + ")");
  }
}

}  // namespace heatkit::snapshot
