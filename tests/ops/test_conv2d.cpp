// Tests of senet/ops/conv2d.hpp: the im2col + GEMM `conv2d` against the naive `conv2d_reference`
// over sweeps of shapes and options, the reference against hand-computed values, and the shape
// checks of `conv2d_output_shape`.

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "senet/ops/conv2d.hpp"
#include "test_util.hpp"

namespace test_conv2d {

using senet::Conv2dParams;
using senet::Index;
using senet::Shape;
using senet::Tensor;
using namespace senet::test;

Conv2dParams make_params(Index kh, Index kw, Index sh, Index sw, Index ph, Index pw, Index dh, Index dw, Index groups) {
  Conv2dParams p = window_params<Conv2dParams>(kh, kw, sh, sw, ph, pw, dh, dw);
  p.groups = groups;
  return p;
}

// Valid in PyTorch: the padded input must hold the dilated kernel along both axes.
bool fits(Index H, Index W, const Conv2dParams& p) {
  return H + 2 * p.pad_h >= p.dilation_h * (p.kernel_h - 1) + 1 &&
         W + 2 * p.pad_w >= p.dilation_w * (p.kernel_w - 1) + 1;
}

struct ConvCase {
  Index N, C, K, H, W;
  Conv2dParams p;
  bool bias;
};

std::string describe(const ConvCase& c) {
  std::ostringstream os;
  os << "N=" << c.N << " C=" << c.C << " K=" << c.K << " H=" << c.H << " W=" << c.W << " kernel=" << c.p.kernel_h << "x"
     << c.p.kernel_w << " stride=" << c.p.stride_h << "," << c.p.stride_w << " pad=" << c.p.pad_h << "," << c.p.pad_w
     << " dilation=" << c.p.dilation_h << "," << c.p.dilation_w << " groups=" << c.p.groups << " bias=" << c.bias;
  return os.str();
}

// Runs both kernels on random data and checks max|fast - ref| <= tol * max(1, max|ref|).
// Outputs start as NaN so an element either kernel forgets to write fails the comparison.
template <class T>
void check_against_reference(const ConvCase& c, std::mt19937& rng) {
  Tensor<T> x({c.N, c.C, c.H, c.W});
  Tensor<T> w({c.K, c.C / c.p.groups, c.p.kernel_h, c.p.kernel_w});
  std::vector<T> b(static_cast<std::size_t>(c.K));
  fill_uniform(x.data(), x.size(), rng);
  fill_uniform(w.data(), w.size(), rng);
  fill_uniform(b.data(), c.K, rng);
  const Shape out = senet::conv2d_output_shape(x.shape(), w.shape(), c.p);
  Tensor<T> ref(out), fast(out);
  ref.fill(std::numeric_limits<T>::quiet_NaN());
  fast.fill(std::numeric_limits<T>::quiet_NaN());
  const T* bias = c.bias ? b.data() : nullptr;
  senet::conv2d_reference(x, w, bias, c.p, ref);
  senet::conv2d(x, w, bias, c.p, fast);
  T max_diff = 0, max_ref = 0;
  for (Index i = 0; i < ref.size(); ++i) {
    const T d = std::abs(fast[i] - ref[i]);
    if (std::isnan(d) || d > max_diff) max_diff = d;
    if (std::isnan(ref[i]))
      max_ref = ref[i];
    else
      max_ref = std::max(max_ref, std::abs(ref[i]));
  }
  EXPECT_LE(max_diff, reference_tolerance<T>() * std::max(T(1), max_ref)) << describe(c);
}

// Checks `c` against the reference if PyTorch accepts its shape; returns whether it did.
template <class T>
bool check_if_valid(const ConvCase& c, std::mt19937& rng) {
  if (!fits(c.H, c.W, c.p)) return false;
  check_against_reference<T>(c, rng);
  return true;
}

// (C, groups, K): groups 1, 2, 3 and depthwise (groups == C, with multipliers 1 and 2);
// K differs from C in most rows.
struct GroupConfig {
  Index C, groups, K;
};
const GroupConfig kGroupConfigs[] = {{1, 1, 1}, {3, 1, 5},  {4, 2, 6}, {4, 4, 4}, {6, 2, 4}, {6, 6, 6},
                                     {6, 3, 9}, {8, 8, 16}, {8, 2, 8}, {3, 3, 6}, {1, 1, 3}, {8, 1, 2}};
constexpr std::size_t kNumGroupConfigs = sizeof(kGroupConfigs) / sizeof(kGroupConfigs[0]);

template <class T>
class Conv2dTest : public ::testing::Test {};
TYPED_TEST_SUITE(Conv2dTest, Scalars);

// Square kernels 1, 2, 3, 5, 7 x strides 1-3 x padding 0-3 x dilation 1-3, each on an input that
// exactly fits the (padded, dilated) kernel and on two odd-sized inputs; group configurations, N
// and bias rotate across the cases.
TYPED_TEST(Conv2dTest, SquareKernelsMatchReference) {
  using T = TypeParam;
  std::mt19937 rng(1234);
  const Index sizes[][2] = {{5, 7}, {9, 9}, {13, 5}, {7, 13}, {1, 1}, {7, 5}};
  std::size_t counter = 0, cases = 0;
  for (Index k : {1, 2, 3, 5, 7})
    for (Index s : {1, 2, 3})
      for (Index pad = 0; pad <= 3; ++pad)
        for (Index d : {1, 2, 3}) {
          const Index eff = d * (k - 1) + 1;
          const Index exact = std::max<Index>(1, eff - 2 * pad);
          const Index hw[][2] = {{exact, exact},
                                 {sizes[counter % 6][0], sizes[counter % 6][1]},
                                 {sizes[(counter + 3) % 6][1], sizes[(counter + 3) % 6][0]}};
          for (const auto& size : hw) {
            const GroupConfig& g = kGroupConfigs[counter % kNumGroupConfigs];
            ConvCase c{
                Index(1 + counter % 3), g.C, g.K, size[0], size[1], make_params(k, k, s, s, pad, pad, d, d, g.groups),
                counter % 2 == 0};
            ++counter;
            if (check_if_valid<T>(c, rng)) ++cases;
          }
        }
  expect_cases_above(cases, 400);
}

// Every group configuration (not just a rotation) against kernels 1/3/5, strides 1/2, padding
// 0/1 and dilation 1/2 on a 7x9 input, N = 2.
TYPED_TEST(Conv2dTest, EveryGroupConfigurationMatchesReference) {
  using T = TypeParam;
  std::mt19937 rng(4321);
  std::size_t cases = 0;
  for (const GroupConfig& g : kGroupConfigs)
    for (Index k : {1, 3, 5})
      for (Index s : {1, 2})
        for (Index pad : {0, 1})
          for (Index d : {1, 2}) {
            const ConvCase c{2, g.C, g.K, 7, 9, make_params(k, k, s, s, pad, pad, d, d, g.groups), (cases % 2) == 0};
            if (check_if_valid<T>(c, rng)) ++cases;
          }
  expect_cases_above(cases, 250);
}

// Non-square kernels 1x3, 3x1, 2x5, 5x2 with mixed strides, paddings and dilations.
TYPED_TEST(Conv2dTest, NonSquareKernelsAndMixedOptionsMatchReference) {
  using T = TypeParam;
  std::mt19937 rng(99);
  const Index kernels[][2] = {{1, 3}, {3, 1}, {2, 5}, {5, 2}};
  const Index strides[][2] = {{1, 1}, {2, 1}, {1, 2}, {3, 2}};
  const Index pads[][2] = {{0, 0}, {1, 0}, {0, 2}, {2, 1}};
  const Index dilations[][2] = {{1, 1}, {2, 1}, {1, 3}};
  const Index sizes[][2] = {{5, 9}, {9, 5}, {7, 7}, {13, 11}, {1, 7}, {7, 1}};
  std::size_t counter = 0, cases = 0;
  for (const auto& k : kernels)
    for (const auto& s : strides)
      for (const auto& pad : pads)
        for (const auto& d : dilations)
          for (int rep = 0; rep < 2; ++rep) {
            const GroupConfig& g = kGroupConfigs[counter % kNumGroupConfigs];
            const auto& size = sizes[counter % 6];
            ConvCase c{Index(1 + counter % 3),
                       g.C,
                       g.K,
                       size[0],
                       size[1],
                       make_params(k[0], k[1], s[0], s[1], pad[0], pad[1], d[0], d[1], g.groups),
                       counter % 2 == 1};
            ++counter;
            if (check_if_valid<T>(c, rng)) ++cases;
          }
  expect_cases_above(cases, 250);
}

// The cases a GEMM formulation is most likely to get wrong, named one by one.
TYPED_TEST(Conv2dTest, EdgeCasesMatchReference) {
  using T = TypeParam;
  std::mt19937 rng(7);
  const ConvCase cases[] = {
      // Pointwise fast path (no im2col), grouped and ungrouped, N > 1.
      {3, 8, 4, 5, 7, make_params(1, 1, 1, 1, 0, 0, 1, 1, 1), true},
      {2, 8, 6, 9, 5, make_params(1, 1, 1, 1, 0, 0, 1, 1, 2), false},
      {2, 6, 6, 5, 5, make_params(1, 1, 1, 1, 0, 0, 1, 1, 6), true},
      // 1x1 but strided or padded: must take the im2col path.
      {2, 4, 3, 7, 9, make_params(1, 1, 2, 2, 0, 0, 1, 1, 1), true},
      {1, 4, 3, 5, 5, make_params(1, 1, 1, 1, 1, 1, 1, 1, 1), true},
      // Input exactly kernel-sized: one output pixel.
      {2, 3, 4, 7, 7, make_params(7, 7, 1, 1, 0, 0, 1, 1, 1), true},
      {1, 6, 6, 2, 5, make_params(2, 5, 3, 3, 0, 0, 1, 1, 6), false},
      {3, 4, 8, 5, 5, make_params(3, 3, 2, 2, 0, 0, 2, 2, 4), true},
      // 1x1 input with padding larger than the kernel reach.
      {1, 3, 2, 1, 1, make_params(3, 3, 1, 1, 3, 3, 1, 1, 1), true},
      // ResNet stem and a stride-2 3x3 bottleneck conv on odd sizes.
      {1, 3, 8, 13, 13, make_params(7, 7, 2, 2, 3, 3, 1, 1, 1), false},
      {2, 8, 8, 9, 9, make_params(3, 3, 2, 2, 1, 1, 1, 1, 2), false},
      // Depthwise 5x5 with stride (2,1) and mixed padding.
      {2, 8, 8, 13, 9, make_params(5, 5, 2, 1, 2, 1, 1, 1, 8), true},
  };
  for (const auto& c : cases) check_against_reference<T>(c, rng);
}

// (b) The reference itself against values computed by hand.

// x = [[1,2,3],[4,5,6],[7,8,9]], 2x2 all-ones kernel, stride 1, no padding:
// [1+2+4+5, 2+3+5+6, 4+5+7+8, 5+6+8+9] = [12, 16, 24, 28].
TYPED_TEST(Conv2dTest, ReferenceAllOnesKernel) {
  using T = TypeParam;
  Tensor<T> x({1, 1, 3, 3}), w({1, 1, 2, 2}), y({1, 1, 2, 2});
  for (Index i = 0; i < 9; ++i) x[i] = T(i + 1);
  w.fill(T(1));
  senet::conv2d_reference(x, w, static_cast<const T*>(nullptr), make_params(2, 2, 1, 1, 0, 0, 1, 1, 1), y);
  const T expected[] = {12, 16, 24, 28};
  for (Index i = 0; i < 4; ++i) EXPECT_EQ(y[i], expected[i]) << i;
}

// x = 1..9 as above, kernel [[1,2],[3,4]], stride 2, padding 1, bias 0.5. Output (3+2-2)/2+1 = 2.
// Padded input:        Windows (top-left in padded coordinates (0,0), (0,2), (2,0), (2,2)):
//   0 0 0 0 0            [0 0; 0 1] -> 4*1                     =  4
//   0 1 2 3 0            [0 0; 2 3] -> 3*2 + 4*3               = 18
//   0 4 5 6 0            [0 4; 0 7] -> 2*4 + 4*7               = 36
//   0 7 8 9 0            [5 6; 8 9] -> 1*5 + 2*6 + 3*8 + 4*9   = 77
//   0 0 0 0 0          plus the bias: [4.5, 18.5, 36.5, 77.5].
TYPED_TEST(Conv2dTest, ReferencePaddedStridedWithBias) {
  using T = TypeParam;
  Tensor<T> x({1, 1, 3, 3}), w({1, 1, 2, 2}), y({1, 1, 2, 2});
  for (Index i = 0; i < 9; ++i) x[i] = T(i + 1);
  for (Index i = 0; i < 4; ++i) w[i] = T(i + 1);
  const T bias = T(0.5);
  senet::conv2d_reference(x, w, &bias, make_params(2, 2, 2, 2, 1, 1, 1, 1, 1), y);
  const T expected[] = {4.5, 18.5, 36.5, 77.5};
  for (Index i = 0; i < 4; ++i) EXPECT_EQ(y[i], expected[i]) << i;
}

// x [1, 1, 5, 5] = 1..25, 2x2 all-ones kernel with dilation 2: y[i][j] = x[i][j] + x[i][j+2] +
// x[i+2][j] + x[i+2][j+2] = 28 + 4 * (5i + j) (x[0][0] = 1 gives 1 + 3 + 11 + 13 = 28).
TYPED_TEST(Conv2dTest, ReferenceDilated) {
  using T = TypeParam;
  Tensor<T> x({1, 1, 5, 5}), w({1, 1, 2, 2}), y({1, 1, 3, 3});
  for (Index i = 0; i < 25; ++i) x[i] = T(i + 1);
  w.fill(T(1));
  senet::conv2d_reference(x, w, static_cast<const T*>(nullptr), make_params(2, 2, 1, 1, 0, 0, 2, 2, 1), y);
  for (Index i = 0; i < 3; ++i)
    for (Index j = 0; j < 3; ++j) EXPECT_EQ(y.at({0, 0, i, j}), T(28 + 4 * (5 * i + j))) << i << "," << j;
}

// Grouped: x [1, 4, 2, 2] with channel c holding 10c + 1 .. 10c + 4, so the channel sums are
// 10, 50, 90, 130. groups = 2, K = 2, 2x2 kernels (one output pixel per output channel), every
// tap of a (k, c) kernel slice equal:
//   output 0 (group 0) sees channels 0, 1 with weights 1, 2:   10 * 1 + 50 * 2  = 110
//   output 1 (group 1) sees channels 2, 3 with weights 1, -2:  90 * 1 - 130 * 2 = -170
// (reading channels 0, 1 for group 1 would give 10 - 100 = -90).
TYPED_TEST(Conv2dTest, ReferenceGrouped) {
  using T = TypeParam;
  Tensor<T> x({1, 4, 2, 2}), w({2, 2, 2, 2}), y({1, 2, 1, 1});
  for (Index c = 0; c < 4; ++c)
    for (Index i = 0; i < 4; ++i) x[c * 4 + i] = T(10 * c + i + 1);
  const T per_channel_weight[2][2] = {{1, 2}, {1, -2}};
  for (Index k = 0; k < 2; ++k)
    for (Index c = 0; c < 2; ++c)
      for (Index i = 0; i < 4; ++i) w[(k * 2 + c) * 4 + i] = per_channel_weight[k][c];
  senet::conv2d_reference(x, w, static_cast<const T*>(nullptr), make_params(2, 2, 1, 1, 0, 0, 1, 1, 2), y);
  EXPECT_EQ(y[0], T(110));  // 10 * 1 + 50 * 2
  EXPECT_EQ(y[1], T(-170));
}

// (c) Shape checks.

TEST(Conv2dOutputShape, ComputesPyTorchExtents) {
  // ResNet stem: 224, k7 s2 p3 -> 112.
  EXPECT_EQ(senet::conv2d_output_shape({2, 3, 224, 224}, {64, 3, 7, 7}, make_params(7, 7, 2, 2, 3, 3, 1, 1, 1)),
            (Shape{2, 64, 112, 112}));
  // (13 + 2*1 - 3*(3-1) - 1) / 2 + 1 = 5 and (9 + 0 - 2 - 1) / 1 + 1 = 7, depthwise.
  EXPECT_EQ(senet::conv2d_output_shape({1, 8, 13, 9}, {8, 1, 3, 3}, make_params(3, 3, 2, 1, 1, 0, 3, 1, 8)),
            (Shape{1, 8, 5, 7}));
  // Padded input 5 + 2*1 = 7 exactly the dilated kernel span 3*(3-1)+1 = 7: one output.
  EXPECT_EQ(senet::conv2d_output_shape({1, 1, 5, 5}, {1, 1, 3, 3}, make_params(3, 3, 1, 1, 1, 1, 3, 3, 1)),
            (Shape{1, 1, 1, 1}));
}

TEST(Conv2dOutputShape, RejectsChannelsThatDoNotFitGroups) {
  // Input has 3 channels, weight expects 2 per group x 2 groups = 4.
  EXPECT_THROW(senet::conv2d_output_shape({1, 3, 5, 5}, {4, 2, 3, 3}, make_params(3, 3, 1, 1, 0, 0, 1, 1, 2)),
               senet::Error);
  // Channels fit (4 = 2 x 2) but 3 output channels do not split into 2 groups.
  EXPECT_THROW(senet::conv2d_output_shape({1, 4, 5, 5}, {3, 2, 1, 1}, make_params(1, 1, 1, 1, 0, 0, 1, 1, 2)),
               senet::Error);
  // Depthwise weight [C, 1, k, k] used with groups 1.
  EXPECT_THROW(senet::conv2d_output_shape({1, 8, 5, 5}, {8, 1, 3, 3}, make_params(3, 3, 1, 1, 1, 1, 1, 1, 1)),
               senet::Error);
  // Ungrouped weight used with groups 2.
  EXPECT_THROW(senet::conv2d_output_shape({1, 8, 5, 5}, {8, 8, 3, 3}, make_params(3, 3, 1, 1, 1, 1, 1, 1, 2)),
               senet::Error);
}

TEST(Conv2dOutputShape, RejectsKernelLargerThanPaddedInput) {
  EXPECT_THROW(senet::conv2d_output_shape({1, 1, 4, 4}, {1, 1, 5, 5}, make_params(5, 5, 1, 1, 0, 0, 1, 1, 1)),
               senet::Error);
  // Only one axis too small.
  EXPECT_THROW(senet::conv2d_output_shape({1, 1, 9, 2}, {1, 1, 3, 3}, make_params(3, 3, 1, 1, 0, 0, 1, 1, 1)),
               senet::Error);
  // Dilation makes a 3x3 kernel span 7: a 5x5 input padded by 0 does not hold it; padded by 1 it does.
  EXPECT_THROW(senet::conv2d_output_shape({1, 1, 5, 5}, {1, 1, 3, 3}, make_params(3, 3, 1, 1, 0, 0, 3, 3, 1)),
               senet::Error);
  EXPECT_NO_THROW(senet::conv2d_output_shape({1, 1, 5, 5}, {1, 1, 3, 3}, make_params(3, 3, 1, 1, 1, 1, 3, 3, 1)));
}

// Regression: window_output_extent once divided a negative numerator with C++'s
// truncation toward zero instead of floor division, so when the padded input is shorter than
// the kernel by less than the stride, (in + 2p - d(k-1) - 1) / s + 1 comes out as 1 instead of
// <= 0 and the shape is accepted. PyTorch raises "Kernel size can't be greater than actual input
// size" for all of these. Minimal reproducer:
//   conv2d_output_shape({1, 1, 1, 1}, {1, 1, 2, 2}, kernel 2, stride 2) returns [1, 1, 1, 1].
TEST(Conv2dOutputShape, RejectsKernelLargerThanInputWhenStrided) {
  EXPECT_THROW(senet::conv2d_output_shape({1, 1, 1, 1}, {1, 1, 2, 2}, make_params(2, 2, 2, 2, 0, 0, 1, 1, 1)),
               senet::Error);
  EXPECT_THROW(senet::conv2d_output_shape({1, 1, 4, 4}, {1, 1, 5, 5}, make_params(5, 5, 3, 3, 0, 0, 1, 1, 1)),
               senet::Error);
  // Dilated span 5 on a 2 + 2*1 = 4 padded input, stride 2.
  EXPECT_THROW(senet::conv2d_output_shape({1, 1, 2, 2}, {1, 1, 3, 3}, make_params(3, 3, 2, 2, 1, 1, 2, 2, 1)),
               senet::Error);
}

TEST(Conv2dOutputShape, RejectsMalformedArguments) {
  const Conv2dParams p3 = make_params(3, 3, 1, 1, 1, 1, 1, 1, 1);
  EXPECT_THROW(senet::conv2d_output_shape({3, 5, 5}, {4, 3, 3, 3}, p3), senet::Error);     // rank 3 input
  EXPECT_THROW(senet::conv2d_output_shape({1, 3, 5, 5}, {4, 3, 3}, p3), senet::Error);     // rank 3 weight
  EXPECT_THROW(senet::conv2d_output_shape({1, 3, 5, 5}, {4, 3, 5, 5}, p3), senet::Error);  // kernel mismatch
  EXPECT_THROW(senet::conv2d_output_shape({1, 3, 5, 5}, {4, 3, 3, 3}, make_params(3, 3, 0, 1, 1, 1, 1, 1, 1)),
               senet::Error);  // stride 0
  EXPECT_THROW(senet::conv2d_output_shape({1, 3, 5, 5}, {4, 3, 3, 3}, make_params(3, 3, 1, 1, -1, 1, 1, 1, 1)),
               senet::Error);  // negative padding
  EXPECT_THROW(senet::conv2d_output_shape({1, 3, 5, 5}, {4, 3, 3, 3}, make_params(3, 3, 1, 1, 1, 1, 1, 0, 1)),
               senet::Error);  // dilation 0
}

TYPED_TEST(Conv2dTest, RejectsWrongOutputShape) {
  using T = TypeParam;
  Tensor<T> x({1, 3, 5, 5}), w({4, 3, 3, 3}), y({1, 4, 5, 4});
  const Conv2dParams p = make_params(3, 3, 1, 1, 1, 1, 1, 1, 1);
  EXPECT_THROW(senet::conv2d(x, w, static_cast<const T*>(nullptr), p, y), senet::Error);
  EXPECT_THROW(senet::conv2d_reference(x, w, static_cast<const T*>(nullptr), p, y), senet::Error);
}

}  // namespace test_conv2d
