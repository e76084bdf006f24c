#include "tools/trace.h"

#include <charconv>
#include <cstdio>
#include <limits>
#include <sstream>
#include <streambuf>
#include <system_error>
#include <utility>

namespace heatkit::trace {
namespace {

constexpr std::int64_t kMaxTime = std::numeric_limits<std::int64_t>::max();

// A field quoted for an error message: non-printable bytes escaped, long
// fields shortened, so a binary trace cannot garble the terminal.
std::string quoted(std::string_view field) {
  constexpr std::size_t kMaxShown = 72;
  std::string out = "'";
  for (std::size_t i = 0; i < field.size() && i < kMaxShown; ++i) {
    const auto c = static_cast<unsigned char>(field[i]);
    if (c >= 0x20 && c < 0x7f && c != '\\') {
      out += static_cast<char>(c);
    } else {
      char escaped[8];
      std::snprintf(escaped, sizeof escaped, "\\x%02x", c);
      out += escaped;
    }
  }
  if (field.size() > kMaxShown) out += "...";
  out += "'";
  return out;
}

bool is_separator(char c) { return c == ' ' || c == '\t' || c == '\r'; }

// Splits a line into fields, dropping the comment.
void split_fields(std::string_view line, std::vector<std::string_view>& fields) {
  fields.clear();
  line = line.substr(0, line.find('#'));
  std::size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && is_separator(line[i])) ++i;
    const std::size_t start = i;
    while (i < line.size() && !is_separator(line[i])) ++i;
    if (i > start) fields.push_back(line.substr(start, i - start));
  }
}

// Parses all of `text` as an unsigned integer in `base`; false when it is not one.
// Sets `overflow` when it is one that does not fit.
bool parse_unsigned(std::string_view text, int base, std::uint64_t& value, bool& overflow) {
  overflow = false;
  if (text.empty()) return false;
  const char* end = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(text.data(), end, value, base);
  if (ptr != end) return false;
  if (ec == std::errc::result_out_of_range) {
    overflow = true;
    return true;
  }
  return ec == std::errc();
}

