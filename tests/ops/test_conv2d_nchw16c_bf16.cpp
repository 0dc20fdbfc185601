// Tests of the bf16 weights of senet/ops/conv2d_nchw16c.hpp (`ConvPrecision::bf16`): the packed
// layout and its rounding, element by element, and `conv2d_nchw16c` on every path that runs bf16
// (avx512 with AVX512_BF16, portable) against `conv2d_reference` in double on the input and weights
// rounded to bf16 here (fp32 accumulation is the only error left: 1e-5 of the output's scale), and
// against the fp32 kernel (1e-2). Sweeps: 1x1 and 3x3, strides 1 and 2, padding through a copy or a
// border, C and K not multiples of 16 or 32, rows of 1..15 and several tiles, every epilogue term.

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "senet/ops/conv2d_nchw16c.hpp"
#include "senet/ops/conv2d_winograd.hpp"
#include "nchw16c_test_util.hpp"
#include "test_util.hpp"

namespace test_conv2d_nchw16c_bf16 {

using senet::Conv2dEpilogue;
using senet::Conv2dParams;
using senet::Conv2dPath;
using senet::ConvPrecision;
using senet::Index;
using senet::Shape;
using senet::Tensor;
using namespace senet::test;

struct Case {
  Index N, C, K, H, W, k, s;
  bool bias = true, scale = false, residual = false, relu = false;
  Index x_border = 0, y_border = 0;
  Index groups = 1;
};

std::string describe(const Case& c) {
  std::ostringstream os;
  os << "N=" << c.N << " C=" << c.C << " K=" << c.K << " H=" << c.H << " W=" << c.W << " kernel=" << c.k
     << " stride=" << c.s << " bias=" << c.bias << " scale=" << c.scale << " residual=" << c.residual
     << " relu=" << c.relu << " borders=" << c.x_border << "," << c.y_border << " groups=" << c.groups;
  return os.str();
}

Conv2dParams params_of(const Case& c) {
  Conv2dParams p = window_params<Conv2dParams>(c.k, c.k, c.s, c.s, c.k / 2, c.k / 2, 1, 1);
  p.groups = c.groups;
  return p;
}

// Runs `c` with bf16 weights on `path`; checks the output against the double reference on
// bf16-rounded operands (1e-5 of its scale) and against the fp32 kernel (1e-2), its border and
// padding lanes zero. The output starts as NaN, so an element left unwritten fails.
void check_case(Conv2dPath path, const Case& c, std::mt19937& rng) {
  const Conv2dParams p = params_of(c);
  Tensor<float> x({c.N, c.C, c.H, c.W}), w({c.K, c.C / c.groups, c.k, c.k});
  std::vector<float> b(std::size_t(c.K));
  fill_uniform(x, rng);
  fill_uniform(w, rng);
  fill_uniform(b.data(), c.K, rng);
  const Shape out = senet::conv2d_output_shape(x.shape(), w.shape(), p);
  const Index Kp = senet::channel_blocks(c.K) * 16, plane = out[2] * out[3];
  std::vector<float> scale(std::size_t(c.N * Kp), 0.0f);
  for (Index n = 0; n < c.N; ++n) fill_uniform(scale.data() + n * Kp, c.K, rng);
  Tensor<float> res_nchw(out);
  fill_uniform(res_nchw, rng);

  // The reference: conv2d in double on the rounded operands, then the epilogue in fp32 terms.
  Tensor<double> ref(out);
  senet::conv2d_reference(rounded_to_bf16(x), rounded_to_bf16(w), static_cast<const double*>(nullptr), p, ref);
  for (Index i = 0; i < ref.size(); ++i) {
    const Index n = i / (c.K * plane), k = i / plane % c.K;
    double v = ref[i] + (c.bias ? b[std::size_t(k)] : 0.0f);
    if (c.scale) v *= scale[std::size_t(n * Kp + k)];
    if (c.residual) v += res_nchw[i];
    if (c.relu) v = std::max(v, 0.0);
    ref[i] = v;
  }

  const auto run = [&](const senet::PackedConv2dWeights& packed, Conv2dPath on) {
    const float nan = std::numeric_limits<float>::quiet_NaN();
    const Bordered xb = Bordered::of(x, c.x_border, 0.0f);
    Bordered yb(c.N, c.K, out[2], out[3], c.y_border, nan);
    Bordered residual;
    if (c.residual) residual = Bordered::of(res_nchw, c.y_border, 0.0f);
    Conv2dEpilogue e;
    e.bias = c.bias ? b.data() : nullptr;
    e.scale = c.scale ? scale.data() : nullptr;
    if (c.residual) e.residual = residual.view;
    e.activation = c.relu ? senet::Activation::relu : senet::Activation::none;
    senet::conv2d_nchw16c(xb.view, packed, p, e, yb.view, on);
    EXPECT_TRUE(yb.border_is_zero()) << to_string(on) << " " << describe(c);
    EXPECT_TRUE(yb.padding_lanes_are_zero()) << to_string(on) << " " << describe(c);
    return senet::from_nchw16c(yb.image(), c.K);
  };
  const auto packed = senet::pack_conv2d_weights_nchw16c(w, c.groups, ConvPrecision::bf16);
  ASSERT_EQ(packed.precision, ConvPrecision::bf16) << describe(c);
  const Tensor<float> got = run(packed, path);
  EXPECT_LE(relative_error(got, ref), 1e-5) << to_string(path) << " " << describe(c);
  const Tensor<float> fp32 = run(senet::pack_conv2d_weights_nchw16c(w, c.groups), Conv2dPath::automatic);
  EXPECT_LE(relative_error(got, fp32), 1e-2) << to_string(path) << " " << describe(c);
}


// 1x1 and 3x3 x strides 1 and 2 x channel counts around 16 and 32 (K = 16 * odd: a narrow last
// block) x sizes (rows of one tile, several, the 1x1 image-as-one-row case), the epilogue terms
// and borders rotating across the cases.
TEST_P(Bf16PathTest, MatchesReferenceOnRoundedOperands) {
  std::mt19937 rng(2026);
  const Index channels[][2] = {{1, 1}, {3, 17}, {16, 16}, {17, 33}, {33, 31}, {19, 40}, {64, 48}, {20, 80}, {47, 64}};
  const Index sizes[][2] = {{1, 1}, {5, 7}, {7, 7}, {3, 15}, {4, 28}, {2, 29}, {6, 14}, {9, 4}};
  int counter = 0;
  for (const auto& ch : channels)
    for (const Index k : {1, 3})
      for (const Index s : {1, 2}) {
        const auto& size = sizes[counter % 8];
        Case c{Index(1 + counter % 2), ch[0], ch[1], size[0], size[1], k, s};
        c.bias = counter % 3 != 0;
        c.scale = counter % 3 == 1;
        c.residual = counter % 2 == 1;
        c.relu = counter % 4 < 2;
        c.x_border = k == 3 && counter % 3 == 2 ? 1 : 0;  // the padding read from the border, or a copy
        c.y_border = counter % 5 == 2 ? 1 : 0;
        ++counter;
        check_case(GetParam(), c, rng);
      }
  expect_cases_above(std::size_t(counter), 35);
}

// Every row width 1..15 and wider rows (27, 28, 29, 56), 1x1 and 3x3, strides 1 and 2.
TEST_P(Bf16PathTest, EveryRowWidthMatchesReference) {
  std::mt19937 rng(99);
  int counter = 0;
  for (const Index W : {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 27, 28, 29, 56})
    for (const Index k : {1, 3})
      for (const Index s : {1, 2}) {
        Case c{1, 21, 35, 1 + (W + k + s) % 4, W, k, s};
        c.scale = W % 2 == 0;
        c.residual = (W + s) % 2 == 1;
        c.relu = W % 3 != 0;
        c.x_border = k == 3 && W % 2 == 1 ? 1 : 0;
        ++counter;
        check_case(GetParam(), c, rng);
      }
  expect_cases_above(std::size_t(counter), 70);
}

// Block-diagonal grouped layouts take bf16 too (32- and 16-wide blocks).
TEST_P(Bf16PathTest, BlockDiagonalGroupsMatchReference) {
  std::mt19937 rng(7);
  const Index groupings[][3] = {{2, 64, 64}, {4, 32, 32}, {16, 16, 16}, {2, 24, 8}, {3, 12, 12}};
  for (const auto& gr : groupings)
    for (const Index k : {1, 3}) {
      Case c{2, gr[0] * gr[1], gr[0] * gr[2], 5, 9, k, 1};
      c.groups = gr[0];
      c.residual = k == 1;
      c.relu = true;
      check_case(GetParam(), c, rng);
    }
}

// A real bottleneck width, and SE-ResNet-50's 7x7 stage shape on a few channels (the 1x1 as one
// row of 49 pixels), N = 3. Then 1x1s with 8 or more output groups and weights smaller than the
// input, which round each row tile's input once for all groups on `avx512` (stride 1 as one row,
// stride 2 with borders; an odd last block).
TEST_P(Bf16PathTest, BottleneckShapesMatchReference) {
  std::mt19937 rng(13);
  Case a{1, 64, 64, 10, 9, 3, 1};
  a.scale = a.residual = a.relu = true;
  check_case(GetParam(), a, rng);
  Case b{3, 40, 36, 7, 7, 1, 1};
  b.residual = true;
  check_case(GetParam(), b, rng);
  Case d{1, 96, 64, 14, 14, 3, 2};
  d.relu = true;
  d.x_border = 1;
  check_case(GetParam(), d, rng);
  Case e{2, 40, 264, 12, 13, 1, 1};
  e.scale = e.residual = e.relu = true;
  check_case(GetParam(), e, rng);
  Case f{1, 48, 256, 17, 16, 1, 2};
  f.residual = true;
  f.x_border = f.y_border = 1;
  check_case(GetParam(), f, rng);
}

// Outputs 7 pixels wide run two-row tiles on avx512 (the input of both rows rounded into one
// buffer; an odd last row runs a one-row tile): 3x3 stride 1 on 7-wide inputs, 3x3 and 1x1
// stride 2 on 13- and 14-wide ones, a bordered 1x1 stride 1; 1, 2, 5 and 7 output rows; K = 48
// (one-vector tiles) and 64; N = 2.
TEST_P(Bf16PathTest, TwoRowTilesMatchReference) {
  std::mt19937 rng(717);
  int counter = 0;
  for (const Index H : {1, 2, 5, 7})
    for (const Index k : {1, 3})
      for (const Index s : {1, 2})
        for (const Index K : {48, 64}) {
          const Index W = s == 1 ? 7 : 13 + counter % 2, in_h = s == 1 ? H : 2 * H - counter % 2;
          Case c{2, 40, K, in_h, W, k, s};
          c.bias = counter % 3 != 0;
          c.scale = counter % 3 == 1;
          c.residual = counter % 2 == 1;
          c.relu = counter % 4 < 2;
          c.x_border = k == 3 ? (counter % 3 == 2 ? 1 : 0) : s == 1 ? 1 : 0;
          c.y_border = k == 1 && s == 1 ? 1 : counter % 5 == 2 ? 1 : 0;
          ++counter;
          check_case(GetParam(), c, rng);
        }
  expect_cases_above(std::size_t(counter), 31);
}

// Winograd F(2x2, 3x3) on bf16 weights (`conv2d_winograd_nchw16c`, the form the engine's bf16 mode
// gives its Winograd 3x3s): against a double reference that rounds the transformed operands to
// bf16 as the kernel does (U = G g G^T in double, then float, then bf16; V = B^T d B rounded to
// bf16; products, sums and A^T M A in double), within 5e-4 of the output's scale (the kernel sums
// in FP32 and rounds V from its FP32 transform: a tie may round the other way; an FP32 product
// would be ~2e-3 away), and within 1e-2 of the exact convolution (F(4x4) in bf16 measured ~5e-2:
// the engine never runs it). Paddings 0-2, partial tiles, C and K around 16 and 32, every
// epilogue term, N = 2.
TEST_P(Bf16PathTest, WinogradTwoByTwoMatchesRoundedReference) {
  if (GetParam() == Conv2dPath::amx) GTEST_SKIP() << "bf16 Winograd runs on avx512 and portable";
  constexpr double BT[4][4] = {{1, 0, -1, 0}, {0, 1, 1, 0}, {0, -1, 1, 0}, {0, 1, 0, -1}};
  constexpr double G[4][3] = {{1, 0, 0}, {0.5, 0.5, 0.5}, {0.5, -0.5, 0.5}, {0, 0, 1}};
  constexpr double AT[2][4] = {{1, 1, 1, 0}, {0, 1, -1, -1}};
  std::mt19937 rng(44);
  const Index cases[][5] = {{16, 16, 6, 6, 1}, {17, 33, 5, 7, 1}, {40, 20, 9, 4, 0}, {64, 48, 14, 14, 1},
                            {3, 32, 7, 11, 2}, {33, 64, 3, 3, 1}};
  int counter = 0;
  for (const auto& cs : cases) {
    const Index C = cs[0], K = cs[1], H = cs[2], W = cs[3], N = 2;
    const Conv2dParams p = window_params<Conv2dParams>(3, 3, 1, 1, cs[4], (cs[4] + counter) % 3, 1, 1);
    Tensor<float> x({N, C, H, W}), w({K, C, 3, 3});
    std::vector<float> b(static_cast<std::size_t>(K));
    fill_uniform(x, rng);
    fill_uniform(w, rng);
    fill_uniform(b.data(), K, rng);
    const Shape out = senet::conv2d_output_shape(x.shape(), w.shape(), p);
    const Index OH = out[2], OW = out[3], Kp = senet::channel_blocks(K) * 16;
    std::vector<float> scale(std::size_t(N * Kp), 0.0f);
    for (Index n = 0; n < N; ++n) fill_uniform(scale.data() + n * Kp, K, rng);
    Tensor<float> res_nchw(out);
    fill_uniform(res_nchw, rng);
    const bool with_bias = counter % 2 == 0, with_scale = counter % 3 != 1, with_res = counter % 2 == 1,
               relu = counter % 3 != 2;
    auto epilogue = [&](double v, Index n, Index k, Index i) {
      v += with_bias ? b[std::size_t(k)] : 0.0f;
      if (with_scale) v *= scale[std::size_t(n * Kp + k)];
      if (with_res) v += res_nchw[i];
      return relu ? std::max(v, 0.0) : v;
    };
    // U[k][c][4][4], rounded as packed.
    std::vector<double> U(std::size_t(K * C * 16));
    for (Index kc = 0; kc < K * C; ++kc)
      for (int i = 0; i < 4; ++i)
        for (int j = 0; j < 4; ++j) {
          double sum = 0;
          for (int a = 0; a < 3; ++a)
            for (int bb = 0; bb < 3; ++bb) sum += G[i][a] * double(w[kc * 9 + a * 3 + bb]) * G[j][bb];
          U[std::size_t(kc * 16 + i * 4 + j)] = double(round_bf16(float(sum)));
        }
    Tensor<double> rounded(out), exact(out);
    Tensor<double> xd(x.shape()), wd(w.shape());
    for (Index i = 0; i < x.size(); ++i) xd[i] = x[i];
    for (Index i = 0; i < w.size(); ++i) wd[i] = w[i];
    senet::conv2d_reference(xd, wd, static_cast<const double*>(nullptr), p, exact);
    for (Index i = 0; i < exact.size(); ++i) exact[i] = epilogue(exact[i], i / (K * OH * OW), i / (OH * OW) % K, i);
    for (Index n = 0; n < N; ++n)
      for (Index th = 0; th < (OH + 1) / 2; ++th)
        for (Index tw = 0; tw < (OW + 1) / 2; ++tw) {
          std::vector<double> V(std::size_t(C * 16));  // this tile's B^T d B per channel, rounded
          for (Index c = 0; c < C; ++c) {
            double d[4][4];
            for (int i = 0; i < 4; ++i)
              for (int j = 0; j < 4; ++j) {
                const Index h = th * 2 - p.pad_h + i, ww = tw * 2 - p.pad_w + j;
                d[i][j] = h >= 0 && h < H && ww >= 0 && ww < W ? double(x[((n * C + c) * H + h) * W + ww]) : 0.0;
              }
            for (int i = 0; i < 4; ++i)
              for (int j = 0; j < 4; ++j) {
                double sum = 0;
                for (int a = 0; a < 4; ++a)
                  for (int bb = 0; bb < 4; ++bb) sum += BT[i][a] * d[a][bb] * BT[j][bb];
                V[std::size_t(c * 16 + i * 4 + j)] = double(round_bf16(float(sum)));
              }
          }
          for (Index k = 0; k < K; ++k) {
            double m[4][4] = {};
            for (Index c = 0; c < C; ++c)
              for (int q = 0; q < 16; ++q) m[q / 4][q % 4] += U[std::size_t((k * C + c) * 16 + q)] * V[std::size_t(c * 16 + q)];
            for (int i = 0; i < 2; ++i)
              for (int j = 0; j < 2; ++j) {
                const Index oh = th * 2 + i, ow = tw * 2 + j;
                if (oh >= OH || ow >= OW) continue;
                double sum = 0;
                for (int a = 0; a < 4; ++a)
                  for (int bb = 0; bb < 4; ++bb) sum += AT[i][a] * m[a][bb] * AT[j][bb];
                const Index idx = ((n * K + k) * OH + oh) * OW + ow;
                rounded[idx] = epilogue(sum, n, k, idx);
              }
          }
        }

    const Bordered xb = Bordered::of(x, counter % 2, std::numeric_limits<float>::quiet_NaN());
    Bordered yb(N, K, OH, OW, counter % 3 == 0 ? 1 : 0, std::numeric_limits<float>::quiet_NaN());
    Bordered residual;
    if (with_res) residual = Bordered::of(res_nchw, yb.view.border, 0.0f);
    Conv2dEpilogue e;
    e.bias = with_bias ? b.data() : nullptr;
    e.scale = with_scale ? scale.data() : nullptr;
    if (with_res) e.residual = residual.view;
    e.activation = relu ? senet::Activation::relu : senet::Activation::none;
    const auto packed = senet::pack_conv2d_winograd_weights(w, 2, ConvPrecision::bf16);
    ASSERT_EQ(packed.precision(), ConvPrecision::bf16);
    senet::conv2d_winograd_nchw16c(xb.view, packed, p, e, yb.view, GetParam());
    EXPECT_TRUE(yb.border_is_zero()) << counter;
    EXPECT_TRUE(yb.padding_lanes_are_zero()) << counter;
    const Tensor<float> got = senet::from_nchw16c(yb.image(), K);
    EXPECT_LE(relative_error(got, rounded), 5e-4) << "case " << counter;
    EXPECT_LE(relative_error(got, exact), 1e-2) << "case " << counter;
    ++counter;
  }
  expect_cases_above(std::size_t(counter), 5);
}

INSTANTIATE_TEST_SUITE_P(Paths, Bf16PathTest,
                         ::testing::Values(Conv2dPath::amx, Conv2dPath::avx512, Conv2dPath::portable),
                         [](const ::testing::TestParamInfo<Conv2dPath>& info) { return senet::to_string(info.param); });

// The documented bf16 layout: blocks of 32 output channels (the last 16 wide when ceil(K / 16) is
// odd), each [Cb, kh, kw, 8, width, 2], element (k, c, i, j) at [c / 16][i][j][c % 16 / 2][k % 32][c % 2],
// zero outside K x C; no fp32 copy kept.
TEST(Conv2dNchw16cBf16, PackedLayoutIsAsDocumented) {
  std::mt19937 rng(4);
  const Index K = 40, C = 20, kh = 3, kw = 2, Cb = 2, rows = Cb * kh * kw * 16;
  Tensor<float> w({K, C, kh, kw});
  fill_uniform(w, rng);
  const auto packed = senet::pack_conv2d_weights_nchw16c(w, 1, ConvPrecision::bf16);
  ASSERT_EQ(packed.precision, ConvPrecision::bf16);
  ASSERT_EQ(packed.data.size(), 0);
  ASSERT_EQ(packed.data_bf16.size(), rows * 48);
  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(packed.data_bf16.data()) % 64, 0u);
  for (Index k = 0; k < 48; ++k)
    for (Index c = 0; c < 32; ++c)
      for (Index i = 0; i < kh; ++i)
        for (Index j = 0; j < kw; ++j) {
          const Index block = k / 32, width = block == 0 ? 32 : 16;
          const Index at = block * 32 * rows + ((((c / 16 * kh + i) * kw + j) * 8 + c % 16 / 2) * width + k % 32) * 2 + c % 2;
          const std::uint16_t expected = (k < K && c < C) ? bf16_bits(w.at({k, c, i, j})) : 0;
          ASSERT_EQ(packed.data_bf16[at], expected) << k << " " << c << " " << i << " " << j;
        }
}

