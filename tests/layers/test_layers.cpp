// Layer-level tests: Tensor basics; Conv2d, Linear, BatchNorm2d and SEBlock parameter names,
// shapes and kinds as PyTorch's state_dict has them; forward passes against formulas written
// out here; the README's SEBlock example; the SE hidden-width rules.

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "senet/core/tensor.hpp"
#include "senet/layers/batch_norm2d.hpp"
#include "senet/layers/conv2d.hpp"
#include "senet/layers/linear.hpp"
#include "senet/layers/se_block.hpp"
#include "test_util.hpp"

namespace {

using senet::Index;
using senet::ParameterKind;
using senet::Shape;
using senet::Tensor;
using namespace senet::test;

// Every parameter and buffer of `m` as (name, shape, kind), in visit order.
template <class T>
std::vector<std::tuple<std::string, Shape, ParameterKind>> visit_all(senet::Module<T>& m,
                                                                     const std::string& prefix = "") {
  std::vector<std::tuple<std::string, Shape, ParameterKind>> out;
  m.visit_parameters(
      [&](const std::string& name, Tensor<T>& t, ParameterKind kind) { out.emplace_back(name, t.shape(), kind); },
      prefix);
  return out;
}

// Fills every learnable parameter of `m` with uniform values in [lo, hi].
template <class T>
void randomize(senet::Module<T>& m, std::mt19937& rng, T lo = T(-1), T hi = T(1)) {
  m.visit_parameters([&](const std::string&, Tensor<T>& t, ParameterKind kind) {
    if (kind == ParameterKind::learnable) fill_uniform(t, rng, lo, hi);
  });
}

template <class T>
Tensor<T>& find_parameter(senet::Module<T>& m, const std::string& name) {
  Tensor<T>* found = nullptr;
  m.visit_parameters([&](const std::string& n, Tensor<T>& t, ParameterKind) {
    if (n == name) found = &t;
  });
  if (!found) throw std::runtime_error("no parameter " + name);
  return *found;
}

template <class T>
class LayerTest : public ::testing::Test {};
TYPED_TEST_SUITE(LayerTest, Scalars);

// ---------------------------------------------------------------------------------------------
// Tensor

TYPED_TEST(LayerTest, TensorIsZeroFilledAndAligned) {
  using T = TypeParam;
  for (const Shape& shape : {Shape{1}, Shape{3}, Shape{17}, Shape{2, 64, 5, 7}, Shape{1000}, Shape{3, 1, 1, 1}}) {
    Tensor<T> t(shape);
    EXPECT_EQ(t.shape(), shape);
    EXPECT_EQ(t.size(), senet::shape_numel(shape));
    EXPECT_EQ(t.bytes(), static_cast<std::size_t>(t.size()) * sizeof(T));
    EXPECT_EQ(reinterpret_cast<std::uintptr_t>(t.data()) % 64, 0u) << senet::to_string(shape);
    for (T v : t) EXPECT_EQ(v, T(0));
  }
  Tensor<T> empty_shape({0, 3});
  EXPECT_TRUE(empty_shape.empty());
  EXPECT_EQ(empty_shape.size(), 0);
  Tensor<T> def;
  EXPECT_TRUE(def.empty());
  EXPECT_EQ(def.shape(), (Shape{0}));  // empty, unlike a 0-d tensor (shape {}, one element)
}

TYPED_TEST(LayerTest, TensorCopyIsDeep) {
  using T = TypeParam;
  Tensor<T> a({2, 3});
  for (Index i = 0; i < 6; ++i) a[i] = T(i);
  Tensor<T> b(a);
  EXPECT_NE(b.data(), a.data());
  EXPECT_EQ(b.shape(), a.shape());
  b[0] = T(42);
  EXPECT_EQ(a[0], T(0));
  for (Index i = 1; i < 6; ++i) EXPECT_EQ(b[i], T(i));
  Tensor<T> c({7});
  c = a;
  EXPECT_EQ(c.shape(), (Shape{2, 3}));
  EXPECT_NE(c.data(), a.data());
  c[5] = T(-1);
  EXPECT_EQ(a[5], T(5));
  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(c.data()) % 64, 0u);
  const Tensor<T>& alias = c;
  c = alias;  // self-assignment keeps the contents
  EXPECT_EQ(c[4], T(4));
}

