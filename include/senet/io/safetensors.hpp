#pragma once
/// \file safetensors.hpp
/// Reading and writing the safetensors format (https://github.com/huggingface/safetensors):
///
///     [8 bytes: header length N, little-endian u64][N bytes: JSON header][data section]
///
/// The header maps each tensor name to `{"dtype": "F32", "shape": [3, 4], "data_offsets": [b, e]}`
/// (offsets relative to the start of the data section) plus an optional `"__metadata__"` object of
/// string -> string. `SafetensorsFile` validates the whole header when it opens a file and reads
/// each tensor's bytes only on request, so a 100 MB checkpoint is never held in memory twice.
///
/// Limits (`SafetensorsOptions`): the header may be at most `max_header_bytes` long (16 MiB by
/// default), may nest JSON at most 3 levels deep (object, entry, shape) and may give a tensor at
/// most `kSafetensorsMaxRank` (64) dimensions, so that a damaged or hostile header cannot make
/// the JSON parser use gigabytes of memory.

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <fstream>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "senet/core/error.hpp"
#include "senet/core/tensor.hpp"
#include "senet/io/detail/bytes.hpp"

namespace senet {

/// One tensor of a safetensors header, as validated by `SafetensorsFile::open`.
struct SafetensorsEntry {
  /// "F64", "F32", "F16", "BF16", "I64", "I32", "I16", "I8", "U8" or "BOOL".
  std::string dtype;
  /// Extents, outermost first; `{}` for a scalar (one element).
  Shape shape;
  /// First byte of the tensor, relative to the start of the data section.
  std::uint64_t begin = 0;
  /// One past the last byte, relative to the start of the data section.
  std::uint64_t end = 0;