// Rounding to nearest, ties to even (both directions), carries into the exponent, overflow to
// infinity, signed zeros, infinities and NaN, through the packer.
TEST(Conv2dNchw16cBf16, PackingRoundsToNearestEven) {
  const float values[] = {
      1.0f,
      float_of(0x3F808000u),  // halfway, even below: stays 0x3F80
      float_of(0x3F818000u),  // halfway, odd below: up to 0x3F82
      float_of(0x3F808001u),  // above halfway: up
      float_of(0x3F807FFFu),  // below halfway: down
      float_of(0xBF818000u),  // negative halfway, odd: away from zero to 0xBF82
      float_of(0x3FFFFFFFu),  // carries into the exponent: 2.0
      std::numeric_limits<float>::max(),  // rounds to infinity
      -0.0f, 0.0f,
      std::numeric_limits<float>::infinity(), -std::numeric_limits<float>::infinity(),
      std::numeric_limits<float>::quiet_NaN(),
      float_of(0x7F800001u),  // signalling NaN: must stay a NaN, not become infinity
  };
  const std::uint16_t expected[] = {0x3F80, 0x3F80, 0x3F82, 0x3F81, 0x3F80, 0xBF82, 0x4000, 0x7F80,
                                    0x8000, 0x0000, 0x7F80, 0xFF80, 0,      0};
  const Index n = Index(sizeof(values) / sizeof(values[0]));
  Tensor<float> w({1, n, 1, 1});
  for (Index c = 0; c < n; ++c) w[c] = values[c];
  const auto packed = senet::pack_conv2d_weights_nchw16c(w, 1, ConvPrecision::bf16);
  for (Index c = 0; c < n; ++c) {
    const std::uint16_t got = packed.data_bf16[((c / 16 * 8 + c % 16 / 2) * 16) * 2 + c % 2];
    if (std::isnan(values[c])) {
      EXPECT_EQ(got & 0x7F80, 0x7F80) << c;  // exponent all ones
      EXPECT_NE(got & 0x007F, 0) << c;       // a NaN, not an infinity
    } else {
      EXPECT_EQ(got, expected[c]) << c << ": " << values[c];
      EXPECT_EQ(got, bf16_bits(values[c])) << c;
    }
  }
}