TYPED_TEST(LayerTest, TensorMoveLeavesSourceEmpty) {
  using T = TypeParam;
  Tensor<T> a({4, 5});
  a[7] = T(3);
  const T* p = a.data();
  Tensor<T> b(std::move(a));
  EXPECT_EQ(b.data(), p);
  EXPECT_EQ(b[7], T(3));
  EXPECT_EQ(b.shape(), (Shape{4, 5}));
  EXPECT_TRUE(a.empty());  // NOLINT(bugprone-use-after-move): the moved-from state is specified
  EXPECT_EQ(a.size(), 0);
  EXPECT_EQ(a.shape(), (Shape{0}));
  EXPECT_EQ(a.data(), nullptr);
  Tensor<T> c({2});
  c = std::move(b);
  EXPECT_EQ(c.data(), p);
  EXPECT_EQ(c.shape(), (Shape{4, 5}));
  EXPECT_TRUE(b.empty());  // NOLINT(bugprone-use-after-move)
  EXPECT_EQ(b.shape(), (Shape{0}));
  EXPECT_EQ(b.data(), nullptr);
}

TYPED_TEST(LayerTest, TensorReshape) {
  using T = TypeParam;
  Tensor<T> t({2, 3, 4});
  t[23] = T(1);
  t.reshape({6, 4});
  EXPECT_EQ(t.shape(), (Shape{6, 4}));
  EXPECT_EQ(t.at({5, 3}), T(1));
  EXPECT_THROW(t.reshape({5, 5}), senet::Error);
  EXPECT_THROW(t.reshape({-2, -12}), senet::Error);  // product matches, extents negative
  EXPECT_THROW(t.reshape({25}), senet::Error);
  EXPECT_EQ(t.shape(), (Shape{6, 4}));  // a failed reshape leaves the shape alone
  const Tensor<T> r = t.reshaped({24});
  EXPECT_EQ(r.shape(), (Shape{24}));
  EXPECT_EQ(t.shape(), (Shape{6, 4}));  // the lvalue overload copies
  EXPECT_THROW(t.reshaped({23}), senet::Error);
  const T* p = t.data();
  Tensor<T> moved = std::move(t).reshaped({2, 12});
  EXPECT_EQ(moved.data(), p);  // the rvalue overload reuses the buffer
  EXPECT_EQ(moved.at({1, 11}), T(1));
}

TEST(Tensor, ShapeNumelChecksOverflowAndSign) {
  EXPECT_EQ(senet::shape_numel({}), 1);
  EXPECT_EQ(senet::shape_numel({2, 64, 5, 7}), 4480);
  EXPECT_EQ(senet::shape_numel({0, Index(1) << 62, Index(1) << 62}), 0);
  EXPECT_THROW(senet::shape_numel({Index(1) << 32, Index(1) << 32}), senet::Error);
  EXPECT_THROW(senet::shape_numel({std::numeric_limits<Index>::max(), 2}), senet::Error);
  EXPECT_THROW(senet::shape_numel({3, -1}), senet::Error);
  // A tensor of an overflowing shape throws before allocating anything.
  EXPECT_THROW(Tensor<float>({Index(1) << 40, Index(1) << 40}), senet::Error);
  EXPECT_THROW(Tensor<float>({-1}), senet::Error);
}

