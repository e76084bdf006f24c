// The heat trace parser (docs/TRACE_FORMAT.md, version 1): text in, a header
// and a stream of operations out. Reading is lazy, one line at a time, so a
// replay prints the answers of every line before a malformed one.
//
// Where the format leaves a case open, this parser and the replay engine
// (tools/replay.h) decide as follows:
//  - Each header (`registry`, `cap`, `inflight`, `policy`) may appear once; a
//    second one is an error (kDuplicateHeader), never "last one wins".
//  - `policy` with no fields is allowed: every field keeps its default. Each
//    field may appear once per line (kDuplicatePolicyField). The policy must
//    pass validation (SEMANTICS.md "Policy"); `half_life_ns` may be written
//    negative so that validation, not the number parser, names the problem.
//  - `cap N` takes a decimal integer that fits the platform's size_t (64 bits);
//    anything larger is kOutOfRange. Any cap that fits is accepted: the
//    registry grows lazily, so a huge cap behaves like an unbounded one.
//  - Times are decimal integers in [0, 2^63-1]; a leading `-` or a value past
//    2^63-1 is kOutOfRange, anything else that is not digits is kBadNumber.
//  - u64 keys: decimal, or hex after `0x` (or `0X`), digits in either case.
//    Blob keys: exactly 64 hex digits in either case, no prefix.
//  - A carriage return counts as a field separator, so CRLF files read the
//    same as LF files.
//  - A UTF-8 byte-order mark (EF BB BF) is skipped at the very start of the
//    trace, and only there: anywhere else it is part of a field.
//  - A line holds at most kMaxLineBytes bytes before its '\n' (kLineTooLong):
//    the reader never buffers more, whatever it is fed (/dev/zero, say).
//  - `commit` before any tick commits nothing. `commit KEY...` commits the
//    named keys' candidates of the last tick; a named key with no candidate
//    there is ignored. The last tick's candidates stay "the last tick" until
//    the next `tick`, so committing one twice records it twice (a no-op unless
//    the key was removed and re-created in between).
//  - `decay`, `rollback` and `remove` of an absent key do nothing.
#pragma once

#include <cstddef>
#include <cstdint>
#include <istream>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include <heatkit/policy.h>
#include <heatkit/registry.h>

namespace heatkit::trace {

// The longest line a trace may hold, in bytes, not counting its '\n'. Far
// above any valid line (a `commit` of a thousand blob keys is 65 KiB).
inline constexpr std::size_t kMaxLineBytes = std::size_t{1} << 20;

enum class KeyKind { kU64, kBlob };

// One key as the trace spells it; the alternative matches the header's
// `registry` line.
using TraceKey = std::variant<std::uint64_t, BlobKey>;

// The header lines, with the format's defaults for the ones left out.
struct TraceHeader {
  KeyKind key_kind = KeyKind::kU64;
  std::size_t cap = kDefaultCap;        // 0 = unbounded
  std::optional<bool> track_in_flight;  // unset: off for u64 keys, on for blob keys
  Policy policy;                        // validated
};

enum class OpKind {
  kBump,      // bump KEY T
  kTouch,     // touch KEY T
  kDecay,     // decay KEY T
  kTick,      // tick T
  kCommit,    // commit [KEY...]
  kRollback,  // rollback KEY
  kRemove,    // remove KEY
  kGet,       // get KEY
  kLen,       // len
};

struct Operation {
  OpKind kind = OpKind::kLen;
  std::size_t line = 0;        // 1-based line number in the trace
  std::int64_t time = 0;       // bump, touch, decay, tick
  std::vector<TraceKey> keys;  // one for the keyed operations; commit: the named keys (none = all)
};

// Why a line is malformed. Each kind is one row of docs/TRACE_FORMAT.md "Errors".
enum class TraceErrorKind {
  kUnknownWord,           // the first field is no header and no operation
  kMissingField,          // fewer fields than the line needs
  kExtraField,            // more fields than the line takes
  kBadKey,                // a key that is not a key of the registry's kind
  kBadNumber,             // a time, cap, ratio or half-life that is not a number
  kOutOfRange,            // a number that does not fit its field
  kBadValue,              // a header value outside its choices (u64|blob, on|off, true|false)
  kHeaderAfterOperation,  // a header line after the first operation
  kDuplicateHeader,       // the same header twice
  kInvalidPolicy,         // a policy that fails validation
  kDuplicatePolicyField,  // `policy ratio=2 ratio=3`
  kUnknownPolicyField,    // `policy speed=3`, or a field without `=`
  kLineTooLong,           // a line of more than kMaxLineBytes bytes
};

// A malformed line. what() is "line L: DETAIL", the text after "error: ".
class TraceError : public std::runtime_error {
 public:
  TraceError(TraceErrorKind kind, std::size_t line, const std::string& detail);
  TraceErrorKind kind() const noexcept { return kind_; }
  std::size_t line() const noexcept { return line_; }
  const std::string& detail() const noexcept { return detail_; }

 private:
  TraceErrorKind kind_;
  std::size_t line_;
  std::string detail_;
};

// The input failed while a line was being read: a read error, not a malformed
// line. what() is "line L: REASON"; nothing of line L ran.
class TraceReadError : public std::runtime_error {
 public:
  TraceReadError(std::size_t line, const std::string& reason);
  std::size_t line() const noexcept { return line_; }
  const std::string& reason() const noexcept { return reason_; }

 private:
  std::size_t line_;
  std::string reason_;
};

// Reads a trace from a stream, one line per call, never further than needed.
// It reads through the stream's buffer: a std::system_error the buffer throws
// (tools/replay_command.cc's file input throws one for a failed read(2))
// becomes a TraceReadError naming the line. A buffer that reports a failure
// as the end of input (std::cin's, for one) cannot be told from one.
class TraceReader {
 public:
  explicit TraceReader(std::istream& in) : in_(in) {}

  // The header: reads header lines up to the first operation (kept for
  // next()) or the end of input. Throws TraceError or TraceReadError.
  const TraceHeader& header();

  // The next operation, or nothing at the end of input. Throws TraceError for
  // the first malformed line and TraceReadError for a failed read; the
  // operations before either were all returned.
  std::optional<Operation> next();

  // Lines consumed so far.
  std::size_t lines_read() const noexcept { return line_; }

 private:
  // Reads the next line into text_, without its '\n'; false at the end of
  // input. Throws TraceError (kLineTooLong) having read at most one byte past
  // the limit.
  bool read_line();
  // Reads lines until one holds an operation (returned) or input ends.
  std::optional<Operation> read_operation();
  void parse_header_line(std::string_view word, std::vector<std::string_view>& fields);
  Operation parse_operation(std::string_view word, std::vector<std::string_view>& fields);

  std::istream& in_;
  std::string text_;  // the current line
  std::size_t line_ = 0;
  bool at_end_ = false;  // the input ended: never ask it again (a terminal would wait)
  TraceHeader header_;
  bool header_done_ = false;
  std::optional<Operation> pending_;  // the first operation, read while finishing the header
  // The line of each header seen so far (0: not seen), for duplicate errors.
  std::size_t registry_line_ = 0, cap_line_ = 0, inflight_line_ = 0, policy_line_ = 0;
};

// A whole trace, parsed eagerly (tests, tools that want every operation).
struct ParsedTrace {
  TraceHeader header;
  std::vector<Operation> operations;
};
ParsedTrace parse_trace(std::string_view text);  // throws TraceError

// A key as output prints it: u64 in decimal, blob keys as 64 lowercase hex digits.
std::string format_key(const TraceKey& key);

}  // namespace heatkit::trace
