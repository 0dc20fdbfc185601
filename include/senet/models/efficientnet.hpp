#pragma once
/// \file efficientnet.hpp
/// EfficientNet (Tan and Le, 2019) as torchvision 0.14 builds it: `efficientnet_b0` and
/// `efficientnet_b1`, with torchvision's parameter names, so its published `.pth` files load as
/// they are. Every MBConv block has SE, between the depthwise convolution and the projection.
///
/// Facts (torchvision/models/efficientnet.py and ops/misc.py, 0.14):
/// - Stages (`_efficientnet_conf`, expand ratio, kernel, stride, input, output, blocks):
///   (1, 3, 1, 32, 16, 1), (6, 3, 2, 16, 24, 2), (6, 5, 2, 24, 40, 2), (6, 3, 2, 40, 80, 3),
///   (6, 5, 1, 80, 112, 3), (6, 5, 2, 112, 192, 4), (6, 3, 1, 192, 320, 1). Widths become
///   `make_divisible(c * width_mult, 8)`, block counts `ceil(n * depth_mult)`; b0 is (1.0, 1.0),
///   b1 (1.0, 1.1): 16 and 23 blocks.
/// - `features.0`: 3x3 stride-2 convolution to the first stage's input width (`0`), BatchNorm
///   (`1`), SiLU.
/// - `features.<s>.<i>` (s = 1..7): MBConv, `block.<j>`: expansion 1x1 to
///   `make_divisible(in * expand_ratio, 8)` (absent when that equals the input), depthwise k x k
///   (stride, padding `(k - 1) / 2`), SE, projection 1x1; each convolution a
///   `Conv2dNormActivation` (`<j>.0` convolution without bias, `<j>.1` BatchNorm), SiLU after all
///   but the projection. The first block of a stage has its stride and input width, the others
///   stride 1; the input is added when the stride is 1 and the widths agree (stochastic depth: the
///   identity at inference).
/// - SE (`block.<j>.fc1`, `.fc2`, 1x1 convolutions with bias): average squeeze, hidden width
///   `max(1, in // 4)` of the block's *input* width (not the expanded one), SiLU inside, sigmoid gate.
/// - `features.8`: 1x1 convolution to 4x the last stage's width (1280) with BatchNorm and SiLU;
///   global average pool (`avgpool`); `classifier.0` dropout (the identity at inference),
///   `classifier.1` linear to the classes.
/// - Every BatchNorm has eps 1e-5 (torchvision's b0 .. b4 keep `nn.BatchNorm2d`'s default; b5 ..
///   b7 and V2 use 1e-3).
/// - Sizes (every convolution and linear layer, SE included, one image): efficientnet_b0
///   5,288,548 parameters and 385,814,752 MACs at 224; efficientnet_b1 7,794,184 parameters,
///   569,651,680 MACs at 224 and 686,802,832 at 240, the size it is published at.

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <string>
#include <utility>
#include <vector>

#include "senet/layers/activation.hpp"
#include "senet/layers/linear.hpp"
#include "senet/layers/pooling.hpp"
#include "senet/layers/residual.hpp"
#include "senet/layers/se_block.hpp"
#include "senet/layers/sequential.hpp"
#include "senet/models/conv_norm_activation.hpp"
#include "senet/models/network.hpp"