TYPED_TEST(LayerTest, TensorAtIsBoundsChecked) {
  using T = TypeParam;
  Tensor<T> x({2, 64, 5, 7});
  x.at({0, 1, 2, 3}) = T(1);
  EXPECT_EQ(x[((0 * 64 + 1) * 5 + 2) * 7 + 3], T(1));
  x.at({1, 63, 4, 6}) = T(2);
  EXPECT_EQ(x[x.size() - 1], T(2));
  EXPECT_THROW(x.at({2, 0, 0, 0}), senet::Error);
  EXPECT_THROW(x.at({0, 64, 0, 0}), senet::Error);
  EXPECT_THROW(x.at({0, 0, 0, 7}), senet::Error);
  EXPECT_THROW(x.at({0, 0, -1, 0}), senet::Error);
  EXPECT_THROW(x.at({0, 0, 0}), senet::Error);        // rank 3 index
  EXPECT_THROW(x.at({0, 0, 0, 0, 0}), senet::Error);  // rank 5 index
  EXPECT_EQ(x.dim(-1), 7);
  EXPECT_EQ(x.dim(1), 64);
  EXPECT_THROW(x.dim(4), senet::Error);
  EXPECT_THROW(x.dim(-5), senet::Error);
}

// ---------------------------------------------------------------------------------------------
// Parameter names, shapes and kinds

using Entry = std::tuple<std::string, Shape, ParameterKind>;
constexpr ParameterKind kLearnable = ParameterKind::learnable;
constexpr ParameterKind kBuffer = ParameterKind::buffer;

TEST(Conv2dLayer, ParametersLikePyTorch) {
  senet::Conv2d<float> conv(16, 32, senet::conv_params(3, 2, 1));
  EXPECT_EQ(visit_all(conv), (std::vector<Entry>{{"weight", {32, 16, 3, 3}, kLearnable}}));
  EXPECT_EQ(senet::count_parameters(conv), 32 * 16 * 9);
  EXPECT_EQ(conv.bias(), nullptr);

  senet::Conv2d<float> biased(16, 32, senet::conv_params(1), true);
  EXPECT_EQ(visit_all(biased, "layer1.0.downsample.0"),
            (std::vector<Entry>{{"layer1.0.downsample.0.weight", {32, 16, 1, 1}, kLearnable},
                                {"layer1.0.downsample.0.bias", {32}, kLearnable}}));
  EXPECT_EQ(senet::count_parameters(biased), 32 * 16 + 32);

  // ResNeXt-style grouped 3x3: weight [out, in / groups, 3, 3].
  senet::Conv2d<float> grouped(128, 128, senet::conv_params(3, 1, 1, 1, 32));
  EXPECT_EQ(senet::parameter_shapes(grouped), (std::vector<std::pair<std::string, Shape>>{{"weight", {128, 4, 3, 3}}}));
  EXPECT_EQ(grouped.in_channels(), 128);
  EXPECT_EQ(grouped.out_channels(), 128);
  EXPECT_EQ(grouped.output_shape({2, 128, 7, 9}), (Shape{2, 128, 7, 9}));
  // MACs: output elements x (in / groups) x kh x kw.
  EXPECT_EQ(conv.macs({1, 16, 8, 8}), 32 * 4 * 4 * 16 * 9);

  EXPECT_THROW(senet::Conv2d<float>(16, 30, senet::conv_params(3, 1, 1, 1, 4)), senet::Error);
  EXPECT_THROW(senet::Conv2d<float>(18, 32, senet::conv_params(3, 1, 1, 1, 4)), senet::Error);
  EXPECT_THROW(senet::Conv2d<float>(0, 32, senet::conv_params(3)), senet::Error);
  EXPECT_THROW(conv.output_shape({1, 15, 8, 8}), senet::Error);
}

TEST(LinearLayer, ParametersLikePyTorch) {
  senet::Linear<float> fc(2048, 1000);
  EXPECT_EQ(visit_all(fc, "fc"),
            (std::vector<Entry>{{"fc.weight", {1000, 2048}, kLearnable}, {"fc.bias", {1000}, kLearnable}}));
  EXPECT_EQ(senet::count_parameters(fc), 2048 * 1000 + 1000);
  senet::Linear<float> no_bias(10, 5, false);
  EXPECT_EQ(visit_all(no_bias), (std::vector<Entry>{{"weight", {5, 10}, kLearnable}}));
  EXPECT_EQ(senet::count_parameters(no_bias), 50);
  EXPECT_EQ(fc.output_shape({3, 2048, 1, 1}), (Shape{3, 1000}));
  EXPECT_THROW(fc.output_shape({3, 2047}), senet::Error);
  EXPECT_THROW(senet::Linear<float>(0, 5), senet::Error);
}

