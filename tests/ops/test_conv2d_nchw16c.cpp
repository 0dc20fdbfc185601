// Tests of senet/ops/conv2d_nchw16c.hpp: the NCHW16c layout conversions and weight packing, and
// `conv2d_nchw16c` on each forced path (avx512, avx2, portable) against `conv2d_reference`
// followed by a naive bias / SE scale / residual / ReLU, on bordered and border-free views, over sweeps that hit every remainder case: C and K
// not multiples of 16 or 32, rows not a multiple of the pixel tile, H, W in 1..15, strides 1-3,
// paddings 0..k/2, kernels 1, 3, 5, 7 and non-square ones, dilation, N > 1.

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#if defined(__linux__)
#include <unistd.h>
#endif

#include "senet/ops/conv2d_nchw16c.hpp"
#include "senet/ops/conv2d_stem.hpp"
#include "senet/ops/conv2d_winograd.hpp"
#include "nchw16c_test_util.hpp"
#include "test_util.hpp"

#ifdef _OPENMP
#include <omp.h>
#endif

namespace test_conv2d_nchw16c {

using senet::Conv2dEpilogue;
using senet::Conv2dParams;
using senet::Conv2dPath;
using senet::Index;
using senet::Shape;
using senet::Tensor;
using namespace senet::test;

struct Case {
  Index N, C, K, H, W;
  Index kh, kw, sh, sw, ph, pw;
  Index dh = 1, dw = 1;
  bool bias = true, residual = false, relu = false, scale = false;
  bool hard_swish = false;  // when not relu
  bool silu = false;        // when neither
  Index x_border = 0, y_border = 0;  // of the input and output views (residual: the output's)
  Index groups = 1;
  int winograd_tile = 0;  // 4 or 2: conv2d_winograd_nchw16c as F(4x4) or F(2x2) instead of conv2d_nchw16c
};

Conv2dParams params_of(const Case& c) {
  Conv2dParams p = window_params<Conv2dParams>(c.kh, c.kw, c.sh, c.sw, c.ph, c.pw, c.dh, c.dw);
  p.groups = c.groups;
  return p;
}

std::string describe(const Case& c) {
  std::ostringstream os;
  os << "N=" << c.N << " C=" << c.C << " K=" << c.K << " H=" << c.H << " W=" << c.W << " kernel=" << c.kh << "x"
     << c.kw << " stride=" << c.sh << "," << c.sw << " pad=" << c.ph << "," << c.pw << " dilation=" << c.dh << ","
     << c.dw << " bias=" << c.bias << " residual=" << c.residual << " relu=" << c.relu << " hard_swish=" << c.hard_swish << " silu=" << c.silu << " scale=" << c.scale
     << " borders=" << c.x_border << "," << c.y_border << " groups=" << c.groups;
  return os.str();
}

bool fits(const Case& c) {
  return c.H + 2 * c.ph >= c.dh * (c.kh - 1) + 1 && c.W + 2 * c.pw >= c.dw * (c.kw - 1) + 1;
}

// The reference result in NCHW: act((conv2d_reference(x, w, bias) * scale[n, k] + residual).
Tensor<float> reference(const Case& c, const Tensor<float>& x, const Tensor<float>& w, const std::vector<float>& b,
                        const Tensor<float>* residual, const std::vector<float>* scale = nullptr) {
  const Conv2dParams p = params_of(c);
  Tensor<float> ref(senet::conv2d_output_shape(x.shape(), w.shape(), p));
  senet::conv2d_reference(x, w, c.bias ? b.data() : nullptr, p, ref);
  const Index K = ref.dim(1), plane = ref.dim(2) * ref.dim(3), Kp = senet::channel_blocks(K) * 16;
  for (Index i = 0; i < ref.size(); ++i) {
    float v = ref[i];
    if (scale) v *= (*scale)[std::size_t(i / (K * plane) * Kp + i / plane % K)];
    if (residual) v += (*residual)[i];
    if (c.relu) v = std::max(v, 0.0f);
    if (c.hard_swish && !c.relu) v = v * std::min(std::max(v + 3.0f, 0.0f), 6.0f) / 6.0f;  // torch's hardswish
    if (c.silu && !c.relu && !c.hard_swish) v = v / (1.0f + std::exp(-v));                   // torch's silu
    ref[i] = v;
  }
  return ref;
}


// Runs `c` on `path` (Winograd when `c.winograd_tile`) and checks max|fast - ref| <= 1e-5 * max(1, max|ref|), the padding
// channels of the output exactly act(0 + 0) = 0, no element left unwritten (the output
// starts as NaN) and the output's border zeroed. An input border at least as wide as the padding
// is zero (it is the padding); a narrower one holds NaN, which must never be read. Returns false
// (and checks nothing) when the kernel does not fit the input.
bool check_case(Conv2dPath path, const Case& c, std::mt19937& rng) {
  if (!fits(c)) return false;
  const Conv2dParams p = params_of(c);
  Tensor<float> x({c.N, c.C, c.H, c.W}), w({c.K, c.C / c.groups, c.kh, c.kw});
  std::vector<float> b(static_cast<std::size_t>(c.K));
  fill_uniform(x, rng);
  fill_uniform(w, rng);
  fill_uniform(b.data(), c.K, rng);
  const Shape out = senet::conv2d_output_shape(x.shape(), w.shape(), p);
  Tensor<float> res_nchw;
  if (c.residual) {
    res_nchw = Tensor<float>(out);
    fill_uniform(res_nchw, rng);
  }
  const Index Kp = senet::channel_blocks(c.K) * 16;
  std::vector<float> scale(std::size_t(c.N * Kp), 0.0f);
  for (Index n = 0; n < c.N; ++n) fill_uniform(scale.data() + n * Kp, c.K, rng);
  const Tensor<float> ref = reference(c, x, w, b, c.residual ? &res_nchw : nullptr, c.scale ? &scale : nullptr);

  const senet::PackedConv2dWeights packed = senet::pack_conv2d_weights_nchw16c(w, c.groups);
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const bool x_border_is_padding = c.x_border >= c.ph && c.x_border >= c.pw;
  const Bordered xb = Bordered::of(x, c.x_border, x_border_is_padding ? 0.0f : nan);
  Bordered yb(c.N, c.K, out[2], out[3], c.y_border, nan);  // the image too: every element must be written
  Bordered residual;
  if (c.residual) residual = Bordered::of(res_nchw, c.y_border, 0.0f);
  Conv2dEpilogue e;
  e.bias = c.bias ? b.data() : nullptr;
  e.scale = c.scale ? scale.data() : nullptr;
  if (c.residual) e.residual = residual.view;
  e.activation = c.relu         ? senet::Activation::relu
                 : c.hard_swish ? senet::Activation::hard_swish
                 : c.silu       ? senet::Activation::silu
                                : senet::Activation::none;
  if (c.winograd_tile)
    senet::conv2d_winograd_nchw16c(
        xb.view, senet::pack_conv2d_winograd_weights(w, c.winograd_tile, senet::ConvPrecision::fp32, int(c.sh)), p, e,
        yb.view, path);
  else
    senet::conv2d_nchw16c(xb.view, packed, p, e, yb.view, path);
  EXPECT_TRUE(yb.border_is_zero()) << to_string(path) << " " << describe(c);
  EXPECT_LE(scaled_max_diff(senet::from_nchw16c(yb.image(), c.K), ref), 1e-5) << to_string(path) << " " << describe(c);
  // Padding output channels k >= K: weights, bias and residual are zero there.
  EXPECT_TRUE(yb.padding_lanes_are_zero()) << to_string(path) << " " << describe(c);
  return true;
}

using Conv2dNchw16cPathTest = KernelPathTest;

// Case `counter` of a sweep: the epilogue options and the input and output borders rotate, so
// that every combination meets every shape class.
void rotate_epilogue_and_borders(Case& c, std::size_t counter) {
  c.bias = counter % 3 != 0;
  c.residual = counter % 2 == 1;
  c.relu = counter % 4 < 2;
  c.hard_swish = counter % 4 == 2;
  c.silu = counter % 8 == 7;
  c.scale = counter % 3 == 1;
  c.x_border = counter % 4 == 1 ? std::max(c.ph, c.pw) : counter % 4 == 3 ? 1 : 0;
  c.y_border = counter % 5 == 2 ? 1 : counter % 5 == 4 ? 2 : 0;
}

// Kernels 1, 3, 5, 7 and non-square ones x strides (1,1), (2,2), (1,2), (2,1) x every padding
// 0..k/2 along H (W's rotates), each on three sizes in 1..15; channel counts, N and the epilogue
// options rotate across the cases.
TEST_P(Conv2dNchw16cPathTest, KernelsStridesPaddingsMatchReference) {
  std::mt19937 rng(2024);
  const Index kernels[][2] = {{1, 1}, {3, 3}, {5, 5}, {7, 7}, {1, 3}, {3, 1}, {5, 3}, {3, 7}, {7, 1}};
  const Index strides[][2] = {{1, 1}, {2, 2}, {1, 2}, {2, 1}};
  const Index sizes[][2] = {{1, 1}, {15, 15}, {7, 9}, {14, 13}, {5, 15}, {9, 2}, {3, 11}, {12, 6}, {2, 8}, {11, 14}};
  const Index channels[][2] = {{1, 1}, {3, 17}, {16, 16}, {17, 33}, {5, 50}, {33, 31}, {20, 64}, {2, 48}};
  std::size_t counter = 0, cases = 0;
  for (const auto& k : kernels)
    for (const auto& s : strides)
      for (Index ph = 0; ph <= k[0] / 2; ++ph)
        for (int rep = 0; rep < 3; ++rep) {
          const auto& size = sizes[(counter * 3 + rep) % 10];
          const auto& ch = channels[counter % 8];
          Case c{Index(1 + counter % 2), ch[0], ch[1], size[0], size[1], k[0], k[1], s[0], s[1], ph,
                 Index((ph + counter) % (k[1] / 2 + 1))};
          rotate_epilogue_and_borders(c, counter);
          ++counter;
          if (check_case(GetParam(), c, rng)) ++cases;
        }
  expect_cases_above(cases, 180);
}

// Every row width 1..15 (and wider rows with several tiles: 27, 28, 29, 41, 56) for 1x1 stride 1
// (the image as one row), 1x1 stride 2 and 3x3 stride 1 and 2, padded.
TEST_P(Conv2dNchw16cPathTest, EveryRowWidthMatchesReference) {
  std::mt19937 rng(77);
  std::size_t cases = 0;
  const Index widths[] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 27, 28, 29, 41, 56};
  for (Index W : widths)
    for (const Index k : {1, 3})
      for (const Index s : {1, 2}) {
        const Index H = 1 + (W * 7 + k + s) % 5;
        Case c{1, 19, 40, H, W, k, k, s, s, k / 2, k / 2};
        c.residual = (W + s) % 2 == 0;
        c.relu = W % 3 != 0;
        c.scale = W % 2 == 1;
        c.x_border = (W + k) % 3 == 0 ? k / 2 : 0;  // the engine's 3x3 inputs: border = padding
        c.y_border = (W + s) % 4 == 1 ? 1 : 0;
        if (check_case(GetParam(), c, rng)) ++cases;
      }
  expect_cases_above(cases, 75);
}

