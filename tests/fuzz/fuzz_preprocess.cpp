// Fuzz target: pre-processing (senet/io/preprocess.hpp) of a small image, every parameter taken
// from the input: image size, output size, crop_pct (including 0, negative, NaN, infinite, tiny
// and huge values), interpolation, colour order, grey or RGB output, scale, std, pixel limit,
// the targets of a direct resize and centre crop; the remaining bytes are the pixels.
//
// Properties beyond "no crash": resize, center_crop and resize_short_side give the sizes they
// promise; a same-size resize is a copy; a crop inside the image copies the pixels at
// center_crop_offset; preprocess<double> is preprocess<float> converted; ordinary options
// (crop_pct in [0.5, 2] leaving a short side of at least 1, non-zero scale and std, the
// default limit) never throw.

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <string>

#include "fuzz_util.hpp"
#include "senet/io/preprocess.hpp"

namespace {

using senet::Image;
using senet::Index;

struct Reader {
  const std::uint8_t* data;
  std::size_t size;
  std::size_t pos = 0;
  std::uint8_t next() { return pos < size ? data[pos++] : 0; }
};

double crop_pct_from(std::uint8_t b) {
  switch (b) {
    case 255:
      return std::numeric_limits<double>::quiet_NaN();
    case 254:
      return std::numeric_limits<double>::infinity();
    case 253:
      return 0.0;
    case 252:
      return -0.5;
    case 251:
      return 1e-300;
    case 250:
      return 1e300;
    case 249:
      return 1e-4;
    case 248:
      return std::numeric_limits<double>::denorm_min();
    default:
      return 0.5 + (b % 151) / 100.0;  // 0.50 .. 2.00: short sides up to 64, resized images of 131 kP at most
  }
}

void check_geometry(const Image& img, Reader& in, senet::Interpolation filter) {
  const Index rw = 1 + in.next() % 64, rh = 1 + in.next() % 64;
  const Image r = senet::resize(img, rw, rh, filter);
  FUZZ_CHECK(r.width == rw && r.height == rh && r.rgb.size() == r.bytes());
  if (rw == img.width && rh == img.height) FUZZ_CHECK(r == img);

  const Index cw = 1 + in.next() % 48, ch = 1 + in.next() % 48;
  const Image c = senet::center_crop(img, cw, ch);
  FUZZ_CHECK(c.width == cw && c.height == ch && c.rgb.size() == c.bytes());
  if (cw <= img.width && ch <= img.height) {
    const Index x0 = senet::center_crop_offset(img.width, cw), y0 = senet::center_crop_offset(img.height, ch);
    FUZZ_CHECK(x0 >= 0 && y0 >= 0 && x0 + cw <= img.width && y0 + ch <= img.height);
    for (Index y = 0; y < ch; ++y)
      for (Index x = 0; x < cw; ++x)
        for (Index k = 0; k < 3; ++k) FUZZ_CHECK(c.at(x, y, k) == img.at(x + x0, y + y0, k));
  }

  const Index side = 1 + in.next() % 48;
  const Image s = senet::resize_short_side(img, side, filter);
  const auto expected = senet::short_side_size(img.width, img.height, side);
  FUZZ_CHECK(s.width == expected[0] && s.height == expected[1]);
  FUZZ_CHECK(std::min(s.width, s.height) == side);
}

void check_preprocess(const Image& img, Reader& in, senet::Interpolation filter) {
  const Index size = 1 + in.next() % 32;
  const std::uint8_t crop = in.next(), flags = in.next();
  senet::PreprocessOptions o = senet::preprocess_preset(flags & 1 ? "caffe" : "timm");
  o.size = size;
  o.crop_pct = crop_pct_from(crop);
  o.interpolation = filter;
  if (flags & 2) o.scale = 0.0f;
  if (flags & 4) o.std[1] = 0.0f;
  static const std::uint64_t kLimits[] = {senet::kDefaultMaxPixels, 1, 100, 4096};
  o.max_pixels = kLimits[(flags >> 3) % 4];
  o.grayscale = (flags & 0x20) != 0;
  const bool ordinary = crop < 248 && !(flags & 6) && o.max_pixels == senet::kDefaultMaxPixels &&
                        static_cast<double>(size) / o.crop_pct >= 1.0;

  senet::Tensor<float> f;
  try {
    f = senet::preprocess<float>(img, o);
  } catch (const senet::Error& e) {
    if (ordinary) std::fprintf(stderr, "unexpected error: %s\n", e.what());
    FUZZ_CHECK(!ordinary);
    return;
  }
  const senet::Tensor<double> d = senet::preprocess<double>(img, o);
  FUZZ_CHECK(f.shape() == senet::Shape({1, o.channels(), o.size, o.size}) && d.shape() == f.shape());
  for (Index i = 0; i < f.size(); ++i) {
    FUZZ_CHECK(std::isfinite(f[i]));
    FUZZ_CHECK(d[i] == static_cast<double>(f[i]));
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  // Bytes 0-2: image width, height, filter; 3-7: geometry; 8-10: pre-processing; then pixels.
  constexpr std::size_t kParams = 11;
  Reader in{data, size};
  const Index w = 1 + in.next() % 32, h = 1 + in.next() % 32;
  const senet::Interpolation filter = in.next() % 2 ? senet::Interpolation::bicubic : senet::Interpolation::bilinear;
  Image img(w, h);
  for (std::size_t i = 0; i < img.rgb.size(); ++i)
    img.rgb[i] = size > kParams ? data[kParams + i % (size - kParams)] : static_cast<std::uint8_t>(i * 37);
  try {
    check_geometry(img, in, filter);
  } catch (const senet::Error&) {
    FUZZ_CHECK(false);  // every size check_geometry asks for is valid
  }
  check_preprocess(img, in, filter);
  return 0;
}
