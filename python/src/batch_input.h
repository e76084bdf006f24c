// bump_batch's inputs: keys and times from numpy arrays, read in place when
// their memory already has the layout the registry takes (a contiguous
// uint64 array; a C-ordered (n, 32) uint8 array), copied otherwise. Errors
// name the argument and say what it must be.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "bindings.h"

namespace heatkit::python {

template <class Key>
struct KeyBatch {
  std::span<const Key> keys;
  std::vector<Key> copy;  // where keys points when the input could not be read in place
  nb::object source;      // keeps the array keys may point into alive
};

// A 1-D numpy uint64 array, or a sequence of ints.
KeyBatch<std::uint64_t> u64_batch(nb::handle keys);
// An (n, 32) numpy uint8 array, or a sequence of 32-byte keys.
KeyBatch<BlobKey> blob_batch(nb::handle keys);

template <class Key>
KeyBatch<Key> key_batch(nb::handle keys) {
  if constexpr (std::is_same_v<Key, BlobKey>) {
    return blob_batch(keys);
  } else {
    return u64_batch(keys);
  }
}

// One instant for the batch, or an instant per key.
struct TimeBatch {
  std::optional<std::int64_t> one;
  std::span<const std::int64_t> each;
  std::vector<std::int64_t> copy;
  nb::object source;
};

// An int, or a 1-D int64 array (or sequence of ints) of `n` times, each in
// [0, 2**63 - 1].
TimeBatch time_batch(nb::handle now_ns, std::size_t n);

}  // namespace heatkit::python