// Outputs 7 pixels wide run two-row tiles on avx512 (14 pixels: two rows of 7; an odd last row
// runs a one-row tile): 3x3 stride 1 on 7-wide inputs, 3x3 and 1x1 stride 2 on 13- and 14-wide
// ones, 1x1 stride 1 between bordered views (border-free, the image is one row); 1, 2, 5 and 7
// output rows; K = 48 (the last block 16 wide: one-vector tiles) and 64; every epilogue term,
// SiLU included (applied row by row); N = 2. The other paths run them as one-row tiles.
TEST_P(Conv2dNchw16cPathTest, TwoRowTilesMatchReference) {
  std::mt19937 rng(707);
  std::size_t counter = 0;
  for (const Index H : {1, 2, 5, 7})
    for (const Index k : {1, 3})
      for (const Index s : {1, 2})
        for (const Index K : {48, 64}) {
          const Index W = s == 1 ? 7 : 13 + Index(counter % 2), in_h = s == 1 ? H : 2 * H - Index(counter % 2);
          Case c{2, 24, K, in_h, W, k, k, s, s, k / 2, k / 2};
          rotate_epilogue_and_borders(c, counter);
          if (k == 1 && s == 1) c.x_border = c.y_border = 1;
          if (counter % 4 == 3) c.relu = c.hard_swish = false, c.silu = true;
          ++counter;
          EXPECT_TRUE(check_case(GetParam(), c, rng)) << describe(c);
        }
  expect_cases_above(counter, 31);
}