// Lane-group layouts (depthwise, groups of 1-8) stay fp32 whatever is asked, and say so.
TEST(Conv2dNchw16cBf16, LaneGroupsStayFp32) {
  Tensor<float> depthwise({48, 1, 3, 3}), groups_of_4({128, 4, 3, 3});
  for (const auto* w : {&depthwise, &groups_of_4}) {
    const auto packed = senet::pack_conv2d_weights_nchw16c(*w, w->dim(0) / w->dim(1), ConvPrecision::bf16);
    EXPECT_GT(packed.lane_group, 0);
    EXPECT_EQ(packed.precision, ConvPrecision::fp32);
    EXPECT_EQ(packed.data_bf16.size(), 0);
  }
}

// bf16 weights: avx2 has no tiles, avx512 needs AVX512_BF16, automatic always resolves (amx,
// else avx512, else portable); fp32 weights never take amx.
TEST(Conv2dNchw16cBf16, PathsAreCheckedAgainstTheCpu) {
  EXPECT_FALSE(senet::conv2d_path_supported(Conv2dPath::avx2, ConvPrecision::bf16));
  EXPECT_FALSE(senet::conv2d_path_supported(Conv2dPath::amx, ConvPrecision::fp32));
  EXPECT_TRUE(senet::conv2d_path_supported(Conv2dPath::portable, ConvPrecision::bf16));
  const Conv2dPath best = senet::resolve_conv2d_path(Conv2dPath::automatic, ConvPrecision::bf16);
  EXPECT_EQ(best, senet::conv2d_path_supported(Conv2dPath::amx, ConvPrecision::bf16)      ? Conv2dPath::amx
                  : senet::conv2d_path_supported(Conv2dPath::avx512, ConvPrecision::bf16) ? Conv2dPath::avx512
                                                                                          : Conv2dPath::portable);
  EXPECT_NE(senet::resolve_conv2d_path(), Conv2dPath::amx);
  Tensor<float> w({8, 20, 3, 3}), x({1, 2, 5, 5, 16}), y({1, 1, 5, 5, 16});
  const auto packed = senet::pack_conv2d_weights_nchw16c(w, 1, ConvPrecision::bf16);
  const Conv2dParams p = window_params<Conv2dParams>(3, 3, 1, 1, 1, 1, 1, 1);
  EXPECT_THROW(senet::conv2d_nchw16c(x, packed, p, {}, y, Conv2dPath::avx2), senet::Error);
  EXPECT_THROW(senet::conv2d_nchw16c(x, senet::pack_conv2d_weights_nchw16c(w), p, {}, y, Conv2dPath::amx), senet::Error);
  if (!senet::conv2d_path_supported(Conv2dPath::avx512, ConvPrecision::bf16)) {
    EXPECT_THROW(senet::conv2d_nchw16c(x, packed, p, {}, y, Conv2dPath::avx512), senet::Error);
  }
  EXPECT_NO_THROW(senet::conv2d_nchw16c(x, packed, p, {}, y, Conv2dPath::automatic));
  EXPECT_NO_THROW(senet::conv2d_nchw16c(x, packed, p, {}, y, Conv2dPath::portable));
}

