#pragma once
/// \file idx.hpp
/// Reading IDX files, the format of MNIST and Fashion-MNIST (http://yann.lecun.com/exdb/mnist/):
///
///     0x00 0x00 | type (1 byte) | rank R (1 byte) | R dimensions (u32, big-endian)
///     | row-major data, big-endian
///
/// with type 0x08 unsigned byte, 0x09 signed byte, 0x0B i16, 0x0C i32, 0x0D f32, 0x0E f64.
/// Uncompressed files only: gunzip the `.gz` files datasets ship first.
///
/// \code
/// senet::Tensor<float> images = senet::read_idx<float>("t10k-images-idx3-ubyte");  // [10000, 28, 28], 0..255
/// senet::Tensor<float> labels = senet::read_idx<float>("t10k-labels-idx1-ubyte");  // [10000], 0..9
/// \endcode

#include <cstdint>
#include <cstring>
#include <fstream>
#include <string>
#include <type_traits>

#include "senet/core/error.hpp"
#include "senet/core/tensor.hpp"
#include "senet/io/detail/bytes.hpp"

namespace senet {
namespace detail {

/// Bytes per element of IDX type code `type`; 0 for an unknown code.
inline std::size_t idx_itemsize(unsigned char type) {
  switch (type) {
    case 0x08:
    case 0x09:
      return 1;
    case 0x0B:
      return 2;
    case 0x0C:
    case 0x0D:
      return 4;
    case 0x0E:
      return 8;
    default:
      return 0;
  }
}

/// `byte` as "0x1f".
inline std::string idx_hex(unsigned char byte) {
  static const char kHex[] = "0123456789abcdef";
  return std::string("0x") + kHex[byte >> 4] + kHex[byte & 0xF];
}

/// The value of the big-endian element of IDX type `type` at `p`.
inline double idx_value(unsigned char type, const unsigned char* p) {
  switch (type) {
    case 0x08:
      return p[0];
    case 0x09:
      return static_cast<std::int8_t>(p[0]);
    case 0x0B:
      return static_cast<std::int16_t>(static_cast<std::uint16_t>(load_be(p, 2)));
    case 0x0C:
      return static_cast<std::int32_t>(static_cast<std::uint32_t>(load_be(p, 4)));
    case 0x0D:
      return bits_to_float(static_cast<std::uint32_t>(load_be(p, 4)));
    default:
      return bits_to_double(load_be(p, 8));
  }
}

}  // namespace detail

/// Reads the IDX file `path` into a tensor of its shape (the header's dimensions), every element
/// converted to `T` (float or double; bytes and 16-bit integers are exact in both, 32-bit integers
/// in double).
///
/// Throws `senet::Error` naming the file, before allocating the tensor, when the file is missing,
/// shorter than its header, starts with other than two zero bytes (a gzip-compressed file is
/// named as such), has an unknown type code or rank 0, or when its size differs from what the
/// header's dimensions need (truncated, or trailing bytes).
template <class T>
Tensor<T> read_idx(const std::string& path) {
  static_assert(std::is_floating_point_v<T>, "read_idx<T>: T must be float or double");
  std::ifstream in;
  const std::uint64_t file_size = detail::open_for_reading(in, path, "an IDX file");
  unsigned char magic[4] = {0, 0, 0, 0};
  SENET_CHECK(file_size >= 4, path, ": file is ", file_size, " bytes long, too short for an IDX header");
  in.read(reinterpret_cast<char*>(magic), 4);
  SENET_CHECK(static_cast<bool>(in), path, ": cannot read the IDX header");
  SENET_CHECK(!(magic[0] == 0x1F && magic[1] == 0x8B), path,
              ": is gzip-compressed; decompress it first (gunzip) to read it as an IDX file");
  SENET_CHECK(magic[0] == 0 && magic[1] == 0, path,
              ": not an IDX file (it must start with two zero bytes, starts with ", detail::idx_hex(magic[0]), " ",
              detail::idx_hex(magic[1]), ")");
  const unsigned char type = magic[2];
  const std::size_t itemsize = detail::idx_itemsize(type);
  SENET_CHECK(itemsize > 0, path, ": unknown IDX element type ", detail::idx_hex(type),
              " (known: 0x08 u8, 0x09 i8, 0x0B i16, 0x0C i32, 0x0D f32, 0x0E f64)");
  const std::size_t rank = magic[3];
  SENET_CHECK(rank >= 1, path, ": IDX rank is 0; an IDX array needs at least one dimension");
  const std::uint64_t data_start = 4 + 4 * std::uint64_t{rank};
  SENET_CHECK(file_size >= data_start, path, ": file is ", file_size, " bytes long, too short for the ", rank,
              " dimensions of its IDX header (truncated?)");
  unsigned char dims_bytes[4 * 255];
  in.read(reinterpret_cast<char*>(dims_bytes), static_cast<std::streamsize>(4 * rank));
  SENET_CHECK(static_cast<bool>(in), path, ": cannot read the IDX header");
  Shape shape(rank);
  // Each dimension is below 2^32; the element count is checked for overflow here and against the
  // file size below, so nothing is allocated for dimensions the file does not hold.
  constexpr std::uint64_t kMax = ~std::uint64_t{0};
  std::uint64_t count = 1;
  bool overflow = false;
  for (std::size_t i = 0; i < rank; ++i) {
    const std::uint64_t d = detail::load_be(dims_bytes + 4 * i, 4);
    shape[i] = static_cast<Index>(d);
    if (d != 0 && count > kMax / d) overflow = true;
    count *= overflow ? 1 : d;
  }
  overflow = overflow || count > (kMax - data_start) / itemsize;
  SENET_CHECK(!overflow, path, ": the IDX dimensions ", to_string(shape), " describe more than 2^64 bytes (file is ",
              file_size, " bytes long)");
  const std::uint64_t expected = data_start + count * itemsize;
  SENET_CHECK(file_size == expected, path, ": file is ", file_size, " bytes long; the IDX dimensions ",
              to_string(shape), " of ", itemsize, "-byte elements need ", expected,
              file_size < expected ? " (truncated?)" : " (trailing bytes)");
  Tensor<T> out(shape);
  const bool complete = detail::read_converted(
      in, out.data(), static_cast<std::size_t>(count), itemsize,
      [type, itemsize](const unsigned char* src, T* dst, std::size_t n) {
        for (std::size_t i = 0; i < n; ++i) dst[i] = static_cast<T>(detail::idx_value(type, src + i * itemsize));
      });
  SENET_CHECK(complete, path, ": reading the IDX data failed");
  return out;
}

}  // namespace senet
