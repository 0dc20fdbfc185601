#pragma once
/// \file npy.hpp
/// Reading and writing NumPy `.npy` files of floating-point arrays
/// (https://numpy.org/doc/stable/reference/generated/numpy.lib.format.html):
///
///     "\x93NUMPY" major minor | header length (u16 LE for 1.0, u32 LE for 2.0/3.0)
///     | header: a Python dict literal {'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }
///     | row-major data
///
/// Used to exchange reference inputs and activations with PyTorch/NumPy in tests and tools.

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <limits>
#include <string>
#include <type_traits>
#include <vector>

#include "senet/core/error.hpp"
#include "senet/core/tensor.hpp"
#include "senet/io/detail/bytes.hpp"

namespace senet {
namespace detail {
namespace npy {

/// Largest header accepted. Real headers are under 200 bytes; this only bounds the allocation.
inline constexpr std::uint64_t kMaxHeaderBytes = std::uint64_t{1} << 24;
/// Nesting limit of the literal parser, so a header like "((((((..." cannot exhaust the stack.
inline constexpr int kMaxDepth = 32;
/// Most values (keys, strings, numbers, containers) a header may hold; a valid one has fewer than
/// 80. Each parsed value costs about 100 bytes, so this, not the header length, bounds memory.
inline constexpr std::size_t kMaxValues = 1024;
/// Most dimensions accepted (NumPy 2's NPY_MAXDIMS; NumPy 1 allows 32).
inline constexpr std::size_t kMaxRank = 64;

/// A parsed Python literal of the subset `.npy` headers use.
struct PyValue {
  enum class Kind { string, boolean, none, integer, tuple, list, dict };
  Kind kind = Kind::none;
  std::string text;               // string
  bool flag = false;              // boolean
  Index integer = 0;              // integer
  std::vector<PyValue> items;     // tuple, list; dict values
  std::vector<std::string> keys;  // dict keys (strings only), parallel to `items`
};

inline const char* kind_name(PyValue::Kind k) {
  switch (k) {
    case PyValue::Kind::string:
      return "a string";
    case PyValue::Kind::boolean:
      return "a boolean";
    case PyValue::Kind::none:
      return "None";
    case PyValue::Kind::integer:
      return "an integer";
    case PyValue::Kind::tuple:
      return "a tuple";
    case PyValue::Kind::list:
      return "a list";
    case PyValue::Kind::dict:
      return "a dict";
  }
  return "?";
}

/// Recursive-descent parser for Python literals: dicts with string keys, tuples, lists,
/// strings ('..' or "..", optional u/b prefix), integers (optional Python 2 `L` suffix),
/// True, False and None. Anything else is an error that names the file and the offset.
class LiteralParser {
 public:
  LiteralParser(const std::string& text, const std::string& path) : s_(text), path_(path) {}

  /// Parses one value followed only by whitespace.
  PyValue parse() {
    PyValue v = value(0);
    skip_space();
    if (pos_ != s_.size()) fail("unexpected text after the header dict");
    return v;
  }

 private:
  [[noreturn]] void fail(const std::string& what) const {
    const std::string trimmed = s_.substr(0, s_.find_last_not_of(" \t\r\n") + 1);
    std::string shown = trimmed.substr(0, 200);
    for (char& c : shown)
      if (!std::isprint(static_cast<unsigned char>(c))) c = '?';
    throw Error(cat(path_, ": .npy header is not a valid Python literal: ", what, " at offset ", pos_, " in \"", shown,
                    trimmed.size() > 200 ? "...\"" : "\""));
  }
  void skip_space() {
    while (pos_ < s_.size() && (s_[pos_] == ' ' || s_[pos_] == '\t' || s_[pos_] == '\n' || s_[pos_] == '\r')) ++pos_;
  }
  bool peek(char c) {
    skip_space();
    return pos_ < s_.size() && s_[pos_] == c;
  }
  void expect(char c) {
    if (!peek(c)) fail(std::string("expected '") + c + "'");
    ++pos_;
  }

