// The trace parser and the replay engine behind `heatkit replay`, against
// docs/TRACE_FORMAT.md (what a line means, what is an error) and SEMANTICS.md (what
// the registry answers). Expected outputs are worked out by hand from those
// documents; half-lives are chosen so that every rate is an exact power of two.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <sstream>
#include <streambuf>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>

#include "backends/backend.h"
#include "tools/replay.h"
#include "tools/trace.h"

namespace heatkit::trace {
namespace {

using ::testing::HasSubstr;

std::string replay_text(std::string_view text, ReplayOptions options = {}) {
  std::istringstream in{std::string(text)};
  std::ostringstream out;
  replay(in, out, options);
  return out.str();
}

// The error a malformed trace raises, and what replay printed before it.
struct Failure {
  TraceError error;
  std::string output;
};

Failure replay_failure(std::string_view text) {
  std::istringstream in{std::string(text)};
  std::ostringstream out;
  try {
    replay(in, out);
  } catch (const TraceError& e) {
    return {e, out.str()};
  }
  ADD_FAILURE() << "no TraceError for:\n" << text;
  return {TraceError(TraceErrorKind::kUnknownWord, 0, "none"), out.str()};
}

TraceError parse_error(std::string_view text) {
  try {
    parse_trace(text);
  } catch (const TraceError& e) {
    return e;
  }
  ADD_FAILURE() << "no TraceError for:\n" << text;
  return TraceError(TraceErrorKind::kUnknownWord, 0, "none");
}

void expect_parse_error(std::string_view text, TraceErrorKind kind, std::size_t line,
                        std::string_view named) {
  const TraceError e = parse_error(text);
  EXPECT_EQ(e.kind(), kind) << text;
  EXPECT_EQ(e.line(), line) << text;
  EXPECT_THAT(e.detail(), HasSubstr(std::string(named))) << text;
  EXPECT_EQ(std::string(e.what()), "line " + std::to_string(line) + ": " + e.detail());
}

// Input that hands out `prefix`, then `filler` bytes until `total` bytes in
// all, then either ends or fails the next read with EIO. It counts what it
// handed out and how often it said "end", so a test sees how far a reader went.
class CountingInput : public std::streambuf {
 public:
  CountingInput(std::string prefix, char filler, std::size_t total, bool fail_at_end)
      : prefix_(std::move(prefix)), filler_(filler), total_(total), fail_at_end_(fail_at_end) {}

  std::size_t handed_out() const { return handed_out_; }
  std::size_t ends() const { return ends_; }

 protected:
  int_type underflow() override {
    if (gptr() < egptr()) return traits_type::to_int_type(*gptr());
    if (handed_out_ == total_) {
      if (fail_at_end_) throw std::system_error(EIO, std::generic_category(), "read");
      ++ends_;
      return traits_type::eof();
    }
    const std::size_t n = std::min(chunk_.size(), total_ - handed_out_);
    for (std::size_t i = 0; i < n; ++i) {
      const std::size_t at = handed_out_ + i;
      chunk_[i] = at < prefix_.size() ? prefix_[at] : filler_;
    }
    handed_out_ += n;
    setg(chunk_.data(), chunk_.data(), chunk_.data() + n);
    return traits_type::to_int_type(*gptr());
  }

