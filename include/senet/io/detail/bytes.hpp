#pragma once
/// \file bytes.hpp
/// Byte-level helpers shared by the file formats (npy.hpp, safetensors.hpp): integer loads and
/// stores that do not depend on the host's byte order, IEEE 754 bit casts, and the opening,
/// chunked reading and writing, and closing every reader and writer does the same way.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <type_traits>
#include <vector>

#include "senet/core/error.hpp"

namespace senet::detail {

// Byte-wise decoding is independent of the host's byte order; compilers turn it into one load.

/// The unsigned integer stored in the `n` bytes at `p`, least significant byte first.
inline std::uint64_t load_le(const unsigned char* p, std::size_t n) {
  std::uint64_t v = 0;
  for (std::size_t i = n; i-- > 0;) v = (v << 8) | p[i];
  return v;
}

/// The unsigned integer stored in the `n` bytes at `p`, most significant byte first.
inline std::uint64_t load_be(const unsigned char* p, std::size_t n) {
  std::uint64_t v = 0;
  for (std::size_t i = 0; i < n; ++i) v = (v << 8) | p[i];
  return v;
}

/// Stores the low `n` bytes of `v` at `p`, least significant byte first.
inline void store_le(unsigned char* p, std::uint64_t v, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i, v >>= 8) p[i] = static_cast<unsigned char>(v & 0xFFu);
}

/// The float whose IEEE 754 binary32 bits are `bits`.
inline float bits_to_float(std::uint32_t bits) {
  float f;
  std::memcpy(&f, &bits, sizeof f);
  return f;
}

/// The double whose IEEE 754 binary64 bits are `bits`.
inline double bits_to_double(std::uint64_t bits) {
  double d;
  std::memcpy(&d, &bits, sizeof d);
  return d;
}

/// The length of the valid UTF-8 sequence starting at `p[0]` (of `n` bytes), or 0 when there is
/// none there (a stray continuation byte, an overlong form, a surrogate, past U+10FFFF, cut short).
inline std::size_t utf8_sequence(const unsigned char* p, std::size_t n) {
  const unsigned c = p[0];
  if (c < 0x80) return 1;
  std::size_t len = 0;
  unsigned lo = 0x80, hi = 0xBF;  // the range of the second byte
  if (c >= 0xC2 && c <= 0xDF) {
    len = 2;
  } else if (c >= 0xE0 && c <= 0xEF) {
    len = 3;
    if (c == 0xE0) lo = 0xA0;
    if (c == 0xED) hi = 0x9F;
  } else if (c >= 0xF0 && c <= 0xF4) {
    len = 4;
    if (c == 0xF0) lo = 0x90;
    if (c == 0xF4) hi = 0x8F;
  } else {
    return 0;
  }
  if (n < len || p[1] < lo || p[1] > hi) return 0;
  for (std::size_t i = 2; i < len; ++i)
    if ((p[i] & 0xC0u) != 0x80u) return 0;
  return len;
}

/// `text` made safe to quote in a one-line error message: control characters (including
/// newlines), DEL and bytes that are not valid UTF-8 become `\xNN`, and text longer than
/// `max_bytes` is cut at a character boundary and ends in "...". Names read from files (tensor
/// keys, dtypes, archive entries) go through this, so a damaged file cannot put terminal escapes,
/// broken UTF-8 or megabytes of text into a message.
inline std::string printable(const std::string& text, std::size_t max_bytes = 200) {
  std::size_t end = text.size();
  if (end > max_bytes) {
    end = max_bytes;
    while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xC0u) == 0x80u) --end;  // UTF-8 continuation
  }
  static const char kHex[] = "0123456789abcdef";
  const auto* bytes = reinterpret_cast<const unsigned char*>(text.data());
  std::string out;
  out.reserve(end + 3);
  for (std::size_t i = 0; i < end;) {
    const unsigned char c = bytes[i];
    const std::size_t len = utf8_sequence(bytes + i, end - i);
    if (len == 0 || c < 0x20 || c == 0x7F) {
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 0xF];
      ++i;
    } else {
      out.append(text, i, len);
      i += len;
    }
  }
  if (end < text.size()) out += "...";
  return out;
}