namespace senet {

/// Everything that defines an EfficientNet (B0 .. B4 as torchvision builds them; the defaults are
/// efficientnet_b0's).
struct EfficientNetConfig {
  std::string name = "efficientnet_b0";
  double width_mult = 1.0;  ///< widths `make_divisible(c * width_mult, 8)`
  double depth_mult = 1.0;  ///< blocks per stage `ceil(n * depth_mult)`
  Index num_classes = 1000;
  Index in_channels = 3;
  Index input_size = 224;  ///< the image size the model is made for (summary and bench default)
  double bn_eps = 1e-5;    ///< torchvision: 1e-5 for b0 .. b4
};

/// One stage of torchvision's EfficientNet table (widths and depth before the multipliers).
struct MBConvStageSpec {
  Index expand_ratio, kernel, stride, in, out, blocks;
};

/// The seven MBConv stages of EfficientNet B0 .. B7 (torchvision's `_efficientnet_conf`).
inline const std::vector<MBConvStageSpec>& efficientnet_stages() {
  static const std::vector<MBConvStageSpec> stages = {{1, 3, 1, 32, 16, 1},   {6, 3, 2, 16, 24, 2},
                                                      {6, 5, 2, 24, 40, 2},   {6, 3, 2, 40, 80, 3},
                                                      {6, 5, 1, 80, 112, 3},  {6, 5, 2, 112, 192, 4},
                                                      {6, 3, 1, 192, 320, 1}};
  return stages;
}

/// Throws `senet::Error` unless `cfg` describes a network that can be built.
inline void check_efficientnet_config(const EfficientNetConfig& cfg) {
  SENET_CHECK(cfg.num_classes >= 1 && cfg.in_channels >= 1 && cfg.input_size >= 1 && cfg.width_mult > 0 &&
                  cfg.width_mult <= 16 && cfg.depth_mult > 0 && cfg.depth_mult <= 16 && cfg.bn_eps > 0,
              cfg.name, ": invalid EfficientNet configuration (positive classes, channels, input size and eps; ",
              "width_mult and depth_mult in (0, 16])");
}

/// Appends `cfg`'s network to `root`: `features` (stem, MBConv stages, last convolution), `avgpool`
/// and `classifier`, named as torchvision names them.
template <class T>
void build_efficientnet(const EfficientNetConfig& cfg, Sequential<T>& root) {
  check_efficientnet_config(cfg);
  const auto width = [&](Index c) { return make_divisible(double(c) * cfg.width_mult); };
  const auto& stages = efficientnet_stages();
  auto& features = root.add("features", Sequential<T>());
  detail::conv_norm_activation(features, "0", cfg.in_channels, width(stages.front().in), 3, 2, 1, Activation::silu,
                               cfg.bn_eps);
  SEOptions se;
  se.activation = Activation::silu;
  for (std::size_t s = 0; s < stages.size(); ++s) {
    const MBConvStageSpec& spec = stages[s];
    auto& stage = features.add(std::to_string(s + 1), Sequential<T>());
    const Index blocks = Index(std::ceil(double(spec.blocks) * cfg.depth_mult));
    for (Index i = 0; i < blocks; ++i) {
      const Index in = i == 0 ? width(spec.in) : width(spec.out), out = width(spec.out);
      const Index stride = i == 0 ? spec.stride : 1;
      const Index expanded = make_divisible(double(in) * double(spec.expand_ratio));
      const std::string name = std::to_string(i);
      Sequential<T>* body;
      if (stride == 1 && in == out) {
        body = &stage.add(name, Residual<T>("MBConv")).body().add("block", Sequential<T>());
      } else {
        body = &stage.add(name, Sequential<T>()).add("block", Sequential<T>());
      }
      Index j = 0;
      if (expanded != in) {
        detail::conv_norm_activation(*body, std::to_string(j++), in, expanded, 1, 1, 1, Activation::silu, cfg.bn_eps);
      }
      detail::conv_norm_activation(*body, std::to_string(j++), expanded, expanded, spec.kernel, stride, expanded,
                                   Activation::silu, cfg.bn_eps);
      body->add(std::to_string(j++), SEBlock<T>::with_hidden(expanded, std::max<Index>(1, in / 4), se));
      detail::conv_norm_activation(*body, std::to_string(j++), expanded, out, 1, 1, 1, Activation::none, cfg.bn_eps);
    }
  }
  const Index last_in = width(stages.back().out), last = 4 * last_in;
  detail::conv_norm_activation(features, std::to_string(stages.size() + 1), last_in, last, 1, 1, 1, Activation::silu,
                               cfg.bn_eps);
  root.add("avgpool", GlobalAvgPool2d<T>());
  auto& classifier = root.add("classifier", Sequential<T>());
  classifier.add("1", Linear<T>(last, cfg.num_classes));  // "0" is dropout: nothing at inference
}

/// EfficientNet as `build_efficientnet` composes it from `cfg`.
/// Input [N, in_channels, H, W] -> logits [N, num_classes].
template <class T>
class EfficientNet : public ConfiguredNetwork<T, EfficientNetConfig> {
 public:
  explicit EfficientNet(EfficientNetConfig cfg) : ConfiguredNetwork<T, EfficientNetConfig>(std::move(cfg), "EfficientNet", build_efficientnet<T>) {}
};

template <>
struct NetworkOf<EfficientNetConfig> {
  template <class T>
  using type = EfficientNet<T>;
};

}  // namespace senet