// A deep layer at batch 1 (weights outweigh the input, a sweep of at most 16 tiles, a weight slice
// of 64 KB or more) runs its tiles over the input channels in parts on avx512, the sums kept
// between parts: 3x3s on 7-wide rows (two-row tiles, an odd last row alone), stride 1 and 2, in
// parts of one input block (C = 72: 5 blocks, the last partly padding); 1x1s over a 7x7 image as
// one row of 49 pixels, and stride 2, in parts of 12 blocks (C = 528: 33 blocks, so a part of 9);
// a 1x1 over a 14x14 image as one row (a sweep of 14 tiles, smaller parts); K = 48 and 80 (a
// narrow last block), 64 and 208 (1x1s: enough weights to outweigh the input); every epilogue
// term. Against the reference, and to the bit against the same image inside a batch of 9 (whose
// sweeps, 18 tiles and more, are too long for parts: the plain loop, summing in the same order).
TEST_P(Conv2dNchw16cPathTest, WeightsStreamedInPartsMatchReferenceAndBatchedRun) {
  std::mt19937 rng(4242);
  std::vector<Case> cases;
  for (const Index k : {3, 1})
    for (const Index s : {1, 2})
      for (const Index K : {k == 3 ? 48 : 80, k == 3 ? 64 : 208})
        for (const Index H : {7, 3}) {
          const Index C = k == 3 ? 72 : 528, in = s == 1 ? 7 : 14, in_h = s == 1 ? H : 2 * H;
          cases.push_back(Case{1, C, K, in_h, in, k, k, s, s, k / 2, k / 2});
        }
  for (const Index K : {208, 240}) cases.push_back(Case{1, 528, K, 14, 14, 1, 1, 1, 1, 0, 0});
  for (std::size_t i = 0; i < cases.size(); ++i) {
    Case& c = cases[i];
    rotate_epilogue_and_borders(c, i);
    if (c.kh == 1 && c.sh == 1 && i % 2 == 0) c.x_border = c.y_border = 0;  // one row of H * W pixels
    EXPECT_TRUE(check_case(GetParam(), c, rng)) << describe(c);
    // The same image as the first of a batch of 9.
    Tensor<float> x({9, c.C, c.H, c.W}), w({c.K, c.C, c.kh, c.kw});
    std::vector<float> b(static_cast<std::size_t>(c.K));
    fill_uniform(x, rng);
    fill_uniform(w, rng);
    fill_uniform(b.data(), c.K, rng);
    const Conv2dParams p = params_of(c);
    const auto packed = senet::pack_conv2d_weights_nchw16c(w, 1);
    Tensor<float> one({1, c.C, c.H, c.W});
    std::copy_n(x.data(), one.size(), one.data());
    const auto x9 = senet::to_nchw16c(x), x1 = senet::to_nchw16c(one);
    Tensor<float> y9(senet::conv2d_nchw16c_output_shape(x9.shape(), packed, p)),
        y1(senet::conv2d_nchw16c_output_shape(x1.shape(), packed, p));
    Conv2dEpilogue e;
    e.bias = b.data();
    e.activation = senet::Activation::relu;
    senet::conv2d_nchw16c(x9, packed, p, e, y9, GetParam());
    senet::conv2d_nchw16c(x1, packed, p, e, y1, GetParam());
    EXPECT_TRUE(std::equal(y1.data(), y1.data() + y1.size(), y9.data())) << to_string(GetParam()) << " " << describe(c);
  }
}

