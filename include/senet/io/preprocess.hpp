#pragma once
/// \file preprocess.hpp
/// Evaluation pre-processing that reproduces PIL + torchvision bit for bit: `senet::Image`
/// (8-bit RGB), Pillow's antialiased `Image.resize`, torchvision's `Resize(int)` and
/// `CenterCrop`, and the timm and Caffe normalisations, giving the `[N, 3, S, S]` tensor an
/// SE-ResNet expects; or, for models of grey images (`PreprocessOptions::grayscale`), PIL's
/// `convert("L")` luma and one normalised channel, `[N, 1, S, S]`.
///
/// No third-party dependency: decoding files lives in the optional `senet/io/image.hpp`.
///
/// \code
/// #include <senet/io/image.hpp>        // read_image (needs stb); includes this header
/// senet::PreprocessOptions opt = senet::preprocess_preset("timm");   // 224, crop 0.875, bilinear
/// senet::Tensor<float> x = senet::preprocess<float>({senet::read_image("cat.jpg")}, opt);
/// senet::Tensor<float> logits = model->forward(x);                   // x: [1, 3, 224, 224]
/// \endcode
///
/// What "the same as timm" means here, step by step (timm `transforms_imagenet_eval`, Pillow 9.4,
/// torchvision 0.14, on `Image.open(p).convert("RGB")`):
///   1. `Resize(floor(size / crop_pct), interpolation)`: the short side becomes
///      `floor(size / crop_pct)` and the long side `int(short * long / old_short)`;
///   2. `CenterCrop(size)`;
///   3. `ToTensor()`: uint8 -> float32, divided by 255 in float32;
///   4. `Normalize(mean, std)`: `(x - mean) / std` in float32.
/// Steps 1 and 2 are exact (integer arithmetic identical to Pillow's); steps 3 and 4 perform the
/// same float32 operations in the same order, so the tensors are bit-identical to torchvision's.
/// Grey output takes each pixel of the crop to Pillow's `convert("L")` luma between steps 2 and
/// 3 (for a grey image, R = G = B, the same as converting before resizing).

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "senet/core/error.hpp"
#include "senet/core/tensor.hpp"

namespace senet {

/// Default pixel limit of decoding (`ImageOptions::max_pixels`) and pre-processing
/// (`PreprocessOptions::max_pixels`): PIL's `Image.MAX_IMAGE_PIXELS`, 89,478,485 (a 256 MiB
/// RGBA image; PIL warns above it and refuses twice it). A 100-megapixel photograph needs a
/// larger limit; a decompression bomb (a small file declaring a huge image) is stopped by it.
inline constexpr std::uint64_t kDefaultMaxPixels = 89'478'485;

/// An 8-bit RGB image in memory, as `np.array(pil_image.convert("RGB"))` holds it.
///
/// `rgb` has `height * width * 3` bytes: rows top to bottom, pixels left to right, channels
/// R, G, B interleaved (HWC): the value of channel `c` at column `x`, row `y` is
/// `rgb[(y * width + x) * 3 + c]`. `senet::read_image` produces it; build one by hand with
/// `Image(width, height)` (zero-filled, i.e. black) and fill `rgb`.
struct Image {
  Index width = 0;
  Index height = 0;
  std::vector<std::uint8_t> rgb;  ///< [height, width, 3], row-major

  Image() = default;
  /// A black `width x height` image.
  Image(Index w, Index h) : width(w), height(h), rgb(checked_bytes(w, h), 0) {}
  /// A `width x height` image holding `pixels` ([height, width, 3] bytes; throws otherwise).
  Image(Index w, Index h, std::vector<std::uint8_t> pixels) : width(w), height(h), rgb(std::move(pixels)) {
    SENET_CHECK(rgb.size() == checked_bytes(w, h), "image of ", w, "x", h, " needs ", checked_bytes(w, h),
                " RGB bytes, got ", rgb.size());
  }

