// Tests of senet/ops/pooling.hpp against a naive reference written here from PyTorch's semantics
// (aten/src/ATen/native/Pool.h and the CPU max/avg pooling kernels), hand-checked output extents
// and global pooling against hand sums.

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "senet/ops/pooling.hpp"
#include "test_util.hpp"

namespace test_pooling {

using senet::Index;
using senet::Pool2dParams;
using senet::Shape;
using senet::Tensor;
using namespace senet::test;

// Pooling sums few values: a tighter bound than the shared reference_tolerance.
template <class T>
constexpr T tolerance() {
  return per_scalar<T>(1e-6f, 1e-14);
}

// Division rounding toward negative infinity (PyTorch's div_rtn).
Index floor_div(Index a, Index b) {
  Index q = a / b;
  if (a % b != 0 && ((a < 0) != (b < 0))) --q;
  return q;
}

// PyTorch's pooling_output_shape: floor or ceil of the window count, and in ceil mode the last
// window is dropped when it would start at or past the end of the input plus left padding
// (i.e. entirely in the right padding). An extent below 1 is an error in PyTorch.
Index torch_pool_extent(Index in, Index k, Index s, Index pad, Index d, bool ceil_mode) {
  Index out = floor_div(in + 2 * pad - d * (k - 1) - 1 + (ceil_mode ? s - 1 : 0), s) + 1;
  if (ceil_mode && (out - 1) * s >= in + pad) --out;
  return out;
}

Pool2dParams make_params(Index kh, Index kw, Index sh, Index sw, Index ph, Index pw, bool ceil_mode,
                         bool count_include_pad = true, Index dh = 1, Index dw = 1) {
  Pool2dParams p = window_params<Pool2dParams>(kh, kw, sh, sw, ph, pw, dh, dw);
  p.ceil_mode = ceil_mode;
  p.count_include_pad = count_include_pad;
  return p;
}

std::string describe(const Shape& in, const Pool2dParams& p) {
  std::ostringstream os;
  os << "input=" << senet::to_string(in) << " kernel=" << p.kernel_h << "x" << p.kernel_w << " stride=" << p.stride_h
     << "," << p.stride_w << " pad=" << p.pad_h << "," << p.pad_w << " dilation=" << p.dilation_h << "," << p.dilation_w
     << " ceil=" << p.ceil_mode << " count_include_pad=" << p.count_include_pad;
  return os.str();
}

Shape torch_pool_shape(const Shape& in, const Pool2dParams& p) {
  return {in[0], in[1], torch_pool_extent(in[2], p.kernel_h, p.stride_h, p.pad_h, p.dilation_h, p.ceil_mode),
          torch_pool_extent(in[3], p.kernel_w, p.stride_w, p.pad_w, p.dilation_w, p.ceil_mode)};
}

// Max over the window's taps that fall inside the input; NaN wins, as in PyTorch's kernel.
template <class T>
Tensor<T> naive_max_pool(const Tensor<T>& x, const Pool2dParams& p) {
  Tensor<T> y(torch_pool_shape(x.shape(), p));
  const Index N = x.dim(0), C = x.dim(1), H = x.dim(2), W = x.dim(3), OH = y.dim(2), OW = y.dim(3);
  for (Index n = 0; n < N; ++n)
    for (Index c = 0; c < C; ++c)
      for (Index oh = 0; oh < OH; ++oh)
        for (Index ow = 0; ow < OW; ++ow) {
          T best = -std::numeric_limits<T>::infinity();
          for (Index i = 0; i < p.kernel_h; ++i)
            for (Index j = 0; j < p.kernel_w; ++j) {
              const Index ih = oh * p.stride_h - p.pad_h + i * p.dilation_h;
              const Index iw = ow * p.stride_w - p.pad_w + j * p.dilation_w;
              if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
              const T v = x[((n * C + c) * H + ih) * W + iw];
              if (v > best || std::isnan(v)) best = v;
            }
          y[((n * C + c) * OH + oh) * OW + ow] = best;
        }
  return y;
}

// PyTorch's avg_pool2d: the window [hstart, hend) is first clipped to the padded input
// (hend = min(hstart + k, H + pad)), pool_size is its area, then it is clipped to the input;
// the divisor is pool_size when count_include_pad, else the clipped area.
template <class T>
Tensor<T> naive_avg_pool(const Tensor<T>& x, const Pool2dParams& p) {
  Tensor<T> y(torch_pool_shape(x.shape(), p));
  const Index N = x.dim(0), C = x.dim(1), H = x.dim(2), W = x.dim(3), OH = y.dim(2), OW = y.dim(3);
  for (Index n = 0; n < N; ++n)
    for (Index c = 0; c < C; ++c)
      for (Index oh = 0; oh < OH; ++oh)
        for (Index ow = 0; ow < OW; ++ow) {
          const Index hstart = oh * p.stride_h - p.pad_h, wstart = ow * p.stride_w - p.pad_w;
          const Index hend = std::min(hstart + p.kernel_h, H + p.pad_h);
          const Index wend = std::min(wstart + p.kernel_w, W + p.pad_w);
          const Index pool_size = (hend - hstart) * (wend - wstart);
          Index count = 0;
          T sum = 0;
          for (Index ih = std::max<Index>(hstart, 0); ih < std::min(hend, H); ++ih)
            for (Index iw = std::max<Index>(wstart, 0); iw < std::min(wend, W); ++iw) {
              sum += x[((n * C + c) * H + ih) * W + iw];
              ++count;
            }
          y[((n * C + c) * OH + oh) * OW + ow] = sum / T(p.count_include_pad ? pool_size : count);
        }
  return y;
}

template <class T>
class PoolingTest : public ::testing::Test {};
TYPED_TEST_SUITE(PoolingTest, Scalars);

// Runs `fn` for every combination of: kernel kh, kw in 1..4, stride 1..3 per axis, padding
// 0..k/2 per axis, ceil mode on/off, the last option (count_include_pad or dilation 1..2) and
// the given input sizes; only configurations PyTorch accepts (extent >= 1).
template <class Fn>
int sweep(bool square, bool max_pool, Fn&& fn) {
  int cases = 0;
  const std::vector<Index> sizes =
      square ? std::vector<Index>{1, 2, 3, 4, 5, 6, 7, 8, 9} : std::vector<Index>{1, 4, 7, 9};
  for (Index kh = 1; kh <= 4; ++kh)
    for (Index kw = 1; kw <= 4; ++kw) {
      if (square && kw != kh) continue;
      for (Index sh = 1; sh <= 3; ++sh)
        for (Index sw = 1; sw <= 3; ++sw) {
          if (square && sw != sh) continue;
          for (Index ph = 0; ph <= kh / 2; ++ph)
            for (Index pw = 0; pw <= kw / 2; ++pw) {
              if (square && pw != ph) continue;
              for (bool ceil_mode : {false, true})
                for (int opt = 0; opt < 2; ++opt) {
                  const Pool2dParams p = max_pool ? make_params(kh, kw, sh, sw, ph, pw, ceil_mode, true, 1 + opt,
                                                                square ? 1 + opt : 2 - opt)
                                                  : make_params(kh, kw, sh, sw, ph, pw, ceil_mode, opt == 1);
                  for (Index H : sizes)
                    for (Index W : sizes) {
                      if (!square && (H + W) % 2) continue;  // half of the mixed grid is plenty
                      const Shape in{2, 3, H, W};
                      const Shape out = torch_pool_shape(in, p);
                      if (out[2] < 1 || out[3] < 1) continue;
                      fn(in, p);
                      ++cases;
                    }
                }
            }
        }
    }
  return cases;
}

// Max (`max_pool`) or average pooling of random data against the naive version: the same
// output shape, and the same values (exactly for max, within tolerance<T>() for average).
template <class T>
void check_pool(bool max_pool, const Shape& in, const Pool2dParams& p, std::mt19937& rng) {
  Tensor<T> x(in);
  fill_uniform(x, rng);
  const Tensor<T> expected = max_pool ? naive_max_pool(x, p) : naive_avg_pool(x, p);
  ASSERT_EQ(senet::pool2d_output_shape(in, p), expected.shape()) << describe(in, p);
  Tensor<T> y(expected.shape());
  y.fill(std::numeric_limits<T>::quiet_NaN());
  if (max_pool) {
    senet::max_pool2d(x, p, y);
    for (Index i = 0; i < y.size(); ++i) ASSERT_EQ(y[i], expected[i]) << describe(in, p) << " element " << i;
  } else {
    senet::avg_pool2d(x, p, y);
    for (Index i = 0; i < y.size(); ++i)
      ASSERT_NEAR(y[i], expected[i], tolerance<T>()) << describe(in, p) << " element " << i;
  }
}

// check_pool over every configuration of `sweep(square, max_pool)`, on data drawn from `seed`.
template <class T>
void sweep_matches_naive(bool square, bool max_pool, unsigned seed) {
  std::mt19937 rng(seed);
  const int cases =
      sweep(square, max_pool, [&](const Shape& in, const Pool2dParams& p) { check_pool<T>(max_pool, in, p, rng); });
  expect_cases_above(cases, 2000);
}

TYPED_TEST(PoolingTest, MaxPoolSquareSweepMatchesNaive) { sweep_matches_naive<TypeParam>(true, true, 1); }
TYPED_TEST(PoolingTest, MaxPoolMixedSweepMatchesNaive) { sweep_matches_naive<TypeParam>(false, true, 2); }
TYPED_TEST(PoolingTest, AvgPoolSquareSweepMatchesNaive) { sweep_matches_naive<TypeParam>(true, false, 3); }
TYPED_TEST(PoolingTest, AvgPoolMixedSweepMatchesNaive) { sweep_matches_naive<TypeParam>(false, false, 4); }

// Hand-worked average pooling over one row x = [1, 2, 3, 4, 5, 6] (W = 6), kernel 1x3, stride 2,
// padding (0, 1), ceil mode. Extent: ceil((6 + 2 - 2 - 1) / 2) + 1 = 4; the last window starts at
// 5 < 6 + 1, so it is kept. Windows [start, min(start + 3, 6 + 1)):
//   [-1, 2): size 3, real {1, 2}       -> include pad: 3/3 = 1    exclude: 3/2 = 1.5
//   [ 1, 4): size 3, real {2, 3, 4}    ->              9/3 = 3                9/3 = 3
//   [ 3, 6): size 3, real {4, 5, 6}    ->             15/3 = 5               15/3 = 5
//   [ 5, 7): size 2 (capped at W + pad, not 3), real {6} -> 6/2 = 3           6/1 = 6
TYPED_TEST(PoolingTest, AvgPoolDivisorHandChecked) {
  using T = TypeParam;
  Tensor<T> x({1, 1, 1, 6});
  for (Index i = 0; i < 6; ++i) x[i] = T(i + 1);
  Tensor<T> y({1, 1, 1, 4});
  senet::avg_pool2d(x, make_params(1, 3, 1, 2, 0, 1, true, true), y);
  const T include_pad[] = {1, 3, 5, 3};
  for (Index i = 0; i < 4; ++i) EXPECT_EQ(y[i], include_pad[i]) << i;
  senet::avg_pool2d(x, make_params(1, 3, 1, 2, 0, 1, true, false), y);
  const T exclude_pad[] = {1.5, 3, 5, 6};
  for (Index i = 0; i < 4; ++i) EXPECT_EQ(y[i], exclude_pad[i]) << i;
}

// Max pooling: padding never wins, even when every real value is negative (zero padding would
// give 0 in the first window).
TYPED_TEST(PoolingTest, MaxPoolPaddingNeverWins) {
  using T = TypeParam;
  Tensor<T> x({1, 1, 1, 5});
  for (Index i = 0; i < 5; ++i) x[i] = T(i - 5);
  // kernel 1x2, stride 2, pad (0, 1), ceil: span 5 + 2 - 1 - 1 = 5, ceil(5/2) + 1 = 4, but the
  // 4th window would start at 2*3 - 1 = 5, the first right-padding column; (4-1)*2 = 6 >= 5 + 1,
  // so PyTorch drops it: 3 windows [-1,1) [1,3) [3,5) -> max(-5) = -5, max(-4,-3) = -3, max(-2,-1) = -1.
  const Pool2dParams p = make_params(1, 2, 1, 2, 0, 1, true);
  ASSERT_EQ(senet::pool2d_output_shape(x.shape(), p), (Shape{1, 1, 1, 3}));
  Tensor<T> y({1, 1, 1, 3});
  senet::max_pool2d(x, p, y);
  EXPECT_EQ(y[0], T(-5));
  EXPECT_EQ(y[1], T(-3));
  EXPECT_EQ(y[2], T(-1));
}

// PyTorch's max_pool2d returns NaN for a window holding NaN (its kernel tests
// `val > maxval || isnan(val)`), wherever the NaN sits in the window.
TYPED_TEST(PoolingTest, MaxPoolPropagatesNaNLikePyTorch) {
  using T = TypeParam;
  Tensor<T> x({1, 1, 1, 2});
  x[0] = T(1);
  x[1] = std::numeric_limits<T>::quiet_NaN();
  Tensor<T> y({1, 1, 1, 1});
  senet::max_pool2d(x, make_params(1, 2, 1, 1, 0, 0, false), y);
  EXPECT_TRUE(std::isnan(y[0])) << y[0];
}

// Hand-checked extents. pool_output_extent(in, kernel, stride, pad, dilation, ceil_mode).
TEST(PoolOutputExtent, HandChecked) {
  // ResNet stem max pool: (112 + 2 - 2 - 1) / 2 + 1 = 55 + 1 = 56.
  EXPECT_EQ(senet::pool_output_extent(112, 3, 2, 1, 1, false), 56);
  // Caffe/Cadene SENet stem, no padding, ceil mode: ceil(109 / 2) + 1 = 56; last start 110 < 112.
  EXPECT_EQ(senet::pool_output_extent(112, 3, 2, 0, 1, true), 56);
  EXPECT_EQ(senet::pool_output_extent(112, 3, 2, 0, 1, false), 55);
  // 5, k2 s2: floor 3/2 + 1 = 2; ceil: ceil(3/2) + 1 = 3, the last window [4, 6) half outside.
  EXPECT_EQ(senet::pool_output_extent(5, 2, 2, 0, 1, false), 2);
  EXPECT_EQ(senet::pool_output_extent(5, 2, 2, 0, 1, true), 3);
  // in 4, k3 s2 p1, ceil: ceil((4 + 2 - 3) / 2) + 1 = 3. The 3rd window starts at 2*2 - 1 = 3, a
  // real column (the check (3-1)*2 = 4 >= 4 + 1 fails), so it is kept: 3, not 2.
  EXPECT_EQ(senet::pool_output_extent(4, 3, 2, 1, 1, true), 3);
  // in 3, k2 s2 p1, ceil: ceil((3 + 2 - 2) / 2) + 1 = 3, but the 3rd window would start at
  // 2*2 - 1 = 3, the first right-padding column ((3-1)*2 = 4 >= 3 + 1), so PyTorch drops it: 2.
  EXPECT_EQ(senet::pool_output_extent(3, 2, 2, 1, 1, true), 2);
  // in 5, k2 s2 p1, ceil: ceil(5 / 2) + 1 = 4, 4th start 3*2 - 1 = 5 = first padding column
  // ((4-1)*2 = 6 >= 5 + 1): dropped, 3 (the same as floor mode).
  EXPECT_EQ(senet::pool_output_extent(5, 2, 2, 1, 1, true), 3);
  EXPECT_EQ(senet::pool_output_extent(5, 2, 2, 1, 1, false), 3);
  // Dilation: span 2*(3-1)+1 = 5 on 9: (9 - 5) / 1 + 1 = 5; stride 3 ceil: ceil(4/3) + 1 = 3.
  EXPECT_EQ(senet::pool_output_extent(9, 3, 1, 0, 2, false), 5);
  EXPECT_EQ(senet::pool_output_extent(9, 3, 3, 0, 2, true), 3);
  // Input smaller than the kernel in ceil mode: PyTorch gives one window ([0, 2) on a 1-wide input).
  EXPECT_EQ(senet::pool_output_extent(1, 2, 2, 0, 1, true), 1);
}

TEST(PoolOutputExtent, RejectsExcessivePaddingAndBadParams) {
  EXPECT_THROW(senet::pool2d_output_shape({1, 1, 8, 8}, make_params(3, 3, 1, 1, 2, 1, false)), senet::Error);
  EXPECT_THROW(senet::pool2d_output_shape({1, 1, 8, 8}, make_params(2, 2, 1, 1, 0, 2, false)), senet::Error);
  EXPECT_THROW(senet::pool2d_output_shape({1, 1, 8, 8}, make_params(2, 2, 0, 1, 0, 0, false)), senet::Error);
  EXPECT_THROW(senet::pool2d_output_shape({1, 8, 8}, make_params(2, 2, 1, 1, 0, 0, false)), senet::Error);
  EXPECT_THROW(senet::pool2d_output_shape({1, 1, 2, 8}, make_params(3, 3, 1, 1, 0, 0, false)), senet::Error);
  Tensor<float> x({1, 1, 4, 4}), y({1, 1, 2, 2});
  EXPECT_THROW(senet::avg_pool2d(x, make_params(2, 2, 2, 2, 0, 0, false, true, 2, 2), y), senet::Error);
  EXPECT_THROW(senet::max_pool2d(x, make_params(2, 2, 1, 1, 0, 0, false), y), senet::Error);  // y must be 3x3
}

// Regression: pool_output_extent once truncated a negative span toward zero where PyTorch
// floors (div_rtn), so windows larger than the input are accepted with one output instead of
// raising "Output size is too small". Minimal reproducers (PyTorch extent 0; senet gave 1):
//   pool_output_extent(1, 2, 2, 0, 1, false)   // in 1, k2 s2, floor mode: floor(-1/2) + 1 = 0
//   pool_output_extent(1, 3, 2, 0, 1, true)    // in 1, k3 s2, ceil mode:  floor(-1/2) + 1 = 0
// This test compares every small configuration with the PyTorch formula, errors included.
TEST(PoolOutputExtent, MatchesPyTorchIncludingTooSmallInputs) {
  int mismatches = 0;
  for (Index in = 1; in <= 9; ++in)
    for (Index k = 1; k <= 4; ++k)
      for (Index s = 1; s <= 3; ++s)
        for (Index pad = 0; pad <= k / 2; ++pad)
          for (Index d = 1; d <= 2; ++d)
            for (bool ceil_mode : {false, true}) {
              const Index expected = torch_pool_extent(in, k, s, pad, d, ceil_mode);
              const Pool2dParams p = make_params(k, 1, s, 1, pad, 0, ceil_mode, true, d, 1);
              const Shape shape{1, 1, in, 1};
              if (expected >= 1) {
                EXPECT_EQ(senet::pool_output_extent(in, k, s, pad, d, ceil_mode), expected) << describe(shape, p);
              } else if (mismatches < 5) {
                bool threw = false;
                try {
                  senet::pool2d_output_shape(shape, p);
                } catch (const senet::Error&) {
                  threw = true;
                }
                if (!threw) ++mismatches;
                EXPECT_TRUE(threw) << "PyTorch rejects (extent " << expected << "): " << describe(shape, p);
              }
            }
}

// Global pooling. Channel 0 holds 1..6 (sum 21, mean 3.5, max 6), channel 1 holds -1..-6
// (mean -3.5, max -1); the second image doubles the first.
TYPED_TEST(PoolingTest, GlobalPoolingHandSums) {
  using T = TypeParam;
  Tensor<T> x({2, 2, 2, 3});
  for (Index i = 0; i < 6; ++i) {
    x.at({0, 0, i / 3, i % 3}) = T(i + 1);
    x.at({0, 1, i / 3, i % 3}) = -T(i + 1);
    x.at({1, 0, i / 3, i % 3}) = T(2 * (i + 1));
    x.at({1, 1, i / 3, i % 3}) = -T(2 * (i + 1));
  }
  Tensor<T> avg({2, 2}), mx({2, 2});
  senet::global_avg_pool(x, avg);
  senet::global_max_pool(x, mx);
  const T expected_avg[] = {3.5, -3.5, 7, -7};
  const T expected_max[] = {6, -1, 12, -2};
  for (Index i = 0; i < 4; ++i) {
    EXPECT_EQ(avg[i], expected_avg[i]) << i;
    EXPECT_EQ(mx[i], expected_max[i]) << i;
  }
  // The output may be any shape of N*C elements, e.g. [N, C, 1, 1].
  Tensor<T> avg4({2, 2, 1, 1});
  senet::global_avg_pool(x, avg4);
  EXPECT_EQ(avg4[3], T(-7));
}

TYPED_TEST(PoolingTest, GlobalPoolingMatchesNaiveSums) {
  using T = TypeParam;
  std::mt19937 rng(5);
  for (const Shape& in : {Shape{1, 1, 1, 1}, Shape{2, 3, 7, 7}, Shape{3, 5, 1, 9}, Shape{1, 16, 13, 5}}) {
    Tensor<T> x(in);
    fill_uniform(x, rng);
    Tensor<T> avg({in[0], in[1]}), mx({in[0], in[1]});
    senet::global_avg_pool(x, avg);
    senet::global_max_pool(x, mx);
    const Index hw = in[2] * in[3];
    for (Index pl = 0; pl < in[0] * in[1]; ++pl) {
      long double sum = 0;
      T best = x[pl * hw];
      for (Index i = 0; i < hw; ++i) {
        sum += x[pl * hw + i];
        best = std::max(best, x[pl * hw + i]);
      }
      EXPECT_NEAR(avg[pl], T(sum / hw), tolerance<T>()) << senet::to_string(in) << " plane " << pl;
      EXPECT_EQ(mx[pl], best) << senet::to_string(in) << " plane " << pl;
    }
  }
}

TYPED_TEST(PoolingTest, GlobalPoolingRejectsBadShapes) {
  using T = TypeParam;
  Tensor<T> x({2, 3, 4, 4}), wrong({2, 4}), flat({2, 3});
  EXPECT_THROW(senet::global_avg_pool(x, wrong), senet::Error);
  EXPECT_THROW(senet::global_max_pool(x, wrong), senet::Error);
  Tensor<T> rank3({2, 3, 4});
  EXPECT_THROW(senet::global_avg_pool(rank3, flat), senet::Error);
  Tensor<T> empty_plane({2, 3, 0, 4});
  EXPECT_THROW(senet::global_avg_pool(empty_plane, flat), senet::Error);
}

}  // namespace test_pooling
