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
/// PNM, ...), PNM files whose maxval is not 255, truncated or damaged data (with stb's reason),
/// and images of more than `ImageOptions::max_pixels` pixels (`kDefaultMaxPixels`, PIL's
/// limit), refused from the size in the header before any pixel is decoded, so a small file
/// declaring a huge image (a decompression bomb) costs nothing; likewise a PNG whose compressed
/// data inflates to more than twice the image it declares (a zlib bomb), at the price of
/// inflating each PNG twice (a 12-megapixel PNG: 1.6 s, 2.6 with the check). Damaged JPEG and PNG
/// structures that stb_image 2.27 mishandles (overflowing or undefined tables, chunk lengths
/// past the end) are refused before stb sees them.
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

struct StbFree {
  void operator()(void* p) const noexcept { stbi_image_free(p); }
};

inline std::string failure_reason() {
  const char* r = stbi_failure_reason();
  return r ? r : "unknown error";
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

/// Refuses a PNG IDAT chunk whose length runs past the end of the data: stb_image allocates the
/// declared length (doubled to a power of two) before it reads, so 200 bytes could make it ask
/// for gigabytes (found by fuzzing). Chunks are walked as stb walks them, up to IEND.
inline void check_png(const std::uint8_t* p, std::size_t n, const std::string& name) {
  const auto be32 = [&](std::size_t i) {
    return std::uint64_t{p[i]} << 24 | std::uint64_t{p[i + 1]} << 16 | std::uint64_t{p[i + 2]} << 8 | p[i + 3];
  };
  for (std::size_t at = 8; at + 8 <= n;) {  // length, type, data, CRC
    const std::uint64_t length = be32(at), type = be32(at + 4);
    const std::uint64_t left = n - (at + 8);
    if (type == 0x49454E44) return;  // IEND
    SENET_CHECK(type != 0x49444154 || length <= left, name, ": cannot decode PNG image: truncated: an IDAT chunk of ",
                length, " bytes runs past the end of the data (", left, " bytes left)");
    if (length > left) return;  // stb stops at the end of the data
    at += 12 + static_cast<std::size_t>(length);
  }
}

/// Refuses a PNG whose compressed data inflates to more than twice the image its IHDR declares
/// (plus 1 MiB): stb inflates the whole zlib stream whatever the image needs, so 510 KB of
/// compressed zeros made it take 530 MB and 7 s for a 1x1 image, a decompression bomb the pixel
/// limit cannot see. The data is inflated once, by stb's own decoder, into a buffer of that
/// bound, where stb stops; skipped when even the densest deflate stream (1032:1) fits.
/// Call after check_png and the pixel limit (which bounds the buffer).
inline void check_png_inflated_size(const std::uint8_t* p, std::size_t n, const std::string& name) {
  const auto be32 = [&](std::size_t i) {
    return std::uint64_t{p[i]} << 24 | std::uint64_t{p[i + 1]} << 16 | std::uint64_t{p[i + 2]} << 8 | p[i + 3];
  };
  if (n < 33 || be32(8) != 13 || be32(12) != 0x49484452) return;  // no IHDR first: stb refuses it
  const std::uint64_t width = be32(16), height = be32(20), depth = p[24], colour = p[25];
  static const std::uint64_t kChannels[7] = {1, 0, 3, 1, 2, 0, 4};  // by colour type
  if (colour > 6 || kChannels[colour] == 0 || depth == 0 || depth > 16) return;  // stb refuses it
  // Filtered rows: a filter byte and the packed pixels (interlacing adds under 2 bytes a row).
  const std::uint64_t raw = height * ((width * kChannels[colour] * depth + 7) / 8 + 1);
  const std::uint64_t bound = std::min<std::uint64_t>(2 * raw + (1 << 20), INT_MAX);

  bool iphone = false;  // Apple's CgBI PNGs hold raw deflate data, without the zlib header
  std::uint64_t total = 0;
  for (std::size_t at = 8; at + 8 <= n && be32(at + 4) != 0x49454E44; at += 12 + be32(at)) {
    if (be32(at) > n - (at + 8)) return;  // stb fails at the end of the data (check_png refused an IDAT)
    if (be32(at + 4) == 0x43674249) iphone = true;
    if (be32(at + 4) == 0x49444154) total += be32(at);
  }
  if (total * 1032 <= bound) return;
  std::vector<char> data;  // the IDAT payloads, as one zlib stream
  data.reserve(static_cast<std::size_t>(total));
  for (std::size_t at = 8; at + 8 <= n && be32(at + 4) != 0x49454E44; at += 12 + be32(at))
    if (be32(at + 4) == 0x49444154) data.insert(data.end(), p + at + 8, p + at + 8 + be32(at));
  std::unique_ptr<char[]> out(new char[static_cast<std::size_t>(bound)]);
  const int olen = static_cast<int>(bound), ilen = static_cast<int>(data.size());
  const int got = iphone ? stbi_zlib_decode_noheader_buffer(out.get(), olen, data.data(), ilen)
                         : stbi_zlib_decode_buffer(out.get(), olen, data.data(), ilen);
  SENET_CHECK(got >= 0 || failure_reason() != "output buffer limit", name, ": PNG image of ", width, "x", height,
              ": its ", total, " bytes of compressed data inflate to more than ", bound, " bytes, where the image needs ",
              raw, " (a decompression bomb?)");
}

/// Refuses the JPEG tables stb_image 2.27 (Debian 12) mishandles, found by fuzzing
/// (tests/fuzz/fuzz_image.cpp; both fixed upstream in later versions):
///  * a DHT table declaring more than 256 codes, which makes stb write past its 256-entry
///    arrays (a heap overflow);
///  * a scan using a Huffman table that no DHT segment defined: stb decodes with its
///    uninitialised table memory, so reads out of bounds or fails an assertion (an abort);
///    likewise a scan component whose quantisation table no DQT segment defined (garbage pixels).
/// Every segment stb could read is seen as stb reads it: markers found as stb finds them (0xFF
/// fill skipped), segments skipped by their length, entropy-coded data scanned for the marker
/// that ends it. stb stops at the first marker it cannot use, so the sequence seen here starts
/// with stb's; a valid file defines its tables before use and is never refused.
inline void check_jpeg(const std::uint8_t* p, std::size_t n, const std::string& name) {
  const auto byte = [&](std::size_t i) -> unsigned { return i < n ? p[i] : 0; };  // stb reads 0 past the end
  bool dc[4] = {}, ac[4] = {}, quant[4] = {};  // tables defined so far
  bool frame = false, progressive = false;
  struct Component {
    unsigned id, tq;
  };
  std::vector<Component> components;  // of the first SOF, the only one stb reads
  std::size_t i = 2;                  // after SOI
  while (i < n) {
    if (p[i] != 0xFF) {
      ++i;
      continue;
    }
    while (i < n && p[i] == 0xFF) ++i;  // fill bytes
    if (i >= n) return;
    const unsigned marker = p[i++];
    if (marker == 0xD9) return;  // EOI
    if (marker == 0x00 || marker == 0x01 || (marker >= 0xD0 && marker <= 0xD8)) continue;  // stuffing, RSTn, SOI
    const std::size_t length = byte(i) << 8 | byte(i + 1);
    if (length < 2) return;  // stb refuses it
    const std::size_t body = i + 2;
    if (marker == 0xC4) {  // DHT: L = length - 2; while (L > 0) { class/id; 16 counts; values }
      std::size_t at = body;
      for (std::ptrdiff_t left = static_cast<std::ptrdiff_t>(length) - 2; left > 0;) {
        const unsigned tc = byte(at) >> 4, th = byte(at) & 15;
        if (tc > 1 || th > 3) return;  // stb refuses the table
        std::size_t codes = 0;
        for (std::size_t k = 1; k <= 16; ++k) codes += byte(at + k);
        SENET_CHECK(codes <= 256, name, ": damaged JPEG: a Huffman table declares ", codes, " codes, more than 256");
        (tc == 0 ? dc : ac)[th] = true;
        at += 17 + codes;
        left -= static_cast<std::ptrdiff_t>(17 + codes);
      }
    } else if (marker == 0xDB) {  // DQT: precision/id; 64 values of 8 or 16 bits
      std::size_t at = body;
      for (std::ptrdiff_t left = static_cast<std::ptrdiff_t>(length) - 2; left > 0;) {
        const unsigned pq = byte(at) >> 4, tq = byte(at) & 15;
        if (pq > 1 || tq > 3) return;  // stb refuses the table
        quant[tq] = true;
        at += pq ? 129 : 65;
        left -= pq ? 129 : 65;
      }
    } else if ((marker == 0xC0 || marker == 0xC1 || marker == 0xC2) && !frame) {  // SOF: the frame
      frame = true;
      progressive = marker == 0xC2;
      for (unsigned c = 0, count = byte(body + 5); c < count; ++c)
        components.push_back({byte(body + 6 + 3 * c), byte(body + 6 + 3 * c + 2)});
    } else if (marker == 0xDA && frame) {  // SOS: the tables this scan decodes with must exist
      const unsigned count = byte(body);
      const std::size_t after = body + 1 + 2 * count;
      const unsigned spectral_start = byte(after), approximation_high = byte(after + 2) >> 4;
      for (unsigned c = 0; c < count; ++c) {
        const unsigned id = byte(body + 1 + 2 * c), td = byte(body + 2 + 2 * c) >> 4, ta = byte(body + 2 + 2 * c) & 15;
        if (td > 3 || ta > 3) return;  // stb refuses the scan
        const bool uses_dc = !progressive || (spectral_start == 0 && approximation_high == 0);
        const bool uses_ac = !progressive || spectral_start > 0;
        SENET_CHECK(!uses_dc || dc[td], name, ": damaged JPEG: a scan uses DC Huffman table ", td,
                    ", which no DHT segment defines");
        SENET_CHECK(!uses_ac || ac[ta], name, ": damaged JPEG: a scan uses AC Huffman table ", ta,
                    ", which no DHT segment defines");
        for (const Component& k : components)
          if (k.id == id)
            SENET_CHECK(k.tq > 3 || quant[k.tq], name, ": damaged JPEG: component ", id,
                        " uses quantisation table ", k.tq, ", which no DQT segment defines");
      }
    }
    i += length;  // SOS: its header; the entropy-coded data after it is scanned for the next marker
  }
}

}  // namespace image
}  // namespace detail