TEST(BatchNorm2dLayer, ParametersAndBuffersLikePyTorch) {
  senet::BatchNorm2d<float> bn(64);
  EXPECT_EQ(visit_all(bn, "bn1"), (std::vector<Entry>{{"bn1.weight", {64}, kLearnable},
                                                      {"bn1.bias", {64}, kLearnable},
                                                      {"bn1.running_mean", {64}, kBuffer},
                                                      {"bn1.running_var", {64}, kBuffer}}));
  // Running statistics are buffers, not parameters.
  EXPECT_EQ(senet::count_parameters(bn), 2 * 64);
  EXPECT_EQ(bn.eps(), 1e-5);
  // PyTorch's initial values: weight 1, bias 0, mean 0, var 1.
  for (const auto& [name, value] : std::vector<std::pair<std::string, float>>{
           {"weight", 1.f}, {"bias", 0.f}, {"running_mean", 0.f}, {"running_var", 1.f}})
    for (float v : find_parameter<float>(bn, name)) EXPECT_EQ(v, value) << name;
}

TEST(SEBlockLayer, ParametersLikePyTorch) {
  senet::SEBlock<float> se(64, 16);
  EXPECT_EQ(visit_all(se), (std::vector<Entry>{{"fc1.weight", {4, 64, 1, 1}, kLearnable},
                                               {"fc1.bias", {4}, kLearnable},
                                               {"fc2.weight", {64, 4, 1, 1}, kLearnable},
                                               {"fc2.bias", {64}, kLearnable}}));
  EXPECT_EQ(senet::count_parameters(se), 4 * 64 + 4 + 64 * 4 + 64);
  EXPECT_EQ(se.channels(), 64);
  EXPECT_EQ(se.hidden_channels(), 4);
  EXPECT_EQ(visit_all(se, "layer1.0.se").front(), (Entry{"layer1.0.se.fc1.weight", {4, 64, 1, 1}, kLearnable}));
  // N x (C x C/r + C/r x C) MACs.
  EXPECT_EQ(se.macs({2, 64, 5, 7}), 2 * 2 * 64 * 4);

  senet::SEBlock<float> timm_se(64, senet::SEOptions{16, senet::SERounding::divisible8});
  EXPECT_EQ(senet::parameter_shapes(timm_se)[0], (std::pair<std::string, Shape>{"fc1.weight", {8, 64, 1, 1}}));
  EXPECT_EQ(senet::count_parameters(timm_se), 8 * 64 + 8 + 64 * 8 + 64);

  auto explicit_hidden = senet::SEBlock<float>::with_hidden(256, 10);
  EXPECT_EQ(senet::parameter_shapes(explicit_hidden)[2],
            (std::pair<std::string, Shape>{"fc2.weight", {256, 10, 1, 1}}));

  EXPECT_THROW(se.output_shape({2, 63, 5, 7}), senet::Error);
  EXPECT_THROW(se.output_shape({2, 64, 5}), senet::Error);
}