// Grouped convolutions (the reference: senet::conv2d_reference with groups): channels per group
// 1..64 on the input and the output side (ResNeXt-50's 3x3s have 4, 8, 16 and 32, its first
// stage 32 groups of 4), equal or not, groups that straddle 16-channel blocks (3, 5, 12, 24),
// a narrow last weight block, 3x3 and 1x1, strides 1 and 2, bordered views and every epilogue.
// Both packed layouts: lane groups (1, 2, 4, 8 channels in and out, including a channel count
// that is not a multiple of 16) and block-diagonal (16-wide blocks for groups of 16).
TEST_P(Conv2dNchw16cPathTest, GroupedMatchesReference) {
  std::mt19937 rng(31);
  std::size_t cases = 0;
  // (groups, input channels per group, output channels per group)
  const Index groupings[][3] = {{32, 4, 4}, {32, 8, 8}, {16, 16, 16}, {4, 32, 32}, {2, 64, 64}, {8, 1, 1},
                                {6, 3, 5},  {4, 5, 3},  {3, 12, 12}, {2, 24, 8},  {5, 4, 4},  {7, 2, 16}, {8, 2, 2}, {6, 8, 8}};
  std::size_t counter = 0;
  for (const auto& gr : groupings)
    for (const Index k : {3, 1})
      for (const Index s : {1, 2}) {
        Case c{Index(1 + counter % 2), gr[0] * gr[1], gr[0] * gr[2], 6 + Index(counter % 5), 7 + Index(counter % 9),
               k, k, s, s, k / 2, k / 2};
        c.groups = gr[0];
        c.bias = counter % 3 != 0;
        c.residual = counter % 2 == 1;
        c.relu = counter % 4 < 2;
        c.hard_swish = counter % 4 == 2;
        c.silu = counter % 8 == 7;
        c.scale = counter % 3 == 1;
        c.x_border = counter % 4 == 1 ? k / 2 : 0;
        c.y_border = counter % 5 == 2 ? 1 : 0;
        ++counter;
        if (check_case(GetParam(), c, rng)) ++cases;
      }
  expect_cases_above(cases, 53);
}

// C and K around 16 and 32 (the vector and the 2-vector tile), including K = 16 * odd (a narrow
// last weight block) and C = 1.
TEST_P(Conv2dNchw16cPathTest, EveryChannelRemainderMatchesReference) {
  std::mt19937 rng(5);
  std::size_t cases = 0;
  for (const Index C : {1, 7, 15, 16, 17, 31, 32, 33})
    for (const Index K : {1, 8, 15, 16, 17, 31, 32, 33, 47, 48, 49, 64, 80}) {
      Case c{1, C, K, 5, 6 + (C + K) % 10, 3, 3, 1, 1, 1, 1};
      c.residual = K % 2 == 0;
      c.relu = C % 2 == 0;
      c.scale = (C + K) % 3 == 0;
      c.y_border = K % 3 == 0 ? 1 : 0;
      if (check_case(GetParam(), c, rng)) ++cases;
    }
  expect_cases_above(cases, 100);
}

// Shapes the tile and stride dispatch treat specially, named one by one.
TEST_P(Conv2dNchw16cPathTest, EdgeCasesMatchReference) {
  std::mt19937 rng(11);
  const Case cases[] = {
      // Stride 3 and mixed 3 / 1 (no compile-time pixel stride), padded.
      {2, 9, 20, 13, 14, 3, 3, 3, 3, 1, 1},
      {1, 9, 20, 11, 13, 5, 3, 1, 3, 2, 0},
      // Dilation 2 and (1, 3).
      {1, 12, 18, 11, 12, 3, 3, 1, 1, 2, 2, 2, 2},
      {2, 5, 33, 9, 15, 3, 3, 2, 1, 1, 3, 1, 3},
      // The stem's shape, small: 7x7 stride 2 pad 3 on C = 3.
      {1, 3, 64, 15, 15, 7, 7, 2, 2, 3, 3},
      // Kernel exactly the padded input: one output pixel.
      {2, 17, 34, 5, 3, 7, 5, 1, 1, 1, 1},
      // Padding larger than the kernel's reach on a 1x1 input.
      {1, 4, 5, 1, 1, 3, 3, 1, 1, 1, 1},
      // Flattened 1x1 with H * W = 49 and 196 (SE-ResNet-50's layer4 and layer3), N = 3.
      {3, 40, 36, 7, 7, 1, 1, 1, 1, 0, 0},
      {1, 24, 70, 14, 14, 1, 1, 1, 1, 0, 0},
      // A real bottleneck width on a small image.
      {1, 64, 64, 10, 9, 3, 3, 1, 1, 1, 1},
  };
  std::size_t n = 0;
  bool flip = false;
  for (Case c : cases) {
    c.residual = flip;
    c.relu = !flip;
    flip = !flip;
    if (check_case(GetParam(), c, rng)) ++n;
  }
  EXPECT_EQ(n, sizeof(cases) / sizeof(cases[0]));
}

