// The fast engine's blocked element-wise steps (senet/ops/elementwise_nchw16c.hpp) against plain
// NCHW arithmetic written here: concatenation into a channel range at every offset (aligned to 16
// or straddling blocks), the SE squeeze (mean, max, their average), y = act(x * scale + residual)
// in place and out of place, and ShuffleNet's channel shuffle, on bordered views.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "nchw16c_test_util.hpp"
#include "senet/ops/elementwise_nchw16c.hpp"
#include "test_util.hpp"

namespace test_elementwise_nchw16c {

using senet::Index;
using senet::Tensor;
using senet::test::Bordered;

Tensor<float> random_nchw(senet::Shape shape, std::mt19937& rng) {
  Tensor<float> t(std::move(shape));
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  for (Index i = 0; i < t.size(); ++i) t[i] = u(rng);
  return t;
}

// Branches of 5, 16, 3, 21 and 1 channels (offsets 0, 5, 21, 24, 45: inside a block, aligned,
// straddling), copied in channel order into one bordered output, equal the channel concatenation;
// the border and the padding lanes past channel 46 stay zero.
TEST(ElementwiseNchw16c, CopyChannelsConcatenatesAtAnyOffset) {
  std::mt19937 rng(3);
  const Index N = 2, H = 3, W = 5;
  const std::vector<Index> widths = {5, 16, 3, 21, 1};
  Index C = 0;
  for (Index w : widths) C += w;
  Bordered y(N, C, H, W, 1, std::numeric_limits<float>::quiet_NaN());
  senet::zero_border(y.view);
  std::vector<Tensor<float>> branches;
  Index offset = 0;
  for (Index w : widths) {
    branches.push_back(random_nchw({N, w, H, W}, rng));
    const Bordered x = Bordered::of(branches.back(), w % 2, 0.0f);
    senet::copy_channels_nchw16c(x.view, y.view, offset);
    offset += w;
  }
  const Tensor<float> got = senet::from_nchw16c(y.image(), C);
  Index c0 = 0;
  for (const auto& b : branches) {
    for (Index n = 0; n < N; ++n)
      for (Index c = 0; c < b.dim(1); ++c)
        for (Index i = 0; i < H * W; ++i)
          ASSERT_EQ(got[((n * C + c0 + c) * H * W) + i], b[(n * b.dim(1) + c) * H * W + i]) << "channel " << c0 + c;
    c0 += b.dim(1);
  }
  EXPECT_TRUE(y.border_is_zero());
  EXPECT_TRUE(y.padding_lanes_are_zero());
}

// The shuffle of ShuffleNet's widths (60 channels in 3 groups, and in 20: the official code's
// shuffle; 216 in 3; 6 in 2, inside one block) against torch.nn.ChannelShuffle's rule written
// here: output channel i * g + j is input channel j * (C / g) + i. Bordered views, the output's
// border and padding lanes left zero (the border by the caller's zero_border, untouched here).
TEST(ElementwiseNchw16c, ShuffleChannelsAsTorchChannelShuffle) {
  std::mt19937 rng(11);
  const Index N = 2, H = 3, W = 4;
  for (const auto& [C, g] : std::vector<std::pair<Index, Index>>{{60, 3}, {60, 20}, {216, 3}, {6, 2}}) {
    SCOPED_TRACE(std::to_string(C) + " channels, " + std::to_string(g) + " groups");
    const Tensor<float> x = random_nchw({N, C, H, W}, rng);
    const Bordered in = Bordered::of(x, 1, std::numeric_limits<float>::quiet_NaN());  // border never read
    Bordered y(N, C, H, W, 1, std::numeric_limits<float>::quiet_NaN());
    senet::zero_border(y.view);
    senet::shuffle_channels_nchw16c(in.view, g, y.view);
    const Tensor<float> got = senet::from_nchw16c(y.image(), C);
    const Index k = C / g;
    for (Index n = 0; n < N; ++n)
      for (Index i = 0; i < k; ++i)
        for (Index j = 0; j < g; ++j)
          for (Index p = 0; p < H * W; ++p)
            ASSERT_EQ(got[(n * C + i * g + j) * H * W + p], x[(n * C + j * k + i) * H * W + p]) << i << ", " << j;
    EXPECT_TRUE(y.border_is_zero());
    EXPECT_TRUE(y.padding_lanes_are_zero());
  }
  const Bordered x(1, 6, 2, 2, 0, 0.0f);
  Bordered y(1, 6, 2, 2, 0, 0.0f);
  EXPECT_THROW(senet::shuffle_channels_nchw16c(x.view, 4, y.view), senet::Error);  // 6 channels, 4 groups
  EXPECT_THROW(senet::shuffle_channels_nchw16c(x.view, 2, x.view), senet::Error);  // not in place
}

// The squeeze of every channel plane against the mean, max and 0.5 (mean + max) computed here.
TEST(ElementwiseNchw16c, SqueezeMatchesPlaneStatistics) {
  std::mt19937 rng(5);
  const Index N = 2, C = 35, H = 4, W = 7;
  const Tensor<float> x = random_nchw({N, C, H, W}, rng);
  const Bordered b = Bordered::of(x, 2, std::numeric_limits<float>::quiet_NaN());  // border never read
  for (auto mode : {senet::SESqueeze::avg, senet::SESqueeze::max, senet::SESqueeze::avgmax}) {
    std::vector<float> z(std::size_t(N * C));
    senet::squeeze_nchw16c(b.view, mode, z.data());
    for (Index nc = 0; nc < N * C; ++nc) {
      double sum = 0, top = -1e30;
      for (Index i = 0; i < H * W; ++i) {
        sum += x[nc * H * W + i];
        top = std::max(top, double(x[nc * H * W + i]));
      }
      const double mean = sum / double(H * W);
      const double want = mode == senet::SESqueeze::avg ? mean : mode == senet::SESqueeze::max ? top : 0.5 * (mean + top);
      EXPECT_NEAR(z[std::size_t(nc)], want, 1e-6) << "plane " << nc;
    }
  }
}

// y = act(x * s + r) out of place and in place (y = x), with and without each part, for each
// activation (none, ReLU, hard-swish, SiLU as PyTorch computes them), on each vector path this CPU has.
TEST(ElementwiseNchw16c, ScaleAddActMatchesArithmetic) {
  std::mt19937 rng(7);
  const Index N = 2, C = 20, H = 3, W = 4, Kp = 32;
  const Tensor<float> x = random_nchw({N, C, H, W}, rng), r = random_nchw({N, C, H, W}, rng);
  std::vector<float> s(std::size_t(N * Kp), 0.0f);
  for (Index n = 0; n < N; ++n)
    for (Index c = 0; c < C; ++c) s[std::size_t(n * Kp + c)] = float(c + 1) / 10.0f - float(n);
  const senet::Activation acts[] = {senet::Activation::none, senet::Activation::relu, senet::Activation::hard_swish,
                                    senet::Activation::silu};
  for (const senet::Conv2dPath path : {senet::Conv2dPath::portable, senet::Conv2dPath::avx2, senet::Conv2dPath::avx512})
  for (int variant = 0; variant < 16; ++variant) {
    if (!senet::conv2d_path_supported(path)) continue;
    const bool scale = variant & 1, residual = variant & 2;
    const senet::Activation act = acts[variant >> 2];
    SCOPED_TRACE(std::string(senet::to_string(path)) + " variant " + std::to_string(variant));
    const Bordered xb = Bordered::of(x, 1, 0.0f), rb = Bordered::of(r, 1, 0.0f);
    Bordered yb(N, C, H, W, 1, 0.0f);
    const senet::FeatureView none{};
    senet::scale_add_act_nchw16c(xb.view, scale ? s.data() : nullptr, residual ? rb.view : none, act, yb.view, path);
    Bordered inplace = Bordered::of(x, 1, 0.0f);
    senet::scale_add_act_nchw16c(inplace.view, scale ? s.data() : nullptr, residual ? rb.view : none, act, inplace.view,
                                 path);
    const Tensor<float> got = senet::from_nchw16c(yb.image(), C), got_inplace = senet::from_nchw16c(inplace.image(), C);
    for (Index i = 0; i < x.size(); ++i) {
      const Index n = i / (C * H * W), c = i / (H * W) % C;
      float want = x[i] * (scale ? s[std::size_t(n * Kp + c)] : 1.0f) + (residual ? r[i] : 0.0f);
      if (act == senet::Activation::relu && want < 0.0f) want = 0.0f;
      if (act == senet::Activation::hard_swish) want = want * std::min(std::max(want + 3.0f, 0.0f), 6.0f) / 6.0f;
      if (act == senet::Activation::silu) want = want / (1.0f + std::exp(-want));
      // (the kernel may contract x * s + r into one FMA)
      ASSERT_NEAR(got[i], want, 1e-6) << i;
      ASSERT_EQ(got_inplace[i], got[i]) << i;
    }
  }
}

}  // namespace test_elementwise_nchw16c
