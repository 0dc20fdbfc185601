// Tests of senet/ops/conv2d_stem.hpp and senet/ops/pooling_nchw16c.hpp, the fast engine's stem:
// `conv2d_stem_nchw16c` on each forced path against `conv2d_reference` + a naive ReLU (sweeps over
// C, K around the 16-channel vector and the 4-vector tile, kernels 1/3/7, strides 1-3, paddings,
// dilation, every row-tile remainder, bordered outputs; on bf16 weights against the reference on
// bf16-rounded operands), and `max_pool2d_nchw16c` against
// `senet::max_pool2d` (kernels, strides, padding, dilation, ceil mode, NaN, garbage borders).

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <initializer_list>
#include <limits>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "senet/ops/conv2d_stem.hpp"
#include "senet/ops/pooling_nchw16c.hpp"
#include "nchw16c_test_util.hpp"
#include "test_util.hpp"

#ifdef _OPENMP
#include <omp.h>
#endif

namespace test_conv2d_stem {

using senet::Conv2dParams;
using senet::Conv2dPath;
using senet::FeatureView;
using senet::Index;
using senet::Pool2dParams;
using senet::Shape;
using senet::Tensor;
using namespace senet::test;

const float kNaN = std::numeric_limits<float>::quiet_NaN();

// ---- conv2d_stem_nchw16c ----

struct StemCase {
  Index N, C, K, H, W;
  Index kh, kw, sh, sw, ph, pw;
  Index dh = 1, dw = 1;
  bool bias = true, relu = false;
  bool silu = false;  // when not relu (EfficientNet's stem)
  Index border = 0;
};

std::string describe(const StemCase& c) {
  std::ostringstream os;
  os << "N=" << c.N << " C=" << c.C << " K=" << c.K << " H=" << c.H << " W=" << c.W << " kernel=" << c.kh << "x" << c.kw
     << " stride=" << c.sh << "," << c.sw << " pad=" << c.ph << "," << c.pw << " dilation=" << c.dh << "," << c.dw
     << " bias=" << c.bias << " relu=" << c.relu << " silu=" << c.silu << " border=" << c.border;
  return os.str();
}

bool fits(const StemCase& c) {
  return c.H + 2 * c.ph >= c.dh * (c.kh - 1) + 1 && c.W + 2 * c.pw >= c.dw * (c.kw - 1) + 1;
}

// Runs `c` on `path` into a NaN-filled bordered output and checks, against conv2d_reference
// followed by a naive ReLU or SiLU: max|fast - ref| <= 1e-5 * max(1, max|ref|), no element left
// unwritten, the padding lanes exactly 0 and the border exactly 0. False when the kernel does
// not fit the input (nothing checked).
bool check_stem(Conv2dPath path, const StemCase& c, std::mt19937& rng) {
  if (!fits(c)) return false;
  const Conv2dParams p = window_params<Conv2dParams>(c.kh, c.kw, c.sh, c.sw, c.ph, c.pw, c.dh, c.dw);
  Tensor<float> x({c.N, c.C, c.H, c.W}), w({c.K, c.C, c.kh, c.kw});
  std::vector<float> b(static_cast<std::size_t>(c.K));
  fill_uniform(x, rng);
  fill_uniform(w, rng);
  fill_uniform(b.data(), c.K, rng);
  Tensor<float> ref(senet::conv2d_output_shape(x.shape(), w.shape(), p));
  senet::conv2d_reference(x, w, c.bias ? b.data() : nullptr, p, ref);
  if (c.relu)
    for (float& v : ref) v = std::max(v, 0.0f);
  else if (c.silu)
    for (float& v : ref) v = v / (1.0f + std::exp(-v));  // torch's silu

  Bordered y(c.N, c.K, ref.dim(2), ref.dim(3), c.border, kNaN);
  senet::conv2d_stem_nchw16c(x, senet::pack_conv2d_stem_weights(w), p, c.bias ? b.data() : nullptr, c.relu ? senet::Activation::relu : c.silu ? senet::Activation::silu : senet::Activation::none, y.view,
                             path);
  EXPECT_LE(scaled_max_diff(senet::from_nchw16c(y.image(), c.K), ref), 1e-5) << to_string(path) << " " << describe(c);
  EXPECT_TRUE(y.padding_lanes_are_zero()) << to_string(path) << " " << describe(c);
  EXPECT_TRUE(y.border_is_zero()) << to_string(path) << " " << describe(c);
  return true;
}

using Conv2dStemPathTest = KernelPathTest;

// Kernels `ks` x strides 1-3 x paddings 0, 1, 3 x C 1-4 x K in `Ks`, N = 2, each case given to
// `check` (which says whether it ran); sizes, bias, ReLU / SiLU / none, the output border (0 or 1)
// and, with `dilate`, a dilation of 2 rotate across the cases. Returns the cases that ran.
template <class Check>
std::size_t sweep_stem_cases(std::initializer_list<Index> ks, std::initializer_list<Index> Ks, bool dilate,
                             const Check& check) {
  const Index sizes[][2] = {{9, 13}, {1, 1}, {12, 7}, {5, 17}, {8, 8}, {3, 10}, {11, 4}, {7, 30}};
  std::size_t counter = 0, cases = 0;
  for (const Index k : ks)
    for (const Index s : {1, 2, 3})
      for (const Index pad : {0, 1, 3})
        for (const Index C : {1, 2, 3, 4})
          for (const Index K : Ks) {
            const auto& size = sizes[counter % 8];
            StemCase c{2, C, K, size[0], size[1], k, k, s, s, pad, pad};
            if (dilate && counter % 5 == 3) c.dh = c.dw = 2;
            c.bias = counter % 3 != 0;
            c.relu = counter % 2 == 0;
            c.silu = counter % 4 == 1;
            c.border = Index(counter / 2 % 2);
            ++counter;
            if (check(c)) ++cases;
          }
  return cases;
}

TEST_P(Conv2dStemPathTest, KernelsStridesPaddingsChannelsMatchReference) {
  std::mt19937 rng(2024);
  const std::size_t cases = sweep_stem_cases({1, 3, 7}, {1, 15, 16, 17, 64, 70}, false,
                                             [&](const StemCase& c) { return check_stem(GetParam(), c, rng); });
  expect_cases_above(cases, 500);
}

// Every output row width 1..43 (3 x the widest tile + 1) for K = 16, 32, 48, 64, 70 (tiles of 1,
// 2, 3, 4 and 4 + 1 vectors), 3x3 stride 1 and 2, and the stem's 7x7 stride 2 for K = 64.
TEST_P(Conv2dStemPathTest, EveryRowWidthMatchesReference) {
  std::mt19937 rng(77);
  std::size_t cases = 0;
  for (Index OW = 1; OW <= 3 * senet::detail::kStemAvx512MaxPixels + 1; ++OW) {
    for (const Index K : {16, 32, 48, 64, 70})
      for (const Index s : {1, 2}) {
        StemCase c{1, 3, K, 2 + OW % 3, s == 1 ? OW : 2 * OW - 1, 3, 3, s, s, 1, 1};
        c.relu = (OW + K) % 2 == 0;
        c.border = OW % 2;
        if (check_stem(GetParam(), c, rng)) ++cases;
      }
    StemCase stem{1, 3, 64, 9, 2 * OW, 7, 7, 2, 2, 3, 3};
    stem.relu = true;
    stem.border = 1;
    if (check_stem(GetParam(), stem, rng)) ++cases;
  }
  expect_cases_above(cases, 43 * 11 - 1);
}

// Dilation, mixed strides and paddings, non-square kernels, wide borders, one by one.
TEST_P(Conv2dStemPathTest, EdgeCasesMatchReference) {
  std::mt19937 rng(11);
  StemCase cases[] = {
      // Dilation 2 (and 2 x 1), padded.
      {2, 3, 64, 13, 17, 3, 3, 1, 1, 2, 2, 2, 2},
      {2, 3, 20, 15, 16, 7, 3, 2, 1, 3, 1, 2, 1},
      {1, 2, 70, 12, 29, 3, 3, 3, 3, 1, 1, 2, 2},
      // Mixed strides (one runtime) and paddings.
      {2, 4, 33, 11, 19, 5, 3, 1, 3, 2, 0},
      {1, 3, 64, 10, 23, 3, 5, 2, 1, 0, 2},
      // The kernel exactly covers the padded input: one output pixel.
      {2, 3, 64, 5, 3, 7, 5, 1, 1, 1, 1},
      // Padding larger than the input.
      {1, 1, 17, 1, 1, 7, 7, 2, 2, 3, 3},
      // C = 16 and C = 5 (beyond RGB).
      {1, 16, 48, 9, 15, 3, 3, 1, 1, 1, 1},
      {2, 5, 64, 14, 14, 7, 7, 2, 2, 3, 3},
  };
  std::size_t n = 0;
  for (StemCase& c : cases) {
    c.relu = n % 2 == 0;
    c.border = Index(n % 4);  // borders 0..3
    if (check_stem(GetParam(), c, rng)) ++n;
  }
  EXPECT_EQ(n, sizeof(cases) / sizeof(cases[0]));
}

// SE-ResNet-50's stem itself: 1 x 3 x 224 x 224, K = 64, 7x7 stride 2 pad 3, bias + ReLU, into
// a view with a 1-pixel border.
TEST_P(Conv2dStemPathTest, SeResNet50StemMatchesReference) {
  std::mt19937 rng(50);
  StemCase c{1, 3, 64, 224, 224, 7, 7, 2, 2, 3, 3};
  c.relu = true;
  c.border = 1;
  EXPECT_TRUE(check_stem(GetParam(), c, rng));
}

// One and two threads give bitwise the same output (each element is computed by one thread,
// in the same order).
TEST_P(Conv2dStemPathTest, ThreadCountDoesNotChangeResult) {
#ifdef _OPENMP
  std::mt19937 rng(8);
  Tensor<float> x({2, 3, 30, 41}), w({70, 3, 7, 7});
  std::vector<float> b(70);
  fill_uniform(x, rng);
  fill_uniform(w, rng);
  fill_uniform(b.data(), 70, rng);
  const Conv2dParams p = window_params<Conv2dParams>(7, 7, 2, 2, 3, 3, 1, 1);
  const auto packed = senet::pack_conv2d_stem_weights(w);
  Bordered y1(2, 70, 15, 21, 1, kNaN), y2(2, 70, 15, 21, 1, kNaN);
  const int saved = senet::num_threads();
  senet::set_num_threads(1);
  senet::conv2d_stem_nchw16c(x, packed, p, b.data(), senet::Activation::relu, y1.view, GetParam());
  senet::set_num_threads(2);
  senet::conv2d_stem_nchw16c(x, packed, p, b.data(), senet::Activation::relu, y2.view, GetParam());
  senet::set_num_threads(saved);
  for (Index i = 0; i < y1.buf.size(); ++i) ASSERT_EQ(y1.buf[i], y2.buf[i]) << i;
#else
  GTEST_SKIP() << "built without OpenMP";
#endif
}

INSTANTIATE_TEST_SUITE_P(Paths, Conv2dStemPathTest,
                         ::testing::Values(Conv2dPath::avx512, Conv2dPath::avx2, Conv2dPath::portable),
                         [](const ::testing::TestParamInfo<Conv2dPath>& info) { return senet::to_string(info.param); });

// ---- conv2d_stem_nchw16c on bf16 weights ----

// Runs `c` with bf16 weights on `path` into a NaN-filled bordered output and checks it against
// conv2d_reference in double on the input and weights rounded to bf16 here (FP32 sums are the
// only error left: 1e-5 of the output's scale) and against the FP32 stem (1e-2), the padding
// lanes and the border exactly 0. False when the kernel does not fit the input.
bool check_stem_bf16(Conv2dPath path, const StemCase& c, std::mt19937& rng) {
  if (!fits(c)) return false;
  const Conv2dParams p = window_params<Conv2dParams>(c.kh, c.kw, c.sh, c.sw, c.ph, c.pw, c.dh, c.dw);
  Tensor<float> x({c.N, c.C, c.H, c.W}), w({c.K, c.C, c.kh, c.kw});
  std::vector<float> b(static_cast<std::size_t>(c.K));
  fill_uniform(x, rng);
  fill_uniform(w, rng);
  fill_uniform(b.data(), c.K, rng);
  const Shape out = senet::conv2d_output_shape(x.shape(), w.shape(), p);
  Tensor<double> ref(out);
  senet::conv2d_reference(rounded_to_bf16(x), rounded_to_bf16(w), static_cast<const double*>(nullptr), p, ref);
  const Index plane = out[2] * out[3];
  for (Index i = 0; i < ref.size(); ++i) {
    double v = ref[i] + (c.bias ? b[std::size_t(i / plane % c.K)] : 0.0f);
    if (c.relu) v = std::max(v, 0.0);
    if (c.silu) v = v / (1.0 + std::exp(-v));
    ref[i] = v;
  }
  const senet::Activation act = c.relu ? senet::Activation::relu : c.silu ? senet::Activation::silu : senet::Activation::none;
  const auto run = [&](const senet::PackedStemWeights& packed, Conv2dPath on) {
    Bordered y(c.N, c.K, out[2], out[3], c.border, kNaN);
    senet::conv2d_stem_nchw16c(x, packed, p, c.bias ? b.data() : nullptr, act, y.view, on);
    EXPECT_TRUE(y.padding_lanes_are_zero()) << to_string(on) << " " << describe(c);
    EXPECT_TRUE(y.border_is_zero()) << to_string(on) << " " << describe(c);
    return senet::from_nchw16c(y.image(), c.K);
  };
  const auto packed = senet::pack_conv2d_stem_weights(w, senet::ConvPrecision::bf16);
  EXPECT_EQ(packed.precision, senet::ConvPrecision::bf16);
  EXPECT_EQ(packed.data.size(), 0) << "no fp32 copy kept";
  const Tensor<float> got = run(packed, path);
  EXPECT_LE(relative_error(got, ref), 1e-5) << to_string(path) << " " << describe(c);
  const Tensor<float> fp32 = run(senet::pack_conv2d_stem_weights(w), Conv2dPath::automatic);
  EXPECT_LE(relative_error(got, fp32), 1e-2) << to_string(path) << " " << describe(c);
  return true;
}

using Conv2dStemBf16PathTest = Bf16PathTest;

// Kernels 1, 2, 3, 5, 7 (odd widths leave half of the last tap pair empty), dilation 1 and 2.
TEST_P(Conv2dStemBf16PathTest, KernelsStridesPaddingsChannelsMatchReference) {
  std::mt19937 rng(808);
  const std::size_t cases = sweep_stem_cases({1, 2, 3, 5, 7}, {16, 17, 64, 70}, true,
                                             [&](const StemCase& c) { return check_stem_bf16(GetParam(), c, rng); });
  expect_cases_above(cases, 500);
}

// Every output row width 1..43 of SE-ResNet-50's stem (7x7 stride 2 pad 3, C = 3, K = 64) and of a
// 3x3 stride-1 one, K = 70 (a tile of 4 vectors and one of 1), each tile remainder.
TEST_P(Conv2dStemBf16PathTest, EveryRowWidthMatchesReference) {
  std::mt19937 rng(809);
  std::size_t cases = 0;
  for (Index OW = 1; OW <= 3 * senet::detail::kStemAvx512MaxPixels + 1; ++OW) {
    StemCase stem{1, 3, 64, 9, 2 * OW, 7, 7, 2, 2, 3, 3};
    stem.relu = true;
    stem.border = 1;
    StemCase narrow{1, 3, 70, 3, OW, 3, 3, 1, 1, 1, 1};
    narrow.border = OW % 2;
    for (const auto& c : {stem, narrow})
      if (check_stem_bf16(GetParam(), c, rng)) ++cases;
  }
  expect_cases_above(cases, 2 * 43 - 1);
}

// The empty half of an odd kernel's last tap pair reads the input one pixel past the window: a NaN
// there must not reach that output (NaN * 0 is NaN). Outputs are NaN exactly where the reference's are.
TEST_P(Conv2dStemBf16PathTest, InputPastTheWindowDoesNotReachTheOutput) {
  std::mt19937 rng(810);
  const Conv2dParams p = window_params<Conv2dParams>(7, 7, 2, 2, 3, 3, 1, 1);
  Tensor<float> x({1, 3, 16, 16}), w({64, 3, 7, 7});
  fill_uniform(x, rng);
  fill_uniform(w, rng);
  // Channel 1, row 8, column 8: padded column 11, the missing tap of output column 2 (4..10).
  x[(1 * 16 + 8) * 16 + 8] = kNaN;
  Tensor<float> ref(senet::conv2d_output_shape(x.shape(), w.shape(), p));
  senet::conv2d_reference(x, w, static_cast<const float*>(nullptr), p, ref);
  Bordered y(1, 64, ref.dim(2), ref.dim(3), 0, 0.0f);
  senet::conv2d_stem_nchw16c(x, senet::pack_conv2d_stem_weights(w, senet::ConvPrecision::bf16), p, nullptr,
                             senet::Activation::none, y.view, GetParam());
  const Tensor<float> got = senet::from_nchw16c(y.image(), 64);
  Index nans = 0;
  for (Index i = 0; i < ref.size(); ++i) {
    ASSERT_EQ(std::isnan(got[i]), std::isnan(ref[i])) << "element " << i;
    nans += std::isnan(ref[i]) ? 1 : 0;
  }
  EXPECT_GT(nans, 0);
}

INSTANTIATE_TEST_SUITE_P(Paths, Conv2dStemBf16PathTest,
                         ::testing::Values(Conv2dPath::amx, Conv2dPath::avx512, Conv2dPath::portable),
                         [](const ::testing::TestParamInfo<Conv2dPath>& info) { return senet::to_string(info.param); });

// The documented packed layout: [C, kh, kw, Kp], zero for k >= K.
TEST(Conv2dStem, PackedWeightLayoutIsAsDocumented) {
  std::mt19937 rng(2);
  const Index K = 20, C = 3, kh = 7, kw = 5, Kp = 32;
  Tensor<float> w({K, C, kh, kw});
  fill_uniform(w, rng);
  const auto packed = senet::pack_conv2d_stem_weights(w);
  EXPECT_EQ(packed.out_channels, K);
  EXPECT_EQ(packed.in_channels, C);
  EXPECT_EQ(packed.padded_out(), Kp);
  ASSERT_EQ(packed.data.size(), C * kh * kw * Kp);
  for (Index c = 0; c < C; ++c)
    for (Index i = 0; i < kh; ++i)
      for (Index j = 0; j < kw; ++j)
        for (Index k = 0; k < Kp; ++k)
          ASSERT_EQ(packed.data[((c * kh + i) * kw + j) * Kp + k], k < K ? w.at({k, c, i, j}) : 0.0f);
}

TEST(Conv2dStem, RejectsMismatchedShapesAndGroups) {
  Tensor<float> w({64, 3, 7, 7});
  const auto packed = senet::pack_conv2d_stem_weights(w);
  Conv2dParams p = window_params<Conv2dParams>(7, 7, 2, 2, 3, 3, 1, 1);
  Tensor<float> x({1, 3, 16, 16});
  Bordered y(1, 64, 8, 8, 1, 0.0f);
  EXPECT_NO_THROW(senet::conv2d_stem_nchw16c(x, packed, p, nullptr, senet::Activation::relu, y.view));
  auto error_with = [&](FeatureView v) {
    return error_of([&] { senet::conv2d_stem_nchw16c(x, packed, p, nullptr, senet::Activation::relu, v); });
  };
  for (int field = 0; field < 4; ++field) {
    FeatureView bad = y.view;
    if (field == 0) bad.batch = 2;
    if (field == 1) bad.channels = 48;
    if (field == 2) bad.height = 7;
    if (field == 3) bad.width = 9;
    EXPECT_NE(error_with(bad).find("output view must be 1 x 64 x 8 x 8"), std::string::npos) << field;
  }
  Tensor<float> x4({1, 4, 16, 16});  // 4 channels, the weights have 3
  EXPECT_THROW(senet::conv2d_stem_nchw16c(x4, packed, p, nullptr, senet::Activation::relu, y.view), senet::Error);
  Tensor<float> x5({1, 3, 16, 16, 1});
  EXPECT_THROW(senet::conv2d_stem_nchw16c(x5, packed, p, nullptr, senet::Activation::relu, y.view), senet::Error);
  Tensor<float> tiny({1, 3, 1, 1});  // 7x7 unpadded does not fit
  p.pad_h = p.pad_w = 0;
  EXPECT_THROW(senet::conv2d_stem_nchw16c(tiny, packed, p, nullptr, senet::Activation::relu, y.view), senet::Error);
  p = window_params<Conv2dParams>(7, 7, 2, 2, 3, 3, 1, 1);
  p.groups = 3;
  EXPECT_THROW(senet::conv2d_stem_nchw16c(x, packed, p, nullptr, senet::Activation::relu, y.view), senet::Error);
}

// ---- max_pool2d_nchw16c ----

struct PoolCase {
  Index N, C, H, W;
  Index kh, kw, sh, sw, ph, pw, dh, dw;
  bool ceil_mode;
  Index in_border, out_border;
  float garbage;  // what x's border holds
};

std::string describe(const PoolCase& c) {
  std::ostringstream os;
  os << "N=" << c.N << " C=" << c.C << " H=" << c.H << " W=" << c.W << " kernel=" << c.kh << "x" << c.kw
     << " stride=" << c.sh << "," << c.sw << " pad=" << c.ph << "," << c.pw << " dilation=" << c.dh << "," << c.dw
     << " ceil=" << c.ceil_mode << " borders=" << c.in_border << "," << c.out_border << " garbage=" << c.garbage;
  return os.str();
}

Pool2dParams pool_params(const PoolCase& c) {
  Pool2dParams p = window_params<Pool2dParams>(c.kh, c.kw, c.sh, c.sw, c.ph, c.pw, c.dh, c.dw);
  p.ceil_mode = c.ceil_mode;
  return p;
}

// Whether pooling `c` is valid (pool2d_output_shape accepts it).
bool pool_fits(const PoolCase& c) {
  if (2 * c.ph > c.kh || 2 * c.pw > c.kw) return false;
  return senet::pool_output_extent(c.H, c.kh, c.sh, c.ph, c.dh, c.ceil_mode) >= 1 &&
         senet::pool_output_extent(c.W, c.kw, c.sw, c.pw, c.dw, c.ceil_mode) >= 1;
}

// Pools `x` (NCHW) on `path` and checks the result equals senet::max_pool2d bit for bit (NaN
// where it has NaN), the padding lanes are the pooled zero lanes and the output border zero.
void check_pool(Conv2dPath path, const PoolCase& c, const Tensor<float>& x) {
  const Pool2dParams p = pool_params(c);
  Tensor<float> ref(senet::pool2d_output_shape(x.shape(), p));
  senet::max_pool2d(x, p, ref);
  const Bordered xb = Bordered::of(x, c.in_border, c.garbage);
  Bordered y(c.N, c.C, ref.dim(2), ref.dim(3), c.out_border, kNaN);
  senet::max_pool2d_nchw16c(xb.view, p, y.view, path);
  const Tensor<float> got = senet::from_nchw16c(y.image(), c.C);
  ASSERT_EQ(got.shape(), ref.shape());
  Index mismatches = 0;
  for (Index i = 0; i < ref.size(); ++i) {
    const bool same = std::isnan(ref[i]) ? std::isnan(got[i]) : got[i] == ref[i];
    if (!same) ++mismatches;
  }
  EXPECT_EQ(mismatches, 0) << to_string(path) << " " << describe(c);
  // x's padding lanes are zero: pooled, they give 0, or -inf where a window holds no input
  // (possible with dilation), as the reference pools a zero plane.
  Tensor<float> zeros({1, 1, c.H, c.W}), zero_ref(Shape{1, 1, ref.dim(2), ref.dim(3)});
  zeros.fill(0.0f);
  senet::max_pool2d(zeros, p, zero_ref);
  bool lanes_ok = true;
  const FeatureView& v = y.view;
  for (Index n = 0; n < v.batch; ++n)
    for (Index ch = v.channels; ch < v.blocks() * 16; ++ch)
      for (Index h = 0; h < v.height; ++h)
        for (Index w = 0; w < v.width; ++w)
          lanes_ok = lanes_ok && v.at(n, ch / 16, h, w)[ch % 16] == zero_ref[h * v.width + w];
  EXPECT_TRUE(lanes_ok) << to_string(path) << " " << describe(c);
  EXPECT_TRUE(y.border_is_zero()) << to_string(path) << " " << describe(c);
}

using MaxPool2dNchw16cPathTest = KernelPathTest;

// Kernels 1-3 x strides 1-3 x padding 0-1 x dilation 1-2 x ceil mode, channels 5, 16, 33, N = 2;
// sizes, borders (0-2, holding NaN or 1e30) and all-negative inputs (so a padding read as 0
// would show) rotate. The reference is senet::max_pool2d on NCHW.
TEST_P(MaxPool2dNchw16cPathTest, SweepMatchesReference) {
  std::mt19937 rng(9);
  const Index sizes[][2] = {{7, 9}, {1, 1}, {8, 8}, {5, 12}, {11, 6}, {2, 3}, {9, 10}};
  std::size_t counter = 0, cases = 0;
  for (const Index k : {1, 2, 3})
    for (const Index s : {1, 2, 3})
      for (const Index pad : {0, 1})
        for (const Index d : {1, 2})
          for (const bool ceil_mode : {false, true})
            for (const Index C : {5, 16, 33}) {
              const auto& size = sizes[counter % 7];
              const Index kw = counter % 5 == 4 ? std::max<Index>(1, k - 1) : k;  // some non-square
              PoolCase c{2,
                         C,
                         size[0],
                         size[1],
                         k,
                         kw,
                         s,
                         s == 3 ? 2 : s,
                         pad,
                         pad * (kw >= 2),
                         d,
                         d,
                         ceil_mode,
                         Index(counter % 3),
                         Index(counter / 3 % 2),
                         counter % 2 ? kNaN : 1e30f};
              ++counter;
              if (!pool_fits(c)) continue;
              Tensor<float> x({c.N, c.C, c.H, c.W});
              if (counter % 4 == 0)
                fill_uniform(x, rng, -2.0f, -1.0f);
              else
                fill_uniform(x, rng);
              check_pool(GetParam(), c, x);
              ++cases;
            }
  expect_cases_above(cases, 150);
}

// A NaN inside a window gives NaN in that output (and only in the windows holding it), as in
// PyTorch and senet::max_pool2d; windows without it are unaffected.
TEST_P(MaxPool2dNchw16cPathTest, NaNInWindowPropagates) {
  std::mt19937 rng(4);
  for (const bool ceil_mode : {false, true}) {
    PoolCase c{2, 33, 9, 11, 3, 3, 2, 2, 1, 1, 1, 1, ceil_mode, 1, 1, 1e30f};
    Tensor<float> x({c.N, c.C, c.H, c.W});
    fill_uniform(x, rng);
    x.at({0, 0, 0, 0}) = kNaN;    // a corner (windows with padding)
    x.at({0, 17, 4, 5}) = kNaN;   // inside, second block
    x.at({1, 32, 8, 10}) = kNaN;  // last channel, last pixel
    x.at({1, 5, 3, 2}) = kNaN;
    x.at({1, 5, 3, 3}) = 100.0f;  // a larger value next to a NaN does not win over it
    Tensor<float> ref(senet::pool2d_output_shape(x.shape(), pool_params(c)));
    senet::max_pool2d(x, pool_params(c), ref);
    ASSERT_TRUE(std::isnan(ref.at({0, 0, 0, 0})) && std::isnan(ref.at({0, 17, 2, 2})));  // the oracle's NaN rule
    check_pool(GetParam(), c, x);
  }
}

INSTANTIATE_TEST_SUITE_P(Paths, MaxPool2dNchw16cPathTest,
                         ::testing::Values(Conv2dPath::avx512, Conv2dPath::avx2, Conv2dPath::portable),
                         [](const ::testing::TestParamInfo<Conv2dPath>& info) { return senet::to_string(info.param); });

// The stem's pool: 64 x 112 x 112 -> 56 x 56, 3x3 stride 2 pad 1, bordered in and out, default path.
TEST(MaxPool2dNchw16c, SeResNet50StemPoolMatchesReference) {
  std::mt19937 rng(6);
  PoolCase c{1, 64, 112, 112, 3, 3, 2, 2, 1, 1, 1, 1, false, 1, 1, kNaN};
  Tensor<float> x({1, 64, 112, 112});
  fill_uniform(x, rng);
  check_pool(Conv2dPath::automatic, c, x);
}

TEST(MaxPool2dNchw16c, RejectsMismatchedShapes) {
  Tensor<float> xbuf({1, 2, 10, 10, 16}), ybuf({1, 2, 6, 6, 16});
  const FeatureView x{xbuf.data(), 1, 20, 10, 10, 0};
  Pool2dParams p = window_params<Pool2dParams>(3, 3, 2, 2, 1, 1, 1, 1);
  const FeatureView y{ybuf.data(), 1, 20, 5, 5, 0};
  EXPECT_NO_THROW(senet::max_pool2d_nchw16c(x, p, y));
  for (int field = 0; field < 4; ++field) {
    FeatureView bad = y;
    if (field == 0) bad.batch = 2;
    if (field == 1) bad.channels = 16;
    if (field == 2) bad.height = 6;
    if (field == 3) bad.width = 4;
    EXPECT_NE(error_of([&] { senet::max_pool2d_nchw16c(x, p, bad); }).find("output view must be 1 x 20 x 5 x 5"),
              std::string::npos);
  }
  p.ceil_mode = true;  // 10 -> 6 in ceil mode
  EXPECT_THROW(senet::max_pool2d_nchw16c(x, p, y), senet::Error);
  p = window_params<Pool2dParams>(3, 3, 2, 2, 2, 2, 1, 1);  // padding over half the kernel
  EXPECT_THROW(senet::max_pool2d_nchw16c(x, p, y), senet::Error);
  p = window_params<Pool2dParams>(13, 13, 1, 1, 0, 0, 1, 1);  // larger than the input
  EXPECT_THROW(senet::max_pool2d_nchw16c(x, p, y), senet::Error);
}

}  // namespace test_conv2d_stem
