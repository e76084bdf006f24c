// Appending to a vector without throwing, for passes that must not stop part
// way when memory runs out (a tick: it changes counters as it goes, so it
// runs on over every one and reports that its list is incomplete instead).
#pragma once

#include <vector>

namespace heatkit {

// v.push_back(x); false, with `v` as it was, when that throws (no memory).
template <class T, class Alloc>
bool try_push_back(std::vector<T, Alloc>& v, const T& x) noexcept {
  try {
    v.push_back(x);
    return true;
  } catch (...) {
    return false;
  }
}

// v.insert(v.end(), first, last); false, with `v` as it was, when that throws.
template <class T, class Alloc>
bool try_append(std::vector<T, Alloc>& v, const T* first, const T* last) noexcept {
  try {
    v.insert(v.end(), first, last);
    return true;
  } catch (...) {
    return false;
  }
}

}  // namespace heatkit