bool is_digits(std::string_view text) {
  if (text.empty()) return false;
  for (const char c : text) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::int64_t parse_time(std::string_view field, std::size_t line) {
  std::uint64_t value = 0;
  bool overflow = false;
  // "-5" is a number outside the range; "-0" and "-x" are no time at all.
  const bool negative = field.size() > 1 && field[0] == '-' && is_digits(field.substr(1)) &&
                        field.find_first_not_of('0', 1) != std::string_view::npos;
  if (negative || (parse_unsigned(field, 10, value, overflow) &&
                   (overflow || value > static_cast<std::uint64_t>(kMaxTime)))) {
    throw TraceError(TraceErrorKind::kOutOfRange, line,
                     "time " + quoted(field) + " is out of range [0, 9223372036854775807]");
  }
  if (!is_digits(field)) {
    throw TraceError(TraceErrorKind::kBadNumber, line,
                     "bad time " + quoted(field) + ": expected a decimal integer of nanoseconds");
  }
  return static_cast<std::int64_t>(value);
}

std::uint64_t parse_u64_key(std::string_view field, std::size_t line) {
  const bool hex = field.size() > 2 && field[0] == '0' && (field[1] == 'x' || field[1] == 'X');
  const std::string_view digits = hex ? field.substr(2) : field;
  std::uint64_t value = 0;
  bool overflow = false;
  // from_chars would accept a sign for neither base, but it does skip nothing:
  // still check the digits so "0x-1" or "+5" cannot slip through.
  bool ok = !digits.empty();
  for (const char c : digits) ok = ok && (hex ? hex_value(c) >= 0 : (c >= '0' && c <= '9'));
  if (ok) ok = parse_unsigned(digits, hex ? 16 : 10, value, overflow);
  if (!ok) {
    throw TraceError(TraceErrorKind::kBadKey, line,
                     "bad u64 key " + quoted(field) + ": expected decimal or 0x-prefixed hex");
  }
  if (overflow) {
    throw TraceError(TraceErrorKind::kOutOfRange, line,
                     "u64 key " + quoted(field) + " is out of range [0, 2^64-1]");
  }
  return value;
}

BlobKey parse_blob_key(std::string_view field, std::size_t line) {
  BlobKey key{};
  bool ok = field.size() == 2 * key.size();
  for (std::size_t i = 0; ok && i < key.size(); ++i) {
    const int hi = hex_value(field[2 * i]);
    const int lo = hex_value(field[2 * i + 1]);
    ok = hi >= 0 && lo >= 0;
    if (ok) key[i] = static_cast<std::uint8_t>(hi * 16 + lo);
  }
  if (!ok) {
    throw TraceError(TraceErrorKind::kBadKey, line,
                     "bad blob key " + quoted(field) + ": expected exactly 64 hex digits");
  }
  return key;
}

TraceKey parse_key(KeyKind kind, std::string_view field, std::size_t line) {
  if (kind == KeyKind::kU64) return parse_u64_key(field, line);
  return parse_blob_key(field, line);
}

// The fields a line's word takes, for messages: "bump KEY T".
struct Shape {
  std::string_view word;
  std::string_view usage;  // the fields after the word
};

[[noreturn]] void throw_missing(const Shape& shape, std::string_view missing, std::size_t line) {
  throw TraceError(TraceErrorKind::kMissingField, line,
                   "'" + std::string(shape.word) + "' needs " + std::string(shape.usage) +
                       ": missing " + std::string(missing));
}

void expect_field_count(const Shape& shape, const std::vector<std::string_view>& fields,
                        std::size_t count, std::initializer_list<std::string_view> names,
                        std::size_t line) {
  // fields[0] is the word itself.
  if (fields.size() < count + 1) throw_missing(shape, *(names.begin() + (fields.size() - 1)), line);
  if (fields.size() > count + 1) {
    throw TraceError(TraceErrorKind::kExtraField, line,
                     "'" + std::string(shape.word) + "' takes " +
                         (shape.usage.empty() ? std::string("no fields")
                                              : std::string(shape.usage)) +
                         ": unexpected extra field " + quoted(fields[count + 1]));
  }
}

void check_duplicate(std::size_t& seen_line, std::string_view word, std::size_t line) {
  if (seen_line != 0) {
    throw TraceError(TraceErrorKind::kDuplicateHeader, line,
                     "duplicate header '" + std::string(word) + "' (first given on line " +
                         std::to_string(seen_line) + ")");
  }
  seen_line = line;
}

Policy parse_policy(const std::vector<std::string_view>& fields, std::size_t line) {
  Policy policy;
  bool seen_enabled = false, seen_ratio = false, seen_half_life = false;
  for (std::size_t i = 1; i < fields.size(); ++i) {
    const std::string_view field = fields[i];
    const std::size_t eq = field.find('=');
    const std::string_view name = field.substr(0, eq);
    const std::string_view value = eq == std::string_view::npos ? "" : field.substr(eq + 1);
    auto mark_seen = [&](bool& seen) {
      if (seen) {
        throw TraceError(TraceErrorKind::kDuplicatePolicyField, line,
                         "duplicate policy field '" + std::string(name) + "'");
      }
      seen = true;
    };
    const bool known = name == "enabled" || name == "ratio" || name == "half_life_ns";
    if (!known || eq == std::string_view::npos) {
      throw TraceError(TraceErrorKind::kUnknownPolicyField, line,
                       (known ? "policy field " + quoted(field) + " needs NAME=VALUE"
                              : "unknown policy field " + quoted(field)) +
                           " (expected enabled=B, ratio=R, half_life_ns=H)");
    }
    if (name == "enabled") {
      mark_seen(seen_enabled);
      if (value != "true" && value != "false") {
        throw TraceError(TraceErrorKind::kBadValue, line,
                         "policy enabled=" + quoted(value) + ": expected true or false");
      }
      policy.enabled = value == "true";
    } else if (name == "ratio") {
      mark_seen(seen_ratio);
      float ratio = 0.0f;
      const char* end = value.data() + value.size();
      const auto [ptr, ec] = std::from_chars(value.data(), end, ratio);
      if (value.empty() || ptr != end || ec == std::errc::invalid_argument) {
        throw TraceError(TraceErrorKind::kBadNumber, line,
                         "bad policy ratio " + quoted(value) + ": expected a number");
      }
      if (ec == std::errc::result_out_of_range) {
        throw TraceError(TraceErrorKind::kOutOfRange, line,
                         "policy ratio " + quoted(value) + " does not fit in an f32");
      }
      policy.emit_threshold_ratio = ratio;
    } else {
      mark_seen(seen_half_life);
      std::int64_t ns = 0;
      const char* end = value.data() + value.size();
      const auto [ptr, ec] = std::from_chars(value.data(), end, ns);
      if (value.empty() || ptr != end || ec == std::errc::invalid_argument) {
        throw TraceError(TraceErrorKind::kBadNumber, line,
                         "bad policy half_life_ns " + quoted(value) +
                             ": expected an integer of nanoseconds");
      }
      if (ec == std::errc::result_out_of_range) {
        throw TraceError(TraceErrorKind::kOutOfRange, line,
                         "policy half_life_ns " + quoted(value) +
                             " is out of range [1, 9223372036854775807]");
      }
      policy.decay_half_life = Duration(ns);
    }
  }
  if (const auto error = validate(policy)) {
    throw TraceError(TraceErrorKind::kInvalidPolicy, line, "invalid policy: " + error->message());
  }
  return policy;
}

constexpr std::string_view kByteOrderMark = "\xEF\xBB\xBF";

bool is_header_word(std::string_view word) {
  return word == "registry" || word == "cap" || word == "inflight" || word == "policy";
}

}  // namespace

