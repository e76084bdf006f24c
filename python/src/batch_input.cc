#include "batch_input.h"

#include <Python.h>

#include <cstring>
#include <string>

#include <nanobind/ndarray.h>

namespace heatkit::python {
namespace {

using AnyArray = nb::ndarray<nb::ro>;

std::string dtype_name(nb::dlpack::dtype d) {
  const char* kind = "?";
  switch (static_cast<nb::dlpack::dtype_code>(d.code)) {
    case nb::dlpack::dtype_code::Int: kind = "int"; break;
    case nb::dlpack::dtype_code::UInt: kind = "uint"; break;
    case nb::dlpack::dtype_code::Float: kind = "float"; break;
    case nb::dlpack::dtype_code::Bool: return "bool";
    case nb::dlpack::dtype_code::Complex: kind = "complex"; break;
    default: break;
  }
  return kind + std::to_string(d.bits);
}

// `value` as an array on the host, when it is one (numpy, or anything with
// the buffer or DLPack protocol); nothing for a list and the like.
std::optional<AnyArray> host_array(nb::handle value, const char* name) {
  if (PyUnicode_Check(value.ptr()) || PyBytes_Check(value.ptr()) || PyByteArray_Check(value.ptr())) {
    return std::nullopt;
  }
  AnyArray array;
  if (!nb::try_cast(value, array, /*convert=*/false)) return std::nullopt;
  if (array.device_type() != nb::device::cpu::value) {
    throw nb::type_error((std::string(name) + ": the array must be in host memory (a numpy array)").c_str());
  }
  return array;
}

[[noreturn]] void wrong_array(const char* name, const std::string& want, const AnyArray& a) {
  std::string shape = "(";
  for (std::size_t d = 0; d < a.ndim(); ++d) shape += (d ? ", " : "") + std::to_string(a.shape(d));
  shape += a.ndim() == 1 ? ",)" : ")";
  throw nb::type_error((std::string(name) + ": expected " + want + ", got an array of dtype " +
                        dtype_name(a.dtype()) + " and shape " + shape)
                           .c_str());
}

bool is_sequence(nb::handle value) {
  return PySequence_Check(value.ptr()) && !PyUnicode_Check(value.ptr()) && !PyBytes_Check(value.ptr()) &&
         !PyByteArray_Check(value.ptr());
}

// Each item of a sequence through `convert`, named "name[i]" in errors.
template <class T, class Convert>
std::vector<T> each_item(nb::handle sequence, const char* name, Convert convert) {
  std::vector<T> out;
  const Py_ssize_t n = PySequence_Size(sequence.ptr());
  if (n < 0) throw nb::python_error();
  out.reserve(static_cast<std::size_t>(n));
  for (Py_ssize_t i = 0; i < n; ++i) {
    nb::object item = nb::steal(PySequence_GetItem(sequence.ptr(), i));
    if (!item) throw nb::python_error();
    const std::string item_name = std::string(name) + "[" + std::to_string(i) + "]";
    out.push_back(convert(item, item_name.c_str()));
  }
  return out;
}

template <class Key>
KeyBatch<Key> from_copy(std::vector<Key> keys) {
  KeyBatch<Key> batch;
  batch.copy = std::move(keys);
  batch.keys = batch.copy;
  return batch;
}

}  // namespace

KeyBatch<std::uint64_t> u64_batch(nb::handle keys) {
  constexpr const char* kWant = "a 1-D numpy array of uint64 (or a sequence of ints)";
  if (auto array = host_array(keys, "keys")) {
    if (array->ndim() != 1 || array->dtype() != nb::dtype<std::uint64_t>()) wrong_array("keys", kWant, *array);
    const std::size_t n = array->shape(0);
    const auto* data = static_cast<const std::uint64_t*>(array->data());
    if (n <= 1 || array->stride(0) == 1) {
      KeyBatch<std::uint64_t> batch;
      batch.keys = std::span<const std::uint64_t>(n == 0 ? nullptr : data, n);
      batch.source = nb::borrow(keys);
      return batch;
    }
    std::vector<std::uint64_t> copy(n);
    for (std::size_t i = 0; i < n; ++i) copy[i] = data[static_cast<std::int64_t>(i) * array->stride(0)];
    return from_copy(std::move(copy));
  }
  if (!is_sequence(keys)) {
    throw nb::type_error((std::string("keys: expected ") + kWant + ", got " + python_type(keys)).c_str());
  }
  return from_copy(each_item<std::uint64_t>(keys, "keys", to_u64_key));
}

KeyBatch<BlobKey> blob_batch(nb::handle keys) {
  constexpr const char* kWant = "a numpy uint8 array of shape (n, 32) (or a sequence of 32-byte keys)";
  if (auto array = host_array(keys, "keys")) {
    if (array->ndim() != 2 || array->dtype() != nb::dtype<std::uint8_t>()) wrong_array("keys", kWant, *array);
    if (array->shape(1) != 32) wrong_array("keys", kWant, *array);
    const std::size_t n = array->shape(0);
    const auto* data = static_cast<const std::uint8_t*>(array->data());
    if (n == 0 || (array->stride(1) == 1 && (n == 1 || array->stride(0) == 32))) {
      KeyBatch<BlobKey> batch;
      batch.keys = std::span<const BlobKey>(n == 0 ? nullptr : reinterpret_cast<const BlobKey*>(data), n);
      batch.source = nb::borrow(keys);
      return batch;
    }
    std::vector<BlobKey> copy(n);
    for (std::size_t i = 0; i < n; ++i) {
      for (std::size_t b = 0; b < 32; ++b) {
        copy[i][b] = data[static_cast<std::int64_t>(i) * array->stride(0) + static_cast<std::int64_t>(b) * array->stride(1)];
      }
    }
    return from_copy(std::move(copy));
  }
  if (!is_sequence(keys)) {
    throw nb::type_error((std::string("keys: expected ") + kWant + ", got " + python_type(keys)).c_str());
  }
  return from_copy(each_item<BlobKey>(keys, "keys", to_blob_key));
}

TimeBatch time_batch(nb::handle now_ns, std::size_t n) {
  TimeBatch batch;
  const std::optional<AnyArray> array = host_array(now_ns, "now_ns");
  if (!array && PyIndex_Check(now_ns.ptr()) && !PyBool_Check(now_ns.ptr())) {
    batch.one = to_time_ns(now_ns, "now_ns");
    return batch;
  }
  constexpr const char* kWant = "an int, or a 1-D numpy array of int64 with one time per key";
  if (array) {
    if (array->ndim() == 0 && PyIndex_Check(now_ns.ptr())) {  // a numpy integer scalar
      batch.one = to_time_ns(now_ns, "now_ns");
      return batch;
    }
    if (array->ndim() != 1 || array->dtype() != nb::dtype<std::int64_t>()) wrong_array("now_ns", kWant, *array);
    if (array->shape(0) != n) {
      throw nb::value_error(("now_ns: " + std::to_string(array->shape(0)) + " times for " + std::to_string(n) +
                             " keys; give one time per key, or one int for all")
                                .c_str());
    }
    const auto* data = static_cast<const std::int64_t*>(array->data());
    const std::int64_t stride = array->stride(0);
    if (n <= 1 || stride == 1) {
      batch.each = std::span<const std::int64_t>(n == 0 ? nullptr : data, n);
      batch.source = nb::borrow(now_ns);
    } else {
      batch.copy.resize(n);
      for (std::size_t i = 0; i < n; ++i) batch.copy[i] = data[static_cast<std::int64_t>(i) * stride];
      batch.each = batch.copy;
    }
    for (std::size_t i = 0; i < n; ++i) {
      if (batch.each[i] < 0) {
        throw nb::value_error(("now_ns[" + std::to_string(i) + "]: " + std::to_string(batch.each[i]) +
                               " is outside [0, 2**63 - 1] (nanoseconds)")
                                  .c_str());
      }
    }
    return batch;
  }
  if (!is_sequence(now_ns)) {
    throw nb::type_error((std::string("now_ns: expected ") + kWant + ", got " + python_type(now_ns)).c_str());
  }
  batch.copy = each_item<std::int64_t>(now_ns, "now_ns", to_time_ns);
  if (batch.copy.size() != n) {
    throw nb::value_error(("now_ns: " + std::to_string(batch.copy.size()) + " times for " + std::to_string(n) +
                           " keys; give one time per key, or one int for all")
                              .c_str());
  }
  batch.each = batch.copy;
  return batch;
}

}  // namespace heatkit::python
