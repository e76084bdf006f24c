// The keyed hash of the registry's keys: where a key lives in the slot index
// and in which shard of a ConcurrentHeatRegistry.
//
// Keys come from peers nobody vouches for, so the hash is keyed by a secret
// drawn from the OS per registry (RegistryOptions::hash_seed fixes it): an
// attacker who cannot see the secret cannot choose keys that share a bucket
// or a shard. The function is rapidhash's (github.com/Nicoshev/rapidhash, a
// successor of wyhash) for the two key sizes, with its mixing step in the
// "protected" form and every secret drawn from the seed; docs/ARCHITECTURE.md
// ("Keyed hashing") says why this function and what it costs per bump.
#pragma once

#include <array>
#include <cstdint>
#include <cstring>

#include "math/random.h"
#include <heatkit/registry.h>  // BlobKey

namespace heatkit {

// 64 bits from the OS's random source (getrandom(2)); throws std::system_error
// when the OS gives none.
std::uint64_t random_hash_seed();

class KeyHash {
 public:
  explicit KeyHash(std::uint64_t seed) noexcept : seed_(seed) {
    // rapidhash draws its secrets from a fixed table and mixes only the
    // seed in; here every secret comes from the seed, so none is public.
    for (std::size_t i = 0; i < secret_.size(); ++i) {
      secret_[i] = mix64(seed + 0x9e3779b97f4a7c15ULL * (i + 1));
    }
    premixed_ = seed ^ fold(seed ^ secret_[0], secret_[1]);
    // rapidhash xors the length into both; done once here.
    premixed8_ = premixed_ ^ 8;
    final8_ = secret_[0] ^ 8;
  }

  std::uint64_t seed() const noexcept { return seed_; }

  // rapidhash of the key's 8 little-endian bytes.
  std::uint64_t operator()(std::uint64_t key) const noexcept {
    std::uint64_t a = ((key << 32) | (key >> 32)) ^ secret_[1];
    std::uint64_t b = key ^ premixed8_;
    multiply(a, b);
    return fold(a ^ final8_, b ^ secret_[1]);
  }

  // rapidhash of the key's 32 bytes (two 16-byte rounds).
  std::uint64_t operator()(const BlobKey& key) const noexcept {
    std::uint64_t w[4];
    std::memcpy(w, key.data(), sizeof w);
    const std::uint64_t s = premixed_ ^ 32;
    const std::uint64_t mixed = fold(w[0] ^ secret_[2], w[1] ^ s ^ secret_[1]);
    std::uint64_t a = w[2] ^ secret_[1];
    std::uint64_t b = w[3] ^ mixed;
    multiply(a, b);
    return fold(a ^ secret_[0] ^ 32, b ^ secret_[1]);
  }

 private:
  // (a, b) ^= the low and high halves of a * b. Xoring the product back in
  // (rapidhash's protected form) keeps both inputs' bits where one factor
  // is zero, which a plain product would erase.
  __extension__ using Product = unsigned __int128;  // GCC's and Clang's; x86-64 and AArch64 have it
  static void multiply(std::uint64_t& a, std::uint64_t& b) noexcept {
    const Product product = static_cast<Product>(a) * b;
    a ^= static_cast<std::uint64_t>(product);
    b ^= static_cast<std::uint64_t>(product >> 64);
  }
  static std::uint64_t fold(std::uint64_t a, std::uint64_t b) noexcept {
    multiply(a, b);
    return a ^ b;
  }

  std::uint64_t seed_;
  std::uint64_t premixed_;
  std::uint64_t premixed8_;
  std::uint64_t final8_;
  std::array<std::uint64_t, 3> secret_;
};

// `key`'s hash under `h`, given `hash`, which was made under the secret
// `seed` ahead of time (a batch's look-ahead, a queued or sharded read):
// that one while `h` still has that secret, else made again (the index has
// been rehashed under a fresh one since).
template <class Hasher, class Key>
std::uint64_t hash_under(const Hasher& h, const Key& key, std::uint64_t hash,
                         std::uint64_t seed) noexcept {
  return h.seed() == seed ? hash : h(key);
}

}  // namespace heatkit