  /// Number of elements (`shape_numel(shape)`; validated not to overflow).
  Index numel() const { return shape_numel(shape); }
  /// Size in bytes: `end - begin == numel() * itemsize`.
  std::uint64_t nbytes() const { return end - begin; }
};

/// Most dimensions a safetensors tensor may have (as NumPy 2's NPY_MAXDIMS).
inline constexpr std::size_t kSafetensorsMaxRank = 64;

/// Limits applied by `SafetensorsFile::open` (and `load_weights`) to a file's header.
struct SafetensorsOptions {
  /// Largest JSON header accepted, in bytes. The headers of the SE-ResNets are 10 to 100 KB and
  /// those of large language models a few MB, so the default, 16 MiB, only stops damaged or
  /// hostile files; parsing needs up to about 20 bytes of memory per header byte. The format's
  /// reference implementation refuses anything over 100,000,000 bytes.
  std::uint64_t max_header_bytes = std::uint64_t{16} << 20;
};

/// What `SafetensorsFile::find_non_finite` finds in one tensor.
struct NonFiniteValues {
  std::uint64_t count = 0;  ///< number of NaN and infinite values
  std::uint64_t first = 0;  ///< flat (row-major) index of the first one, when `count > 0`
  double first_value = 0;   ///< its value: NaN, inf or -inf
};

namespace detail {
namespace safetensors {

/// Deepest JSON nesting of a valid header: the header object, an entry, its shape array.
inline constexpr int kMaxJsonDepth = 3;

enum class Dtype { f64, f32, f16, bf16, i64, i32, i16, i8, u8, boolean };

struct DtypeInfo {
  const char* name;
  Dtype dtype;
  std::uint64_t itemsize;
  bool floating;
};

inline const DtypeInfo* find_dtype(const std::string& name) {
  static constexpr DtypeInfo kDtypes[] = {
      {"F64", Dtype::f64, 8, true},       {"F32", Dtype::f32, 4, true},  {"F16", Dtype::f16, 2, true},
      {"BF16", Dtype::bf16, 2, true},     {"I64", Dtype::i64, 8, false}, {"I32", Dtype::i32, 4, false},
      {"I16", Dtype::i16, 2, false},      {"I8", Dtype::i8, 1, false},   {"U8", Dtype::u8, 1, false},
      {"BOOL", Dtype::boolean, 1, false},
  };
  for (const DtypeInfo& d : kDtypes)
    if (name == d.name) return &d;
  return nullptr;
}

}  // namespace safetensors

/// IEEE 754 binary16 bits -> float (exact: every half value is a float). Subnormals, signed
/// zeros, infinities and NaNs (payload kept) are handled.
inline float half_to_float(std::uint16_t h) {
  const std::uint32_t sign = static_cast<std::uint32_t>(h & 0x8000u) << 16;
  const std::uint32_t exponent = (h >> 10) & 0x1Fu;
  const std::uint32_t mantissa = h & 0x3FFu;
  if (exponent == 0) {
    // Zero or subnormal: mantissa * 2^-24, exact in float.
    const float v = static_cast<float>(mantissa) * 5.9604644775390625e-8f;
    return sign ? -v : v;
  }
  if (exponent == 31) return bits_to_float(sign | 0x7F800000u | (mantissa << 13));
  // Rebias the exponent from 15 to 127.
  return bits_to_float(sign | ((exponent + 112u) << 23) | (mantissa << 13));
}

/// bfloat16 bits -> float: bfloat16 is the top half of a float, so this is exact for every value.
inline float bfloat16_to_float(std::uint16_t b) { return bits_to_float(static_cast<std::uint32_t>(b) << 16); }

namespace safetensors {

/// Converts `n` little-endian elements of `dtype` at `src` to `T`.
template <class T>
void convert(Dtype dtype, const unsigned char* src, T* dst, std::size_t n) {
  switch (dtype) {
    case Dtype::f64:
      for (std::size_t i = 0; i < n; ++i) dst[i] = static_cast<T>(bits_to_double(load_le(src + 8 * i, 8)));
      break;
    case Dtype::f32:
      for (std::size_t i = 0; i < n; ++i)
        dst[i] = static_cast<T>(bits_to_float(static_cast<std::uint32_t>(load_le(src + 4 * i, 4))));
      break;
    case Dtype::f16:
      for (std::size_t i = 0; i < n; ++i)
        dst[i] = static_cast<T>(half_to_float(static_cast<std::uint16_t>(load_le(src + 2 * i, 2))));
      break;
    case Dtype::bf16:
      for (std::size_t i = 0; i < n; ++i)
        dst[i] = static_cast<T>(bfloat16_to_float(static_cast<std::uint16_t>(load_le(src + 2 * i, 2))));
      break;
    default:
      throw Error("internal error: non-floating dtype reached the safetensors converter");
  }
}

/// Counts into `found` the NaN and infinite values among `count` elements of `dtype` at `src`
/// (elements `done`.. of their tensor) as converted to `T`, converting 256 at a time on the
/// stack: no allocation, nothing kept. Shared by the readers' `find_non_finite`.
template <class T>
void count_non_finite(Dtype dtype, std::size_t itemsize, const unsigned char* src, std::size_t done,
                      std::size_t count, NonFiniteValues& found) {
  constexpr std::size_t kBlock = 256;
  T values[kBlock];
  for (std::size_t start = 0; start < count; start += kBlock) {
    const std::size_t m = std::min(kBlock, count - start);
    convert(dtype, src + start * itemsize, values, m);
    for (std::size_t i = 0; i < m; ++i) {
      if (std::isfinite(values[i])) continue;
      if (found.count++ == 0) {
        found.first = done + start + i;
        found.first_value = static_cast<double>(values[i]);
      }
    }
  }
}

inline std::string where(const std::string& path, const std::string& key) {
  return path + ": tensor '" + printable(key) + "': ";
}

/// A non-negative JSON integer as u64; false for anything else (floats, negatives, strings).
inline bool get_unsigned(const nlohmann::json& v, std::uint64_t& out) {
  if (v.is_number_unsigned()) {
    out = v.get<std::uint64_t>();
    return true;
  }
  if (v.is_number_integer() && v.get<std::int64_t>() >= 0) {
    out = static_cast<std::uint64_t>(v.get<std::int64_t>());
    return true;
  }
  return false;
}

/// Validates one header entry against the data section of `data_size` bytes.
inline SafetensorsEntry parse_entry(const std::string& path, const std::string& key, const nlohmann::json& v,
                                    std::uint64_t data_size) {
  const std::string at = where(path, key);
  SENET_CHECK(v.is_object(), at, "header entry is not a JSON object");

  SafetensorsEntry e;
  const auto dtype = v.find("dtype");
  SENET_CHECK(dtype != v.end(), at, "header entry has no \"dtype\"");
  SENET_CHECK(dtype->is_string(), at, "\"dtype\" is not a string");
  e.dtype = dtype->get<std::string>();
  const DtypeInfo* info = find_dtype(e.dtype);
  SENET_CHECK(info != nullptr, at, "unknown dtype \"", printable(e.dtype),
              "\" (expected F64, F32, F16, BF16, I64, I32, I16, I8, U8 or BOOL)");

  const auto shape = v.find("shape");
  SENET_CHECK(shape != v.end(), at, "header entry has no \"shape\"");
  SENET_CHECK(shape->is_array(), at, "\"shape\" is not an array");
  SENET_CHECK(shape->size() <= kSafetensorsMaxRank, at, "shape has ", shape->size(), " dimensions, more than the ",
              kSafetensorsMaxRank, " allowed");
  for (const nlohmann::json& d : *shape) {
    std::uint64_t extent = 0;
    if (!get_unsigned(d, extent))
      throw Error(at + "shape " + printable(shape->dump()) + " has an extent that is not a non-negative integer");
    if (extent > static_cast<std::uint64_t>(std::numeric_limits<Index>::max()))
      throw Error(at + "shape " + printable(shape->dump()) + " has an extent that is too large");
    e.shape.push_back(static_cast<Index>(extent));
  }

  const auto offsets = v.find("data_offsets");
  SENET_CHECK(offsets != v.end(), at, "header entry has no \"data_offsets\"");
  SENET_CHECK(offsets->is_array() && offsets->size() == 2 && get_unsigned((*offsets)[0], e.begin) &&
                  get_unsigned((*offsets)[1], e.end),
              at, "\"data_offsets\" ", printable(offsets->dump()),
              " is not a pair of non-negative integers [begin, end]");
  SENET_CHECK(e.begin <= e.end, at, "data_offsets [", e.begin, ", ", e.end, "] has begin > end");
  SENET_CHECK(e.end <= data_size, at, "data_offsets [", e.begin, ", ", e.end, "] run past the end of the ", data_size,
              "-byte data section (truncated file?)");

  Index numel = 0;
  try {
    numel = shape_numel(e.shape);
  } catch (const Error& err) {
    throw Error(at + err.what());
  }
  const auto n = static_cast<std::uint64_t>(numel);
  SENET_CHECK(n <= std::numeric_limits<std::uint64_t>::max() / info->itemsize, at, "shape ", to_string(e.shape),
              " of dtype ", e.dtype, " has too many bytes");
  SENET_CHECK(e.nbytes() == n * info->itemsize, at, "data_offsets [", e.begin, ", ", e.end, "] span ", e.nbytes(),
              " bytes but shape ", to_string(e.shape), " of dtype ", e.dtype, " needs ", n * info->itemsize);
  return e;
}

}  // namespace safetensors
}  // namespace detail

/// A safetensors file opened for reading.
///
/// `open` reads and validates the header only: every entry's dtype, shape (overflow-checked) and
/// byte range against the file size, and the metadata, within the limits of `SafetensorsOptions`.
/// `read` then seeks to and converts one tensor at a time. Every error is a `senet::Error` naming
/// the file and, where there is one, the tensor. Reads open the file afresh, so one
/// `SafetensorsFile` may be read from many threads.
///
/// \code
/// auto f = senet::SafetensorsFile::open("se_resnet50.safetensors");
/// for (const auto& key : f.keys()) {
///   if (!f.is_floating(key)) continue;          // e.g. num_batches_tracked (I64)
///   senet::Tensor<float> w = f.read<float>(key);  // w.shape() == f.entry(key).shape
/// }
/// \endcode
class SafetensorsFile {
 public:
  /// Opens `path` and validates its header; throws `senet::Error` on any damage and when the
  /// header exceeds a limit of `options` (the message names the limit).
  static SafetensorsFile open(const std::string& path, const SafetensorsOptions& options = {}) {
    namespace st = detail::safetensors;
    std::ifstream in;
    const std::uint64_t file_size = detail::open_for_reading(in, path, "a safetensors file");
    SENET_CHECK(file_size >= 8, path, ": file is ", file_size,
                " bytes long, too short to hold the 8-byte safetensors header length (truncated?)");

    unsigned char length_bytes[8];
    in.read(reinterpret_cast<char*>(length_bytes), 8);
    SENET_CHECK(static_cast<bool>(in), path, ": cannot read the header length");
    const std::uint64_t header_size = detail::load_le(length_bytes, 8);
    SENET_CHECK(header_size <= options.max_header_bytes, path, ": header length ", header_size,
                " exceeds the limit of ", options.max_header_bytes,
                " bytes (SafetensorsOptions::max_header_bytes; damaged or not a safetensors file?)");
    SENET_CHECK(header_size <= file_size - 8, path, ": header length ", header_size, " is larger than the ",
                file_size - 8, " bytes that follow it (truncated file?)");

    std::string header(static_cast<std::size_t>(header_size), '\0');
    in.read(header.data(), static_cast<std::streamsize>(header_size));
    SENET_CHECK(static_cast<bool>(in), path, ": cannot read the ", header_size, "-byte header");

    SafetensorsFile file;
    file.path_ = path;
    file.data_start_ = 8 + header_size;
    const std::uint64_t data_size = file_size - file.data_start_;

    // nlohmann keeps the last of duplicate keys silently; a duplicate tensor name is ambiguous.
    // Containers nested deeper than a valid header's are refused as they start, before
    // "[[[[..." can build millions of empty arrays.
    std::set<std::string> seen;
    std::string duplicate;
    const nlohmann::json::parser_callback_t on_event = [&](int depth, nlohmann::json::parse_event_t event,
                                                           nlohmann::json& parsed) {
      using Event = nlohmann::json::parse_event_t;
      if ((event == Event::object_start || event == Event::array_start) && depth >= st::kMaxJsonDepth)
        throw Error(detail::cat(path, ": header nests JSON more than ", st::kMaxJsonDepth,
                                " levels deep (object, entry, shape); not a safetensors header"));
      if (event == Event::key && depth == 1 && parsed.is_string() && !seen.insert(parsed.get<std::string>()).second &&
          duplicate.empty())
        duplicate = parsed.get<std::string>();
      return true;
    };
    nlohmann::json json;
    try {
      json = nlohmann::json::parse(header, on_event);
    } catch (const nlohmann::json::exception& e) {
      // The parser quotes the bytes it choked on; keep the message printable.
      std::string what = e.what();
      for (char& c : what)
        if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) >= 0x7F) c = '?';
      throw Error(path + ": header is not valid JSON: " + what);
    }
    SENET_CHECK(json.is_object(), path, ": header is a JSON ", json.type_name(), ", not an object");
    SENET_CHECK(duplicate.empty(), path, ": header names tensor '", detail::printable(duplicate), "' more than once");

