// Snapshot files: written atomically, read with their size known.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

#include <heatkit/registry.h>

#include "snapshot/snapshot_io.h"

namespace heatkit::snapshot {

// Writes `path` through `write` atomically (docs/SNAPSHOT_FORMAT.md "Files"):
// a temporary file `.<name>.XXXXXX` in the same folder (mode 0600), written
// in full, fsync'ed, renamed over `path`, then the folder fsync'ed. On any
// failure (SnapshotError kIo, or whatever `write` throws) the temporary file
// is removed and `path` is as it was.
void write_file_atomically(const std::filesystem::path& path,
                           heatkit::detail::FunctionRef<void(ByteSink&)> write);

// A snapshot file opened for reading.
class FileSource final : public ByteSource {
 public:
  explicit FileSource(const std::filesystem::path& path);
  ~FileSource() override;
  FileSource(const FileSource&) = delete;
  FileSource& operator=(const FileSource&) = delete;
  std::size_t read(std::byte* data, std::size_t n) override;
  std::optional<std::uint64_t> size_left() const noexcept override { return size_ - offset_; }
  std::string_view origin() const noexcept override { return origin_; }
  std::uint64_t offset() const noexcept override { return offset_; }
  std::uint64_t size() const noexcept { return size_; }
  // Throws kInconsistent when bytes follow the snapshot's last section.
  void expect_end() const;

 private:
  std::string origin_;
  int fd_ = -1;
  std::uint64_t size_ = 0;
  std::uint64_t offset_ = 0;
  std::uint64_t asked_until_ = 0;  // read-ahead asked of the kernel up to here
  static constexpr std::uint64_t kReadAhead = std::uint64_t{32} << 20;
};

}  // namespace heatkit::snapshot
