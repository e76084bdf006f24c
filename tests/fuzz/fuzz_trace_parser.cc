// libFuzzer target: arbitrary bytes as a heat trace, through the parser and
// the replay engine. A malformed trace may only ever raise TraceError, naming
// a line that exists; anything else (another exception, a crash, a sanitizer
// report, a hang) is a bug. The lazy reader behind replay and the eager
// parse_trace must also agree on whether, and where, a trace is malformed,
// and a line longer than kMaxLineBytes must be refused as such, at its line
// unless an earlier line is malformed.
//
// Two kinds of input:
//  - plain: the bytes are the trace (up to kMaxPlainBytes), replayed with
//    the registry's cap lowered to 16 so eviction runs often;
//  - expanded: a first byte kExpand (a plain trace starting with it is
//    malformed anyway), then a mode byte (the replay's cap limit: 16, none,
//    4096 or 1), then a template whose control bytes
//    repeat parts of it, so that a few bytes make lines past the 1 MiB limit,
//    tens of thousands of distinct keys, huge commit lists and caps:
//      kMark          a repeated segment starts here (else: at the start)
//      kRepeat lo hi  the segment since the mark, lo + 256 * hi more times
//      kIndex         the copy's number in decimal (0 in the first copy)
//      kHexIndex      the copy's number as 64 hex digits (a blob key)
//    The expansion stops at kMaxExpandedBytes, just past the line limit.
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

using heatkit::trace::kMaxLineBytes;

// Bigger plain inputs add run time, not coverage: long inputs come expanded.
constexpr std::size_t kMaxPlainBytes = 64 * 1024;
// Keeps plain inputs' registries small so eviction runs often and ticks stay cheap.
constexpr std::size_t kFuzzCap = 16;
// An expanded trace may pass the line limit, by a little: the run stays in
// tens of milliseconds. Its lines are counted too (each may be an operation).
constexpr std::size_t kMaxExpandedBytes = kMaxLineBytes + 64 * 1024;
constexpr std::size_t kMaxExpandedLines = 1u << 14;

constexpr std::uint8_t kExpand = 0x01;
constexpr std::uint8_t kRepeat = 0x02;
constexpr std::uint8_t kMark = 0x03;
constexpr std::uint8_t kIndex = 0x04;
constexpr std::uint8_t kHexIndex = 0x05;

[[noreturn]] void fail(const std::string& what) {
  std::fprintf(stderr, "fuzz_trace_parser: %s\n", what.c_str());
  std::fflush(stderr);
  std::abort();
}

// Renders one copy (number `index`) of `segment`, a template, onto `out`;
// false once the expansion's budget (bytes, lines) is spent.
bool render(std::string_view segment, std::size_t index, std::string& out, std::size_t& lines) {
  for (const char c : segment) {
    if (out.size() >= kMaxExpandedBytes || lines >= kMaxExpandedLines) return false;
    if (c == static_cast<char>(kIndex)) {
      out += std::to_string(index);
    } else if (c == static_cast<char>(kHexIndex)) {
      char hex[65];
      std::snprintf(hex, sizeof hex, "%064zx", index);
      out += hex;
    } else {
      out += c;
      lines += c == '\n' ? 1 : 0;
    }
  }
  return true;
}

// The trace an expanded input stands for (see the top of this file).
std::string expand(std::string_view body) {
  std::string out;
  std::size_t lines = 0;
  std::size_t mark = 0;  // where the segment to repeat starts, in `body`
  std::size_t i = 0;
  const auto literal_until = [&](std::size_t end) {
    return render(body.substr(i, end - i), 0, out, lines);
  };
  while (i < body.size()) {
    static constexpr char kControls[] = {static_cast<char>(kRepeat), static_cast<char>(kMark),
                                         '\0'};
    const std::size_t next = body.find_first_of(kControls, i);
    const std::size_t end = next == std::string_view::npos ? body.size() : next;
    if (!literal_until(end)) break;
    i = end;
    if (i == body.size()) break;
    if (body[i] == static_cast<char>(kMark)) {
      mark = ++i;
      continue;
    }
    // kRepeat lo hi: copies 1 .. count of the segment [mark, i).
    const std::string_view segment = body.substr(mark, i - mark);
    std::size_t count = 0;
    if (i + 1 < body.size()) count = static_cast<std::uint8_t>(body[i + 1]);
    if (i + 2 < body.size()) count |= std::size_t{static_cast<std::uint8_t>(body[i + 2])} << 8;
    i = std::min(body.size(), i + 3);
    bool room = true;
    for (std::size_t copy = 1; copy <= count && room && !segment.empty(); ++copy) {
      room = render(segment, copy, out, lines);
    }
    if (!room) break;
    mark = i;
  }
  return out;
}

// Line numbers as the reader counts them: a last line without '\n' is a
// line; the first line longer than kMaxLineBytes, or 0.
struct Lines {
  std::size_t count = 0;
  std::size_t first_too_long = 0;
};
Lines count_lines(std::string_view text) {
  Lines l;
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    ++l.count;
    if (l.first_too_long == 0 && end - start > kMaxLineBytes) l.first_too_long = l.count;
    start = end + 1;
  }
  return l;
}

// The line of the first error (0: none), checked against what the input holds.
std::size_t check_error(const heatkit::trace::TraceError& e, const Lines& lines, const char* who) {
  const std::string where = std::string(who) + ": error '" + e.what() + "'";
  if (e.line() == 0 || e.line() > lines.count) fail(where + " names a line outside the input");
  const bool too_long = e.kind() == heatkit::trace::TraceErrorKind::kLineTooLong;
  if (lines.first_too_long != 0 && e.line() > lines.first_too_long) {
    fail(where + " comes after line " + std::to_string(lines.first_too_long) +
         ", which is too long");
  }
  if (too_long != (e.line() == lines.first_too_long)) {
    fail(where + ": the first line longer than the limit is " +
         std::to_string(lines.first_too_long));
  }
  if (too_long && std::string(e.what()) != "line " + std::to_string(e.line()) +
                                               ": line longer than " +
                                               std::to_string(kMaxLineBytes) + " bytes") {
    fail(where + " is not the documented message");
  }
  return e.line();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  std::string text;
  heatkit::trace::ReplayOptions options;
  options.max_cap = kFuzzCap;
  if (!input.empty() && input[0] == static_cast<char>(kExpand)) {
    static constexpr std::size_t kCapLimits[] = {kFuzzCap, 0, 4096, 1};
    options.max_cap = kCapLimits[input.size() > 1 ? static_cast<std::uint8_t>(input[1]) % 4 : 0];
    text = expand(input.substr(std::min<std::size_t>(2, input.size())));
  } else {
    if (size > kMaxPlainBytes) return 0;
    text = input;
  }
  const Lines lines = count_lines(text);

  std::size_t parse_error_line = 0;
  try {
    heatkit::trace::parse_trace(text);
  } catch (const heatkit::trace::TraceError& e) {
    parse_error_line = check_error(e, lines, "parse_trace");
  }
  if (lines.first_too_long != 0 && parse_error_line == 0)
    fail("parse_trace accepted a line over the limit");

  std::istringstream in(text);
  std::ostringstream out;
  std::size_t replay_error_line = 0;
  try {
    heatkit::trace::replay(in, out, options);
  } catch (const heatkit::trace::TraceError& e) {
    replay_error_line = check_error(e, lines, "replay");
  }
  if (replay_error_line != parse_error_line)
    fail("replay and parse_trace disagree on the bad line");
  return 0;
}