 private:
  std::string prefix_;
  char filler_;
  std::size_t total_;
  bool fail_at_end_;
  std::size_t handed_out_ = 0;
  std::size_t ends_ = 0;
  std::string chunk_ = std::string(4096, '\0');
};

// Output that takes nothing: every write fails, as on a full disk.
class FullOutput : public std::streambuf {
 protected:
  int_type overflow(int_type) override { return traits_type::eof(); }
  std::streamsize xsputn(const char*, std::streamsize) override { return 0; }
};

const std::string kBlobA(64, 'a');
const std::string kBlobOne = std::string(63, '0') + "1";

// --- Parser: what it accepts -------------------------------------------------

TEST(TraceParser, EmptyTraceHasTheDefaultHeader) {
  const ParsedTrace t = parse_trace("");
  EXPECT_EQ(t.header.key_kind, KeyKind::kU64);
  EXPECT_EQ(t.header.cap, 8192u);
  EXPECT_FALSE(t.header.track_in_flight.has_value());
  EXPECT_EQ(t.header.policy, Policy{});
  EXPECT_EQ(t.header.policy.decay_half_life, Duration(1800000000000));
  EXPECT_TRUE(t.operations.empty());
}

TEST(TraceParser, ReadsEveryHeader) {
  const ParsedTrace t = parse_trace(
      "registry blob\n"
      "cap 0\n"
      "inflight off\n"
      "policy half_life_ns=60000000000 enabled=false ratio=3.5\n");
  EXPECT_EQ(t.header.key_kind, KeyKind::kBlob);
  EXPECT_EQ(t.header.cap, 0u);
  EXPECT_EQ(t.header.track_in_flight, false);
  EXPECT_FALSE(t.header.policy.enabled);
  EXPECT_EQ(t.header.policy.emit_threshold_ratio, 3.5f);
  EXPECT_EQ(t.header.policy.decay_half_life, Duration(60000000000));
}

TEST(TraceParser, PolicyFieldsLeftOutKeepTheirDefaults) {
  EXPECT_EQ(parse_trace("policy\n").header.policy, Policy{});
  const Policy p = parse_trace("policy ratio=4\n").header.policy;
  EXPECT_TRUE(p.enabled);
  EXPECT_EQ(p.emit_threshold_ratio, 4.0f);
  EXPECT_EQ(p.decay_half_life, Policy{}.decay_half_life);
}

TEST(TraceParser, ReadsEveryOperationWithItsLineNumber) {
  const ParsedTrace t = parse_trace(
      "# a comment line\n"
      "\n"
      "bump 1 5\n"
      "touch 0x1f 6   # trailing comment\n"
      "\tdecay\t7\t8\n"
      "tick 9\n"
      "commit\n"
      "commit 1 2 3\n"
      "rollback 4\n"
      "remove 5\n"
      "get 6\n"
      "len\n");
  ASSERT_EQ(t.operations.size(), 10u);
  const Operation& bump = t.operations[0];
  EXPECT_EQ(bump.kind, OpKind::kBump);
  EXPECT_EQ(bump.line, 3u);
  EXPECT_EQ(bump.time, 5);
  EXPECT_EQ(bump.keys, std::vector<TraceKey>{std::uint64_t{1}});
  EXPECT_EQ(t.operations[1].kind, OpKind::kTouch);
  EXPECT_EQ(t.operations[1].keys, std::vector<TraceKey>{std::uint64_t{31}});
  EXPECT_EQ(t.operations[2].kind, OpKind::kDecay);
  EXPECT_EQ(t.operations[2].line, 5u);
  EXPECT_EQ(t.operations[2].time, 8);
  EXPECT_EQ(t.operations[3].kind, OpKind::kTick);
  EXPECT_EQ(t.operations[3].time, 9);
  EXPECT_EQ(t.operations[4].kind, OpKind::kCommit);
  EXPECT_TRUE(t.operations[4].keys.empty());
  EXPECT_EQ(t.operations[5].keys.size(), 3u);
  EXPECT_EQ(t.operations[6].kind, OpKind::kRollback);
  EXPECT_EQ(t.operations[7].kind, OpKind::kRemove);
  EXPECT_EQ(t.operations[8].kind, OpKind::kGet);
  EXPECT_EQ(t.operations[9].kind, OpKind::kLen);
  EXPECT_EQ(t.operations[9].line, 12u);
}

TEST(TraceParser, AcceptsTheExtremesOfKeysAndTimes) {
  const ParsedTrace t = parse_trace(
      "bump 18446744073709551615 9223372036854775807\n"
      "bump 0xFFFFffffFFFFffff 0\n"
      "bump 0 0\n");
  EXPECT_EQ(t.operations[0].keys[0], TraceKey{UINT64_MAX});
  EXPECT_EQ(t.operations[0].time, INT64_MAX);
  EXPECT_EQ(t.operations[1].keys[0], TraceKey{UINT64_MAX});
  EXPECT_EQ(t.operations[2].keys[0], TraceKey{std::uint64_t{0}});
}

TEST(TraceParser, BlobKeysTakeEitherCaseAndPrintLowercase) {
  const std::string upper = "00FF" + std::string(60, 'A');
  const ParsedTrace t = parse_trace("registry blob\nget " + upper + "\n");
  ASSERT_EQ(t.operations.size(), 1u);
  const auto& key = std::get<BlobKey>(t.operations[0].keys[0]);
  EXPECT_EQ(key[0], 0x00);
  EXPECT_EQ(key[1], 0xff);
  EXPECT_EQ(key[31], 0xaa);
  EXPECT_EQ(format_key(t.operations[0].keys[0]), "00ff" + std::string(60, 'a'));
}

TEST(TraceParser, CarriageReturnsSeparateFieldsLikeSpaces) {
  const ParsedTrace t = parse_trace("cap 3\r\nbump 1 2\r\nlen\r\n");
  EXPECT_EQ(t.header.cap, 3u);
  ASSERT_EQ(t.operations.size(), 2u);
  EXPECT_EQ(t.operations[0].time, 2);
}

TEST(TraceParser, SkipsAByteOrderMarkAtTheVeryStart) {
  const std::string bom = "\xEF\xBB\xBF";
  const ParsedTrace t = parse_trace(bom + "registry blob\r\ncap 3\r\nlen\r\n");
  EXPECT_EQ(t.header.key_kind, KeyKind::kBlob);
  EXPECT_EQ(t.header.cap, 3u);
  ASSERT_EQ(t.operations.size(), 1u);
  EXPECT_EQ(t.operations[0].line, 3u);
  EXPECT_EQ(parse_trace(bom + "bump 1 0\n").operations.size(), 1u);
  EXPECT_TRUE(parse_trace(bom).operations.empty());
  EXPECT_TRUE(parse_trace(bom + "\n# comment\n").operations.empty());
}

TEST(TraceParser, AcceptsALineOfExactlyTheLimit) {
  const std::string line = "len" + std::string(kMaxLineBytes - 3, ' ');
  const ParsedTrace t = parse_trace("bump 1 0\n" + line + "\n" + line);  // the last without '\n'
  ASSERT_EQ(t.operations.size(), 3u);
  EXPECT_EQ(t.operations[2].kind, OpKind::kLen);
  EXPECT_EQ(t.operations[2].line, 3u);
}

TEST(TraceParser, ReadsLazilyOneLineAtATime) {
  std::istringstream in("bump 1 0\nthis line is not read yet\n");
  TraceReader reader(in);
  const auto op = reader.next();
  ASSERT_TRUE(op.has_value());
  EXPECT_EQ(reader.lines_read(), 1u);
  EXPECT_THROW(reader.next(), TraceError);
}

// --- Parser: every error of TRACE_FORMAT.md, with its line -----------------

TEST(TraceParserErrors, UnknownWord) {
  expect_parse_error("bump 1 0\nbmp 1 0\n", TraceErrorKind::kUnknownWord, 2, "'bmp'");
  expect_parse_error("BUMP 1 0\n", TraceErrorKind::kUnknownWord, 1, "'BUMP'");
}

TEST(TraceParserErrors, MissingField) {
  expect_parse_error("bump 1\n", TraceErrorKind::kMissingField, 1, "missing T");
  expect_parse_error("\n\ntouch\n", TraceErrorKind::kMissingField, 3, "missing KEY");
  expect_parse_error("tick\n", TraceErrorKind::kMissingField, 1, "missing T");
  expect_parse_error("get # key in a comment 1\n", TraceErrorKind::kMissingField, 1,
                     "missing KEY");
  expect_parse_error("rollback\n", TraceErrorKind::kMissingField, 1, "missing KEY");
  expect_parse_error("remove\n", TraceErrorKind::kMissingField, 1, "missing KEY");
  expect_parse_error("registry\n", TraceErrorKind::kMissingField, 1, "'registry'");
  expect_parse_error("cap\n", TraceErrorKind::kMissingField, 1, "missing N");
  expect_parse_error("inflight\n", TraceErrorKind::kMissingField, 1, "'inflight'");
}

TEST(TraceParserErrors, ExtraField) {
  expect_parse_error("len 3\n", TraceErrorKind::kExtraField, 1, "'3'");
  expect_parse_error("tick 1 2\n", TraceErrorKind::kExtraField, 1, "'2'");
  expect_parse_error("bump 1 2 3\n", TraceErrorKind::kExtraField, 1, "'3'");
  expect_parse_error("get 1 2\n", TraceErrorKind::kExtraField, 1, "'2'");
  expect_parse_error("cap 1 2\n", TraceErrorKind::kExtraField, 1, "'2'");
  expect_parse_error("registry u64 blob\n", TraceErrorKind::kExtraField, 1, "'blob'");
}

TEST(TraceParserErrors, BadKey) {
  expect_parse_error("bump x 0\n", TraceErrorKind::kBadKey, 1, "'x'");
  expect_parse_error("bump -1 0\n", TraceErrorKind::kBadKey, 1, "'-1'");
  expect_parse_error("bump +1 0\n", TraceErrorKind::kBadKey, 1, "'+1'");
  expect_parse_error("get 0x\n", TraceErrorKind::kBadKey, 1, "'0x'");
  expect_parse_error("get 0xfg\n", TraceErrorKind::kBadKey, 1, "'0xfg'");
  expect_parse_error("get 1.0\n", TraceErrorKind::kBadKey, 1, "'1.0'");
  expect_parse_error("commit 1 2 z\n", TraceErrorKind::kBadKey, 1, "'z'");
  // A blob key is exactly 64 hex digits.
  expect_parse_error("registry blob\nget 1\n", TraceErrorKind::kBadKey, 2, "64 hex digits");
  expect_parse_error("registry blob\nget " + std::string(63, 'a') + "\n", TraceErrorKind::kBadKey,
                     2, "blob key");
  expect_parse_error("registry blob\nget " + std::string(65, 'a') + "\n", TraceErrorKind::kBadKey,
                     2, "blob key");
  expect_parse_error("registry blob\nget " + std::string(63, 'a') + "g\n",
                     TraceErrorKind::kBadKey, 2, "blob key");
  expect_parse_error("registry blob\nget 0x" + std::string(62, 'a') + "\n",
                     TraceErrorKind::kBadKey, 2, "blob key");
}

TEST(TraceParserErrors, BadNumber) {
  expect_parse_error("tick abc\n", TraceErrorKind::kBadNumber, 1, "bad time 'abc'");
  expect_parse_error("tick 1.5\n", TraceErrorKind::kBadNumber, 1, "'1.5'");
  expect_parse_error("tick +1\n", TraceErrorKind::kBadNumber, 1, "'+1'");
  expect_parse_error("tick 0x10\n", TraceErrorKind::kBadNumber, 1, "'0x10'");
  expect_parse_error("bump 1 1e3\n", TraceErrorKind::kBadNumber, 1, "'1e3'");
  expect_parse_error("cap many\n", TraceErrorKind::kBadNumber, 1, "bad cap 'many'");
  expect_parse_error("cap -1\n", TraceErrorKind::kBadNumber, 1, "bad cap '-1'");
  expect_parse_error("policy ratio=abc\n", TraceErrorKind::kBadNumber, 1, "ratio 'abc'");
  expect_parse_error("policy ratio=\n", TraceErrorKind::kBadNumber, 1, "ratio ''");
  expect_parse_error("policy half_life_ns=1.5\n", TraceErrorKind::kBadNumber, 1,
                     "half_life_ns '1.5'");
}

TEST(TraceParserErrors, OutOfRangeNumber) {
  expect_parse_error("tick -1\n", TraceErrorKind::kOutOfRange, 1, "time '-1' is out of range");
  expect_parse_error("tick 9223372036854775808\n", TraceErrorKind::kOutOfRange, 1,
                     "'9223372036854775808'");
  expect_parse_error("bump 1 99999999999999999999999\n", TraceErrorKind::kOutOfRange, 1,
                     "out of range");
  expect_parse_error("bump 18446744073709551616 0\n", TraceErrorKind::kOutOfRange, 1,
                     "key '18446744073709551616'");
  expect_parse_error("get 0x10000000000000000\n", TraceErrorKind::kOutOfRange, 1, "u64 key");
  expect_parse_error("cap 18446744073709551616\n", TraceErrorKind::kOutOfRange, 1,
                     "cap '18446744073709551616'");
  expect_parse_error("policy ratio=1e39\n", TraceErrorKind::kOutOfRange, 1, "ratio '1e39'");
  expect_parse_error("policy half_life_ns=9223372036854775808\n", TraceErrorKind::kOutOfRange,
                     1, "half_life_ns");
}

TEST(TraceParserErrors, BadHeaderValue) {
  expect_parse_error("registry u32\n", TraceErrorKind::kBadValue, 1, "'u32'");
  expect_parse_error("inflight yes\n", TraceErrorKind::kBadValue, 1, "'yes'");
  expect_parse_error("policy enabled=1\n", TraceErrorKind::kBadValue, 1, "enabled='1'");
}

TEST(TraceParserErrors, HeaderAfterAnOperation) {
  expect_parse_error("bump 1 0\ncap 3\n", TraceErrorKind::kHeaderAfterOperation, 2, "'cap'");
  expect_parse_error("len\n# comment\npolicy ratio=3\n", TraceErrorKind::kHeaderAfterOperation,
                     3, "'policy'");
  expect_parse_error("get 1\nregistry u64\n", TraceErrorKind::kHeaderAfterOperation, 2,
                     "'registry'");
}

TEST(TraceParserErrors, DuplicateHeader) {
  expect_parse_error("cap 1\ncap 1\n", TraceErrorKind::kDuplicateHeader, 2, "first given on line 1");
  expect_parse_error("registry u64\n\nregistry blob\n", TraceErrorKind::kDuplicateHeader, 3,
                     "'registry'");
  expect_parse_error("inflight on\ninflight off\n", TraceErrorKind::kDuplicateHeader, 2,
                     "'inflight'");
  expect_parse_error("policy ratio=2\npolicy enabled=true\n", TraceErrorKind::kDuplicateHeader,
                     2, "'policy'");
}

TEST(TraceParserErrors, PolicyThatFailsValidation) {
  expect_parse_error("policy ratio=1.0\n", TraceErrorKind::kInvalidPolicy, 1,
                     "emit_threshold_ratio 1 is out of range [1.01, 10]");
  expect_parse_error("policy ratio=10.5\n", TraceErrorKind::kInvalidPolicy, 1,
                     "emit_threshold_ratio");
  expect_parse_error("policy ratio=nan\n", TraceErrorKind::kInvalidPolicy, 1,
                     "emit_threshold_ratio must be finite");
  expect_parse_error("policy ratio=inf\n", TraceErrorKind::kInvalidPolicy, 1,
                     "emit_threshold_ratio must be finite");
  expect_parse_error("policy half_life_ns=0\n", TraceErrorKind::kInvalidPolicy, 1,
                     "decay_half_life must be non-zero");
  expect_parse_error("policy half_life_ns=-5\n", TraceErrorKind::kInvalidPolicy, 1,
                     "decay_half_life must be positive");
  // The bounds themselves are valid.
  EXPECT_EQ(parse_trace("policy ratio=1.01\n").header.policy.emit_threshold_ratio, 1.01f);
  EXPECT_EQ(parse_trace("policy ratio=10\n").header.policy.emit_threshold_ratio, 10.0f);
}

TEST(TraceParserErrors, DuplicatePolicyField) {
  expect_parse_error("policy ratio=2 ratio=3\n", TraceErrorKind::kDuplicatePolicyField, 1,
                     "duplicate policy field 'ratio'");
  expect_parse_error("policy enabled=true half_life_ns=1 enabled=true\n",
                     TraceErrorKind::kDuplicatePolicyField, 1, "'enabled'");
}

TEST(TraceParserErrors, UnknownPolicyField) {
  expect_parse_error("policy speed=3\n", TraceErrorKind::kUnknownPolicyField, 1, "'speed=3'");
  expect_parse_error("policy half_life=5\n", TraceErrorKind::kUnknownPolicyField, 1,
                     "'half_life=5'");
  expect_parse_error("policy ratio\n", TraceErrorKind::kUnknownPolicyField, 1,
                     "'ratio' needs NAME=VALUE");
}

TEST(TraceParserErrors, ByteOrderMarkAnywhereButTheStart) {
  const std::string bom = "\xEF\xBB\xBF";
  expect_parse_error("len\n" + bom + "len\n", TraceErrorKind::kUnknownWord, 2,
                     "'\\xef\\xbb\\xbflen'");
  expect_parse_error(bom + bom + "len\n", TraceErrorKind::kUnknownWord, 1,
                     "'\\xef\\xbb\\xbflen'");
  expect_parse_error(" " + bom + "len\n", TraceErrorKind::kUnknownWord, 1, "'\\xef\\xbb\\xbflen'");
  expect_parse_error("bump " + bom + "1 0\n", TraceErrorKind::kBadKey, 1, "'\\xef\\xbb\\xbf1'");
}

TEST(TraceParserErrors, LineLongerThanTheLimit) {
  const std::string line = "len" + std::string(kMaxLineBytes - 2, ' ');
  for (const std::string& end : {std::string("\n"), std::string()}) {
    const TraceError e = parse_error("len\n" + line + end + "len\n");
    EXPECT_EQ(e.kind(), TraceErrorKind::kLineTooLong);
    EXPECT_EQ(e.line(), 2u);
    EXPECT_STREQ(e.what(), "line 2: line longer than 1048576 bytes");
  }
  // A comment is part of its line.
  expect_parse_error("#" + std::string(kMaxLineBytes, '#') + "\n", TraceErrorKind::kLineTooLong, 1,
                     "line longer than 1048576 bytes");
}

TEST(TraceReader, StopsReadingAnEndlessLineAtTheLimit) {
  // /dev/zero in miniature: 64 MiB without a newline after two good lines.
  CountingInput input("bump 1 0\nlen\n", '\0', std::size_t{64} << 20, false);
  std::istream in(&input);
  TraceReader reader(in);
  ASSERT_TRUE(reader.next().has_value());
  ASSERT_TRUE(reader.next().has_value());
  try {
    reader.next();
    ADD_FAILURE() << "no TraceError";
  } catch (const TraceError& e) {
    EXPECT_EQ(e.kind(), TraceErrorKind::kLineTooLong);
    EXPECT_EQ(e.line(), 3u);
  }
  // The line limit plus what one read hands out, not the 64 MiB.
  EXPECT_LE(input.handed_out(), 13 + kMaxLineBytes + 1 + 4096);
}

TEST(TraceReader, AFailedReadNamesTheLineItWasReading) {
  CountingInput input("bump 1 0\nlen\nget 1", ' ', 20, true);
  std::istream in(&input);
  TraceReader reader(in);
  ASSERT_TRUE(reader.next().has_value());
  ASSERT_TRUE(reader.next().has_value());
  try {
    reader.next();
    ADD_FAILURE() << "no TraceReadError";
  } catch (const TraceReadError& e) {
    EXPECT_EQ(e.line(), 3u);
    EXPECT_EQ(e.reason(), std::generic_category().message(EIO));
    EXPECT_EQ(std::string(e.what()), "line 3: " + e.reason());
  }
}

TEST(TraceReader, NeverReadsPastTheEndOfInputTwice) {
  // A terminal's end of input is one Ctrl-D; asking again would wait for another.
  CountingInput input("len\n", ' ', 4, false);
  std::istream in(&input);
  TraceReader reader(in);
  ASSERT_TRUE(reader.next().has_value());
  EXPECT_FALSE(reader.next().has_value());
  EXPECT_FALSE(reader.next().has_value());
  EXPECT_EQ(input.ends(), 1u);
}

TEST(TraceParserErrors, BinaryGarbageIsQuotedSafely) {
  const TraceError e = parse_error(std::string("\x01\xff\x7f", 3) + " 1\n");
  EXPECT_EQ(e.kind(), TraceErrorKind::kUnknownWord);
  EXPECT_THAT(e.detail(), HasSubstr("'\\x01\\xff\\x7f'"));
}

// --- Replay: outputs derived from SEMANTICS.md ------------------------------

TEST(Replay, PrintsTheExampleOfTheTraceFormat) {
  const std::string trace =
      "registry u64\n"
      "cap 2\n"
      "policy ratio=2.0 half_life_ns=60000000000\n"
      "bump 10 0\n"
      "bump 10 0\n"
      "tick 0\n"
      "commit\n"
      "bump 11 1000\n"
      "bump 12 2000          # evicts key 10, the oldest\n"
      "get 10\n"
      "len\n";
  EXPECT_EQ(replay_text(trace),
            "tick 0 1\n"
            "emit 10 2\n"
            "get 10 absent\n"
            "len 2\n");
}

TEST(Replay, BumpDecaysThenAddsOne) {
  // Half-life 1000 ns: each 1000 ns halves the rate.
  EXPECT_EQ(replay_text("policy half_life_ns=1000\n"
                        "bump 1 0\n"
                        "get 1\n"
                        "bump 1 1000\n"  // 1 * 0.5 + 1
                        "get 1\n"
                        "decay 1 3000\n"  // 1.5 * 0.25
                        "get 1\n"
                        "touch 2 5000\n"  // created, not bumped
                        "get 2\n"
                        "get 3\n"
                        "len\n"),
            "get 1 1 none 0\n"
            "get 1 1.5 none 1000\n"
            "get 1 0.375 none 3000\n"
            "get 2 0 none 5000\n"
            "get 3 absent\n"
            "len 2\n");
}

TEST(Replay, TouchAndDecayNeverChangeAnExistingHalfLifeOrCreate) {
  EXPECT_EQ(replay_text("policy half_life_ns=1000\n"
                        "decay 7 100\n"  // absent: never creates
                        "bump 1 0\n"
                        "touch 1 2000\n"  // present: no decay, no bump
                        "get 1\n"
                        "rollback 9\n"
                        "remove 9\n"
                        "len\n"),
            "get 1 1 none 0\n"
            "len 1\n");
}

TEST(Replay, RatesBelowEpsilonSnapToZero) {
  // 0.5^52 is f64 epsilon itself (kept); 0.5^53 is below it (zero).
  EXPECT_EQ(replay_text("policy half_life_ns=1000\n"
                        "bump 1 0\n"
                        "decay 1 52000\n"
                        "get 1\n"
                        "bump 2 0\n"
                        "decay 2 53000\n"
                        "get 2\n"),
            "get 1 2.220446049250313e-16 none 52000\n"
            "get 2 0 none 53000\n");
}

TEST(Replay, TimeGoingBackwardsDecaysNothingButMovesLastUpdate) {
  EXPECT_EQ(replay_text("policy half_life_ns=1000\n"
                        "bump 1 1000\n"
                        "bump 1 0\n"  // elapsed saturates at 0: 1 + 1
                        "get 1\n"
                        "decay 1 1000\n"  // one half-life since last_update = 0
                        "get 1\n"
                        "tick 0\n"  // backwards again: nothing decays
                        "get 1\n"),
            "get 1 2 none 0\n"
            "get 1 1 none 1000\n"
            "tick 0 1\n"
            "emit 1 1\n"
            "get 1 1 none 0\n");
}

TEST(Replay, TickSortsCandidatesByKeyNumerically) {
  EXPECT_EQ(replay_text("bump 10 0\nbump 9 0\nbump 0x10 0\ntouch 3 0\ntick 0\n"),
            "tick 0 3\n"
            "emit 9 1\n"
            "emit 10 1\n"
            "emit 16 1\n");
}

TEST(Replay, GateEmitsOnlyWhenTheRatioIsReached) {
  // Emitted 2, then 1 (2/1 reaches ratio 2: emit), then 1.5 against 1 (no),
  // then 2.5 against 1 (yes).
  EXPECT_EQ(replay_text("policy half_life_ns=1000 ratio=2\n"
                        "bump 1 0\n"
                        "bump 1 0\n"
                        "tick 0\n"
                        "commit\n"
                        "tick 1000\n"
                        "commit\n"
                        "get 1\n"
                        "bump 1 2000\n"  // 1 * 0.5 + 1
                        "tick 2000\n"
                        "get 1\n"
                        "bump 1 2000\n"
                        "tick 2000\n"),
            "tick 0 1\n"
            "emit 1 2\n"
            "tick 1000 1\n"
            "emit 1 1\n"
            "get 1 1 1 1000\n"
            "tick 2000 0\n"
            "get 1 1.5 1 2000\n"
            "tick 2000 1\n"
            "emit 1 2.5\n");
}

TEST(Replay, DisabledPolicyEmitsNothing) {
  EXPECT_EQ(replay_text("policy enabled=false\nbump 1 0\ntick 0\nget 1\n"),
            "tick 0 0\n"
            "get 1 1 none 0\n");
}

TEST(Replay, WithdrawThenCommitPrunesTheCounter) {
  // 70 half-lives is past 64: the rate is zero and the gate withdraws.
  EXPECT_EQ(replay_text("policy half_life_ns=1000\n"
                        "bump 1 0\n"
                        "bump 2 0\n"
                        "tick 0\n"
                        "commit 1\n"       // 2 never gets a last emission
                        "tick 70000\n"     // 1 withdraws; 2 has nothing to withdraw
                        "get 1\n"          // not pruned before the commit
                        "len\n"
                        "commit\n"         // records the withdrawal, then prunes 1
                        "get 1\n"
                        "get 2\n"
                        "len\n"),
            "tick 0 2\n"
            "emit 1 1\n"
            "emit 2 1\n"
            "tick 70000 1\n"
            "withdraw 1\n"
            "get 1 0 1 70000\n"
            "len 2\n"
            "get 1 absent\n"
            "get 2 0 none 70000\n"
            "len 1\n");
}

TEST(Replay, PartialCommitRecordsOnlyTheNamedKeys) {
  EXPECT_EQ(replay_text("bump 1 0\n"
                        "bump 2 0\n"
                        "tick 0\n"
                        "commit 2 99\n"  // 99 had no candidate: ignored
                        "get 1\n"
                        "get 2\n"
                        "tick 0\n"),  // inflight off: 1 is a candidate again, 2 is not
            "tick 0 2\n"
            "emit 1 1\n"
            "emit 2 1\n"
            "get 1 1 none 0\n"
            "get 2 1 1 0\n"
            "tick 0 1\n"
            "emit 1 1\n");
}

TEST(Replay, CommitBeforeAnyTickCommitsNothing) {
  EXPECT_EQ(replay_text("commit\ncommit 1\nbump 1 0\ncommit\nget 1\nlen\n"),
            "get 1 1 none 0\n"
            "len 1\n");
}

TEST(Replay, InFlightOnSkipsMarkedKeysUntilCommitOrRollback) {
  EXPECT_EQ(replay_text("inflight on\n"
                        "bump 1 0\n"
                        "bump 2 0\n"
                        "tick 0\n"
                        "tick 0\n"  // both in flight: skipped
                        "rollback 1\n"
                        "tick 0\n"  // 1 is back; its candidate replaces the last tick
                        "commit\n"  // commits 1 only: 2 stays in flight
                        "bump 1 0\n"
                        "bump 2 0\n"
                        "tick 0\n"),  // 1: 2 vs 1 emits; 2 still in flight
            "tick 0 2\n"
            "emit 1 1\n"
            "emit 2 1\n"
            "tick 0 0\n"
            "tick 0 1\n"
            "emit 1 1\n"
            "tick 0 1\n"
            "emit 1 2\n");
}

TEST(Replay, InFlightOffReturnsCandidatesEveryTick) {
  EXPECT_EQ(replay_text("inflight off\nbump 1 0\ntick 0\ntick 0\n"),
            "tick 0 1\n"
            "emit 1 1\n"
            "tick 0 1\n"
            "emit 1 1\n");
}

TEST(Replay, BlobRegistryTracksInFlightByDefaultAndPrintsLowercase) {
  const std::string upper(64, 'A');
  EXPECT_EQ(replay_text("registry blob\n"
                        "bump " + upper + " 0\n"
                        "bump " + kBlobOne + " 0\n"
                        "tick 0\n"
                        "commit " + kBlobA + "\n"  // clears aa..'s mark only
                        "tick 0\n"  // aa..: 1 against 1, no; 00..01 in flight: skipped
                        "get " + upper + "\n"
                        "get " + kBlobOne + "\n"
                        "remove " + kBlobA + "\n"
                        "len\n"),
            "tick 0 2\n"
            "emit " + kBlobOne + " 1\n"
            "emit " + kBlobA + " 1\n"
            "tick 0 0\n"
            "get " + kBlobA + " 1 1 0\n"
            "get " + kBlobOne + " 1 none 0\n"
            "len 1\n");
}

TEST(Replay, BlobRegistryWithInFlightOff) {
  EXPECT_EQ(replay_text("registry blob\ninflight off\nbump " + kBlobA + " 0\ntick 0\ntick 0\n"),
            "tick 0 1\n"
            "emit " + kBlobA + " 1\n"
            "tick 0 1\n"
            "emit " + kBlobA + " 1\n");
}

TEST(Replay, EvictsTheOldestLastUpdateFirst) {
  // Key 2 was bumped last, but at the earliest time: it goes first.
  EXPECT_EQ(replay_text("cap 2\nbump 1 100\nbump 2 50\nbump 3 200\nget 1\nget 2\nlen\n"),
            "get 1 1 none 100\n"
            "get 2 absent\n"
            "len 2\n");
  // A direct decay moves last_update: key 1 is now newer than key 2.
  EXPECT_EQ(replay_text("cap 2\npolicy half_life_ns=10\n"
                        "bump 1 0\nbump 2 10\ndecay 1 20\nbump 3 30\nget 1\nget 2\n"),
            "get 1 0.25 none 20\n"
            "get 2 absent\n");
}

TEST(Replay, EvictionTiesGoToTheEarliestBump) {
  // Same last_update: key 1 was created first.
  EXPECT_EQ(replay_text("cap 2\nbump 1 0\nbump 2 0\nbump 3 0\nget 1\nget 2\nget 3\n"),
            "get 1 absent\n"
            "get 2 1 none 0\n"
            "get 3 1 none 0\n");
  // After a tick every last_update is 10, so only the bump order is left:
  // key 2's last bump (at 5) is older than key 1's (at 7). Half-life 1 ns
  // keeps the rates exact: 1 * 0.5^7 + 1 = 1.0078125, then * 0.5^3 at the tick.
  EXPECT_EQ(replay_text("cap 2\npolicy enabled=false half_life_ns=1\n"
                        "bump 1 0\nbump 2 5\nbump 1 7\ntick 10\nbump 3 10\n"
                        "get 1\nget 2\nget 3\n"),
            "tick 10 0\n"
            "get 1 0.1259765625 none 10\n"
            "get 2 absent\n"
            "get 3 1 none 10\n");
}

TEST(Replay, TouchCreatesAnEntryThatCanBeEvicted) {
  EXPECT_EQ(replay_text("cap 1\ntouch 1 0\ntouch 2 0\nget 1\nget 2\n"),
            "get 1 absent\n"
            "get 2 0 none 0\n");
}

TEST(Replay, CapZeroIsUnboundedAndMaxCapClampsIt) {
  std::string trace = "cap 0\n";
  for (int k = 0; k < 20000; ++k) trace += "touch " + std::to_string(k) + " 0\n";
  trace += "len\n";
  EXPECT_EQ(replay_text(trace), "len 20000\n");
  ReplayOptions small;
  small.max_cap = 16;
  EXPECT_EQ(replay_text(trace, small), "len 16\n");
}

TEST(Replay, StopsBeforeAMalformedLineKeepingEarlierOutput) {
  const Failure f = replay_failure("bump 1 0\ntick 0\nlen\nbump 1\nlen\n");
  EXPECT_EQ(f.error.kind(), TraceErrorKind::kMissingField);
  EXPECT_EQ(f.error.line(), 4u);
  EXPECT_EQ(f.output, "tick 0 1\nemit 1 1\nlen 1\n");
}

TEST(Replay, StopsAtALongLineKeepingEarlierOutput) {
  std::istringstream in("bump 1 0\ntick 0\nget " + std::string(2 * kMaxLineBytes, '1') + "\nlen\n");
  std::ostringstream out;
  try {
    replay(in, out);
    ADD_FAILURE() << "no TraceError";
  } catch (const TraceError& e) {
    EXPECT_EQ(e.kind(), TraceErrorKind::kLineTooLong);
    EXPECT_STREQ(e.what(), "line 3: line longer than 1048576 bytes");
  }
  EXPECT_EQ(out.str(), "tick 0 1\nemit 1 1\n");
}

TEST(Replay, StopsAtAFailedReadKeepingEarlierOutput) {
  CountingInput input("bump 1 0\ntick 0\nlen", ' ', 19, true);
  std::istream in(&input);
  std::ostringstream out;
  EXPECT_THROW(replay(in, out), TraceReadError);
  EXPECT_EQ(out.str(), "tick 0 1\nemit 1 1\n");  // `len` was cut short: it never ran
}

TEST(Replay, StopsReadingOnceTheOutputFails) {
  std::string trace;
  for (int i = 0; i < 100000; ++i) trace += "len\n";
  std::istringstream in(trace);
  FullOutput full;
  std::ostream out(&full);
  replay(in, out);
  EXPECT_TRUE(out.bad());
  // The first answer failed; at most a few more lines were read, not all 100000.
  EXPECT_LT(in.rdbuf()->pubseekoff(0, std::ios::cur, std::ios::in), 100);
}

TEST(Replay, HeaderErrorsPrintNothing) {
  const Failure f = replay_failure("cap 2\npolicy ratio=0.5\nbump 1 0\nlen\n");
  EXPECT_EQ(f.error.kind(), TraceErrorKind::kInvalidPolicy);
  EXPECT_EQ(f.error.line(), 2u);
  EXPECT_EQ(f.output, "");
}

TEST(Replay, UnknownBackendFailsBeforeReadingTheTrace) {
  std::istringstream in("bump 1 0\n");
  std::ostringstream out;
  ReplayOptions options;
  options.backend = "no-such-backend";
  EXPECT_THROW(replay(in, out, options), UnknownBackend);
  EXPECT_EQ(in.tellg(), 0);
}

TEST(Replay, EveryAvailableBackendPrintsTheSameAnswers) {
  std::size_t available = 0;
  for (const BackendInfo& b : list_backends()) available += b.available ? 1 : 0;
  if (available < 2) GTEST_SKIP() << "only one backend can run here";
  const std::string trace =
      "cap 3\npolicy half_life_ns=1000\n"
      "bump 1 0\nbump 1 0\nbump 2 500\nbump 3 1000\ntick 1000\ncommit\n"
      "bump 4 2000\ntick 70000\ncommit 2\nget 1\nget 2\nget 3\nget 4\nlen\n";
  ReplayOptions reference;
  reference.backend = "scalar";  // the reference backend: every other must agree with it
  const std::string expected = replay_text(trace, reference);
  for (const BackendInfo& b : list_backends()) {
    if (!b.available || b.name == reference.backend) continue;
    ReplayOptions options;
    options.backend = b.name;
    EXPECT_EQ(replay_text(trace, options), expected) << b.name;
  }
}

TEST(FormatNumber, PrintsTheShortestRoundTripForm) {
  EXPECT_EQ(format_number(2.0), "2");
  EXPECT_EQ(format_number(0.375), "0.375");
  EXPECT_EQ(format_number(0.1), "0.1");
  EXPECT_EQ(format_number(2.220446049250313e-16), "2.220446049250313e-16");
  EXPECT_EQ(std::stod(format_number(1.0 / 3.0)), 1.0 / 3.0);
}

}  // namespace
}  // namespace heatkit::trace
