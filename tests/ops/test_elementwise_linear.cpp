// Tests of senet/ops/elementwise.hpp (per-channel affine, per-channel scale, residual add),
// senet/ops/linear.hpp (the batched fully connected GEMM) and senet/ops/linear_rows.hpp (the same
// on a kernel path) against hand-written loops.

#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <limits>
#include <random>
#include <sstream>
#include <vector>

#include "nchw16c_test_util.hpp"
#include "senet/ops/elementwise.hpp"
#include "senet/ops/linear.hpp"
#include "senet/ops/linear_rows.hpp"
#include "test_util.hpp"

namespace test_elementwise_linear {

using senet::Index;
using senet::Shape;
using senet::Tensor;
using namespace senet::test;

template <class T>
class ElementwiseTest : public ::testing::Test {};
TYPED_TEST_SUITE(ElementwiseTest, Scalars);

// x[n, c, h, w] * scale[c] + shift[c], for 4-D inputs and for [N, C] (the BatchNorm1d-like case).
TYPED_TEST(ElementwiseTest, ChannelAffineMatchesLoop) {
  using T = TypeParam;
  std::mt19937 rng(21);
  for (const Shape& shape :
       {Shape{1, 1, 1, 1}, Shape{2, 3, 5, 7}, Shape{3, 16, 1, 1}, Shape{1, 8, 9, 2}, Shape{4, 5}, Shape{2, 3, 4}}) {
    Tensor<T> x(shape);
    fill_uniform(x, rng);
    const Index N = shape[0], C = shape[1], plane = x.size() / (N * C);
    std::vector<T> scale(C), shift(C);
    fill_uniform(scale.data(), C, rng);
    fill_uniform(shift.data(), C, rng);
    const Tensor<T> in = x;
    senet::channel_affine_inplace(x, scale.data(), shift.data());
    for (Index n = 0; n < N; ++n)
      for (Index c = 0; c < C; ++c)
        for (Index i = 0; i < plane; ++i) {
          const Index k = (n * C + c) * plane + i;
          // FMA contraction may round once instead of twice: allow a few ulp.
          EXPECT_NEAR(x[k], in[k] * scale[c] + shift[c], 4 * std::numeric_limits<T>::epsilon())
              << senet::to_string(shape) << " n=" << n << " c=" << c << " i=" << i;
        }
  }
}

TYPED_TEST(ElementwiseTest, ChannelAffineRejectsRank1) {
  using T = TypeParam;
  Tensor<T> x({5});
  const T s[5] = {}, b[5] = {};
  EXPECT_THROW(senet::channel_affine_inplace(x, s, b), senet::Error);
}

// Hand-expanded: x [1, 2, 1, 2] = [[1, 2], [3, 4]], scale [2, -1], shift [0.5, 10]
// -> [[2.5, 4.5], [7, 6]].
TYPED_TEST(ElementwiseTest, ChannelAffineHandChecked) {
  using T = TypeParam;
  Tensor<T> x({1, 2, 1, 2});
  for (Index i = 0; i < 4; ++i) x[i] = T(i + 1);
  const T scale[] = {2, -1}, shift[] = {0.5, 10};
  senet::channel_affine_inplace(x, scale, shift);
  const T expected[] = {2.5, 4.5, 7, 6};
  for (Index i = 0; i < 4; ++i) EXPECT_EQ(x[i], expected[i]) << i;
}

TYPED_TEST(ElementwiseTest, ScaleChannelsMatchesLoop) {
  using T = TypeParam;
  std::mt19937 rng(22);
  for (const Shape& shape : {Shape{1, 1, 1, 1}, Shape{2, 64, 5, 7}, Shape{3, 4, 1, 9}, Shape{1, 3, 13, 13}}) {
    Tensor<T> x(shape), s({shape[0], shape[1]});
    fill_uniform(x, rng);
    fill_uniform(s, rng);
    const Tensor<T> in = x;
    senet::scale_channels_inplace(x, s);
    const Index plane = shape[2] * shape[3];
    for (Index i = 0; i < x.size(); ++i) EXPECT_EQ(x[i], in[i] * s[i / plane]) << senet::to_string(shape) << " " << i;
  }
  // The scale may be shaped [N, C, 1, 1] (the output of a 1x1 conv).
  Tensor<T> x({2, 3, 2, 2}), s({2, 3, 1, 1});
  x.fill(T(2));
  for (Index i = 0; i < 6; ++i) s[i] = T(i);
  senet::scale_channels_inplace(x, s);
  EXPECT_EQ(x.at({1, 2, 1, 1}), T(10));
  EXPECT_EQ(x.at({0, 1, 0, 1}), T(2));
}

TYPED_TEST(ElementwiseTest, ScaleChannelsRejectsMismatch) {
  using T = TypeParam;
  Tensor<T> x({2, 3, 4, 4}), wrong({2, 4}), rank2({2, 3}), s({2, 3});
  EXPECT_THROW(senet::scale_channels_inplace(x, wrong), senet::Error);
  EXPECT_THROW(senet::scale_channels_inplace(rank2, s), senet::Error);
}

TYPED_TEST(ElementwiseTest, AddMatchesLoop) {
  using T = TypeParam;
  std::mt19937 rng(23);
  for (const Shape& shape : {Shape{1}, Shape{1, 1, 1, 1}, Shape{2, 3, 5, 7}, Shape{4, 10}}) {
    Tensor<T> y(shape), x(shape);
    fill_uniform(y, rng);
    fill_uniform(x, rng);
    const Tensor<T> before = y;
    senet::add_inplace(y, x);
    for (Index i = 0; i < y.size(); ++i) EXPECT_EQ(y[i], before[i] + x[i]) << i;
  }
}

TYPED_TEST(ElementwiseTest, AddRejectsShapeMismatch) {
  using T = TypeParam;
  Tensor<T> y({2, 3, 4, 4}), other({2, 3, 4, 5});
  EXPECT_THROW(senet::add_inplace(y, other), senet::Error);
  // Same element count, different shape: still an error.
  Tensor<T> a({2, 3}), b({3, 2}), flat({6});
  EXPECT_THROW(senet::add_inplace(a, b), senet::Error);
  EXPECT_THROW(senet::add_inplace(a, flat), senet::Error);
}

template <class T>
using LinearFn = std::function<void(const Tensor<T>& x, const Tensor<T>& w, const T* bias, Tensor<T>& y)>;

// linear (or `run`): y[n, o] = sum_i x[n, i] * w[o, i] + bias[o], against the sum in long double.
template <class T>
void check_linear(
    Index N, Index in, Index out, bool bias, bool conv_weight, bool image_input, std::mt19937& rng,
    const LinearFn<T>& run = [](const Tensor<T>& x, const Tensor<T>& w, const T* b, Tensor<T>& y) {
      senet::linear(x, w, b, y);
    }) {
  Tensor<T> x(image_input ? Shape{N, in, 1, 1} : Shape{N, in});
  Tensor<T> w(conv_weight ? Shape{out, in, 1, 1} : Shape{out, in});
  std::vector<T> b(static_cast<std::size_t>(out));
  fill_uniform(x, rng);
  fill_uniform(w, rng);
  fill_uniform(b.data(), out, rng);
  Tensor<T> y({N, out});
  y.fill(std::numeric_limits<T>::quiet_NaN());
  run(x, w, bias ? b.data() : nullptr, y);
  std::ostringstream what;
  what << "N=" << N << " in=" << in << " out=" << out << " bias=" << bias << " conv_weight=" << conv_weight
       << " image_input=" << image_input;
  std::vector<long double> ref(static_cast<std::size_t>(N * out));
  long double max_ref = 1;
  for (Index n = 0; n < N; ++n)
    for (Index o = 0; o < out; ++o) {
      long double acc = bias ? b[o] : 0;
      for (Index i = 0; i < in; ++i) acc += static_cast<long double>(x[n * in + i]) * w[o * in + i];
      ref[n * out + o] = acc;
      max_ref = std::max(max_ref, std::abs(acc));
    }
  for (Index k = 0; k < N * out; ++k)
    ASSERT_NEAR(y[k], T(ref[k]), reference_tolerance<T>() * T(max_ref)) << what.str() << " element " << k;
}

TYPED_TEST(ElementwiseTest, LinearMatchesTripleLoop) {
  using T = TypeParam;
  std::mt19937 rng(24);
  const Index sizes[][3] = {{1, 1, 1},  {1, 7, 1},   {1, 1, 6},     {3, 1, 5},     {2, 64, 4},
                            {5, 4, 64}, {4, 33, 17}, {8, 2048, 10}, {1, 512, 1000}};
  for (const auto& s : sizes)
    for (int variant = 0; variant < 8; ++variant)
      check_linear<T>(s[0], s[1], s[2], variant & 1, (variant & 2) != 0, (variant & 4) != 0, rng);
}

// Products of >= 2^19 multiply-adds split their outputs over the threads (ranges of 16): any
// thread count and an output count that is no multiple of 16 give the triple loop's result.
TYPED_TEST(ElementwiseTest, LinearSplitOverThreadsMatchesTripleLoop) {
  using T = TypeParam;
  std::mt19937 rng(25);
  const int saved = senet::num_threads();
  for (int threads : {1, 2, 3}) {
    senet::set_num_threads(threads);
    check_linear<T>(5, 1024, 333, true, false, false, rng);
    check_linear<T>(1, 2048, 1000, false, true, true, rng);
  }
  senet::set_num_threads(saved);
}

// Hand-expanded: x = [[1, 2, 3]], w = [[1, 0, -1], [2, 2, 2]], bias [10, -1]
// -> [1 - 3 + 10, 2 + 4 + 6 - 1] = [8, 11].
TYPED_TEST(ElementwiseTest, LinearHandChecked) {
  using T = TypeParam;
  Tensor<T> x({1, 3}), w({2, 3}), y({1, 2});
  for (Index i = 0; i < 3; ++i) x[i] = T(i + 1);
  const T wv[] = {1, 0, -1, 2, 2, 2};
  for (Index i = 0; i < 6; ++i) w[i] = wv[i];
  const T bias[] = {10, -1};
  senet::linear(x, w, bias, y);
  EXPECT_EQ(y[0], T(8));
  EXPECT_EQ(y[1], T(11));
  senet::linear(x, w, static_cast<const T*>(nullptr), y);
  EXPECT_EQ(y[0], T(-2));
  EXPECT_EQ(y[1], T(12));
}

TYPED_TEST(ElementwiseTest, LinearRejectsMismatchedShapes) {
  using T = TypeParam;
  Tensor<T> w({4, 6});
  Tensor<T> x_wrong({2, 5}), y({2, 4});
  EXPECT_THROW(senet::linear(x_wrong, w, static_cast<const T*>(nullptr), y), senet::Error);
  Tensor<T> x({2, 6}), y_wrong({2, 5});
  EXPECT_THROW(senet::linear(x, w, static_cast<const T*>(nullptr), y_wrong), senet::Error);
  Tensor<T> x_flat({12});  // 12 elements in one row of 12, not 2 rows of 6
  EXPECT_THROW(senet::linear(x_flat, w, static_cast<const T*>(nullptr), y), senet::Error);
}

// linear_rows on packed weights, on each kernel path: row counts 1-17 (the 8/4/2/1 row groups
// and past them), input widths on and off a 16-float vector and odd, output counts that leave the
// last block of 16 part empty, and weights large enough (>= 512 KB) to be split over the threads.
class LinearRowsTest : public KernelPathTest {};

TEST_P(LinearRowsTest, MatchesTripleLoop) {
  std::mt19937 rng(26);
  const senet::Conv2dPath path = GetParam();
  const LinearFn<float> rows = [path](const Tensor<float>& x, const Tensor<float>& w, const float* b,
                                      Tensor<float>& y) {
    senet::linear_rows(x.data(), x.dim(0), senet::pack_linear_weights(w), b, y.data(), y.dim(1), path);
  };
  const Index sizes[][3] = {{1, 1, 1},   {1, 7, 3},     {2, 16, 5},    {3, 17, 2},   {4, 33, 17},
                            {7, 64, 9},  {8, 100, 33},  {9, 15, 4},    {12, 48, 31}, {16, 130, 7},
                            {17, 40, 6}, {1, 960, 240}, {8, 960, 1280}, {1, 2048, 1000}};
  const int saved = senet::num_threads();
  for (int threads : {1, 2}) {
    senet::set_num_threads(threads);
    for (const auto& s : sizes)
      for (int variant = 0; variant < 2; ++variant)
        check_linear<float>(s[0], s[1], s[2], variant, false, false, rng, rows);
  }
  senet::set_num_threads(saved);
}

// Rows of y are written at their stride; the lanes between are left alone.
TEST_P(LinearRowsTest, LeavesTheRestOfEachRow) {
  Tensor<float> x({3, 20}), w({5, 20});
  for (Index i = 0; i < x.size(); ++i) x[i] = float(i % 7) - 3;
  for (Index i = 0; i < w.size(); ++i) w[i] = float(i % 5) - 2;
  std::vector<float> y(3 * 8, -99.0f);
  senet::linear_rows(x.data(), 3, senet::pack_linear_weights(w), nullptr, y.data(), 8, GetParam());
  for (Index n = 0; n < 3; ++n)
    for (Index o = 0; o < 8; ++o) {
      float expected = -99.0f;
      if (o < 5) {
        expected = 0;
        for (Index i = 0; i < 20; ++i) expected += x[n * 20 + i] * w[o * 20 + i];
      }
      EXPECT_EQ(y[std::size_t(n * 8 + o)], expected) << "row " << n << " lane " << o;  // small integers: exact
    }
}

INSTANTIATE_TEST_SUITE_P(Paths, LinearRowsTest,
                         ::testing::Values(senet::Conv2dPath::avx512, senet::Conv2dPath::avx2,
                                           senet::Conv2dPath::portable),
                         [](const ::testing::TestParamInfo<senet::Conv2dPath>& info) {
                           return senet::to_string(info.param);
                         });

// linear_rows on bf16 weights: the product of the bf16-rounded inputs and weights (rounded here
// by test::round_bf16, independently of the library), summed exactly; what is left is FP32
// summation, so the FP32 tolerance holds against it. Odd input widths exercise the last pair.
class LinearRowsBf16Test : public Bf16PathTest {};

TEST_P(LinearRowsBf16Test, MatchesTheProductOfRoundedOperands) {
  std::mt19937 rng(27);
  const Index sizes[][3] = {{1, 1, 1}, {1, 7, 3}, {2, 16, 5}, {3, 17, 18}, {5, 33, 17},
                            {8, 64, 9}, {9, 129, 40}, {1, 2048, 128}, {1, 128, 2048}, {4, 2047, 1000}};
  const int saved = senet::num_threads();
  for (int threads : {1, 2}) {
    senet::set_num_threads(threads);
    for (const auto& s : sizes) {
      const Index N = s[0], in = s[1], out = s[2];
      Tensor<float> x({N, in}), w({out, in});
      std::vector<float> b(static_cast<std::size_t>(out));
      fill_uniform(x, rng);
      fill_uniform(w, rng);
      fill_uniform(b.data(), out, rng);
      const auto packed = senet::pack_linear_weights(w, senet::ConvPrecision::bf16);
      ASSERT_EQ(packed.bytes(), Index(sizeof(std::uint16_t)) * ((out + 15) / 16 * 16) * ((in + 1) / 2 * 2));
      std::vector<float> y(static_cast<std::size_t>(N * out), std::numeric_limits<float>::quiet_NaN());
      senet::linear_rows(x.data(), N, packed, b.data(), y.data(), out, GetParam());
      for (Index n = 0; n < N; ++n)
        for (Index o = 0; o < out; ++o) {
          double ref = b[std::size_t(o)], scale = 1;
          for (Index i = 0; i < in; ++i) {
            const double product = double(round_bf16(x[n * in + i])) * double(round_bf16(w[o * in + i]));
            ref += product;
            scale += std::abs(product);
          }
          ASSERT_NEAR(y[std::size_t(n * out + o)], ref, reference_tolerance<float>() * scale)
              << "N=" << N << " in=" << in << " out=" << out << " threads=" << threads << " row " << n << " output " << o;
        }
    }
  }
  senet::set_num_threads(saved);
}

INSTANTIATE_TEST_SUITE_P(Paths, LinearRowsBf16Test,
                         ::testing::Values(senet::Conv2dPath::avx512, senet::Conv2dPath::amx,
                                           senet::Conv2dPath::portable),
                         [](const ::testing::TestParamInfo<senet::Conv2dPath>& info) {
                           return senet::to_string(info.param);
                         });

TEST(LinearRows, RejectsWhatItCannotRun) {
  EXPECT_THROW(senet::pack_linear_weights(Tensor<float>({6})), senet::Error);
  if (senet::conv2d_path_supported(senet::Conv2dPath::avx2)) {
    const auto packed = senet::pack_linear_weights(Tensor<float>({2, 3}), senet::ConvPrecision::bf16);
    float x[3] = {}, y[2] = {};
    EXPECT_THROW(senet::linear_rows(x, 1, packed, nullptr, y, 2, senet::Conv2dPath::avx2), senet::Error);
  }
}

}  // namespace test_elementwise_linear