// One and two threads give bitwise the same output.
TEST(Conv2dNchw16cBf16, ThreadCountDoesNotChangeResult) {
#ifdef _OPENMP
  std::mt19937 rng(8);
  Tensor<float> x({2, 40, 13, 29}), w({70, 40, 3, 3});
  fill_uniform(x, rng);
  fill_uniform(w, rng);
  const Conv2dParams p = window_params<Conv2dParams>(3, 3, 1, 1, 1, 1, 1, 1);
  const auto packed = senet::pack_conv2d_weights_nchw16c(w, 1, ConvPrecision::bf16);
  const auto xb = senet::to_nchw16c(x);
  const Shape out = senet::conv2d_nchw16c_output_shape(xb.shape(), packed, p);
  Tensor<float> y1(out), y2(out);
  const int saved = senet::num_threads();
  senet::set_num_threads(1);
  senet::conv2d_nchw16c(xb, packed, p, {}, y1);
  senet::set_num_threads(2);
  senet::conv2d_nchw16c(xb, packed, p, {}, y2);
  senet::set_num_threads(saved);
  for (Index i = 0; i < y1.size(); ++i) ASSERT_EQ(y1[i], y2[i]) << i;
#else
  GTEST_SKIP() << "built without OpenMP";
#endif
}

}  // namespace test_conv2d_nchw16c_bf16
