#pragma once
// Test helpers for the NCHW16c kernels: bordered buffers, the scaled comparison against a
// reference, and the fixture that runs a test once per kernel path.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <cstdint>
#include <limits>

#include "senet/core/tensor.hpp"
#include "senet/ops/nchw16c.hpp"

namespace senet::test {

// A bordered NCHW16c buffer of n x c x h x w and its view; every element starts as `fill`.
struct Bordered {
  Tensor<float> buf;
  FeatureView view;
  Bordered() = default;
  Bordered(Index n, Index c, Index h, Index w, Index border, float fill)
      : buf({n, channel_blocks(c), h + 2 * border, w + 2 * border, 16}) {
    buf.fill(fill);
    view = {buf.data(), n, c, h, w, border};
  }
  // `x` (NCHW) in the image, its padding lanes zero (as to_nchw16c writes them), `fill` in the border.
  static Bordered of(const Tensor<float>& x, Index border, float fill) {
    Bordered b(x.dim(0), x.dim(1), x.dim(2), x.dim(3), border, fill);
    const Tensor<float> blocked = to_nchw16c(x);
    const FeatureView& v = b.view;
    for (Index n = 0; n < v.batch; ++n)
      for (Index cb = 0; cb < v.blocks(); ++cb)
        for (Index h = 0; h < v.height; ++h)
          std::copy_n(blocked.data() + (((n * v.blocks() + cb) * v.height + h) * v.width) * 16, v.width * 16,
                      v.at(n, cb, h, 0));
    return b;
  }
  // The image (border dropped) as [N, Cb, H, W, 16].
  Tensor<float> image() const {
    const FeatureView& v = view;
    Tensor<float> t({v.batch, v.blocks(), v.height, v.width, 16});
    for (Index n = 0; n < v.batch; ++n)
      for (Index cb = 0; cb < v.blocks(); ++cb)
        for (Index h = 0; h < v.height; ++h)
          std::copy_n(v.at(n, cb, h, 0), v.width * 16, t.data() + (((n * v.blocks() + cb) * v.height + h) * v.width) * 16);
    return t;
  }
  // Whether every border element is +0.
  bool border_is_zero() const {
    const FeatureView& v = view;
    const Index Hp = v.padded_height(), Wp = v.padded_width();
    for (Index plane = 0; plane < v.batch * v.blocks(); ++plane)
      for (Index h = 0; h < Hp; ++h)
        for (Index w = 0; w < Wp; ++w) {
          const bool inside = h >= v.border && h < Hp - v.border && w >= v.border && w < Wp - v.border;
          if (inside) continue;
          for (Index k = 0; k < 16; ++k)
            if (buf[((plane * Hp + h) * Wp + w) * 16 + k] != 0.0f) return false;
        }
    return true;
  }
  // Whether the image's padding lanes (channels >= C) are all zero.
  bool padding_lanes_are_zero() const {
    const FeatureView& v = view;
    for (Index n = 0; n < v.batch; ++n)
      for (Index c = v.channels; c < v.blocks() * 16; ++c)
        for (Index h = 0; h < v.height; ++h)
          for (Index w = 0; w < v.width; ++w)
            if (v.at(n, c / 16, h, w)[c % 16] != 0.0f) return false;
    return true;
  }
};

// max |got - ref| / max(1, max |ref|); infinite when `got` holds a NaN where `ref` does not.
inline double scaled_max_diff(const Tensor<float>& got, const Tensor<float>& ref) {
  double max_diff = 0, max_ref = 0;
  for (Index i = 0; i < ref.size(); ++i) {
    const double d = std::abs(double(got[i]) - double(ref[i]));
    if (std::isnan(d)) return std::numeric_limits<double>::infinity();
    max_diff = std::max(max_diff, d);
    max_ref = std::max(max_ref, std::abs(double(ref[i])));
  }
  return max_diff / std::max(1.0, max_ref);
}

// Parameterised by kernel path; skips the paths this CPU cannot run.
class KernelPathTest : public ::testing::TestWithParam<Conv2dPath> {
 protected:
  void SetUp() override {
    if (!conv2d_path_supported(GetParam())) GTEST_SKIP() << "this CPU cannot run the " << to_string(GetParam()) << " path";
  }
};

// bfloat16 rounding written here from its definition, independent of the library's.
inline std::uint32_t bits_of(float f) {
  std::uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  return u;
}

inline float float_of(std::uint32_t u) {
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
}

// The bf16 bit pattern nearest `f`, ties to an even last bit (finite, normal `f`; NaN kept NaN).
inline std::uint16_t bf16_bits(float f) {
  if (std::isnan(f)) return std::uint16_t((bits_of(f) >> 16) | 0x40);
  const std::uint32_t u = bits_of(f), low = u & 0xFFFF;
  std::uint32_t high = u >> 16;
  if (low > 0x8000 || (low == 0x8000 && (high & 1))) ++high;  // a carry into the exponent is right
  return std::uint16_t(high);
}

inline float round_bf16(float f) { return float_of(std::uint32_t(bf16_bits(f)) << 16); }

inline Tensor<double> rounded_to_bf16(const Tensor<float>& t) {
  Tensor<double> r(t.shape());
  for (Index i = 0; i < t.size(); ++i) r[i] = double(round_bf16(t[i]));
  return r;
}

// The paths that run bf16 weights; skips those this CPU lacks (avx512 without AVX512_BF16).
class Bf16PathTest : public ::testing::TestWithParam<Conv2dPath> {
 protected:
  void SetUp() override {
    if (!conv2d_path_supported(GetParam(), ConvPrecision::bf16))
      GTEST_SKIP() << "this CPU cannot run the " << to_string(GetParam()) << " path on bf16 weights";
  }
};

}  // namespace senet::test
