// A SnapshotError as the CLI words it after the path it already names:
// "checksum: section CNTR, block 0: the checksum does not match".
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

#include <heatkit/snapshot.h>

namespace heatkit::cli {

// The problem's name and the library's words, without the library's own
// "snapshot 'PATH': " prefix (the CLI's message puts the path first).
inline std::string snapshot_error_words(const std::filesystem::path& path, const SnapshotError& e) {
  std::string_view what = e.what();
  const std::string prefix = "snapshot '" + path.string() + "': ";
  if (what.substr(0, prefix.size()) == prefix) what.remove_prefix(prefix.size());
  return std::string(problem_name(e.problem())) + ": " + std::string(what);
}

}  // namespace heatkit::cli