  /// Number of bytes `rgb` must hold: `width * height * 3`.
  std::size_t bytes() const { return static_cast<std::size_t>(width) * static_cast<std::size_t>(height) * 3; }
  std::uint8_t& at(Index x, Index y, Index c) { return rgb[static_cast<std::size_t>((y * width + x) * 3 + c)]; }
  std::uint8_t at(Index x, Index y, Index c) const { return rgb[static_cast<std::size_t>((y * width + x) * 3 + c)]; }

  friend bool operator==(const Image& a, const Image& b) {
    return a.width == b.width && a.height == b.height && a.rgb == b.rgb;
  }
  friend bool operator!=(const Image& a, const Image& b) { return !(a == b); }

 private:
  static std::size_t checked_bytes(Index w, Index h) {
    SENET_CHECK(w >= 0 && h >= 0, "image size ", w, "x", h, " is negative");
    SENET_CHECK(h == 0 || w <= std::numeric_limits<Index>::max() / 3 / h, "image size ", w, "x", h, " is too large");
    return static_cast<std::size_t>(w * h * 3);
  }
};

/// The resampling filters of Pillow's `Image.resize` that timm uses
/// (`Image.BILINEAR` = torchvision `InterpolationMode.BILINEAR`, likewise BICUBIC).
enum class Interpolation { bilinear, bicubic };

/// "bilinear" or "bicubic".
inline const char* to_string(Interpolation f) { return f == Interpolation::bilinear ? "bilinear" : "bicubic"; }

/// Parses "bilinear" or "bicubic"; anything else throws `senet::Error`.
inline Interpolation parse_interpolation(const std::string& name) {
  if (name == "bilinear") return Interpolation::bilinear;
  if (name == "bicubic") return Interpolation::bicubic;
  throw Error("unknown interpolation '" + name + "' (expected 'bilinear' or 'bicubic')");
}

namespace detail {

/// Throws unless `image` is non-empty and `rgb` holds exactly `width * height * 3` bytes.
inline void check_image(const Image& image, const char* what) {
  SENET_CHECK(image.width > 0 && image.height > 0, what, ": image is empty (", image.width, "x", image.height, ")");
  SENET_CHECK(image.rgb.size() == image.bytes(), what, ": image of ", image.width, "x", image.height, " needs ",
              image.bytes(), " RGB bytes, has ", image.rgb.size());
}

namespace resample {

// Pillow's ImagingResample (src/libImaging/Resample.c) for 8-bit images: separable convolution
// with the filter stretched by the scale when shrinking (antialiasing), weights normalised to sum
// to 1 and then rounded to fixed point with kPrecisionBits fractional bits.

/// 32 bits minus 8 for the pixel minus 2 for the overshoot of negative lobes: Pillow's value.
inline constexpr int kPrecisionBits = 32 - 8 - 2;

/// Returns `v` rounded to double and hidden from the optimiser. Pillow is built without fused
/// multiply-add; a compiler allowed to contract `a * b + c` (GCC's default outside strict ISO
/// mode, with FMA under -march=native) would round differently in the last bit, and a weight
/// that lands near a fixed-point rounding boundary would then differ by one unit.
inline double rounded(double v) {
  volatile double r = v;
  return r;
}

inline double bilinear_filter(double x) {
  if (x < 0.0) x = -x;
  if (x < 1.0) return 1.0 - x;
  return 0.0;
}

/// Keys' cubic convolution with a = -0.5, written as Pillow evaluates it.
inline double bicubic_filter(double x) {
  constexpr double a = -0.5;
  if (x < 0.0) x = -x;
  if (x < 1.0) {  // ((a + 2) x - (a + 3)) x^2 + 1
    const double t = rounded((a + 2.0) * x) - (a + 3.0);
    return rounded(t * x * x) + 1;
  }
  if (x < 2.0) {  // (((x - 5) x + 8) x - 4) a
    const double t = rounded((x - 5) * x) + 8;
    return rounded((rounded(t * x) - 4) * a);
  }
  return 0.0;
}

/// Fixed-point weights of one pass: output index `i` reads `count[i]` inputs starting at
/// `first[i]`, with weights `weights[i * ksize + j]`.
struct Coefficients {
  int ksize = 0;
  std::vector<int> first, count;
  std::vector<std::int32_t> weights;
};

/// Pillow's `precompute_coeffs` followed by `normalize_coeffs_8bpc`, for the whole input range
/// (the default box `(0, 0, width, height)`).
inline Coefficients precompute(int in_size, int out_size, Interpolation filter) {
  const double base_support = filter == Interpolation::bilinear ? 1.0 : 2.0;
  // Pillow computes `in1 - in0` in float from the float box.
  const double scale = static_cast<double>(static_cast<float>(in_size)) / out_size;
  const double filterscale = scale < 1.0 ? 1.0 : scale;
  const double support = rounded(base_support * filterscale);
  const double ss = 1.0 / filterscale;

  Coefficients c;
  c.ksize = static_cast<int>(std::ceil(support)) * 2 + 1;
  c.first.resize(static_cast<std::size_t>(out_size));
  c.count.resize(static_cast<std::size_t>(out_size));
  c.weights.assign(static_cast<std::size_t>(out_size) * static_cast<std::size_t>(c.ksize), 0);
  std::vector<double> k(static_cast<std::size_t>(c.ksize));
  for (int xx = 0; xx < out_size; ++xx) {
    const double center = rounded((xx + 0.5) * scale);
    const int xmin = std::max(static_cast<int>(center - support + 0.5), 0);
    const int xmax = std::min(static_cast<int>(center + support + 0.5), in_size) - xmin;
    double ww = 0.0;
    for (int x = 0; x < xmax; ++x) {
      const double t = rounded((x + xmin - center + 0.5) * ss);
      const double w = filter == Interpolation::bilinear ? bilinear_filter(t) : bicubic_filter(t);
      k[static_cast<std::size_t>(x)] = w;
      ww += w;
    }
    std::int32_t* out = &c.weights[static_cast<std::size_t>(xx) * static_cast<std::size_t>(c.ksize)];
    for (int x = 0; x < xmax; ++x) {
      double w = k[static_cast<std::size_t>(x)];
      if (ww != 0.0) w /= ww;
      // Round half away from zero (the product is exact: a power of two).
      out[x] = static_cast<std::int32_t>(w < 0 ? -0.5 + w * (1 << kPrecisionBits) : 0.5 + w * (1 << kPrecisionBits));
    }
    c.first[static_cast<std::size_t>(xx)] = xmin;
    c.count[static_cast<std::size_t>(xx)] = std::max(xmax, 0);
  }
  return c;
}

/// Fixed point back to 8 bits: Pillow's `clip8` (an arithmetic shift, then clamping).
inline std::uint8_t clip8(std::int32_t v) {
  const std::int32_t q = v >> kPrecisionBits;  // arithmetic shift: floor, as in Pillow
  return static_cast<std::uint8_t>(q < 0 ? 0 : (q > 255 ? 255 : q));
}

/// Horizontal pass over rows [row0, row0 + rows) of `in`: [rows, out_w, 3].
inline Image horizontal(const Image& in, int out_w, int row0, int rows, const Coefficients& c) {
  Image out(out_w, rows);
  const std::size_t in_stride = static_cast<std::size_t>(in.width) * 3;
  for (int yy = 0; yy < rows; ++yy) {
    const std::uint8_t* src = in.rgb.data() + static_cast<std::size_t>(yy + row0) * in_stride;
    std::uint8_t* dst = out.rgb.data() + static_cast<std::size_t>(yy) * static_cast<std::size_t>(out_w) * 3;
    for (int xx = 0; xx < out_w; ++xx) {
      const std::int32_t* k = &c.weights[static_cast<std::size_t>(xx) * static_cast<std::size_t>(c.ksize)];
      const std::uint8_t* p = src + static_cast<std::size_t>(c.first[static_cast<std::size_t>(xx)]) * 3;
      std::int32_t s0 = 1 << (kPrecisionBits - 1), s1 = s0, s2 = s0;
      for (int x = 0, n = c.count[static_cast<std::size_t>(xx)]; x < n; ++x, p += 3) {
        s0 += p[0] * k[x];
        s1 += p[1] * k[x];
        s2 += p[2] * k[x];
      }
      dst[xx * 3 + 0] = clip8(s0);
      dst[xx * 3 + 1] = clip8(s1);
      dst[xx * 3 + 2] = clip8(s2);
    }
  }
  return out;
}

/// Vertical pass: output row `yy` mixes rows `c.first[yy] - row0 ...` of `in`: [out_h, in.width, 3].
inline Image vertical(const Image& in, int out_h, int row0, const Coefficients& c) {
  Image out(in.width, out_h);
  const std::size_t stride = static_cast<std::size_t>(in.width) * 3;
  std::vector<std::int32_t> acc(stride);
  for (int yy = 0; yy < out_h; ++yy) {
    const std::int32_t* k = &c.weights[static_cast<std::size_t>(yy) * static_cast<std::size_t>(c.ksize)];
    const int ymin = c.first[static_cast<std::size_t>(yy)] - row0;
    std::fill(acc.begin(), acc.end(), std::int32_t{1} << (kPrecisionBits - 1));
    // Row by row, so the inner loop is contiguous; each sum is still accumulated in Pillow's
    // order (tap 0 first), and integer addition is exact anyway.
    for (int y = 0, n = c.count[static_cast<std::size_t>(yy)]; y < n; ++y) {
      const std::uint8_t* src = in.rgb.data() + static_cast<std::size_t>(ymin + y) * stride;
      const std::int32_t w = k[y];
      for (std::size_t i = 0; i < stride; ++i) acc[i] += src[i] * w;
    }
    std::uint8_t* dst = out.rgb.data() + static_cast<std::size_t>(yy) * stride;
    for (std::size_t i = 0; i < stride; ++i) dst[i] = clip8(acc[i]);
  }
  return out;
}

}  // namespace resample
}  // namespace detail

/// Resizes `image` to `width x height` exactly as Pillow 9.4's `Image.resize((width, height),
/// resample)` does on an RGB image (bit-identical output): antialiased when shrinking (the filter
/// support grows with the scale factor), bilinear support 1, bicubic a = -0.5 support 2, 22-bit
/// fixed-point weights; horizontal pass first (over only the rows the vertical pass reads), then
/// vertical. A dimension that keeps its size is not filtered, so a same-size resize is a copy.
/// Throws `senet::Error` for an empty or inconsistent image or a non-positive target size.
inline Image resize(const Image& image, Index width, Index height, Interpolation interpolation) {
  detail::check_image(image, "resize");
  constexpr Index kMaxSide = std::numeric_limits<int>::max() / 64;  // Pillow uses int sizes
  SENET_CHECK(width > 0 && height > 0, "resize: target size ", width, "x", height, " must be positive");
  SENET_CHECK(width <= kMaxSide && height <= kMaxSide && image.width <= kMaxSide && image.height <= kMaxSide,
              "resize: ", image.width, "x", image.height, " -> ", width, "x", height, " is too large");
  namespace rs = detail::resample;
  const int in_w = static_cast<int>(image.width), in_h = static_cast<int>(image.height);
  const int out_w = static_cast<int>(width), out_h = static_cast<int>(height);
  const bool need_horizontal = out_w != in_w;
  const bool need_vertical = out_h != in_h;
  if (!need_horizontal && !need_vertical) return image;

  const rs::Coefficients vert = rs::precompute(in_h, out_h, interpolation);
  if (!need_horizontal) return rs::vertical(image, out_h, 0, vert);

  // Rows of the source the vertical pass reads.
  const int row_first = vert.first.front();
  const int row_last = vert.first.back() + vert.count.back();
  const rs::Coefficients horiz = rs::precompute(in_w, out_w, interpolation);
  if (!need_vertical) return rs::horizontal(image, out_w, 0, in_h, horiz);
  const Image tmp = rs::horizontal(image, out_w, row_first, row_last - row_first, horiz);
  return rs::vertical(tmp, out_h, row_first, vert);
}

/// The size torchvision 0.14's `Resize(short_side)` gives a `width x height` image: the short side
/// becomes `short_side`, the long side `int(short_side * long / short)` (truncated; a square stays
/// square). Returned as {width, height}.
inline std::array<Index, 2> short_side_size(Index width, Index height, Index short_side) {
  SENET_CHECK(width > 0 && height > 0, "resize_short_side: image is empty (", width, "x", height, ")");
  SENET_CHECK(short_side > 0, "resize_short_side: short side ", short_side, " must be positive");
  const Index shorter = std::min(width, height), longer = std::max(width, height);
  // Python's `int(s * long / short)`: the product is an exact integer, the true division is
  // correctly rounded in double, then truncated.
  SENET_CHECK(short_side <= (Index{1} << 53) / longer, "resize_short_side: short side ", short_side,
              " for a ", width, "x", height, " image is too large");
  const Index new_long = static_cast<Index>(static_cast<double>(short_side * longer) / static_cast<double>(shorter));
  return width <= height ? std::array<Index, 2>{short_side, new_long} : std::array<Index, 2>{new_long, short_side};
}

/// torchvision 0.14 `transforms.Resize(short_side, interpolation)` on a PIL image: resizes so
/// that the shorter side is `short_side` (see `short_side_size`) with `resize`; an image whose
/// short side already is `short_side` is returned unchanged.
inline Image resize_short_side(const Image& image, Index short_side, Interpolation interpolation) {
  detail::check_image(image, "resize_short_side");
  const auto [w, h] = short_side_size(image.width, image.height, short_side);
  if (w == image.width && h == image.height) return image;
  return resize(image, w, h, interpolation);
}

/// Offset torchvision's CenterCrop takes along an axis of `extent` pixels for a crop of `crop`
/// (`crop <= extent`): `int(round((extent - crop) / 2.0))`, Python's round half to even, so an
/// odd surplus 2k + 1 starts at k when k is even and at k + 1 when k is odd.
inline Index center_crop_offset(Index extent, Index crop) {
  const Index d = extent - crop;
  const Index k = d / 2;
  return (d % 2 == 0 || k % 2 == 0) ? k : k + 1;
}

/// torchvision 0.14 `transforms.CenterCrop((height, width))` on a PIL image. A side longer than the
/// image is first zero-padded (black), `(crop - extent) // 2` before and the rest after, as
/// torchvision pads; the other side is then cropped at `center_crop_offset`.
inline Image center_crop(const Image& image, Index width, Index height) {
  detail::check_image(image, "center_crop");
  SENET_CHECK(width > 0 && height > 0, "center_crop: crop size ", width, "x", height, " must be positive");
  // Position of the crop's (0, 0) in source coordinates; negative where padding comes first.
  const Index x0 = width > image.width ? -((width - image.width) / 2) : center_crop_offset(image.width, width);
  const Index y0 = height > image.height ? -((height - image.height) / 2) : center_crop_offset(image.height, height);
  Image out(width, height);
  const Index xa = std::max<Index>(0, -x0), xb = std::min(width, image.width - x0);  // copied columns [xa, xb)
  for (Index y = 0; y < height; ++y) {
    const Index sy = y + y0;
    if (sy < 0 || sy >= image.height || xb <= xa) continue;
    const std::uint8_t* src = &image.rgb[static_cast<std::size_t>((sy * image.width + xa + x0) * 3)];
    std::copy(src, src + (xb - xa) * 3, &out.rgb[static_cast<std::size_t>((y * width + xa) * 3)]);
  }
  return out;
}

/// torchvision 0.14 `transforms.CenterCrop(size)`: a `size x size` centre crop (see above).
inline Image center_crop(const Image& image, Index size) { return center_crop(image, size, size); }

/// Evaluation pre-processing parameters. The defaults are timm's generic ImageNet evaluation
/// (`preprocess_preset("timm")`). Geometry: resize the short side to `resize_size()` =
/// `floor(size / crop_pct)` (timm's `math.floor(img_size / crop_pct)`), then centre-crop
/// `size x size`. Values: channel `c` of the output is
/// `(float(pixel[c']) / scale - mean[c]) / std[c]` in float32, where `c' = c` for RGB output and
/// `c' = 2 - c` when `bgr` is set; `mean` and `std` are in output channel order.
///
/// `max_pixels` bounds the images pre-processing creates: the resized image (whose short side is
/// `resize_size()`, so a tiny `crop_pct` or a very long, thin input makes it huge) and the
/// `size x size` crop; beyond it `preprocess` throws `senet::Error` before allocating.
///
/// timm's `seresnet50.a1_in1k` weights were evaluated with crop_pct 0.95 and bicubic resizing
/// (their `pretrained_cfg`); set those two fields to match a checkpoint's configuration.
///
/// `grayscale` makes one output channel: the crop's luma as Pillow's `Image.convert("L")` computes
/// it, `(R * 19595 + G * 38470 + B * 7471 + 0x8000) >> 16` (ITU-R 601-2), normalised with
/// `scale`, `mean[0]` and `std[0]`; `bgr` is then ignored.
struct PreprocessOptions {
  Index size = 224;                                       ///< output side S: [C, S, S]
  double crop_pct = 0.875;                                ///< centre-crop fraction; 224 / 0.875 = 256
  Interpolation interpolation = Interpolation::bilinear;  ///< filter of the short-side resize
  bool bgr = false;                                       ///< emit B, G, R instead of R, G, B
  bool grayscale = false;                                 ///< emit one channel, the luma: [1, S, S]
  float scale = 255.0f;                                   ///< divisor of the 8-bit values (1: keep 0..255)
  /// Subtracted per output channel. `float(0.485)` of the double, as torch.as_tensor rounds it.
  std::array<float, 3> mean{static_cast<float>(0.485), static_cast<float>(0.456), static_cast<float>(0.406)};
  std::array<float, 3> std{static_cast<float>(0.229), static_cast<float>(0.224), static_cast<float>(0.225)};
  std::uint64_t max_pixels = kDefaultMaxPixels;  ///< largest resized image or crop, in pixels

