// What the emission gate decides for one counter (SEMANTICS.md "Emission gate").
#pragma once

#include <cstdint>

namespace heatkit {

// Values are stable: candidate lists and device buffers store them as bytes.
enum class Decision : std::uint8_t { kSuppress = 0, kEmit = 1, kWithdraw = 2 };

}  // namespace heatkit