// The L2 size that sizes the Winograd chunks: what glibc reports (it reads CPUID's cache leaves
// by its own code) where it reports one, else within the clamp.
TEST(Conv2dWinograd, L2CacheBytesMatchesTheSystem) {
  const Index bytes = senet::detail::l2_cache_bytes();
  EXPECT_GE(bytes, Index(1) << 19);
  EXPECT_LE(bytes, Index(4) << 20);
#if defined(__linux__) && defined(_SC_LEVEL2_CACHE_SIZE) && (defined(__x86_64__) || defined(__i386__))
  const long reported = sysconf(_SC_LEVEL2_CACHE_SIZE);
  if (reported >= (1L << 19) && reported <= (4L << 20)) {
    EXPECT_EQ(bytes, Index(reported));
  }
#endif
}

// Winograd F(4x4, 3x3) and F(2x2, 3x3) (`conv2d_winograd_nchw16c`), and the stride-2 form on the
// same shapes with stride 2 (the input by phases, F(4x4, 2x2)), against the same reference:
// paddings 0-2, sizes that are and are not multiples of the tile (1-wide outputs, partial tiles on
// either edge), the tile counts that make one chunk, several and a ragged last one (56 x 56: 196
// tiles of 4x4), channel counts around 16 and 32, N > 1, every epilogue, bordered views (a narrower
// input border holds NaN: Winograd must read the padding as zeros, never the border), 1-3 threads.
TEST_P(Conv2dNchw16cPathTest, WinogradMatchesReference) {
  std::mt19937 rng(4);
  const Index sizes[][2] = {{3, 3}, {4, 4}, {5, 7}, {8, 8}, {9, 13}, {14, 14}, {6, 17}, {28, 28}, {56, 56}, {2, 30}};
  // {128, 144}: 2.65 MB of F(4x4) weights, beyond L2 (1-2 MB on the project's machines), on a
  // small image, where 2 threads split the output blocks (an odd last block of 16 in the second part).
  const Index channels[][2] = {{1, 1}, {16, 16}, {17, 33}, {64, 64}, {3, 48}, {33, 20}, {40, 70}, {128, 144}};
  const int saved = senet::num_threads();
  std::size_t counter = 0, cases = 0;
  for (const auto& size : sizes)
    for (Index pad = 0; pad <= 2; ++pad) {
      const auto& ch = channels[counter % 8];
      Case c{Index(1 + counter % 2), ch[0], ch[1], size[0], size[1], 3, 3, 1, 1, pad, Index((pad + counter) % 3)};
      rotate_epilogue_and_borders(c, counter);
      senet::set_num_threads(int(1 + counter % 3));
      ++counter;
      for (const int tile : {4, 2}) {
        c.winograd_tile = tile;
        if (check_case(GetParam(), c, rng)) ++cases;
      }
      c.sh = c.sw = 2;  // the stride-2 form
      c.winograd_tile = 4;
      if (check_case(GetParam(), c, rng)) ++cases;
    }
  senet::set_num_threads(saved);
  expect_cases_above(cases, 83);
}

// The residual may be the output itself (in-place `y = relu(conv(x) + y)`).
TEST_P(Conv2dNchw16cPathTest, ResidualMayAliasOutput) {
  std::mt19937 rng(3);
  const Case c{2, 20, 40, 9, 17, 3, 3, 1, 1, 1, 1};
  const Conv2dParams p = params_of(c);
  Tensor<float> x({c.N, c.C, c.H, c.W}), w({c.K, c.C, 3, 3});
  std::vector<float> b(static_cast<std::size_t>(c.K));
  fill_uniform(x, rng);
  fill_uniform(w, rng);
  fill_uniform(b.data(), c.K, rng);
  Tensor<float> res(senet::conv2d_output_shape(x.shape(), w.shape(), p));
  fill_uniform(res, rng);
  Case cr = c;
  cr.relu = true;
  const Tensor<float> ref = reference(cr, x, w, b, &res);
  Tensor<float> y = senet::to_nchw16c(res);
  Conv2dEpilogue e;
  e.bias = b.data();
  e.residual = senet::view_nchw16c(y, c.K);
  e.activation = senet::Activation::relu;
  senet::conv2d_nchw16c(senet::to_nchw16c(x), senet::pack_conv2d_weights_nchw16c(w), p, e, y, GetParam());
  EXPECT_LE(relative_error(senet::from_nchw16c(y, c.K), ref), 1e-5);
}