TEST(SEBlockLayer, HiddenChannelRules) {
  using senet::se_hidden_channels;
  using senet::SEOptions;
  using senet::SERounding;
  // Paper / Caffe / Cadene: floor(C / r), at least 1.
  EXPECT_EQ(se_hidden_channels(64, SEOptions{16, SERounding::floor}), 4);
  EXPECT_EQ(se_hidden_channels(256, SEOptions{16, SERounding::floor}), 16);
  EXPECT_EQ(se_hidden_channels(2048, SEOptions{16, SERounding::floor}), 128);
  EXPECT_EQ(se_hidden_channels(16, SEOptions{16, SERounding::floor}), 1);
  EXPECT_EQ(se_hidden_channels(8, SEOptions{16, SERounding::floor}), 1);  // 8 / 16 = 0 -> 1
  EXPECT_EQ(se_hidden_channels(100, SEOptions{16, SERounding::floor}), 6);
  // timm's SEModule: make_divisible(C / r, 8, round_limit=0) = max(8, int(C/r + 4) // 8 * 8).
  EXPECT_EQ(se_hidden_channels(64, SEOptions{16, SERounding::divisible8}), 8);     // 4 -> 8 (minimum)
  EXPECT_EQ(se_hidden_channels(256, SEOptions{16, SERounding::divisible8}), 16);   // 16
  EXPECT_EQ(se_hidden_channels(1024, SEOptions{16, SERounding::divisible8}), 64);  // 64
  EXPECT_EQ(se_hidden_channels(16, SEOptions{16, SERounding::divisible8}), 8);     // 1 -> 8
  EXPECT_EQ(se_hidden_channels(192, SEOptions{16, SERounding::divisible8}), 16);   // 12 + 4 = 16 -> 16
  EXPECT_EQ(se_hidden_channels(304, SEOptions{16, SERounding::divisible8}), 16);   // 19 + 4 = 23 -> 16
  EXPECT_EQ(se_hidden_channels(64, SEOptions{4, SERounding::divisible8}), 16);     // 16
  // Reduction 0 is an error, for the rule and for the block.
  EXPECT_THROW(se_hidden_channels(64, SEOptions{0, SERounding::floor}), senet::Error);
  EXPECT_THROW(se_hidden_channels(64, SEOptions{0, SERounding::divisible8}), senet::Error);
  EXPECT_THROW(senet::SEBlock<float>(64, 0), senet::Error);
  EXPECT_THROW(senet::SEBlock<float>(0, 16), senet::Error);
}

// The README example, exactly. With zero weights every gate is sigmoid(0) = 0.5.
TEST(SEBlockLayer, ReadmeExample) {
  senet::SEBlock<float> se(64, 16);
  senet::Tensor<float> x({2, 64, 5, 7});
  x.data()[0] = 1.0f;
  senet::Tensor<float> y = se.forward(x);
  EXPECT_EQ(y.shape()[1], 64);
  EXPECT_EQ(x.size(), 4480);
  EXPECT_EQ(y.shape(), (Shape{2, 64, 5, 7}));
  EXPECT_EQ(y.data()[0], 0.5f);
  EXPECT_EQ(x.data()[0], 1.0f);  // forward does not touch its input
  for (Index i = 1; i < y.size(); ++i) ASSERT_EQ(y[i], 0.0f) << i;
}

// ---------------------------------------------------------------------------------------------
// Forward passes

// y = (x - mean) / sqrt(var + eps) * weight + bias per channel, computed here in long double.
template <class T>
void check_batch_norm(const Shape& shape, double eps, std::mt19937& rng) {
  const Index C = shape[1];
  senet::BatchNorm2d<T> bn = eps > 0 ? senet::BatchNorm2d<T>(C, eps) : senet::BatchNorm2d<T>(C);
  const long double e = eps > 0 ? eps : 1e-5L;
  Tensor<T>& weight = find_parameter<T>(bn, "weight");
  Tensor<T>& bias = find_parameter<T>(bn, "bias");
  Tensor<T>& mean = find_parameter<T>(bn, "running_mean");
  Tensor<T>& var = find_parameter<T>(bn, "running_var");
  fill_uniform(weight, rng, T(-2), T(2));
  fill_uniform(bias, rng);
  fill_uniform(mean, rng);
  fill_uniform(var, rng, T(0.05), T(3));
  var[0] = T(0);  // eps alone keeps the division finite: scale 1 / sqrt(eps)
  Tensor<T> x(shape);
  fill_uniform(x, rng, T(-3), T(3));
  const Tensor<T> y = bn.forward(x);
  ASSERT_EQ(y.shape(), shape);
  // Tolerance relative to each channel's output scale: the folded form x * scale + shift
  // cancels when x is near the mean, so single elements can lose relative accuracy.
  const Index N = shape[0], plane = x.size() / (N * C);
  for (Index c = 0; c < C; ++c) {
    const long double inv = 1.0L / std::sqrt(static_cast<long double>(var[c]) + e);
    std::vector<long double> ref;
    long double channel_scale = 1;
    for (Index n = 0; n < N; ++n)
      for (Index i = 0; i < plane; ++i) {
        const Index k = (n * C + c) * plane + i;
        ref.push_back((static_cast<long double>(x[k]) - mean[c]) * inv * weight[c] + bias[c]);
        channel_scale = std::max(channel_scale, std::abs(ref.back()));
      }
    std::size_t r = 0;
    for (Index n = 0; n < N; ++n)
      for (Index i = 0; i < plane; ++i) {
        const Index k = (n * C + c) * plane + i;
        EXPECT_NEAR(y[k], T(ref[r++]), T(channel_scale) * reference_tolerance<T>())
            << senet::to_string(shape) << " n=" << n << " c=" << c << " i=" << i;
      }
  }
}

