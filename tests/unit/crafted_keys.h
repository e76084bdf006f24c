// Keys an attacker would choose: sets whose hashes collide under an unkeyed
// function (mix64, which the index once used as is) or under the keyed one
// with a secret the attacker knows. Shared by the hostile-key and batch tests.
#pragma once

#include <cstdint>
#include <cstring>
#include <vector>

#include "registry/key_hash.h"
#include "math/random.h"

namespace heatkit::test {

constexpr std::uint64_t inverse_mod_2_64(std::uint64_t odd) {
  std::uint64_t x = odd;  // Newton: each step doubles the correct low bits
  for (int i = 0; i < 6; ++i) x *= 2 - odd * x;
  return x;
}
constexpr std::uint64_t undo_xorshift(std::uint64_t y, int shift) {
  std::uint64_t x = y;  // x = y ^ (x >> shift) settles after 64 / shift rounds
  for (int i = 0; i < 64; i += shift) x = y ^ (x >> shift);
  return x;
}
// mix64 undone: the input whose mix64 is `hash`.
constexpr std::uint64_t unmix64(std::uint64_t hash) {
  std::uint64_t x = undo_xorshift(hash, 31);
  x *= inverse_mod_2_64(0x94d049bb133111ebULL);
  x = undo_xorshift(x, 27);
  x *= inverse_mod_2_64(0xbf58476d1ce4e5b9ULL);
  return undo_xorshift(x, 30);
}
static_assert(mix64(unmix64(0x0123456789abcdefULL)) == 0x0123456789abcdefULL);

// A Hasher (registry.h) that is mix64 of the key whatever its secret: the
// unkeyed function, for tests that place keys by undoing it.
struct UnkeyedMix64 {
  explicit UnkeyedMix64(std::uint64_t seed) : seed_(seed) {}
  std::uint64_t seed() const noexcept { return seed_; }
  std::uint64_t operator()(std::uint64_t key) const noexcept { return mix64(key); }
  std::uint64_t operator()(const BlobKey& key) const noexcept {
    std::uint64_t h = 0;
    for (std::size_t i = 0; i < key.size(); i += 8) {
      std::uint64_t word;
      std::memcpy(&word, key.data() + i, sizeof word);
      h = mix64(h ^ word);
    }
    return h;
  }
  std::uint64_t seed_;
};

// `n` (at most 65,536) u64 keys whose mix64 agree in the low 32 bits (one
// home bucket in any index up to 2^32 buckets) and the top 16 (one shard of
// any concurrent registry), differing only in bits 32..47.
inline std::vector<std::uint64_t> keys_colliding_under_mix64(std::size_t n) {
  std::vector<std::uint64_t> keys;
  for (std::uint64_t i = 0; i < n; ++i) {
    keys.push_back(unmix64(0xA5A5'0000'0000'0000ULL | i << 32 | 0x1234'5678ULL));
  }
  return keys;
}

// The same for blob keys under the unkeyed chain of mix64 over the four
// words: three words free, the last chosen to reach the wanted hash.
inline std::vector<BlobKey> blobs_colliding_under_mix64(std::size_t n) {
  std::vector<BlobKey> keys;
  for (std::uint64_t i = 0; i < n; ++i) {
    std::uint64_t w[4] = {mix64(i + 1), i, 0xB10B, 0};
    std::uint64_t h = 0;
    for (int k = 0; k < 3; ++k) h = mix64(h ^ w[k]);
    w[3] = h ^ unmix64(0xA5A5'0000'0000'0000ULL | i << 32 | 0x1234'5678ULL);
    BlobKey key;
    std::memcpy(key.data(), w, sizeof w);
    keys.push_back(key);
  }
  return keys;
}

// `n` keys whose hashes under `hash` (whose secret the attacker knows) agree
// in the low `bits` bits, found by trying keys in turn: about 2^bits tries a
// key.
template <class Key>
std::vector<Key> keys_colliding_under(const KeyHash& hash, int bits, std::size_t n) {
  const std::uint64_t mask = (std::uint64_t{1} << bits) - 1;
  std::vector<Key> keys;
  for (std::uint64_t candidate = 0; keys.size() < n; ++candidate) {
    Key key{};
    if constexpr (sizeof(Key) == 8) {
      key = mix64(candidate);
    } else {
      const std::uint64_t word = mix64(candidate);
      std::memcpy(key.data(), &word, sizeof word);
    }
    if ((hash(key) & mask) == 0x2A) keys.push_back(key);
  }
  return keys;
}

}  // namespace heatkit::test
