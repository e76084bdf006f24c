#include "registry/key_hash.h"

#include <sys/random.h>

#include <cerrno>
#include <system_error>

namespace heatkit {

std::uint64_t random_hash_seed() {
  std::uint64_t seed = 0;
  auto* bytes = reinterpret_cast<unsigned char*>(&seed);
  std::size_t got = 0;
  while (got < sizeof seed) {
    const ssize_t n = getrandom(bytes + got, sizeof seed - got, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw std::system_error(errno, std::generic_category(), "hash seed: getrandom");
    }
    got += static_cast<std::size_t>(n);
  }
  return seed;
}

}  // namespace heatkit