TYPED_TEST(LayerTest, BatchNorm2dForwardMatchesFormula) {
  std::mt19937 rng(31);
  check_batch_norm<TypeParam>({2, 8, 5, 7}, 0, rng);  // default eps 1e-5
  check_batch_norm<TypeParam>({1, 3, 1, 1}, 0, rng);
  check_batch_norm<TypeParam>({3, 16, 4, 2}, 1e-3, rng);  // a custom eps is honoured
  check_batch_norm<TypeParam>({4, 6}, 0, rng);            // [N, C] input
}

TYPED_TEST(LayerTest, BatchNorm2dRejectsWrongChannels) {
  using T = TypeParam;
  senet::BatchNorm2d<T> bn(8);
  Tensor<T> x({2, 7, 3, 3});
  EXPECT_THROW(bn.forward(x), senet::Error);
  EXPECT_THROW(bn.output_shape({2, 7, 3, 3}), senet::Error);
}

// Naive SE: z = mean_hw(x); h = relu(W1 z + b1); s = sigmoid(W2 h + b2); y = x * s.
template <class T>
void check_se_block(Index N, Index C, Index reduction, Index H, Index W, std::mt19937& rng) {
  senet::SEBlock<T> se(C, reduction);
  randomize<T>(se, rng);
  const Index R = se.hidden_channels();
  const Tensor<T>& w1 = find_parameter<T>(se, "fc1.weight");
  const Tensor<T>& b1 = find_parameter<T>(se, "fc1.bias");
  const Tensor<T>& w2 = find_parameter<T>(se, "fc2.weight");
  const Tensor<T>& b2 = find_parameter<T>(se, "fc2.bias");
  Tensor<T> x({N, C, H, W});
  fill_uniform(x, rng, T(-2), T(2));
  const Tensor<T> x_before = x;
  const Tensor<T> y = se.forward(x);
  const Tensor<T> s_lib = se.excitation(x);
  ASSERT_EQ(y.shape(), x.shape());
  const Index plane = H * W;
  for (Index n = 0; n < N; ++n) {
    std::vector<long double> z(C), h(R), s(C);
    for (Index c = 0; c < C; ++c) {
      long double sum = 0;
      for (Index i = 0; i < plane; ++i) sum += x[(n * C + c) * plane + i];
      z[c] = sum / plane;
    }
    for (Index j = 0; j < R; ++j) {
      long double acc = b1[j];
      for (Index c = 0; c < C; ++c) acc += static_cast<long double>(w1[j * C + c]) * z[c];
      h[j] = acc > 0 ? acc : 0;
    }
    for (Index c = 0; c < C; ++c) {
      long double acc = b2[c];
      for (Index j = 0; j < R; ++j) acc += static_cast<long double>(w2[c * R + j]) * h[j];
      s[c] = 1.0L / (1.0L + std::exp(-acc));
      EXPECT_NEAR(s_lib.at({n, c}), T(s[c]), reference_tolerance<T>()) << "gate n=" << n << " c=" << c;
    }
    for (Index c = 0; c < C; ++c)
      for (Index i = 0; i < plane; ++i) {
        const Index k = (n * C + c) * plane + i;
        EXPECT_NEAR(y[k], T(x[k] * s[c]), 2 * reference_tolerance<T>())
            << "N=" << N << " C=" << C << " r=" << reduction << " n=" << n << " c=" << c << " i=" << i;
      }
  }
  for (Index i = 0; i < x.size(); ++i) ASSERT_EQ(x[i], x_before[i]) << "forward modified its input";
  // forward_inplace gives the same result as forward.
  Tensor<T> inplace = x;
  se.forward_inplace(inplace);
  for (Index i = 0; i < y.size(); ++i) ASSERT_EQ(inplace[i], y[i]) << i;
}