  PyValue value(int depth) {
    if (depth > kMaxDepth) fail("nesting too deep");
    if (++values_ > kMaxValues) fail("more than " + std::to_string(kMaxValues) + " values");
    skip_space();
    if (pos_ >= s_.size()) fail("unexpected end of header");
    const char c = s_[pos_];
    if (c == '{') return dict(depth);
    if (c == '(') return sequence(depth, ')', PyValue::Kind::tuple);
    if (c == '[') return sequence(depth, ']', PyValue::Kind::list);
    if (c == '\'' || c == '"') return string();
    if ((c == 'u' || c == 'b' || c == 'U' || c == 'B') && pos_ + 1 < s_.size() &&
        (s_[pos_ + 1] == '\'' || s_[pos_ + 1] == '"')) {
      ++pos_;
      return string();
    }
    if (c == '-' || c == '+' || std::isdigit(static_cast<unsigned char>(c))) return integer();
    if (std::isalpha(static_cast<unsigned char>(c)) || c == '_') return identifier();
    fail(std::string("unexpected character '") + (std::isprint(static_cast<unsigned char>(c)) ? c : '?') + "'");
  }

  PyValue dict(int depth) {
    PyValue v;
    v.kind = PyValue::Kind::dict;
    expect('{');
    while (!peek('}')) {
      PyValue key = value(depth + 1);
      if (key.kind != PyValue::Kind::string) fail("dict key is not a string");
      if (std::find(v.keys.begin(), v.keys.end(), key.text) != v.keys.end())
        fail("duplicate key '" + printable(key.text) + "'");
      expect(':');
      v.keys.push_back(key.text);
      v.items.push_back(value(depth + 1));
      if (peek('}')) break;
      expect(',');
    }
    ++pos_;
    return v;
  }

  // `(x)` is just x in Python; `(x,)` and `()` are tuples.
  PyValue sequence(int depth, char close, PyValue::Kind kind) {
    PyValue v;
    v.kind = kind;
    ++pos_;
    bool comma = false;
    while (!peek(close)) {
      v.items.push_back(value(depth + 1));
      comma = false;
      if (peek(close)) break;
      expect(',');
      comma = true;
    }
    ++pos_;
    if (kind == PyValue::Kind::tuple && v.items.size() == 1 && !comma) return std::move(v.items[0]);
    return v;
  }

  PyValue string() {
    PyValue v;
    v.kind = PyValue::Kind::string;
    const char quote = s_[pos_++];
    while (true) {
      if (pos_ >= s_.size() || s_[pos_] == '\n') fail("unterminated string");
      const char c = s_[pos_++];
      if (c == quote) break;
      if (c == '\\') {
        if (pos_ >= s_.size()) fail("unterminated string");
        const char e = s_[pos_++];
        v.text += e == 'n' ? '\n' : e == 't' ? '\t' : e;
      } else {
        v.text += c;
      }
    }
    return v;
  }

  PyValue integer() {
    PyValue v;
    v.kind = PyValue::Kind::integer;
    bool negative = false;
    if (s_[pos_] == '-' || s_[pos_] == '+') negative = s_[pos_++] == '-';
    skip_space();
    if (pos_ >= s_.size() || !std::isdigit(static_cast<unsigned char>(s_[pos_]))) fail("expected a digit");
    std::uint64_t magnitude = 0;
    constexpr auto kMax = static_cast<std::uint64_t>(std::numeric_limits<Index>::max());
    while (pos_ < s_.size() && std::isdigit(static_cast<unsigned char>(s_[pos_]))) {
      const auto digit = static_cast<std::uint64_t>(s_[pos_++] - '0');
      if (magnitude > (kMax - digit) / 10) fail("integer too large");
      magnitude = magnitude * 10 + digit;
    }
    if (pos_ < s_.size() && (s_[pos_] == 'L' || s_[pos_] == 'l')) ++pos_;  // Python 2 long
    if (pos_ < s_.size() && (std::isalnum(static_cast<unsigned char>(s_[pos_])) || s_[pos_] == '.'))
      fail("not an integer");
    v.integer = negative ? -static_cast<Index>(magnitude) : static_cast<Index>(magnitude);
    return v;
  }

