// random_trace SEED u64|blob OPERATIONS: prints a random heat trace in which
// no registry evicts, however many ranks share it (the cap is unbounded or far
// above the keys used), for comparing `heatkit replay` under mpirun with one
// process. Every operation appears, with runs of bumps of every length,
// repeated keys, times that go backwards, and ticks far enough apart to emit
// and withdraw.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

namespace {

constexpr std::uint64_t kKeys = 200;  // keys drawn from 0..kKeys-1

std::string random_trace(std::uint64_t seed, bool blob, int operations) {
  std::mt19937_64 rng(seed);
  auto below = [&](std::uint64_t n) { return rng() % n; };
  std::ostringstream t;
  t << "registry " << (blob ? "blob" : "u64") << "\n";
  switch (below(3)) {
    case 0: t << "cap 0\n"; break;
    case 1: t << "cap " << 8 * kKeys << "\n"; break;  // 4 ranks: 2 * kKeys each
    default: break;                                   // the default cap, 8192
  }
  if (below(2)) t << "inflight " << (below(2) ? "on" : "off") << "\n";
  t << "policy ratio=" << (below(2) ? "2.0" : "1.5") << " half_life_ns=" << (1 + below(5)) * 1'000'000'000
    << "\n";
  auto key = [&] {
    const std::uint64_t k = below(kKeys);
    if (!blob) return std::to_string(k);
    char hex[65];
    std::snprintf(hex, sizeof hex, "%016llx%048llx", static_cast<unsigned long long>(k * 0x9e3779b97f4a7c15ULL),
                  static_cast<unsigned long long>(k));
    return std::string(hex);
  };
  std::int64_t now = 1'000'000'000;
  std::vector<std::string> bumped;
  for (int op = 0; op < operations; ++op) {
    now += static_cast<std::int64_t>(below(50'000'000));
    if (below(50) == 0 && now > 5'000'000'000) now -= 3'000'000'000;  // time goes backwards
    const std::uint64_t r = below(100);
    const std::string k = key();
    if (r < 45) {
      t << "bump " << k << ' ' << now << '\n';
      bumped.push_back(k);
    } else if (r < 50) {
      // A run of bumps, some of one key, that one exchange carries.
      const std::uint64_t run = 1 + below(12);
      for (std::uint64_t i = 0; i < run; ++i) {
        const std::string each = below(3) == 0 ? k : key();
        t << "bump " << each << ' ' << now + static_cast<std::int64_t>(i) << '\n';
        bumped.push_back(each);
      }
    } else if (r < 55) {
      t << "touch " << k << ' ' << now << '\n';
    } else if (r < 59) {
      t << "decay " << k << ' ' << now << '\n';
    } else if (r < 66) {
      now += static_cast<std::int64_t>(below(4)) * static_cast<std::int64_t>(below(40)) * 1'000'000'000;
      t << "tick " << now << '\n';
    } else if (r < 71) {
      t << "commit\n";
    } else if (r < 74 && !bumped.empty()) {
      t << "commit";
      for (int i = 0; i < 3; ++i) t << ' ' << bumped[below(bumped.size())];
      t << '\n';
    } else if (r < 78) {
      t << "rollback " << k << '\n';
    } else if (r < 81) {
      t << "remove " << k << '\n';
    } else if (r < 96) {
      t << "get " << (below(2) && !bumped.empty() ? bumped[below(bumped.size())] : k) << '\n';
    } else {
      t << "len\n";
    }
  }
  return t.str();
}

}  // namespace

int main(int argc, char** argv) {
  const std::string kind = argc == 4 ? argv[2] : "";
  if (kind != "u64" && kind != "blob") {
    std::cerr << "usage: random_trace SEED u64|blob OPERATIONS\n";
    return 2;
  }
  std::cout << random_trace(std::strtoull(argv[1], nullptr, 10), kind == "blob", std::atoi(argv[3]));
  return std::cout.flush() ? 0 : 1;
}