// One and two threads give bitwise the same output (each element is computed by one thread,
// in the same order).
TEST_P(Conv2dNchw16cPathTest, ThreadCountDoesNotChangeResult) {
#ifdef _OPENMP
  std::mt19937 rng(8);
  Tensor<float> x({2, 40, 13, 29}), w({70, 40, 3, 3});
  fill_uniform(x, rng);
  fill_uniform(w, rng);
  const Conv2dParams p = window_params<Conv2dParams>(3, 3, 1, 1, 1, 1, 1, 1);
  const auto packed = senet::pack_conv2d_weights_nchw16c(w);
  const auto xb = senet::to_nchw16c(x);
  const Shape out = senet::conv2d_nchw16c_output_shape(xb.shape(), packed, p);
  Tensor<float> y1(out), y2(out);
  const int saved = senet::num_threads();
  senet::set_num_threads(1);
  senet::conv2d_nchw16c(xb, packed, p, {}, y1, GetParam());
  senet::set_num_threads(2);
  senet::conv2d_nchw16c(xb, packed, p, {}, y2, GetParam());
  senet::set_num_threads(saved);
  for (Index i = 0; i < y1.size(); ++i) ASSERT_EQ(y1[i], y2[i]) << i;
#else
  GTEST_SKIP() << "built without OpenMP";
#endif
}

INSTANTIATE_TEST_SUITE_P(Paths, Conv2dNchw16cPathTest,
                         ::testing::Values(Conv2dPath::avx512, Conv2dPath::avx2, Conv2dPath::portable),
                         [](const ::testing::TestParamInfo<Conv2dPath>& info) { return senet::to_string(info.param); });

TEST(Conv2dNchw16c, LayoutRoundTripAndZeroPadding) {
  std::mt19937 rng(1);
  for (const Index C : {1, 15, 16, 17, 40}) {
    Tensor<float> x({2, C, 3, 5});
    fill_uniform(x, rng);
    const Tensor<float> b = senet::to_nchw16c(x);
    ASSERT_EQ(b.shape(), (Shape{2, (C + 15) / 16, 3, 5, 16}));
    EXPECT_EQ(b.at({1, (C - 1) / 16, 2, 4, (C - 1) % 16}), x.at({1, C - 1, 2, 4}));
    for (Index n = 0; n < 2; ++n)
      for (Index c = C; c < b.dim(1) * 16; ++c)
        for (Index h = 0; h < 3; ++h)
          for (Index ww = 0; ww < 5; ++ww) EXPECT_EQ(b.at({n, c / 16, h, ww, c % 16}), 0.0f);
    const Tensor<float> back = senet::from_nchw16c(b, C);
    ASSERT_EQ(back.shape(), x.shape());
    for (Index i = 0; i < x.size(); ++i) ASSERT_EQ(back[i], x[i]);
  }
}

// The documented packed layout: blocks of 32 output channels, the last one 16 wide when
// ceil(K / 16) is odd, each [Cb, kh, kw, 16, width].
TEST(Conv2dNchw16c, PackedWeightLayoutIsAsDocumented) {
  std::mt19937 rng(2);
  const Index K = 40, C = 20, kh = 3, kw = 2;  // Kb = 3: one full block, one 16 wide
  Tensor<float> w({K, C, kh, kw});
  fill_uniform(w, rng);
  const auto packed = senet::pack_conv2d_weights_nchw16c(w);
  const Index Cb = 2, rows = Cb * kh * kw * 16;
  ASSERT_EQ(packed.data.size(), rows * 48);
  for (Index k = 0; k < 48; ++k)
    for (Index c = 0; c < 32; ++c)
      for (Index i = 0; i < kh; ++i)
        for (Index j = 0; j < kw; ++j) {
          const Index block = k / 32, width = block == 0 ? 32 : 16;
          const Index at = block * 32 * rows + (((c / 16 * kh + i) * kw + j) * 16 + c % 16) * width + k % 32;
          const float expected = (k < K && c < C) ? w.at({k, c, i, j}) : 0.0f;
          ASSERT_EQ(packed.data[at], expected) << k << " " << c << " " << i << " " << j;
        }
}

// The lane-group layout, element by element, from its definition in conv2d_nchw16c.hpp: lane i of
// rotation r at tap t holds the weight of output grp(i) + (i - r) mod G on input channel i
// (20 channels in groups of 4: the second block half empty); and which layout each grouping gets.
TEST(Conv2dNchw16c, GroupedPackingLayoutsAreAsDocumented) {
  std::mt19937 rng(3);
  const Index G = 4, K = 20, taps = 9;
  Tensor<float> w({K, G, 3, 3});
  fill_uniform(w, rng);
  const auto packed = senet::pack_conv2d_weights_nchw16c(w, K / G);
  ASSERT_EQ(packed.lane_group, G);
  ASSERT_EQ(packed.data.size(), 32 * taps * G);
  for (Index i = 0; i < 32; ++i)
    for (Index t = 0; t < taps; ++t)
      for (Index r = 0; r < G; ++r) {
        const Index first = i / G * G, k = first + ((i - first) - r + G) % G;
        const float expected = i < K ? w.at({k, i - first, t / 3, t % 3}) : 0.0f;
        ASSERT_EQ(packed.data[((i / 16 * taps + t) * G + r) * 16 + i % 16], expected) << i << " " << t << " " << r;
      }
  auto layout = [&](Index channels, Index groups) {
    Tensor<float> v({channels, channels / groups, 3, 3});
    const auto p = senet::pack_conv2d_weights_nchw16c(v, groups);
    return std::vector<Index>{p.lane_group, p.block_width, p.group_in_blocks};
  };
  EXPECT_EQ(layout(128, 32), (std::vector<Index>{4, 32, 0}));     // ResNeXt-50 stage 1: lane groups
  EXPECT_EQ(layout(256, 32), (std::vector<Index>{8, 32, 0}));     // stage 2
  EXPECT_EQ(layout(512, 32), (std::vector<Index>{0, 16, 1}));     // stage 3: 16-wide blocks, one input block
  EXPECT_EQ(layout(1024, 32), (std::vector<Index>{0, 32, 2}));    // stage 4: 32-wide, no waste
  EXPECT_EQ(layout(64, 1), (std::vector<Index>{0, 32, 4}));       // dense
  EXPECT_EQ(layout(48, 48), (std::vector<Index>{1, 32, 0}));      // depthwise
}