    for (auto it = json.begin(); it != json.end(); ++it) {
      if (it.key() == "__metadata__") {
        SENET_CHECK(it->is_object(), path, ": \"__metadata__\" is not a JSON object");
        for (auto m = it->begin(); m != it->end(); ++m) {
          SENET_CHECK(m->is_string(), path, ": \"__metadata__\" value of '", detail::printable(m.key()), "' is a ",
                      m->type_name(),
                      ", not a string");
          file.metadata_.emplace(m.key(), m->get<std::string>());
        }
        continue;
      }
      file.entries_.emplace(it.key(), st::parse_entry(path, it.key(), *it, data_size));
    }
    return file;
  }

  /// The path given to `open`.
  const std::string& path() const noexcept { return path_; }

  /// Tensor names, sorted; `"__metadata__"` is not one.
  std::vector<std::string> keys() const {
    std::vector<std::string> out;
    out.reserve(entries_.size());
    for (const auto& kv : entries_) out.push_back(kv.first);
    return out;
  }

  bool contains(const std::string& key) const { return entries_.count(key) != 0; }

  /// The validated header entry of `key`; throws `senet::Error` if there is no such tensor.
  const SafetensorsEntry& entry(const std::string& key) const {
    const auto it = entries_.find(key);
    SENET_CHECK(it != entries_.end(), path_, ": no tensor named '", detail::printable(key), "'");
    return it->second;
  }

  /// True for F64, F32, F16 and BF16 tensors (those `read` can convert).
  bool is_floating(const std::string& key) const { return detail::safetensors::find_dtype(entry(key).dtype)->floating; }

  /// The `"__metadata__"` object (empty when the file has none).
  const std::map<std::string, std::string>& metadata() const noexcept { return metadata_; }

  /// Reads tensor `key`, converting F64/F32/F16/BF16 to `T` (float or double), with the shape
  /// stored in the file. Only that tensor's bytes are read. Throws `senet::Error` if the key is
  /// missing, its dtype is not floating point, or the file changed since `open`.
  template <class T>
  Tensor<T> read(const std::string& key) const {
    Tensor<T> out(entry(key).shape, uninitialized);
    read_into(key, out);
    return out;
  }

  /// Reads tensor `key` into `out`, which must already have its shape (no allocation: what
  /// `load_weights` uses to fill a model in place).
  template <class T>
  void read_into(const std::string& key, Tensor<T>& out) const {
    static_assert(std::is_floating_point_v<T>, "SafetensorsFile::read<T>: T must be float or double");
    namespace st = detail::safetensors;
    const SafetensorsEntry& e = entry(key);
    SENET_CHECK(st::find_dtype(e.dtype)->floating, st::where(path_, key), "dtype ", e.dtype,
                " is an integer type and cannot be read as a floating-point tensor");
    SENET_CHECK(out.shape() == e.shape, st::where(path_, key), "shape ", to_string(e.shape),
                " does not fit a tensor of ", to_string(out.shape()));
    T* dst = out.data();
    read_chunks(key, [&](st::Dtype dtype, const unsigned char* src, std::size_t done, std::size_t count) {
      st::convert(dtype, src, dst + done, count);
    });
  }

  /// Counts the NaN and infinite values of tensor `key` as read into a `Tensor<T>` (so a finite
  /// F64 value beyond float's range counts for `T = float`), and finds the first. Streams the
  /// tensor through a 1 MiB buffer without keeping it (the 112 MB of an SE-ResNet-50 checkpoint
  /// in about 0.15 s). Throws as `read` does.
  template <class T>
  NonFiniteValues find_non_finite(const std::string& key) const {
    static_assert(std::is_floating_point_v<T>, "SafetensorsFile::find_non_finite<T>: T must be float or double");
    namespace st = detail::safetensors;
    NonFiniteValues found;
    const std::size_t itemsize = static_cast<std::size_t>(st::find_dtype(entry(key).dtype)->itemsize);
    read_chunks(key, [&](st::Dtype dtype, const unsigned char* src, std::size_t done, std::size_t count) {
      st::count_non_finite<T>(dtype, itemsize, src, done, count, found);
    });
    return found;
  }

 private:
  SafetensorsFile() = default;

  /// Streams the bytes of floating-point tensor `key` to `chunk(dtype, src, done, count)`, 1 MiB
  /// at a time (`count` elements starting at element `done`).
  template <class Chunk>
  void read_chunks(const std::string& key, Chunk&& chunk) const {
    namespace st = detail::safetensors;
    const SafetensorsEntry& e = entry(key);
    const st::DtypeInfo* info = st::find_dtype(e.dtype);
    SENET_CHECK(info->floating, st::where(path_, key), "dtype ", e.dtype,
                " is an integer type and cannot be read as a floating-point tensor");
    const auto n = static_cast<std::size_t>(e.nbytes() / info->itemsize);
    if (n == 0) return;
    std::ifstream in(path_, std::ios::binary);
    SENET_CHECK(static_cast<bool>(in), st::where(path_, key), "cannot reopen the file for reading");
    in.seekg(static_cast<std::streamoff>(data_start_ + e.begin));
    SENET_CHECK(static_cast<bool>(in), st::where(path_, key), "cannot seek to byte ", data_start_ + e.begin);
    const bool complete =
        detail::read_chunks(in, n, static_cast<std::size_t>(info->itemsize),
                            [&](const unsigned char* src, std::size_t done, std::size_t count) {
                              chunk(info->dtype, src, done, count);
                            });
    SENET_CHECK(complete, st::where(path_, key), "file ends before the tensor's data does (",
                "was it changed after it was opened?)");
  }

  std::string path_;
  std::uint64_t data_start_ = 0;  // 8 + header length
  std::map<std::string, SafetensorsEntry> entries_;
  std::map<std::string, std::string> metadata_;
};

