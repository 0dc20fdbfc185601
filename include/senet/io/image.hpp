#pragma once
/// \file image.hpp
/// Optional image decoding: PNG, JPEG, BMP and binary PPM/PGM files into `senet::Image` (8-bit
/// RGB), giving the pixels `PIL.Image.open(path).convert("RGB")` gives.
///
/// Not included by `senet/senet.hpp`: it needs stb_image (Debian/Ubuntu `libstb-dev`), whose
/// implementation is compiled into `libstb`, not into this header. In CMake link `senet::image`
/// (defined when stb is found; it adds the include directory and the library), or by hand:
/// `-I/usr/include/stb ... -lstb` (`pkg-config --cflags --libs stb`).
///
/// \code
/// #include <senet/io/image.hpp>
/// senet::Image img = senet::read_image("cat.jpg");                  // HWC RGB, 8 bits
/// senet::Tensor<float> x = senet::preprocess<float>({img}, senet::preprocess_preset("timm"));
/// \endcode
///
/// Conversions, as PIL's `convert("RGB")`: grey is replicated to R = G = B, alpha is dropped
/// (not composited), palettes are expanded, 16-bit channels keep their high byte, except 16-bit
/// greyscale PNG, which PIL opens as 32-bit integers and clips to 0..255 (so 256 and above become
/// white); senet does the same. Neither PIL nor senet applies EXIF orientation or ICC profiles.
///
/// Exactness: PNG, BMP, PPM and PGM decode to exactly PIL's pixels. JPEG goes through stb's own
/// IDCT, chroma upsampling and YCbCr conversion rather than libjpeg-turbo's, so values may differ
/// from PIL's by a few units (the tests bound the difference).
///
/// Failures throw `senet::Error` starting with the file name (or the name given to
/// `decode_image`): missing or unreadable files, unsupported formats (GIF, TIFF, WebP, ASCII
/// PNM, ...), PNM files whose maxval is not 255, truncated or damaged data (with stb's reason).
/// stb's failure reason is thread-local, so decoding may run on several threads at once.

#include <stb_image.h>

#include <algorithm>
#include <climits>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "senet/core/error.hpp"
#include "senet/io/detail/bytes.hpp"
#include "senet/io/preprocess.hpp"