/// Opens `path` for binary reading and returns its size in bytes, leaving `in` at offset 0.
/// Throws `senet::Error` naming the file when it does not exist, is a directory (`expected`
/// names what it should be, e.g. "a .npy file"), cannot be opened, or has no size.
inline std::uint64_t open_for_reading(std::ifstream& in, const std::string& path, const char* expected) {
  std::error_code ec;
  const bool exists = std::filesystem::exists(path, ec);
  SENET_CHECK(exists || ec, path, ": no such file");
  SENET_CHECK(!std::filesystem::is_directory(path, ec), path, ": is a directory, not ", expected);
  in.open(path, std::ios::binary);
  SENET_CHECK(static_cast<bool>(in), path, ": cannot open file for reading");
  in.seekg(0, std::ios::end);
  const std::streamoff size = in.tellg();
  SENET_CHECK(in && size >= 0, path, ": cannot determine the file size (not a regular file?)");
  in.seekg(0);
  return static_cast<std::uint64_t>(size);
}

/// Reads `n` elements of `itemsize` bytes each from `in` through a buffer of at most 1 MiB;
/// `chunk(src, done, count)` receives each run of `count` elements, the first of which is element
/// `done`. Returns false when the stream ends or fails first.
template <class Chunk>
bool read_chunks(std::istream& in, std::size_t n, std::size_t itemsize, Chunk&& chunk) {
  const std::size_t per_chunk = (std::size_t{1} << 20) / itemsize;
  std::vector<unsigned char> buffer(std::min(per_chunk, n) * itemsize);
  for (std::size_t done = 0; done < n;) {
    const std::size_t count = std::min(per_chunk, n - done);
    in.read(reinterpret_cast<char*>(buffer.data()), static_cast<std::streamsize>(count * itemsize));
    if (!in) return false;
    chunk(static_cast<const unsigned char*>(buffer.data()), done, count);
    done += count;
  }
  return true;
}

/// Reads `n` elements of `itemsize` bytes each from `in` through a buffer of at most 1 MiB, so
/// peak memory is the destination plus 1 MiB; `convert(src, dst, count)` decodes each chunk of
/// `count` elements into `dst`. Returns false when the stream ends or fails first.
template <class T, class Convert>
bool read_converted(std::istream& in, T* dst, std::size_t n, std::size_t itemsize, Convert&& convert) {
  return read_chunks(in, n, itemsize, [&](const unsigned char* src, std::size_t done, std::size_t count) {
    convert(src, dst + done, count);
  });
}

/// Opens (and truncates) `path` for binary writing; throws `senet::Error` naming it on failure.
inline std::ofstream open_for_writing(const std::string& path) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  SENET_CHECK(static_cast<bool>(out), path, ": cannot open file for writing");
  return out;
}

/// Writes `n` floats or doubles to `out` as little-endian IEEE 754 bytes, 64 Ki values at a
/// time; stops early once `out` has failed (`close_output` reports it).
template <class T>
void write_le(std::ostream& out, const T* values, std::size_t n) {
  static_assert(std::is_same_v<T, float> || std::is_same_v<T, double>, "write_le: T must be float or double");
  constexpr std::size_t kChunk = 1 << 16;
  std::vector<unsigned char> buffer;
  for (std::size_t done = 0; done < n && out;) {
    const std::size_t count = std::min(kChunk, n - done);
    buffer.resize(count * sizeof(T));
    for (std::size_t i = 0; i < count; ++i) {
      std::conditional_t<std::is_same_v<T, float>, std::uint32_t, std::uint64_t> bits;
      std::memcpy(&bits, values + done + i, sizeof bits);
      store_le(buffer.data() + i * sizeof(T), bits, sizeof(T));
    }
    out.write(reinterpret_cast<const char*>(buffer.data()), static_cast<std::streamsize>(buffer.size()));
    done += count;
  }
}

/// Closes `out`, throwing `senet::Error` naming `path` if any write to it failed.
inline void close_output(std::ofstream& out, const std::string& path) {
  out.close();
  SENET_CHECK(!out.fail(), path, ": writing failed (disk full or file system error)");
}

}  // namespace senet::detail