TEST(Conv2dNchw16c, RejectsMismatchedShapesAndGroups) {
  Tensor<float> w({8, 20, 3, 3});
  const auto packed = senet::pack_conv2d_weights_nchw16c(w);
  Conv2dParams p = window_params<Conv2dParams>(3, 3, 1, 1, 1, 1, 1, 1);
  Tensor<float> x({1, 2, 5, 5, 16}), y({1, 1, 5, 5, 16}), wrong_y({1, 1, 5, 4, 16});
  EXPECT_NO_THROW(senet::conv2d_nchw16c(x, packed, p, {}, y));
  EXPECT_THROW(senet::conv2d_nchw16c(x, packed, p, {}, wrong_y), senet::Error);
  Tensor<float> x_one_block({1, 1, 5, 5, 16});  // 20 channels need 2 blocks
  EXPECT_THROW(senet::conv2d_nchw16c(x_one_block, packed, p, {}, y), senet::Error);
  Tensor<float> x_nchw({1, 20, 5, 5});
  EXPECT_THROW(senet::conv2d_nchw16c(x_nchw, packed, p, {}, y), senet::Error);
  Tensor<float> wrong_res({1, 1, 5, 4, 16});
  Conv2dEpilogue e;
  e.residual = senet::view_nchw16c(wrong_res, 8);
  EXPECT_THROW(senet::conv2d_nchw16c(x, packed, p, e, y), senet::Error);
  e.residual = senet::view_nchw16c(y, 8);
  e.residual.border = 1;  // the output has none
  EXPECT_THROW(senet::conv2d_nchw16c(x, packed, p, e, y), senet::Error);
  p.groups = 2;
  EXPECT_THROW(senet::conv2d_nchw16c(x, packed, p, {}, y), senet::Error);
}

// The Winograd forms, the stem's padded input and a direct convolution's padded copy of a
// border-free input share one pair of per-thread buffers (`detail::shared_scratch`). A call must
// owe nothing to what another left there: each gives the same bits whichever of the others ran
// before it, at other sizes, on the same thread (the buffers only grow, so the later calls run on
// memory holding the others' values).
TEST(Conv2dNchw16c, KernelsSharingScratchLeaveNoTrace) {
  std::mt19937 rng(21);
  const int saved = senet::num_threads();
  senet::set_num_threads(1);
  auto random = [&](Shape shape) {
    Tensor<float> t(std::move(shape));
    fill_uniform(t, rng);
    return t;
  };
  const Conv2dParams same = window_params<Conv2dParams>(3, 3, 1, 1, 1, 1, 1, 1);
  const Tensor<float> xw = senet::to_nchw16c(random({1, 24, 10, 10})), xd = senet::to_nchw16c(random({1, 40, 9, 11}));
  const auto f22 = senet::pack_conv2d_winograd_weights(random({20, 24, 3, 3}), 2);
  const Tensor<float> w3 = random({36, 40, 3, 3});
  const auto f44 = senet::pack_conv2d_winograd_weights(w3, 4);
  const auto direct = senet::pack_conv2d_weights_nchw16c(w3);
  const Tensor<float> image = random({1, 3, 40, 40});
  const auto stem = senet::pack_conv2d_stem_weights(random({16, 3, 7, 7}));
  const Conv2dParams stem_params = window_params<Conv2dParams>(7, 7, 2, 2, 3, 3, 1, 1);
  const std::vector<float> stem_bias(16, 0.25f);
  auto run_f22 = [&] {
    Tensor<float> y({1, 2, 10, 10, 16});
    senet::conv2d_winograd_nchw16c(senet::view_nchw16c(xw, 24), f22, same, {}, senet::view_nchw16c(y, 20));
    return y;
  };
  auto run_f44_and_direct = [&] {
    Tensor<float> y({1, 3, 9, 11, 16}), z({1, 3, 9, 11, 16});
    senet::conv2d_winograd_nchw16c(senet::view_nchw16c(xd, 40), f44, same, {}, senet::view_nchw16c(y, 36));
    senet::conv2d_nchw16c(senet::view_nchw16c(xd, 40), direct, same, {}, senet::view_nchw16c(z, 36));  // pads a copy
    return std::make_pair(y, z);
  };
  auto run_stem = [&] {
    Tensor<float> y({1, 1, 20, 20, 16});
    senet::conv2d_stem_nchw16c(image, stem, stem_params, stem_bias.data(), senet::Activation::relu,
                               senet::view_nchw16c(y, 16));
    return y;
  };
  auto same_bits = [](const Tensor<float>& a, const Tensor<float>& b) {
    return a.shape() == b.shape() && std::equal(a.data(), a.data() + a.size(), b.data());
  };
  const Tensor<float> f22_alone = run_f22();
  const auto [f44_first, direct_first] = run_f44_and_direct();
  const Tensor<float> stem_first = run_stem();
  EXPECT_TRUE(same_bits(run_f22(), f22_alone));
  const Tensor<float> stem_again = run_stem();
  const auto [f44_again, direct_again] = run_f44_and_direct();
  EXPECT_TRUE(same_bits(stem_again, stem_first));
  EXPECT_TRUE(same_bits(f44_again, f44_first));
  EXPECT_TRUE(same_bits(direct_again, direct_first));
  // Not a shared wrong answer: F(4x4) and the direct kernel, two algorithms on the same weights,
  // agree (each is checked against the reference convolution above).
  EXPECT_LE(relative_error(senet::from_nchw16c(f44_again, 36), senet::from_nchw16c(direct_again, 36)), 1e-5);
  senet::set_num_threads(saved);
}