/// Writes `tensors` to a safetensors file at `path`, as F32 for `float` and F64 for `double`,
/// in the given order, with `metadata` as `"__metadata__"` when it is not empty. The header is
/// padded with spaces so the data section starts at a multiple of 8 bytes. Throws
/// `senet::Error` for a null or empty-shaped tensor, a duplicate or reserved name, or when the
/// file cannot be written.
template <class T>
void write_safetensors(const std::string& path, const std::vector<std::pair<std::string, const Tensor<T>*>>& tensors,
                       const std::map<std::string, std::string>& metadata = {}) {
  static_assert(std::is_same_v<T, float> || std::is_same_v<T, double>, "write_safetensors: T must be float or double");

  nlohmann::json json = nlohmann::json::object();
  if (!metadata.empty()) json["__metadata__"] = metadata;
  std::uint64_t offset = 0;
  for (const auto& [name, t] : tensors) {
    SENET_CHECK(t != nullptr, path, ": tensor '", name, "' is a null pointer");
    SENET_CHECK(name != "__metadata__", path, ": '__metadata__' is reserved and cannot name a tensor");
    SENET_CHECK(!json.contains(name), path, ": tensor '", name, "' is given more than once");
    const std::uint64_t bytes = t->bytes();
    json[name] = {{"dtype", std::is_same_v<T, float> ? "F32" : "F64"},
                  {"shape", t->shape()},
                  {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
  }

  std::string header;
  try {
    header = json.dump();
  } catch (const nlohmann::json::exception& e) {
    throw Error(path + ": cannot encode the header (tensor names and metadata must be UTF-8): " + e.what());
  }
  header.append((8 - header.size() % 8) % 8, ' ');

  std::ofstream out = detail::open_for_writing(path);
  unsigned char length_bytes[8];
  detail::store_le(length_bytes, header.size(), 8);
  out.write(reinterpret_cast<const char*>(length_bytes), 8);
  out.write(header.data(), static_cast<std::streamsize>(header.size()));
  for (const auto& entry : tensors)
    detail::write_le(out, entry.second->data(), static_cast<std::size_t>(entry.second->size()));
  detail::close_output(out, path);
}

}  // namespace senet
