// Tests of senet/ops/activation.hpp: element-wise activations against the std:: formulas
// (evaluated in long double) over a sweep that includes huge and infinite inputs, and the
// row-wise softmax (normalisation, shift invariance, overflow safety, a hand-checked case).
// Also the fast engine's vectorised exp and SiLU (senet/ops/nchw16c.hpp, AVX-512 and AVX2)
// against exp and x / (1 + exp(-x)) in double, ulp by ulp, over -110 .. 95 and the specials.

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <random>
#include <utility>
#include <vector>

#include "senet/ops/activation.hpp"
#include "senet/ops/nchw16c.hpp"
#include "test_util.hpp"

namespace test_activation {

using senet::Index;
using senet::Tensor;

template <class T>
class ActivationTest : public ::testing::Test {};
TYPED_TEST_SUITE(ActivationTest, senet::test::Scalars);

// -20 .. 20 in steps of 1/8 (exact), then magnitudes where exp over/underflows in float and in
// double, the extremes of T, infinities, signed zeros and subnormals.
template <class T>
std::vector<T> sweep_values() {
  std::vector<T> v;
  for (int i = -160; i <= 160; ++i) v.push_back(T(i) / T(8));
  for (T m : {T(0.001), T(15), T(30), T(50), T(87), T(88), T(89), T(100), T(500), T(700), T(709), T(710), T(1000),
              std::numeric_limits<T>::max(), std::numeric_limits<T>::infinity(), std::numeric_limits<T>::min(),
              std::numeric_limits<T>::denorm_min()}) {
    v.push_back(m);
    v.push_back(-m);
  }
  v.push_back(T(0));
  v.push_back(-T(0));
  return v;
}

// The sweep values, and what the in-place activation `op` makes of them.
template <class T, class Op>
std::pair<std::vector<T>, std::vector<T>> run_on_sweep(Op op) {
  std::vector<T> in = sweep_values<T>(), out = in;
  op(out.data(), Index(out.size()));
  return {in, out};
}

// |a - b| <= 8 ulp of b, or below the smallest normal (where float/double results are subnormal).
template <class T>
void expect_close(T actual, long double exact, T input, const char* what) {
  const T expected = T(exact);
  if (std::isinf(expected)) {
    EXPECT_EQ(actual, expected) << what << "(" << input << ")";
    return;
  }
  const T tol = 8 * std::numeric_limits<T>::epsilon() * std::abs(expected) + std::numeric_limits<T>::min();
  EXPECT_NEAR(actual, expected, tol) << what << "(" << input << ")";
}

TYPED_TEST(ActivationTest, ReluMatchesFormula) {
  using T = TypeParam;
  const auto [in, x] = run_on_sweep<T>(senet::relu_inplace<T>);
  for (std::size_t i = 0; i < x.size(); ++i) {
    EXPECT_EQ(x[i], std::max(in[i], T(0))) << "relu(" << in[i] << ")";
    EXPECT_FALSE(std::signbit(x[i]) && x[i] != 0) << "relu(" << in[i] << ")";
  }
}

TYPED_TEST(ActivationTest, SigmoidMatchesFormula) {
  using T = TypeParam;
  const auto [in, x] = run_on_sweep<T>(senet::sigmoid_inplace<T>);
  for (std::size_t i = 0; i < x.size(); ++i) {
    ASSERT_FALSE(std::isnan(x[i])) << "sigmoid(" << in[i] << ")";
    EXPECT_GE(x[i], T(0)) << "sigmoid(" << in[i] << ")";
    EXPECT_LE(x[i], T(1)) << "sigmoid(" << in[i] << ")";
    const long double exact = 1.0L / (1.0L + std::exp(-static_cast<long double>(in[i])));
    expect_close(x[i], exact, in[i], "sigmoid");
  }
}

TYPED_TEST(ActivationTest, SigmoidSaturatesWithoutNaN) {
  using T = TypeParam;
  T v[] = {T(100), T(-100), T(1000), T(-1000), std::numeric_limits<T>::infinity(), -std::numeric_limits<T>::infinity(),
           T(0)};
  senet::sigmoid_inplace(v, 7);
  for (T s : v) EXPECT_TRUE(std::isfinite(s)) << s;
  EXPECT_EQ(v[0], T(1));
  EXPECT_LT(v[1], T(1e-40));  // exact value 3.7e-44
  EXPECT_GE(v[1], T(0));
  EXPECT_EQ(v[2], T(1));
  EXPECT_EQ(v[3], T(0));
  EXPECT_EQ(v[4], T(1));
  EXPECT_EQ(v[5], T(0));
  EXPECT_EQ(v[6], T(0.5));
}

TYPED_TEST(ActivationTest, TanhMatchesFormula) {
  using T = TypeParam;
  const auto [in, x] = run_on_sweep<T>(senet::tanh_inplace<T>);
  for (std::size_t i = 0; i < x.size(); ++i) {
    ASSERT_FALSE(std::isnan(x[i])) << "tanh(" << in[i] << ")";
    expect_close(x[i], std::tanh(static_cast<long double>(in[i])), in[i], "tanh");
  }
  T big[] = {T(1000), T(-1000)};
  senet::tanh_inplace(big, 2);
  EXPECT_EQ(big[0], T(1));
  EXPECT_EQ(big[1], T(-1));
}

// torch.relu(NaN) is NaN (clamp_min propagates NaN): a NaN produced upstream must stay visible.
TYPED_TEST(ActivationTest, ActivationsPropagateNaNLikePyTorch) {
  using T = TypeParam;
  const T nan = std::numeric_limits<T>::quiet_NaN();
  T s = nan, t = nan, r = nan;
  senet::sigmoid_inplace(&s, 1);
  senet::tanh_inplace(&t, 1);
  EXPECT_TRUE(std::isnan(s));
  EXPECT_TRUE(std::isnan(t));
  senet::relu_inplace(&r, 1);
  EXPECT_TRUE(std::isnan(r)) << "relu(NaN) = " << r;
}

// PyTorch's silu, x / (1 + exp(-x)): -0 far below zero (exp overflows), NaN at -inf and NaN.
TYPED_TEST(ActivationTest, SiluMatchesFormula) {
  using T = TypeParam;
  const auto [in, x] = run_on_sweep<T>(senet::silu_inplace<T>);
  for (std::size_t i = 0; i < x.size(); ++i) {
    const T same = senet::activate(in[i], senet::Activation::silu);
    EXPECT_TRUE(same == x[i] || (std::isnan(same) && std::isnan(x[i]))) << "activate(" << in[i] << ", silu)";
    if (in[i] == -std::numeric_limits<T>::infinity()) {
      EXPECT_TRUE(std::isnan(x[i])) << "silu(-inf) = " << x[i] << " (PyTorch: -inf / inf = NaN)";
      continue;
    }
    ASSERT_FALSE(std::isnan(x[i])) << "silu(" << in[i] << ")";
    const long double v = in[i], exact = v / (1.0L + std::exp(-v));
    if (std::isinf(std::exp(-in[i]))) {  // exp(-x) overflows in T: x / inf = -0, as in PyTorch
      EXPECT_LE(std::abs(x[i]), std::abs(exact)) << "silu(" << in[i] << ")";
      continue;
    }
    expect_close(x[i], exact, in[i], "silu");
  }
  T n = std::numeric_limits<T>::quiet_NaN();
  senet::silu_inplace(&n, 1);
  EXPECT_TRUE(std::isnan(n));
  T layer_input = T(2);
  senet::activate_inplace(&layer_input, 1, senet::Activation::silu);
  EXPECT_NEAR(layer_input, T(2) / (T(1) + std::exp(T(-2))), 1e-6);
}

TYPED_TEST(ActivationTest, EmptyRangeIsANoOp) {
  using T = TypeParam;
  T v = T(-3);
  senet::relu_inplace(&v, 0);
  senet::sigmoid_inplace(&v, 0);
  senet::tanh_inplace(&v, 0);
  EXPECT_EQ(v, T(-3));
}

// softmax([0, ln 3]) = [1, 3] / 4.
TYPED_TEST(ActivationTest, SoftmaxHandChecked) {
  using T = TypeParam;
  Tensor<T> x({1, 2});
  x[0] = T(0);
  x[1] = std::log(T(3));
  senet::softmax_rows_inplace(x);
  const T tol = 4 * std::numeric_limits<T>::epsilon();
  EXPECT_NEAR(x[0], T(0.25), tol);
  EXPECT_NEAR(x[1], T(0.75), tol);
}

TYPED_TEST(ActivationTest, SoftmaxMatchesNaiveAndRowsSumToOne) {
  using T = TypeParam;
  std::mt19937 rng(11);
  const T tol = 16 * std::numeric_limits<T>::epsilon();
  for (const auto& rc : {std::pair<Index, Index>{1, 1}, {3, 1}, {1, 7}, {4, 10}, {2, 1000}}) {
    Tensor<T> x({rc.first, rc.second});
    senet::test::fill_uniform(x, rng, T(-10), T(10));
    const Tensor<T> in = x;
    senet::softmax_rows_inplace(x);
    for (Index r = 0; r < rc.first; ++r) {
      long double denom = 0, sum = 0;
      for (Index c = 0; c < rc.second; ++c) denom += std::exp(static_cast<long double>(in.at({r, c})));
      for (Index c = 0; c < rc.second; ++c) {
        const T p = x.at({r, c});
        EXPECT_GT(p, T(0));
        EXPECT_LE(p, T(1));
        EXPECT_NEAR(p, T(std::exp(static_cast<long double>(in.at({r, c}))) / denom), tol) << r << "," << c;
        sum += p;
      }
      EXPECT_NEAR(static_cast<T>(sum), T(1), tol * T(rc.second > 10 ? 10 : 1)) << "row " << r;
    }
  }
}

// Adding a constant to a row changes nothing. Logits are multiples of 1/64 in [-8, 8] and the
// constant is 37, so x + 37 is exact in float and every x - max(x) is bit-identical.
TYPED_TEST(ActivationTest, SoftmaxInvariantToAddingAConstant) {
  using T = TypeParam;
  std::mt19937 rng(12);
  std::uniform_int_distribution<int> dist(-512, 512);
  Tensor<T> x({3, 9});
  for (T& v : x) v = T(dist(rng)) / T(64);
  Tensor<T> shifted = x;
  for (T& v : shifted) v += T(37);
  senet::softmax_rows_inplace(x);
  senet::softmax_rows_inplace(shifted);
  for (Index i = 0; i < x.size(); ++i) EXPECT_EQ(x[i], shifted[i]) << i;
}

TYPED_TEST(ActivationTest, SoftmaxHandlesHugeLogits) {
  using T = TypeParam;
  Tensor<T> x({3, 3});
  const T rows[3][3] = {{1000, 999, 998}, {-1000, 0, 1000}, {1000, 1000, 1000}};
  for (Index r = 0; r < 3; ++r)
    for (Index c = 0; c < 3; ++c) x.at({r, c}) = rows[r][c];
  senet::softmax_rows_inplace(x);
  for (T v : x) EXPECT_TRUE(std::isfinite(v)) << v;
  // [1, e^-1, e^-2] / (1 + e^-1 + e^-2).
  const long double d = 1.0L + std::exp(-1.0L) + std::exp(-2.0L);
  const T tol = 8 * std::numeric_limits<T>::epsilon();
  EXPECT_NEAR(x.at({0, 0}), T(1.0L / d), tol);
  EXPECT_NEAR(x.at({0, 1}), T(std::exp(-1.0L) / d), tol);
  EXPECT_NEAR(x.at({0, 2}), T(std::exp(-2.0L) / d), tol);
  EXPECT_EQ(x.at({1, 0}), T(0));
  EXPECT_EQ(x.at({1, 1}), T(0));  // e^-1000 underflows even in double
  EXPECT_EQ(x.at({1, 2}), T(1));
  for (Index c = 0; c < 3; ++c) EXPECT_NEAR(x.at({2, c}), T(1) / T(3), tol);
}

TYPED_TEST(ActivationTest, SoftmaxRejectsNonMatrix) {
  using T = TypeParam;
  Tensor<T> x({2, 3, 1}), v({6});
  EXPECT_THROW(senet::softmax_rows_inplace(x), senet::Error);
  EXPECT_THROW(senet::softmax_rows_inplace(v), senet::Error);
}

#if SENET_X86_SIMD
SENET_TARGET_AVX512 void exp_16(const float* x, float* y) {
  _mm512_storeu_ps(y, senet::detail::exp_avx512(_mm512_loadu_ps(x)));
}
SENET_TARGET_AVX512 void silu_16(const float* x, float* y) {
  _mm512_storeu_ps(y, senet::detail::activate_avx512(_mm512_loadu_ps(x), senet::Activation::silu));
}
SENET_TARGET_AVX2 void exp_16_avx2(const float* x, float* y) {
  _mm256_storeu_ps(y, senet::detail::exp_avx2(_mm256_loadu_ps(x)));
  _mm256_storeu_ps(y + 8, senet::detail::exp_avx2(_mm256_loadu_ps(x + 8)));
}
SENET_TARGET_AVX2 void silu_16_avx2(const float* x, float* y) {  // through the AVX2 epilogue
  __m256 acc[1][2] = {{_mm256_loadu_ps(x), _mm256_loadu_ps(x + 8)}};
  const float zero[16] = {};
  senet::detail::tile_store_avx2<1>(acc, zero, nullptr, nullptr, senet::Activation::silu, y);
}

// -110 .. 95 in steps of ~1e-3 (float exp over- and underflows inside), then the specials, padded
// to 16 lanes.
std::vector<float> exp_inputs() {
  std::vector<float> v;
  for (double x = -110; x <= 95; x += 0.00097) v.push_back(float(x));
  const float inf = std::numeric_limits<float>::infinity();
  for (float x : {0.0f, -0.0f, 1e-30f, -1e-30f, 88.72f, 88.73f, 89.0f, -87.33f, -103.9f, -104.0f, -104.5f, 200.0f,
                  -200.0f, std::numeric_limits<float>::max(), -std::numeric_limits<float>::max(), inf, -inf,
                  std::numeric_limits<float>::quiet_NaN()})
    v.push_back(x);
  while (v.size() % 16) v.push_back(0.5f);
  return v;
}

// |got - exact| in units of the float spacing at `exact` (subnormals: of the smallest subnormal).
double ulps(float got, double exact) {
  const double spacing = std::abs(exact) < double(std::numeric_limits<float>::min())
                             ? double(std::numeric_limits<float>::denorm_min())
                             : std::ldexp(1.0, std::ilogb(exact) - 23);
  return std::abs(double(got) - exact) / spacing;
}

// exp within 2 ulp of the exact value (the polynomial is good to ~1.2), +inf past 88.72, 0 and
// subnormals below -87.3 as IEEE rounding gives them, NaN kept; silu within 4 ulp of
// x / (1 + exp(-x)) in double, except below -88.72 where PyTorch's float formula gives -0 (and
// the exact value is below 3e-37 in magnitude), NaN at -inf and NaN as PyTorch has it.
void check_vector_exp(void (*exp_fn)(const float*, float*), void (*silu_fn)(const float*, float*), const char* what) {
  const std::vector<float> x = exp_inputs();
  std::vector<float> e(x.size()), s(x.size());
  for (std::size_t i = 0; i < x.size(); i += 16) {
    exp_fn(&x[i], &e[i]);
    silu_fn(&x[i], &s[i]);
  }
  double worst_exp = 0, worst_silu = 0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    const double xe = std::exp(double(x[i]));
    if (std::isnan(x[i])) {
      EXPECT_TRUE(std::isnan(e[i]) && std::isnan(s[i])) << what;
      continue;
    }
    if (std::isinf(float(xe))) {  // overflows in float
      EXPECT_EQ(e[i], std::numeric_limits<float>::infinity()) << what << " exp(" << x[i] << ")";
    } else {
      worst_exp = std::max(worst_exp, ulps(e[i], xe));
      EXPECT_LE(ulps(e[i], xe), 2.0) << what << " exp(" << x[i] << ") = " << e[i] << ", exact " << xe;
    }
    if (x[i] == -std::numeric_limits<float>::infinity()) {
      EXPECT_TRUE(std::isnan(s[i])) << what << " silu(-inf) = " << s[i];
      continue;
    }
    if (std::isinf(x[i])) {
      EXPECT_EQ(s[i], x[i]) << what;
      continue;
    }
    const double exact = double(x[i]) / (1.0 + std::exp(-double(x[i])));
    // Where exp(-x) overflows in float (x < -88.72), x / inf = -0, as in PyTorch: |silu| <= |exact|.
    if (std::isinf(std::exp(-x[i])) || std::abs(exact) < double(std::numeric_limits<float>::min())) {
      EXPECT_LE(std::abs(s[i]), std::max(std::abs(exact), double(std::numeric_limits<float>::min())))
          << what << " silu(" << x[i] << ")";
    } else {
      worst_silu = std::max(worst_silu, ulps(s[i], exact));
      EXPECT_LE(ulps(s[i], exact), 4.0) << what << " silu(" << x[i] << ") = " << s[i] << ", exact " << exact;
    }
  }
  std::printf("[ exp      ] %s: %zu inputs, exp within %.2f ulp, silu within %.2f ulp\n", what, x.size(), worst_exp,
              worst_silu);
}

TEST(VectorExp, Avx512WithinTwoUlp) {
  if (!senet::conv2d_path_supported(senet::Conv2dPath::avx512)) GTEST_SKIP() << "no AVX-512";
  check_vector_exp(exp_16, silu_16, "avx512");
}

TEST(VectorExp, Avx2WithinTwoUlp) {
  if (!senet::conv2d_path_supported(senet::Conv2dPath::avx2)) GTEST_SKIP() << "no AVX2";
  check_vector_exp(exp_16_avx2, silu_16_avx2, "avx2");
}
#endif  // SENET_X86_SIMD

}  // namespace test_activation