TEST(Conv2dNchw16c, WinogradRejectsOtherTilesAndShapes) {
  const Tensor<float> w({8, 20, 3, 3});
  EXPECT_THROW(senet::pack_conv2d_winograd_weights(w, 3), senet::Error);
  EXPECT_THROW(senet::pack_conv2d_winograd_weights(Tensor<float>({8, 20, 1, 1})), senet::Error);
  const Conv2dParams p = window_params<Conv2dParams>(3, 3, 1, 1, 1, 1, 1, 1);
  Tensor<float> x({1, 2, 5, 5, 16}), y({1, 1, 5, 5, 16});
  for (const int tile : {4, 2}) {
    senet::WinogradConv2dWeights packed = senet::pack_conv2d_winograd_weights(w, tile);
    EXPECT_EQ(packed.positions.size(), std::size_t((tile + 2) * (tile + 2)));
    EXPECT_NO_THROW(senet::conv2d_winograd_nchw16c(senet::view_nchw16c(x, 20), packed, p, {}, senet::view_nchw16c(y, 8)));
    packed.tile = 6 - tile;  // positions of the other form
    EXPECT_THROW(senet::conv2d_winograd_nchw16c(senet::view_nchw16c(x, 20), packed, p, {}, senet::view_nchw16c(y, 8)),
                 senet::Error);
  }
  const Conv2dParams strided = window_params<Conv2dParams>(3, 3, 2, 2, 1, 1, 1, 1);
  EXPECT_THROW(senet::conv2d_winograd_nchw16c(senet::view_nchw16c(x, 20), senet::pack_conv2d_winograd_weights(w),
                                              strided, {}, senet::view_nchw16c(y, 8)),
               senet::Error);
  // Stride-2 weights: 36 matrices, F(4x4, 2x2) in FP32 only, for stride-2 convolutions only.
  const auto s2 = senet::pack_conv2d_winograd_weights(w, 4, senet::ConvPrecision::fp32, 2);
  EXPECT_EQ(s2.positions.size(), 36u);
  Tensor<float> y3({1, 1, 3, 3, 16});
  EXPECT_NO_THROW(senet::conv2d_winograd_nchw16c(senet::view_nchw16c(x, 20), s2, strided, {}, senet::view_nchw16c(y3, 8)));
  EXPECT_THROW(senet::conv2d_winograd_nchw16c(senet::view_nchw16c(x, 20), s2, p, {}, senet::view_nchw16c(y, 8)),
               senet::Error);
  EXPECT_THROW(senet::pack_conv2d_winograd_weights(w, 2, senet::ConvPrecision::fp32, 2), senet::Error);
  EXPECT_THROW(senet::pack_conv2d_winograd_weights(w, 4, senet::ConvPrecision::bf16, 2), senet::Error);
  EXPECT_THROW(senet::pack_conv2d_winograd_weights(w, 4, senet::ConvPrecision::fp32, 3), senet::Error);
}

TEST(Conv2dNchw16c, AutomaticIsTheBestSupportedPathAndForcedPathsAreKept) {
  const Conv2dPath best = senet::resolve_conv2d_path();
  EXPECT_NE(best, Conv2dPath::automatic);
  EXPECT_TRUE(senet::conv2d_path_supported(best));
  const Conv2dPath order[] = {Conv2dPath::avx512, Conv2dPath::avx2, Conv2dPath::portable};
  for (const Conv2dPath path : order) {
    if (!senet::conv2d_path_supported(path)) continue;
    EXPECT_EQ(best, path) << "automatic must take the first supported of avx512, avx2, portable";
    break;
  }
  EXPECT_EQ(senet::resolve_conv2d_path(Conv2dPath::portable), Conv2dPath::portable);
  EXPECT_EQ(senet::resolve_conv2d_path(Conv2dPath::automatic), best);
}

}  // namespace test_conv2d_nchw16c