/// Limits of `decode_image` and `read_image`.
struct ImageOptions {
  /// Largest image accepted, in pixels (width x height); decoding needs about 3 to 8 bytes per
  /// pixel. The default is PIL's `Image.MAX_IMAGE_PIXELS` (see `kDefaultMaxPixels`).
  std::uint64_t max_pixels = kDefaultMaxPixels;
};

/// Decodes an image held in memory (`n` bytes at `bytes`): PNG, JPEG (baseline and progressive),
/// BMP (uncompressed), binary PPM (P6) and PGM (P5) with maxval 255. Returns 8-bit RGB with PIL's
/// `convert("RGB")` semantics (see the file comment). `name` is only used in error messages.
/// Throws `senet::Error` starting with `name` for empty, unsupported, truncated or damaged data,
/// and for images of more than `options.max_pixels` pixels.
inline Image decode_image(const std::uint8_t* bytes, std::size_t n, const std::string& name,
                          const ImageOptions& options = {}) {
  namespace im = detail::image;
  SENET_CHECK(bytes != nullptr && n > 0, name, ": empty file, not an image");
  SENET_CHECK(n <= static_cast<std::size_t>(INT_MAX), name, ": ", n, " bytes is too large for the image decoder");
  const im::Format format = im::sniff(bytes, n, name);
  if (format == im::Format::pnm) im::check_pnm(bytes, n, name);
  if (format == im::Format::bmp) im::check_bmp(bytes, n, name);
  if (format == im::Format::jpeg) im::check_jpeg(bytes, n, name);
  if (format == im::Format::png) im::check_png(bytes, n, name);
  const int len = static_cast<int>(n);
  int w = 0, h = 0, comp = 0;
  // The header's size, before stb allocates for it. Where stb cannot read the header, decoding
  // fails too, with the reason; the size is checked again after decoding.
  const auto check_size = [&] {
    SENET_CHECK(w > 0 && h > 0, name, ": decoded image is empty (", w, "x", h, ")");
    const auto pixels = static_cast<std::uint64_t>(w) * static_cast<std::uint64_t>(h);
    SENET_CHECK(pixels <= options.max_pixels, name, ": ", im::format_name(format), " image of ", w, "x", h, " = ",
                pixels, " pixels exceeds the limit of ", options.max_pixels,
                " pixels (ImageOptions::max_pixels; a decompression bomb?)");
  };
  if (stbi_info_from_memory(bytes, len, &w, &h, &comp)) check_size();
  if (format == im::Format::png) im::check_png_inflated_size(bytes, n, name);

  // 16-bit greyscale PNG (IHDR bit depth 16, colour type 0): PIL's mode "I", clipped to 255.
  if (format == im::Format::png && n >= 26 && bytes[24] == 16 && bytes[25] == 0) {
    std::unique_ptr<stbi_us, im::StbFree> grey(stbi_load_16_from_memory(bytes, len, &w, &h, &comp, 1));
    SENET_CHECK(grey != nullptr, name, ": cannot decode PNG image: ", im::failure_reason());
    check_size();
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
  check_size();
  Image out;
  out.width = w;
  out.height = h;
  out.rgb.assign(rgb.get(), rgb.get() + out.bytes());
  return out;
}

/// Reads and decodes the image file at `path` (see `decode_image`). Throws `senet::Error` naming
/// `path` when it is missing, a directory, unreadable, not a decodable image, or larger than
/// `options.max_pixels`.
inline Image read_image(const std::string& path, const ImageOptions& options = {}) {
  std::ifstream in;
  const std::uint64_t size = detail::open_for_reading(in, path, "an image file");
  SENET_CHECK(size > 0, path, ": empty file, not an image");
  SENET_CHECK(size <= static_cast<std::uint64_t>(INT_MAX), path, ": ", size,
              " bytes is too large for the image decoder");
  std::vector<std::uint8_t> bytes(static_cast<std::size_t>(size));
  in.read(reinterpret_cast<char*>(bytes.data()), static_cast<std::streamsize>(size));
  SENET_CHECK(static_cast<bool>(in), path, ": read error");
  return decode_image(bytes.data(), bytes.size(), path, options);
}

}  // namespace senet
