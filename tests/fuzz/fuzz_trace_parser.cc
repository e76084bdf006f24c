// libFuzzer target: arbitrary bytes as a heat trace, through the parser and
// the replay engine. A malformed trace may only ever raise TraceError, naming
// a line that exists; anything else (another exception, a crash, a sanitizer
// report, a hang) is a bug. The lazy reader behind replay and the eager
// parse_trace must also agree on whether, and where, a trace is malformed.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <sstream>
#include <string>
#include <string_view>

#include "tools/replay.h"
#include "tools/trace.h"

namespace {

// Bigger inputs add run time, not coverage.
constexpr std::size_t kMaxInputBytes = 64 * 1024;
// Keeps registries small so eviction runs often and ticks stay cheap.
constexpr std::size_t kFuzzCap = 16;

[[noreturn]] void fail(const char* what) {
  std::fputs(what, stderr);
  std::fputc('\n', stderr);
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size > kMaxInputBytes) return 0;
  const std::string text(reinterpret_cast<const char*>(data), size);
  // getline counts a last line without '\n' too.
  std::size_t line_count = 0;
  for (const char c : text) line_count += c == '\n' ? 1 : 0;
  if (!text.empty() && text.back() != '\n') ++line_count;

  std::size_t parse_error_line = 0;
  try {
    heatkit::trace::parse_trace(text);
  } catch (const heatkit::trace::TraceError& e) {
    parse_error_line = e.line();
    if (e.line() == 0 || e.line() > line_count) fail("parse_trace: error names a line outside the input");
  }

  std::istringstream in(text);
  std::ostringstream out;
  heatkit::trace::ReplayOptions options;
  options.max_cap = kFuzzCap;
  std::size_t replay_error_line = 0;
  try {
    heatkit::trace::replay(in, out, options);
  } catch (const heatkit::trace::TraceError& e) {
    replay_error_line = e.line();
  }
  if (replay_error_line != parse_error_line) fail("replay and parse_trace disagree on the bad line");
  return 0;
}
