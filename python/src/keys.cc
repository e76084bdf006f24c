#include "bindings.h"

#include <Python.h>

#include <cstring>
#include <limits>
#include <string>

namespace heatkit::python {
namespace {

std::string describe(nb::handle value) {
  nb::str text = nb::repr(value);
  std::string s = text.c_str();
  return s.size() > 40 ? s.substr(0, 37) + "..." : s;
}

// `value` as a Python int, or a TypeError naming `name` and `what` it should be.
nb::object as_int(nb::handle value, const char* name, const char* what) {
  if (PyBool_Check(value.ptr()) || !PyIndex_Check(value.ptr())) {
    throw nb::type_error((std::string(name) + ": " + what + " is an int, got " + python_type(value)).c_str());
  }
  PyObject* index = PyNumber_Index(value.ptr());
  if (index == nullptr) throw nb::python_error();
  return nb::steal(index);
}

// `value` in [0, most] or a ValueError naming the range `range`.
std::uint64_t in_range(nb::handle value, const char* name, std::uint64_t most, const char* range) {
  nb::object i = as_int(value, name, "it");
  int overflow = 0;
  const long long v = PyLong_AsLongLongAndOverflow(i.ptr(), &overflow);
  if (v == -1 && PyErr_Occurred()) throw nb::python_error();
  std::uint64_t result = 0;
  bool fits = false;
  if (overflow == 0 && v >= 0) {
    result = static_cast<std::uint64_t>(v);
    fits = result <= most;
  } else if (overflow > 0) {
    const unsigned long long u = PyLong_AsUnsignedLongLong(i.ptr());
    if (PyErr_Occurred()) {
      PyErr_Clear();
    } else {
      result = u;
      fits = result <= most;
    }
  }
  if (!fits) {
    throw nb::value_error((std::string(name) + ": " + describe(value) + " is outside " + range).c_str());
  }
  return result;
}

}  // namespace

const char* python_type(nb::handle value) { return Py_TYPE(value.ptr())->tp_name; }

std::uint64_t to_u64_key(nb::handle value, const char* name) {
  as_int(value, name, "a u64 key");
  return in_range(value, name, std::numeric_limits<std::uint64_t>::max(), "[0, 2**64 - 1] (a u64 key)");
}

BlobKey to_blob_key(nb::handle value, const char* name) {
  if (PyUnicode_Check(value.ptr()) || !PyObject_CheckBuffer(value.ptr())) {
    throw nb::type_error((std::string(name) + ": a bytes32 key is 32 bytes (bytes, bytearray or a uint8 array), got " +
                          python_type(value))
                             .c_str());
  }
  Py_buffer view;
  if (PyObject_GetBuffer(value.ptr(), &view, PyBUF_FORMAT | PyBUF_C_CONTIGUOUS) != 0) throw nb::python_error();
  const bool bytes = view.itemsize == 1 && (view.format == nullptr || std::strchr("Bbc", view.format[0]) != nullptr);
  const Py_ssize_t length = view.len;
  const Py_ssize_t item_size = view.itemsize;
  BlobKey key{};
  if (bytes && length == 32) std::memcpy(key.data(), view.buf, key.size());
  PyBuffer_Release(&view);
  if (!bytes) {
    throw nb::type_error((std::string(name) + ": a bytes32 key is 32 bytes; got a buffer of items of " +
                          std::to_string(item_size) + " bytes")
                             .c_str());
  }
  if (length != 32) {
    throw nb::value_error(
        (std::string(name) + ": a bytes32 key is exactly 32 bytes, got " + std::to_string(length)).c_str());
  }
  return key;
}

std::int64_t to_time_ns(nb::handle value, const char* name) {
  as_int(value, name, "a time in nanoseconds");
  return static_cast<std::int64_t>(in_range(value, name, std::numeric_limits<std::int64_t>::max(),
                                            "[0, 2**63 - 1] (nanoseconds)"));
}

Duration to_half_life(nb::handle value, Duration fallback, const char* name) {
  if (value.is_none()) return fallback;
  as_int(value, name, "a half-life in nanoseconds");
  return Duration(static_cast<std::int64_t>(
      in_range(value, name, std::numeric_limits<std::int64_t>::max(), "[0, 2**63 - 1] (nanoseconds)")));
}

std::uint64_t to_count(nb::handle value, const char* name, std::uint64_t most) {
  as_int(value, name, "a count");
  const std::string range = "[0, " + std::to_string(most) + "]";
  return in_range(value, name, most, range.c_str());
}

nb::object key_object(std::uint64_t key) { return nb::steal(PyLong_FromUnsignedLongLong(key)); }

nb::object key_object(const BlobKey& key) {
  return nb::bytes(reinterpret_cast<const char*>(key.data()), key.size());
}

std::unique_lock<std::mutex> lock_holding_gil(std::mutex& mutex) {
  std::unique_lock<std::mutex> lock(mutex, std::try_to_lock);
  if (!lock.owns_lock()) {
    nb::gil_scoped_release release;
    lock.lock();
  }
  return lock;
}

}  // namespace heatkit::python
