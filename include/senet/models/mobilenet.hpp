#pragma once
/// \file mobilenet.hpp
/// MobileNet v1 (Howard et al., 2017), 1.0-224, and the SE paper's SE-MobileNet (Hu et al.,
/// Table 3): `mobilenet` and `se_mobilenet`. No reference implementation of SE-MobileNet exists,
/// and MobileNet v1 has none in torchvision: the names follow torchvision's conventions
/// (`Conv2dNormActivation` children `.0` convolution, `.1` BatchNorm), and SE sits where the
/// paper puts it in a residual-free block: at the end of each depthwise-separable block.
///
/// Structure (the twin: tests/fixtures/torch_mobile.py):
/// - `features.0`: 3x3 stride-2 convolution to 32 channels (`0`), BatchNorm (`1`), ReLU.
/// - `features.1 .. features.13`: depthwise-separable blocks of output widths / strides
///   64 s1, 128 s2, 128, 256 s2, 256, 512 s2, 512 x 5, 1024 s2, 1024: `dw` (3x3 depthwise with
///   the stride, BatchNorm, ReLU), `pw` (1x1 to the output width, BatchNorm, ReLU), and in
///   SE-MobileNet `se` after the pointwise ReLU: average squeeze, `fc1` to `C / 16` (rounded
///   down), ReLU, `fc2`, sigmoid gate (1x1 convolutions with biases, as every released SE
///   checkpoint has them). The stem has no SE.
/// - Global average pool (`avgpool`), `classifier` (linear with bias to the classes).
/// - Convolutions have no bias; BatchNorm eps 1e-5. Widths are `make_divisible(c * width_mult, 8)`
///   (1 in the published network; reduced test networks use less).
/// - Sizes at 224x224 (every convolution and linear layer, SE included): mobilenet 4,231,976
///   parameters and 568,740,352 MACs (the paper: 4.2M, 569M); se_mobilenet 4,718,044 and
///   569,220,096 (the paper: 4.7M, 572M).

#include <array>
#include <string>
#include <utility>

#include "senet/layers/linear.hpp"
#include "senet/layers/pooling.hpp"
#include "senet/layers/se_block.hpp"
#include "senet/layers/sequential.hpp"
#include "senet/models/conv_norm_activation.hpp"
#include "senet/models/network.hpp"

namespace senet {

/// Everything that defines a MobileNet v1 (with or without SE).
struct MobileNetConfig {
  std::string name = "mobilenet";
  bool se = false;           ///< an SE block at the end of every depthwise-separable block
  SEOptions se_options = {};  ///< the paper's: r = 16, C / r rounded down, sigmoid, biases
  Index num_classes = 1000;
  Index in_channels = 3;
  Index input_size = 224;  ///< the image size the model is made for (summary and bench default)
  /// Every width becomes `make_divisible(width * width_mult, 8)` (reduced test networks; 1 in the
  /// published one).
  double width_mult = 1.0;
};

/// One depthwise-separable block of MobileNet v1: output width (before `width_mult`), stride.
struct DepthwiseSeparableSpec {
  Index out, stride;
};

/// The 13 depthwise-separable blocks of MobileNet v1 (Howard et al., Table 1).
inline const std::array<DepthwiseSeparableSpec, 13>& mobilenet_blocks() {
  static const std::array<DepthwiseSeparableSpec, 13> blocks = {
      {{64, 1}, {128, 2}, {128, 1}, {256, 2}, {256, 1}, {512, 2}, {512, 1}, {512, 1}, {512, 1}, {512, 1}, {512, 1},
       {1024, 2}, {1024, 1}}};
  return blocks;
}

/// Throws `senet::Error` unless `cfg` describes a network that can be built.
inline void check_mobilenet_config(const MobileNetConfig& cfg) {
  SENET_CHECK(cfg.num_classes >= 1 && cfg.in_channels >= 1 && cfg.input_size >= 1 && cfg.width_mult > 0 &&
                  cfg.width_mult <= 16 && cfg.se_options.reduction >= 1,
              cfg.name,
              ": invalid MobileNet configuration (positive classes, channels, input size and SE reduction, "
              "width_mult in (0, 16])");
}

/// Appends `cfg`'s network to `root`: `features` (stem, depthwise-separable blocks), `avgpool`
/// and `classifier`.
template <class T>
void build_mobilenet(const MobileNetConfig& cfg, Sequential<T>& root) {
  check_mobilenet_config(cfg);
  constexpr double kEps = 1e-5;
  const auto width = [&](Index c) { return make_divisible(double(c) * cfg.width_mult); };
  auto& features = root.add("features", Sequential<T>());
  Index in = width(32);
  detail::conv_norm_activation(features, "0", cfg.in_channels, in, 3, 2, 1, Activation::relu, kEps);
  for (std::size_t i = 0; i < mobilenet_blocks().size(); ++i) {
    const DepthwiseSeparableSpec& b = mobilenet_blocks()[i];
    const Index out = width(b.out);
    auto& block = features.add(std::to_string(i + 1), Sequential<T>());
    detail::conv_norm_activation(block, "dw", in, in, 3, b.stride, in, Activation::relu, kEps);
    detail::conv_norm_activation(block, "pw", in, out, 1, 1, 1, Activation::relu, kEps);
    if (cfg.se) block.add("se", SEBlock<T>(out, cfg.se_options));
    in = out;
  }
  root.add("avgpool", GlobalAvgPool2d<T>());
  root.add("classifier", Linear<T>(in, cfg.num_classes));
}

/// MobileNet v1 / SE-MobileNet as `build_mobilenet` composes it from `cfg`.
/// Input [N, in_channels, H, W] -> logits [N, num_classes].
template <class T>
class MobileNet : public ConfiguredNetwork<T, MobileNetConfig> {
 public:
  explicit MobileNet(MobileNetConfig cfg)
      : ConfiguredNetwork<T, MobileNetConfig>(std::move(cfg), "MobileNet", build_mobilenet<T>) {}
};

template <>
struct NetworkOf<MobileNetConfig> {
  template <class T>
  using type = MobileNet<T>;
};

}  // namespace senet