TraceError::TraceError(TraceErrorKind kind, std::size_t line, const std::string& detail)
    : std::runtime_error("line " + std::to_string(line) + ": " + detail),
      kind_(kind),
      line_(line),
      detail_(detail) {}

TraceReadError::TraceReadError(std::size_t line, const std::string& reason)
    : std::runtime_error("line " + std::to_string(line) + ": " + reason),
      line_(line),
      reason_(reason) {}

const TraceHeader& TraceReader::header() {
  if (!header_done_) {
    pending_ = read_operation();
    header_done_ = true;
  }
  return header_;
}

std::optional<Operation> TraceReader::next() {
  header();
  if (pending_) return std::exchange(pending_, std::nullopt);
  return read_operation();
}

bool TraceReader::read_line() {
  text_.clear();
  std::streambuf* const in = in_.rdbuf();
  if (at_end_ || in == nullptr) return false;
  using traits = std::streambuf::traits_type;
  try {
    for (int c = in->sbumpc(); c != traits::eof(); c = in->sbumpc()) {
      if (c == '\n') return true;
      if (text_.size() == kMaxLineBytes) {
        throw TraceError(TraceErrorKind::kLineTooLong, line_ + 1,
                         "line longer than " + std::to_string(kMaxLineBytes) + " bytes");
      }
      text_.push_back(traits::to_char_type(c));
    }
  } catch (const std::system_error& e) {
    throw TraceReadError(line_ + 1, e.code().message());
  }
  at_end_ = true;
  return !text_.empty();  // a last line without '\n' is a line
}

std::optional<Operation> TraceReader::read_operation() {
  std::vector<std::string_view> fields;
  while (read_line()) {
    ++line_;
    if (line_ == 1 && text_.starts_with(kByteOrderMark)) text_.erase(0, kByteOrderMark.size());
    split_fields(text_, fields);
    if (fields.empty()) continue;
    const std::string_view word = fields[0];
    if (is_header_word(word)) {
      if (header_done_) {
        throw TraceError(TraceErrorKind::kHeaderAfterOperation, line_,
                         "header '" + std::string(word) +
                             "' after the first operation (headers come first)");
      }
      parse_header_line(word, fields);
      continue;
    }
    return parse_operation(word, fields);
  }
  return std::nullopt;
}

