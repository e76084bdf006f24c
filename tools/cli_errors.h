// The CLI's kinds of failure that are not bugs, shared by the commands
// and by the code the Python package reuses (tools/simulate_options.h): no
// CLI11 here.
#pragma once

#include <stdexcept>

namespace heatkit::cli {

// Bad input that is the user's (an out-of-range number, an invalid policy, an
// unknown backend, a malformed trace): main prints "error: WHAT" on stderr
// and exits with kExitUsage.
class UsageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Input that could not be read at all (a read error from the system, not bad
// content): main prints "error: WHAT" on stderr and exits with kExitInputFailed.
class InputError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Output other than standard output that could not be written (a snapshot
// `heatkit simulate` saves): main prints "error: WHAT" on stderr and exits
// with kExitOutputFailed.
class OutputError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A run that ran out of memory although its estimate let it start: main
// prints "error: WHAT" and exits with kExitFailure; Python sees MemoryError.
class OutOfMemory : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace heatkit::cli