  PyValue identifier() {
    const std::size_t start = pos_;
    while (pos_ < s_.size() && (std::isalnum(static_cast<unsigned char>(s_[pos_])) || s_[pos_] == '_')) ++pos_;
    const std::string word = s_.substr(start, pos_ - start);
    PyValue v;
    if (word == "True" || word == "False") {
      v.kind = PyValue::Kind::boolean;
      v.flag = word == "True";
    } else if (word == "None") {
      v.kind = PyValue::Kind::none;
    } else {
      pos_ = start;
      fail("unknown name '" + word + "'");
    }
    return v;
  }

  const std::string& s_;
  const std::string& path_;
  std::size_t pos_ = 0;
  std::size_t values_ = 0;
};

/// Element type and byte order of a `descr` such as '<f4'.
struct Dtype {
  std::size_t itemsize = 0;
  bool little_endian = true;
  char kind = 'f';  // 'f' float, 'i' signed or 'u' unsigned integer
};

inline bool host_is_little_endian() {
  const std::uint16_t one = 1;
  unsigned char first;
  std::memcpy(&first, &one, 1);
  return first == 1;
}

inline Dtype parse_descr(const std::string& path, const std::string& descr) {
  Dtype d;
  std::string rest = descr;
  char order = '=';
  if (!rest.empty() && std::string("<>=|").find(rest[0]) != std::string::npos) {
    order = rest[0];
    rest.erase(0, 1);
  }
  // '=' is the writer's native order and '|' "not applicable"; numpy itself resolves both
  // to native order, and never writes either for multi-byte floats.
  d.little_endian = order == '<' || ((order == '=' || order == '|') && host_is_little_endian());
  // Integers (labels, class indices) are read too: every one up to 2^24 is exact in float.
  const bool sized = rest.size() == 2 && (rest[1] == '1' || rest[1] == '2' || rest[1] == '4' || rest[1] == '8');
  if (rest == "f4" || rest == "f8" || (sized && (rest[0] == 'i' || rest[0] == 'u'))) {
    d.kind = rest[0];
    d.itemsize = std::size_t(rest[1] - '0');
  } else {
    throw Error(cat(path, ": unsupported .npy dtype '", printable(descr),
                    "' (supported: float32 '<f4', float64 '<f8' and integers '<i1'..'<i8', '<u1'..'<u8')"));
  }
  return d;
}

template <class T>
void convert(const Dtype& dtype, const unsigned char* src, T* dst, std::size_t n) {
  const std::size_t w = dtype.itemsize;
  for (std::size_t i = 0; i < n; ++i, src += w) {
    const std::uint64_t bits = dtype.little_endian ? load_le(src, w) : load_be(src, w);
    if (dtype.kind == 'u') {
      dst[i] = static_cast<T>(bits);
    } else if (dtype.kind == 'i') {
      const std::uint64_t sign = std::uint64_t{1} << (8 * w - 1);  // sign-extend from w bytes
      dst[i] = static_cast<T>(static_cast<std::int64_t>((bits ^ sign) - sign));
    } else if (w == 4) {
      dst[i] = static_cast<T>(bits_to_float(static_cast<std::uint32_t>(bits)));
    } else {
      dst[i] = static_cast<T>(bits_to_double(bits));
    }
  }
}

}  // namespace npy
}  // namespace detail

/// Reads a `.npy` file of float32, float64 or integers (any byte order), format version 1.0, 2.0 or
/// 3.0, C order, into a `Tensor<T>` of the stored shape (`{}` for a 0-d array), converting to
/// `T`. Throws `senet::Error` naming the file for a bad magic string, an unsupported version or
/// dtype, Fortran order, a malformed header, or a data size that does not match the shape.
template <class T>
Tensor<T> read_npy(const std::string& path) {
  static_assert(std::is_floating_point_v<T>, "read_npy<T>: T must be float or double");
  namespace np = detail::npy;
  using np::PyValue;

  std::ifstream in;
  const std::uint64_t file_size = detail::open_for_reading(in, path, "a .npy file");

  unsigned char prefix[12];
  SENET_CHECK(file_size >= 10, path, ": file is ", file_size, " bytes long, too short for a .npy header (truncated?)");
  in.read(reinterpret_cast<char*>(prefix), 8);
  SENET_CHECK(static_cast<bool>(in), path, ": cannot read the .npy magic string");
  SENET_CHECK(std::memcmp(prefix, "\x93NUMPY", 6) == 0, path, ": not a .npy file (bad magic string)");
  const int major = prefix[6], minor = prefix[7];
  SENET_CHECK((major == 1 || major == 2 || major == 3) && minor == 0, path, ": unsupported .npy format version ", major,
              ".", minor, " (expected 1.0, 2.0 or 3.0)");
  const std::uint64_t length_bytes = major == 1 ? 2 : 4;
  SENET_CHECK(file_size >= 8 + length_bytes, path, ": file ends inside the .npy header length (truncated?)");
  in.read(reinterpret_cast<char*>(prefix + 8), static_cast<std::streamsize>(length_bytes));
  SENET_CHECK(static_cast<bool>(in), path, ": cannot read the .npy header length");
  const std::uint64_t header_size = detail::load_le(prefix + 8, length_bytes);
  const std::uint64_t data_start = 8 + length_bytes + header_size;
  SENET_CHECK(data_start <= file_size, path, ": header length ", header_size, " runs past the end of the ", file_size,
              "-byte file (truncated?)");
  SENET_CHECK(header_size <= np::kMaxHeaderBytes, path, ": header length ", header_size, " exceeds the limit of ",
              np::kMaxHeaderBytes, " bytes");

  std::string header(static_cast<std::size_t>(header_size), '\0');
  in.read(header.data(), static_cast<std::streamsize>(header_size));
  SENET_CHECK(static_cast<bool>(in), path, ": cannot read the ", header_size, "-byte header");

  const PyValue dict = np::LiteralParser(header, path).parse();
  SENET_CHECK(dict.kind == PyValue::Kind::dict, path, ": .npy header is ", np::kind_name(dict.kind), ", not a dict");
  const PyValue* descr = nullptr;
  const PyValue* fortran = nullptr;
  const PyValue* shape_value = nullptr;
  for (std::size_t i = 0; i < dict.keys.size(); ++i) {
    const std::string& k = dict.keys[i];
    if (k == "descr")
      descr = &dict.items[i];
    else if (k == "fortran_order")
      fortran = &dict.items[i];
    else if (k == "shape")
      shape_value = &dict.items[i];
    else
      throw Error(detail::cat(path, ": unexpected key '", detail::printable(k), "' in the .npy header"));
  }
  for (const auto& [value, key] : {std::pair{descr, "descr"}, {fortran, "fortran_order"}, {shape_value, "shape"}})
    SENET_CHECK(value != nullptr, path, ": .npy header has no '", key, "'");
  SENET_CHECK(descr->kind == PyValue::Kind::string, path, ": .npy 'descr' is ", np::kind_name(descr->kind),
              ", not a dtype string (structured dtypes are not supported)");
  SENET_CHECK(fortran->kind == PyValue::Kind::boolean, path, ": .npy 'fortran_order' is ", np::kind_name(fortran->kind),
              ", not True or False");
  SENET_CHECK(!fortran->flag, path, ": Fortran-ordered arrays are not supported (save a C-contiguous array)");
  SENET_CHECK(shape_value->kind == PyValue::Kind::tuple || shape_value->kind == PyValue::Kind::list, path,
              ": .npy 'shape' is ", np::kind_name(shape_value->kind), ", not a tuple");

  SENET_CHECK(shape_value->items.size() <= np::kMaxRank, path, ": .npy 'shape' has ", shape_value->items.size(),
              " dimensions, more than the ", np::kMaxRank, " allowed");
  Shape shape;
  for (const PyValue& d : shape_value->items) {
    SENET_CHECK(d.kind == PyValue::Kind::integer, path, ": .npy 'shape' has an extent that is ", np::kind_name(d.kind));
    shape.push_back(d.integer);
  }
  const np::Dtype dtype = np::parse_descr(path, descr->text);
  Index numel = 0;
  try {
    numel = shape_numel(shape);
  } catch (const Error& e) {
    throw Error(path + ": " + e.what());
  }
  const auto n = static_cast<std::uint64_t>(numel);
  SENET_CHECK(n <= std::numeric_limits<std::uint64_t>::max() / dtype.itemsize, path, ": shape ", to_string(shape),
              " has too many bytes");
  const std::uint64_t data_size = file_size - data_start;
  SENET_CHECK(data_size == n * dtype.itemsize, path, ": data section is ", data_size, " bytes but shape ",
              to_string(shape), " of dtype '", descr->text, "' needs ", n * dtype.itemsize,
              data_size < n * dtype.itemsize ? " (truncated?)" : "");

  Tensor<T> out(shape);
  const bool complete = detail::read_converted(
      in, out.data(), static_cast<std::size_t>(numel), dtype.itemsize,
      [&](const unsigned char* src, T* dst, std::size_t count) { np::convert(dtype, src, dst, count); });
  SENET_CHECK(complete, path, ": cannot read the array data");
  return out;
}

/// Writes `t` as a `.npy` file that `numpy.load` reads: format 1.0 (2.0 only if the header is
/// too long for 1.0), '<f4' for float and '<f8' for double, C order, header padded with spaces
/// so the data starts at a multiple of 64 bytes, as numpy does. Throws `senet::Error` if the
/// file cannot be written.
template <class T>
void write_npy(const std::string& path, const Tensor<T>& t) {
  static_assert(std::is_same_v<T, float> || std::is_same_v<T, double>, "write_npy<T>: T must be float or double");

  std::string shape = "(";
  for (std::size_t i = 0; i < t.shape().size(); ++i) shape += (i ? ", " : "") + std::to_string(t.shape()[i]);
  shape += t.shape().size() == 1 ? ",)" : ")";
  std::string header = std::string("{'descr': '") + (std::is_same_v<T, float> ? "<f4" : "<f8") +
                       "', 'fortran_order': False, 'shape': " + shape + ", }";
  // numpy >= 1.24 leaves room to rewrite the growing axis in place; matching it keeps files
  // byte-identical to numpy.save.
  if (!t.shape().empty()) header.append(21 - std::min<std::size_t>(21, std::to_string(t.shape()[0]).size()), ' ');
  // numpy pads to 64 bytes with 1..64 spaces, then a newline.
  std::size_t prefix = 10;
  std::size_t pad = 64 - (prefix + header.size() + 1) % 64;
  if (header.size() + pad + 1 > 0xFFFF) {
    prefix = 12;
    pad = 64 - (prefix + header.size() + 1) % 64;
  }
  header.append(pad, ' ');
  header += '\n';

  std::ofstream out = detail::open_for_writing(path);
  unsigned char head[12] = {0x93, 'N', 'U', 'M', 'P', 'Y', static_cast<unsigned char>(prefix == 10 ? 1 : 2), 0};
  detail::store_le(head + 8, header.size(), prefix - 8);
  out.write(reinterpret_cast<const char*>(head), static_cast<std::streamsize>(prefix));
  out.write(header.data(), static_cast<std::streamsize>(header.size()));
  detail::write_le(out, t.data(), static_cast<std::size_t>(t.size()));
  detail::close_output(out, path);
}

}  // namespace senet