  /// Channels of the output: 1 when `grayscale`, else 3.
  Index channels() const { return grayscale ? 1 : 3; }

  /// Short side after resizing: `floor(size / crop_pct)`; 0 when that is not a positive number,
  /// saturated at the largest `Index`.
  Index resize_size() const {
    const double r = std::floor(static_cast<double>(size) / crop_pct);
    if (!(r > 0)) return 0;  // also NaN
    if (r >= 9.2e18) return std::numeric_limits<Index>::max();
    return static_cast<Index>(r);
  }
};

/// The names `preprocess_preset` knows, in display order.
inline const std::vector<std::string>& preprocess_preset_names() {
  static const std::vector<std::string> names{"timm",           "torchvision", "efficientnet_b0", "efficientnet_b1",
                                              "caffe",          "bninception", "digits",          "fashion"};
  return names;
}

/// Named presets:
/// - "timm" (RGB, /255, ImageNet mean (0.485, 0.456, 0.406) and std (0.229, 0.224, 0.225): timm
///   and Cadene's pretrainedmodels' ResNets), "caffe" (the original SENet Caffe models: BGR,
///   0..255, minus (104, 117, 123) in B, G, R order, std 1) and "bninception" (Cadene's
///   bninception: BGR, 0..255, minus (104, 117, 128)); these three: 224, crop_pct 0.875, bilinear;
/// - torchvision's published weights, the `transforms()` of their `IMAGENET1K_V1` (RGB, /255,
///   ImageNet mean and std, resize the short side, centre-crop): "torchvision" (MobileNetV3,
///   RegNetY: 256 -> 224, bilinear: the numbers of "timm"), "efficientnet_b0" (256 -> 224,
///   bicubic) and "efficientnet_b1" (256 -> 240, bicubic; crop_pct 240 / 256);
/// - "digits" (`se_resnet_digits`): grey, 8x8, /255 with mean 0 and std 1, i.e. [0, 1] as the
///   model's `images / 16` (white digits on black);
/// - "fashion" (`se_resnet_fashion`, `resnet_fashion`): grey, 28x28, `(x / 255 - 0.2860) /
///   0.3530`, the mean and standard deviation of Fashion-MNIST's training pixels (white garments
///   on black, as in the dataset).
/// The grey presets take crop_pct 1 (an image of the model's size passes unchanged; others have
/// their short side resized to it, bilinear, and are centre-cropped). Any other name throws
/// `senet::Error` listing the known ones.
inline PreprocessOptions preprocess_preset(const std::string& name) {
  PreprocessOptions o;
  if (name == "timm" || name == "torchvision") return o;
  if (name == "efficientnet_b0" || name == "efficientnet_b1") {
    o.interpolation = Interpolation::bicubic;
    if (name == "efficientnet_b1") {
      o.size = 240;
      o.crop_pct = 0.9375;  // 240 / 256, exact in binary: resize_size() is 256
    }
    return o;
  }
  if (name == "caffe" || name == "bninception") {
    o.bgr = true;
    o.scale = 1.0f;
    o.mean = {104.0f, 117.0f, name == "caffe" ? 123.0f : 128.0f};
    o.std = {1.0f, 1.0f, 1.0f};
    return o;
  }
  if (name == "digits" || name == "fashion") {
    const bool digits = name == "digits";
    o.grayscale = true;
    o.size = digits ? 8 : 28;
    o.crop_pct = 1.0;
    const float mean = digits ? 0.0f : static_cast<float>(0.2860), stdv = digits ? 1.0f : static_cast<float>(0.3530);
    o.mean = {mean, mean, mean};
    o.std = {stdv, stdv, stdv};
    return o;
  }
  std::string known;
  for (const auto& n : preprocess_preset_names()) known += (known.empty() ? "'" : ", '") + n + "'";
  throw Error("unknown pre-processing preset '" + name + "' (known: " + known + ")");
}

namespace detail {
inline void check_options(const PreprocessOptions& o) {
  SENET_CHECK(o.size > 0, "preprocess: size ", o.size, " must be positive");
  SENET_CHECK(static_cast<std::uint64_t>(o.size) <= o.max_pixels / static_cast<std::uint64_t>(o.size),
              "preprocess: a ", o.size, "x", o.size, " crop exceeds the limit of ", o.max_pixels,
              " pixels (PreprocessOptions::max_pixels)");
  SENET_CHECK(o.crop_pct > 0 && std::isfinite(o.crop_pct), "preprocess: crop_pct ", o.crop_pct, " must be positive");
  SENET_CHECK(o.resize_size() > 0, "preprocess: size ", o.size, " / crop_pct ", o.crop_pct, " rounds down to 0");
  SENET_CHECK(static_cast<std::uint64_t>(o.resize_size()) <= o.max_pixels, "preprocess: size ", o.size,
              " / crop_pct ", o.crop_pct, " resizes the short side to ", o.resize_size(),
              " pixels, beyond the limit of ", o.max_pixels, " pixels (PreprocessOptions::max_pixels)");
  SENET_CHECK(o.scale != 0.0f, "preprocess: scale must not be 0");
  for (float s : o.std) SENET_CHECK(s != 0.0f, "preprocess: std must not be 0");
}
}  // namespace detail

/// Pre-processes one image into `out`, which must hold `options.channels() * options.size *
/// options.size` values: [C, S, S] (C = 3, or 1 when `grayscale`), channel-major (the layout of
/// one image of an NCHW batch). `T` is float or double; values are computed in float32 as
/// torchvision does, then converted to `T`.
template <class T>
void preprocess_into(const Image& image, const PreprocessOptions& options, T* out) {
  detail::check_image(image, "preprocess");
  detail::check_options(options);
  // resize_short_side, without copying the (possibly 12-megapixel) input when it keeps its size.
  const auto [w, h] = short_side_size(image.width, image.height, options.resize_size());
  SENET_CHECK(static_cast<std::uint64_t>(w) <= options.max_pixels / static_cast<std::uint64_t>(h), "preprocess: a ",
              image.width, "x", image.height, " image resized to short side ", options.resize_size(), " is ", w, "x",
              h, ", beyond the limit of ", options.max_pixels, " pixels (PreprocessOptions::max_pixels)");
  const Image crop = (w == image.width && h == image.height)
                         ? center_crop(image, options.size)
                         : center_crop(resize(image, w, h, options.interpolation), options.size);
  const std::size_t plane = static_cast<std::size_t>(options.size) * static_cast<std::size_t>(options.size);
  if (options.grayscale) {
    const float mean = options.mean[0], stdv = options.std[0], scale = options.scale;
    for (std::size_t i = 0; i < plane; ++i) {
      const std::uint8_t* p = &crop.rgb[i * 3];
      // Pillow's rgb2l: fixed-point ITU-R 601-2 luma, rounded.
      const std::uint32_t luma = (p[0] * 19595u + p[1] * 38470u + p[2] * 7471u + 0x8000u) >> 16;
      const float v = static_cast<float>(luma) / scale;
      out[i] = static_cast<T>((v - mean) / stdv);
    }
    return;
  }
  for (std::size_t c = 0; c < 3; ++c) {
    const std::size_t src = options.bgr ? 2 - c : c;
    const float mean = options.mean[c], stdv = options.std[c], scale = options.scale;
    T* dst = out + c * plane;
    for (std::size_t i = 0; i < plane; ++i) {
      // Two float32 roundings, as ToTensor's div(255) and Normalize's sub_(mean).div_(std).
      const float v = static_cast<float>(crop.rgb[i * 3 + src]) / scale;
      dst[i] = static_cast<T>((v - mean) / stdv);
    }
  }
}

/// Pre-processes a batch: [N, C, S, S] with S = `options.size` and C = `options.channels()` (N = 0
/// gives [0, C, S, S]).
template <class T>
Tensor<T> preprocess(const std::vector<Image>& images, const PreprocessOptions& options) {
  detail::check_options(options);
  Tensor<T> out({static_cast<Index>(images.size()), options.channels(), options.size, options.size});
  const std::size_t per_image = static_cast<std::size_t>(options.channels()) *
                                static_cast<std::size_t>(options.size) * static_cast<std::size_t>(options.size);
  for (std::size_t n = 0; n < images.size(); ++n) preprocess_into(images[n], options, out.data() + n * per_image);
  return out;
}

/// Pre-processes one image: [1, C, S, S].
template <class T>
Tensor<T> preprocess(const Image& image, const PreprocessOptions& options) {
  detail::check_options(options);
  Tensor<T> out({1, options.channels(), options.size, options.size});
  preprocess_into(image, options, out.data());
  return out;
}

}  // namespace senet