namespace senet {
namespace detail {
namespace image {

enum class Format { png, jpeg, bmp, pnm, unknown };

inline const char* format_name(Format f) {
  switch (f) {
    case Format::png:
      return "PNG";
    case Format::jpeg:
      return "JPEG";
    case Format::bmp:
      return "BMP";
    case Format::pnm:
      return "PPM/PGM";
    case Format::unknown:
      break;
  }
  return "image";
}

/// The format announced by the first bytes; throws for formats senet does not read.
inline Format sniff(const std::uint8_t* p, std::size_t n, const std::string& name) {
  static const std::uint8_t png[8] = {0x89, 'P', 'N', 'G', 0x0D, 0x0A, 0x1A, 0x0A};
  if (n >= 8 && std::equal(png, png + 8, p)) return Format::png;
  if (n >= 3 && p[0] == 0xFF && p[1] == 0xD8 && p[2] == 0xFF) return Format::jpeg;
  if (n >= 2 && p[0] == 'B' && p[1] == 'M') return Format::bmp;
  if (n >= 2 && p[0] == 'P' && (p[1] == '5' || p[1] == '6')) return Format::pnm;
  if (n >= 2 && p[0] == 'P' && p[1] >= '1' && p[1] <= '7')
    throw Error(cat(name, ": unsupported Netpbm variant P", static_cast<char>(p[1]),
                    " (senet reads binary PGM P5 and PPM P6 only)"));
  throw Error(cat(name, ": not a PNG, JPEG, BMP, PPM or PGM file (unrecognised or unsupported image format)"));
}

/// Validates a binary PGM/PPM header and data size. stb reads past the end of a truncated file
/// without complaint and does not rescale maxvals other than 255 as PIL does, so both are
/// rejected here.
inline void check_pnm(const std::uint8_t* p, std::size_t n, const std::string& name) {
  std::size_t i = 2;
  auto space = [](std::uint8_t c) { return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r'; };
  auto number = [&](const char* what) {
    for (;;) {  // whitespace and '#' comments before each field
      while (i < n && space(p[i])) ++i;
      if (i < n && p[i] == '#') {
        while (i < n && p[i] != '\n' && p[i] != '\r') ++i;
      } else {
        break;
      }
    }
    SENET_CHECK(i < n && p[i] >= '0' && p[i] <= '9', name, ": damaged PPM/PGM header: no ", what);
    std::uint64_t v = 0;
    for (; i < n && p[i] >= '0' && p[i] <= '9'; ++i) {
      v = v * 10 + (p[i] - '0');
      SENET_CHECK(v <= (std::uint64_t{1} << 24), name, ": PPM/PGM ", what, " is too large");
    }
    return v;
  };
  const std::uint64_t channels = p[1] == '6' ? 3 : 1;
  const std::uint64_t w = number("width"), h = number("height"), maxval = number("maxval");
  SENET_CHECK(w > 0 && h > 0, name, ": PPM/PGM size ", w, "x", h, " is empty");
  SENET_CHECK(maxval == 255, name, ": PPM/PGM maxval ", maxval,
              " is not supported (senet reads 8-bit files with maxval 255)");
  SENET_CHECK(i < n && space(p[i]), name, ": damaged PPM/PGM header: no whitespace after the maxval");
  const std::uint64_t have = n - (i + 1), need = w * h * channels;
  SENET_CHECK(have >= need, name, ": truncated PPM/PGM: ", have, " bytes of pixel data, ", w, "x", h, " needs ", need);
}

/// Validates an uncompressed BMP's data size: stb fills a truncated file's missing rows with
/// zeros, where PIL raises "image file is truncated".
inline void check_bmp(const std::uint8_t* p, std::size_t n, const std::string& name) {
  if (n < 30) return;  // too short for the sizes; stb reports it
  const std::uint64_t offset = load_le(p + 10, 4), header = load_le(p + 14, 4);
  std::int64_t width = 0, height = 0;
  std::uint64_t bpp = 0, compression = 0;
  if (header == 12) {  // OS/2 BITMAPCOREHEADER: 16-bit sizes, no compression
    width = static_cast<std::int64_t>(load_le(p + 18, 2));
    height = static_cast<std::int64_t>(load_le(p + 20, 2));
    bpp = load_le(p + 24, 2);
  } else {
    if (n < 34) return;
    width = static_cast<std::int32_t>(load_le(p + 18, 4));
    height = static_cast<std::int32_t>(load_le(p + 22, 4));
    bpp = load_le(p + 28, 2);
    compression = load_le(p + 30, 4);
  }
  // Only uncompressed layouts (BI_RGB, BI_BITFIELDS, BI_ALPHABITFIELDS) have a fixed size.
  if (!(compression == 0 || compression == 3 || compression == 6)) return;
  if (width <= 0 || width > (1 << 24) || height == 0 || bpp == 0 || bpp > 32) return;  // stb decides
  const std::uint64_t rows = static_cast<std::uint64_t>(height < 0 ? -height : height);
  const std::uint64_t stride = (static_cast<std::uint64_t>(width) * bpp + 31) / 32 * 4;
  const std::uint64_t need = offset + stride * rows;
  SENET_CHECK(n >= need, name, ": truncated BMP: file is ", n, " bytes, ", width, "x", rows, " at ", bpp,
              " bits per pixel needs ", need);
}

struct StbFree {
  void operator()(void* p) const noexcept { stbi_image_free(p); }
};

inline std::string failure_reason() {
  const char* r = stbi_failure_reason();
  return r ? r : "unknown error";
}

}  // namespace image
}  // namespace detail

/// Decodes an image held in memory (`n` bytes at `bytes`): PNG, JPEG (baseline and progressive),
/// BMP (uncompressed), binary PPM (P6) and PGM (P5) with maxval 255. Returns 8-bit RGB with PIL's
/// `convert("RGB")` semantics (see the file comment). `name` is only used in error messages.
/// Throws `senet::Error` starting with `name` for empty, unsupported, truncated or damaged data.
inline Image decode_image(const std::uint8_t* bytes, std::size_t n, const std::string& name) {
  namespace im = detail::image;
  SENET_CHECK(bytes != nullptr && n > 0, name, ": empty file, not an image");
  SENET_CHECK(n <= static_cast<std::size_t>(INT_MAX), name, ": ", n, " bytes is too large for the image decoder");
  const im::Format format = im::sniff(bytes, n, name);
  if (format == im::Format::pnm) im::check_pnm(bytes, n, name);
  if (format == im::Format::bmp) im::check_bmp(bytes, n, name);
  const int len = static_cast<int>(n);
  int w = 0, h = 0, comp = 0;

  // 16-bit greyscale PNG (IHDR bit depth 16, colour type 0): PIL's mode "I", clipped to 255.
  if (format == im::Format::png && n >= 26 && bytes[24] == 16 && bytes[25] == 0) {
    std::unique_ptr<stbi_us, im::StbFree> grey(stbi_load_16_from_memory(bytes, len, &w, &h, &comp, 1));
    SENET_CHECK(grey != nullptr, name, ": cannot decode PNG image: ", im::failure_reason());
    Image out(w, h);
    for (std::size_t i = 0, count = static_cast<std::size_t>(w) * static_cast<std::size_t>(h); i < count; ++i) {
      const stbi_us v = grey.get()[i];
      out.rgb[3 * i] = out.rgb[3 * i + 1] = out.rgb[3 * i + 2] = static_cast<std::uint8_t>(v > 255 ? 255 : v);
    }
    return out;
  }

  // stb converts every layout to 3 channels as PIL does: grey replicated, alpha dropped.
  std::unique_ptr<stbi_uc, im::StbFree> rgb(stbi_load_from_memory(bytes, len, &w, &h, &comp, 3));
  SENET_CHECK(rgb != nullptr, name, ": cannot decode ", im::format_name(format), " image: ", im::failure_reason());
  SENET_CHECK(w > 0 && h > 0, name, ": decoded image is empty (", w, "x", h, ")");
  Image out;
  out.width = w;
  out.height = h;
  out.rgb.assign(rgb.get(), rgb.get() + out.bytes());
  return out;
}

/// Reads and decodes the image file at `path` (see `decode_image`). Throws `senet::Error` naming
/// `path` when it is missing, a directory, unreadable, or not a decodable image.
inline Image read_image(const std::string& path) {
  std::ifstream in;
  const std::uint64_t size = detail::open_for_reading(in, path, "an image file");
  SENET_CHECK(size > 0, path, ": empty file, not an image");
  SENET_CHECK(size <= static_cast<std::uint64_t>(INT_MAX), path, ": ", size,
              " bytes is too large for the image decoder");
  std::vector<std::uint8_t> bytes(static_cast<std::size_t>(size));
  in.read(reinterpret_cast<char*>(bytes.data()), static_cast<std::streamsize>(size));
  SENET_CHECK(static_cast<bool>(in), path, ": read error");
  return decode_image(bytes.data(), bytes.size(), path);
}

}  // namespace senet
