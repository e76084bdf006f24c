// heatkit.Candidates and heatkit.Decision.
#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include <nanobind/ndarray.h>
#include <nanobind/stl/string.h>

#include "bindings.h"
#include "candidates.h"
#include <heatkit/decision.h>

namespace heatkit::python {
namespace {

constexpr const char* kCandidatesDoc = R"(The candidates one tick returned, in the registry's slot order.

len(c), c[i] and iteration give (key, decision, rate) tuples: key an int
(u64) or 32 bytes (bytes32), decision a Decision, rate the rate to announce
(0.0 for a withdrawal). The columns are read-only numpy views of the same
memory, made without copies:
    c.keys       uint64, shape (n,); or uint8, shape (n, 32) for bytes32
    c.decisions  uint8: 1 emit, 2 withdraw (Decision values)
    c.rates      float64
A Candidates object owns its data: it stays valid after its registry is
gone, and a view keeps it alive. Immutable, so any thread may read it.)";

template <class Key>
using Emissions = std::vector<std::pair<Key, HeatEmission>>;  // HeatRegistryOf<Key>::Emissions

// numpy cannot take a null data pointer: empty views point here.
alignas(64) const unsigned char kEmpty[64] = {};

template <class Key>
const unsigned char* base_of(const Emissions<Key>& list) {
  return list.empty() ? kEmpty : reinterpret_cast<const unsigned char*>(list.data());
}

template <class Key>
constexpr std::int64_t kStride = sizeof(typename Emissions<Key>::value_type);  // bytes
static_assert(kStride<std::uint64_t> % sizeof(double) == 0 && kStride<BlobKey> % sizeof(double) == 0);

template <class T>
using View1 = nb::ndarray<nb::numpy, const T, nb::ndim<1>>;

template <class Key>
nb::object keys_view(const Emissions<Key>& list, nb::handle owner) {
  const unsigned char* base = base_of<Key>(list);
  const std::size_t n = list.size();
  if constexpr (std::is_same_v<Key, BlobKey>) {
    return nb::cast(nb::ndarray<nb::numpy, const std::uint8_t, nb::ndim<2>>(base, {n, 32}, owner, {kStride<Key>, 1}));
  } else {
    return nb::cast(View1<std::uint64_t>(base, {n}, owner, {kStride<Key> / 8}));
  }
}

template <class Key>
nb::object decisions_view(const Emissions<Key>& list, nb::handle owner) {
  const auto offset = list.empty() ? 0 : reinterpret_cast<const unsigned char*>(&list[0].second.kind) - base_of<Key>(list);
  return nb::cast(View1<std::uint8_t>(base_of<Key>(list) + offset, {list.size()}, owner, {kStride<Key>}));
}

template <class Key>
nb::object rates_view(const Emissions<Key>& list, nb::handle owner) {
  const auto offset = list.empty() ? 0 : reinterpret_cast<const unsigned char*>(&list[0].second.rate) - base_of<Key>(list);
  return nb::cast(View1<double>(base_of<Key>(list) + offset, {list.size()}, owner, {kStride<Key> / 8}));
}

std::size_t size_of(const Candidates& c) {
  return std::visit([](const auto& list) { return list.size(); }, c.emissions);
}

nb::object item(const Candidates& c, std::int64_t i) {
  const auto n = static_cast<std::int64_t>(size_of(c));
  if (i < 0) i += n;
  if (i < 0 || i >= n) throw nb::index_error("Candidates index out of range");
  return std::visit(
      [&](const auto& list) -> nb::object {
        const auto& [key, emission] = list[static_cast<std::size_t>(i)];
        return nb::make_tuple(key_object(key), emission.kind, emission.rate);
      },
      c.emissions);
}

}  // namespace

void bind_candidates(nb::module_& m) {
  nb::enum_<Decision>(m, "Decision", nb::is_arithmetic(),
                      "What a tick decided for a candidate (an IntEnum): EMIT = 1, WITHDRAW = 2.")
      .value("EMIT", Decision::kEmit, "announce the counter at its rate")
      .value("WITHDRAW", Decision::kWithdraw, "withdraw the counter's announcement");

  nb::class_<Candidates>(m, "Candidates", nb::is_weak_referenceable(), kCandidatesDoc)
      .def("__len__", &size_of, "The number of candidates.")
      .def("__getitem__", &item, nb::arg("index"), "The i-th candidate as (key, decision, rate).")
      .def_prop_ro(
          "key_type",
          [](const Candidates& c) { return c.emissions.index() == 0 ? "u64" : "bytes32"; },
          "\"u64\" or \"bytes32\": the key type of the registry that ticked.")
      .def_prop_ro(
          "keys",
          [](nb::pointer_and_handle<Candidates> c) {
            return std::visit([&](const auto& list) { return keys_view(list, c.h); }, c.p->emissions);
          },
          "The keys (a read-only view): uint64 (n,), or uint8 (n, 32) for bytes32.")
      .def_prop_ro(
          "decisions",
          [](nb::pointer_and_handle<Candidates> c) {
            return std::visit([&](const auto& list) { return decisions_view(list, c.h); }, c.p->emissions);
          },
          "The decisions (a read-only uint8 view): 1 emit, 2 withdraw.")
      .def_prop_ro(
          "rates",
          [](nb::pointer_and_handle<Candidates> c) {
            return std::visit([&](const auto& list) { return rates_view(list, c.h); }, c.p->emissions);
          },
          "The rates to announce (a read-only float64 view; 0.0 for a withdrawal).")
      .def("__repr__", [](const Candidates& c) {
        std::size_t emits = 0;
        std::visit([&](const auto& list) {
          for (const auto& candidate : list) emits += candidate.second.is_emit() ? 1 : 0;
        }, c.emissions);
        return "<heatkit.Candidates: " + std::to_string(emits) + " emit, " + std::to_string(size_of(c) - emits) +
               " withdraw>";
      });
}

}  // namespace heatkit::python