TYPED_TEST(LayerTest, SEBlockForwardMatchesNaive) {
  std::mt19937 rng(41);
  check_se_block<TypeParam>(2, 64, 16, 5, 7, rng);
  check_se_block<TypeParam>(1, 3, 16, 1, 1, rng);  // hidden width 1, 1x1 planes
  check_se_block<TypeParam>(3, 32, 4, 9, 2, rng);
  check_se_block<TypeParam>(1, 256, 16, 7, 7, rng);
  check_se_block<TypeParam>(4, 24, 8, 3, 13, rng);
}

TYPED_TEST(LayerTest, SEBlockRejectsWrongInput) {
  using T = TypeParam;
  senet::SEBlock<T> se(16, 4);
  Tensor<T> wrong_channels({1, 8, 3, 3}), rank2({1, 16});
  EXPECT_THROW(se.forward(wrong_channels), senet::Error);
  EXPECT_THROW(se.forward(rank2), senet::Error);
}

TYPED_TEST(LayerTest, Conv2dForwardMatchesReference) {
  using T = TypeParam;
  std::mt19937 rng(51);
  struct Case {
    Index in, out, H, W;
    senet::Conv2dParams p;
    bool bias;
  };
  const Case cases[] = {{3, 8, 13, 11, senet::conv_params(7, 2, 3), false},
                        {16, 32, 7, 7, senet::conv_params(3, 1, 1, 1, 4), true},
                        {8, 4, 5, 9, senet::conv_params(1), true},
                        {6, 6, 9, 9, senet::conv_params(3, 2, 1, 1, 6), false}};
  for (const Case& c : cases) {
    senet::Conv2d<T> conv(c.in, c.out, c.p, c.bias);
    randomize<T>(conv, rng);
    Tensor<T> x({2, c.in, c.H, c.W});
    fill_uniform(x, rng);
    const Tensor<T> y = conv.forward(x);
    Tensor<T> ref(conv.output_shape(x.shape()));
    senet::conv2d_reference(x, conv.weight(), conv.bias() ? conv.bias()->data() : nullptr, c.p, ref);
    ASSERT_EQ(y.shape(), ref.shape());
    T max_ref = 1;
    for (T v : ref) max_ref = std::max(max_ref, std::abs(v));
    for (Index i = 0; i < y.size(); ++i) ASSERT_NEAR(y[i], ref[i], reference_tolerance<T>() * max_ref) << i;
  }
}

TYPED_TEST(LayerTest, LinearForwardMatchesLoop) {
  using T = TypeParam;
  std::mt19937 rng(61);
  for (bool bias : {false, true}) {
    senet::Linear<T> fc(24, 10, bias);
    randomize<T>(fc, rng);
    const Tensor<T>& w = find_parameter<T>(fc, "weight");
    Tensor<T> x({3, 24, 1, 1});  // a pooled feature map is accepted as [N, in]
    fill_uniform(x, rng);
    const Tensor<T> y = fc.forward(x);
    ASSERT_EQ(y.shape(), (Shape{3, 10}));
    for (Index n = 0; n < 3; ++n)
      for (Index o = 0; o < 10; ++o) {
        long double acc = bias ? find_parameter<T>(fc, "bias")[o] : T(0);
        for (Index i = 0; i < 24; ++i) acc += static_cast<long double>(x[n * 24 + i]) * w[o * 24 + i];
        EXPECT_NEAR(y.at({n, o}), T(acc), 4 * reference_tolerance<T>()) << n << "," << o;
      }
  }
}

}  // namespace