void TraceReader::parse_header_line(std::string_view word, std::vector<std::string_view>& fields) {
  if (word == "registry") {
    const Shape shape{"registry", "u64 or blob"};
    check_duplicate(registry_line_, word, line_);
    expect_field_count(shape, fields, 1, {"the key type"}, line_);
    if (fields[1] == "u64") {
      header_.key_kind = KeyKind::kU64;
    } else if (fields[1] == "blob") {
      header_.key_kind = KeyKind::kBlob;
    } else {
      throw TraceError(TraceErrorKind::kBadValue, line_,
                       "registry " + quoted(fields[1]) + ": expected u64 or blob");
    }
  } else if (word == "cap") {
    const Shape shape{"cap", "N"};
    check_duplicate(cap_line_, word, line_);
    expect_field_count(shape, fields, 1, {"N"}, line_);
    std::uint64_t cap = 0;
    bool overflow = false;
    if (!is_digits(fields[1]) || !parse_unsigned(fields[1], 10, cap, overflow)) {
      throw TraceError(TraceErrorKind::kBadNumber, line_,
                       "bad cap " + quoted(fields[1]) + ": expected a decimal integer");
    }
    if (overflow || cap > std::numeric_limits<std::size_t>::max()) {
      throw TraceError(TraceErrorKind::kOutOfRange, line_,
                       "cap " + quoted(fields[1]) + " is out of range [0, " +
                           std::to_string(std::numeric_limits<std::size_t>::max()) + "]");
    }
    header_.cap = static_cast<std::size_t>(cap);
  } else if (word == "inflight") {
    const Shape shape{"inflight", "on or off"};
    check_duplicate(inflight_line_, word, line_);
    expect_field_count(shape, fields, 1, {"on or off"}, line_);
    if (fields[1] != "on" && fields[1] != "off") {
      throw TraceError(TraceErrorKind::kBadValue, line_,
                       "inflight " + quoted(fields[1]) + ": expected on or off");
    }
    header_.track_in_flight = fields[1] == "on";
  } else {  // policy
    check_duplicate(policy_line_, word, line_);
    header_.policy = parse_policy(fields, line_);
  }
}

Operation TraceReader::parse_operation(std::string_view word,
                                       std::vector<std::string_view>& fields) {
  Operation op;
  op.line = line_;
  const KeyKind key_kind = header_.key_kind;
  if (word == "bump" || word == "touch" || word == "decay") {
    op.kind = word == "bump" ? OpKind::kBump : word == "touch" ? OpKind::kTouch : OpKind::kDecay;
    expect_field_count(Shape{word, "KEY T"}, fields, 2, {"KEY", "T"}, line_);
    op.keys.push_back(parse_key(key_kind, fields[1], line_));
    op.time = parse_time(fields[2], line_);
  } else if (word == "tick") {
    op.kind = OpKind::kTick;
    expect_field_count(Shape{word, "T"}, fields, 1, {"T"}, line_);
    op.time = parse_time(fields[1], line_);
  } else if (word == "commit") {
    op.kind = OpKind::kCommit;
    op.keys.reserve(fields.size() - 1);
    for (std::size_t i = 1; i < fields.size(); ++i) {
      op.keys.push_back(parse_key(key_kind, fields[i], line_));
    }
  } else if (word == "rollback" || word == "remove" || word == "get") {
    op.kind = word == "rollback" ? OpKind::kRollback
              : word == "remove" ? OpKind::kRemove
                                 : OpKind::kGet;
    expect_field_count(Shape{word, "KEY"}, fields, 1, {"KEY"}, line_);
    op.keys.push_back(parse_key(key_kind, fields[1], line_));
  } else if (word == "len") {
    op.kind = OpKind::kLen;
    expect_field_count(Shape{word, ""}, fields, 0, {}, line_);
  } else {
    throw TraceError(TraceErrorKind::kUnknownWord, line_,
                     "unknown word " + quoted(word) +
                         " (expected registry, cap, inflight, policy, bump, touch, decay, tick, "
                         "commit, rollback, remove, get or len)");
  }
  return op;
}

ParsedTrace parse_trace(std::string_view text) {
  std::istringstream in{std::string(text)};
  TraceReader reader(in);
  ParsedTrace parsed;
  parsed.header = reader.header();
  while (auto op = reader.next()) parsed.operations.push_back(std::move(*op));
  return parsed;
}

std::string format_key(const TraceKey& key) {
  if (const auto* u64 = std::get_if<std::uint64_t>(&key)) return std::to_string(*u64);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (const std::uint8_t byte : std::get<BlobKey>(key)) {
    out += kHex[byte >> 4];
    out += kHex[byte & 0x0f];
  }
  return out;
}

}  // namespace heatkit::trace
