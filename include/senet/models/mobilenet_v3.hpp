#pragma once
/// \file mobilenet_v3.hpp
/// MobileNetV3 (Howard et al., 2019) as torchvision 0.14 builds it: `mobilenet_v3_large` and
/// `mobilenet_v3_small`, with torchvision's parameter names, so its published `.pth` files load
/// as they are. SE sits in the inverted residuals the paper marks, between the depthwise
/// convolution and the projection.
///
/// Facts (torchvision/models/mobilenetv3.py and ops/misc.py, 0.14):
/// - `features.0`: 3x3 stride-2 convolution to 16 channels (`0`), BatchNorm (`1`), hard-swish.
/// - `features.1 ..`: inverted residuals, `features.<i>.block.<j>`: expansion 1x1 (absent when the
///   expansion equals the input), depthwise k x k (stride, padding `(k - 1) / 2`), SE, projection
///   1x1 without activation; each convolution a `Conv2dNormActivation` (`<j>.0` conv without bias,
///   `<j>.1` BatchNorm). The input is added when the stride is 1 and the widths agree.
///   The activation is ReLU or hard-swish per block (the tables below).
/// - SE (`features.<i>.block.<j>.fc1`, `.fc2`, 1x1 convolutions with bias): average squeeze,
///   hidden width `make_divisible(expanded / 4, 8)`, ReLU, hard-sigmoid gate `relu6(x + 3) / 6`.
/// - Last: 1x1 convolution to 6x the last block's width with BatchNorm and hard-swish, global
///   average pool (`avgpool`), `classifier.0` (linear to 1280 / 1024), hard-swish, dropout
///   (`classifier.2`, the identity at inference), `classifier.3` (linear to the classes).
/// - Every BatchNorm has eps 0.001. Channel widths are `make_divisible(width * width_mult, 8)`.
/// - Sizes at 224x224 (every convolution and linear layer, SE included): large 5,483,032
///   parameters and 216,589,760 MACs; small 2,542,856 and 56,510,400.

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "senet/layers/linear.hpp"
#include "senet/layers/pooling.hpp"
#include "senet/layers/residual.hpp"
#include "senet/layers/se_block.hpp"
#include "senet/layers/sequential.hpp"
#include "senet/models/conv_norm_activation.hpp"
#include "senet/models/network.hpp"

namespace senet {

enum class MobileNetV3Variant { large, small };

/// Everything that defines a MobileNetV3.
struct MobileNetV3Config {
  std::string name = "mobilenet_v3_large";
  MobileNetV3Variant variant = MobileNetV3Variant::large;
  Index num_classes = 1000;
  Index in_channels = 3;
  Index input_size = 224;  ///< the image size the model is made for (summary and bench default)
  /// torchvision's `width_mult`: every width becomes `make_divisible(width * width_mult, 8)`
  /// (reduced test networks; 1 in the published ones).
  double width_mult = 1.0;
};

/// One inverted residual of torchvision's tables (widths before `width_mult`).
struct InvertedResidualSpec {
  Index in, kernel, expanded, out;
  bool se, hard_swish;
  Index stride;
};

/// The inverted residuals of a MobileNetV3 variant (torchvision's `_mobilenet_v3_conf`).
inline const std::vector<InvertedResidualSpec>& mobilenet_v3_blocks(MobileNetV3Variant variant) {
  static const std::vector<InvertedResidualSpec> large = {
      {16, 3, 16, 16, false, false, 1},    {16, 3, 64, 24, false, false, 2},    {24, 3, 72, 24, false, false, 1},
      {24, 5, 72, 40, true, false, 2},     {40, 5, 120, 40, true, false, 1},    {40, 5, 120, 40, true, false, 1},
      {40, 3, 240, 80, false, true, 2},    {80, 3, 200, 80, false, true, 1},    {80, 3, 184, 80, false, true, 1},
      {80, 3, 184, 80, false, true, 1},    {80, 3, 480, 112, true, true, 1},    {112, 3, 672, 112, true, true, 1},
      {112, 5, 672, 160, true, true, 2},   {160, 5, 960, 160, true, true, 1},   {160, 5, 960, 160, true, true, 1}};
  static const std::vector<InvertedResidualSpec> small = {
      {16, 3, 16, 16, true, false, 2},  {16, 3, 72, 24, false, false, 2}, {24, 3, 88, 24, false, false, 1},
      {24, 5, 96, 40, true, true, 2},   {40, 5, 240, 40, true, true, 1},  {40, 5, 240, 40, true, true, 1},
      {40, 5, 120, 48, true, true, 1},  {48, 5, 144, 48, true, true, 1},  {48, 5, 288, 96, true, true, 2},
      {96, 5, 576, 96, true, true, 1},  {96, 5, 576, 96, true, true, 1}};
  return variant == MobileNetV3Variant::large ? large : small;
}

/// Throws `senet::Error` unless `cfg` describes a network that can be built.
inline void check_mobilenet_v3_config(const MobileNetV3Config& cfg) {
  SENET_CHECK(cfg.num_classes >= 1 && cfg.in_channels >= 1 && cfg.input_size >= 1 && cfg.width_mult > 0 &&
                  cfg.width_mult <= 16,
              cfg.name, ": invalid MobileNetV3 configuration (positive classes, channels and input size, width_mult in (0, 16])");
}

/// Appends `cfg`'s network to `root`: `features` (stem, inverted residuals, last convolution),
/// `avgpool` and `classifier`, named as torchvision names them.
template <class T>
void build_mobilenet_v3(const MobileNetV3Config& cfg, Sequential<T>& root) {
  check_mobilenet_v3_config(cfg);
  constexpr double kEps = 1e-3;  // torchvision's BatchNorm2d(eps=0.001) for MobileNetV3
  const auto width = [&](Index c) { return make_divisible(double(c) * cfg.width_mult); };
  const auto& blocks = mobilenet_v3_blocks(cfg.variant);
  auto& features = root.add("features", Sequential<T>());
  detail::conv_norm_activation(features, "0", cfg.in_channels, width(blocks.front().in), 3, 2, 1, Activation::hard_swish, kEps);
  SEOptions se;
  se.gate = SEGate::hard_sigmoid;
  for (std::size_t i = 0; i < blocks.size(); ++i) {
    const InvertedResidualSpec& b = blocks[i];
    const Index in = width(b.in), expanded = width(b.expanded), out = width(b.out);
    const Activation act = b.hard_swish ? Activation::hard_swish : Activation::relu;
    const std::string name = std::to_string(i + 1);
    Sequential<T>* body;
    if (b.stride == 1 && in == out) {
      body = &features.add(name, Residual<T>("InvertedResidual")).body().add("block", Sequential<T>());
    } else {
      body = &features.add(name, Sequential<T>()).add("block", Sequential<T>());
    }
    Index j = 0;
    if (expanded != in) detail::conv_norm_activation(*body, std::to_string(j++), in, expanded, 1, 1, 1, act, kEps);
    detail::conv_norm_activation(*body, std::to_string(j++), expanded, expanded, b.kernel, b.stride, expanded, act, kEps);
    if (b.se) body->add(std::to_string(j++), SEBlock<T>::with_hidden(expanded, make_divisible(double(expanded / 4)), se));
    detail::conv_norm_activation(*body, std::to_string(j++), expanded, out, 1, 1, 1, Activation::none, kEps);
  }
  const Index last_in = width(blocks.back().out), last = 6 * last_in;
  detail::conv_norm_activation(features, std::to_string(blocks.size() + 1), last_in, last, 1, 1, 1, Activation::hard_swish, kEps);
  root.add("avgpool", GlobalAvgPool2d<T>());
  auto& classifier = root.add("classifier", Sequential<T>());
  const Index hidden = width(cfg.variant == MobileNetV3Variant::large ? 1280 : 1024);
  classifier.add("0", Linear<T>(last, hidden));
  classifier.add("1", Hardswish<T>());
  classifier.add("3", Linear<T>(hidden, cfg.num_classes));  // "2" is dropout: nothing at inference
}

/// MobileNetV3 as `build_mobilenet_v3` composes it from `cfg`.
/// Input [N, in_channels, H, W] -> logits [N, num_classes].
template <class T>
class MobileNetV3 : public ConfiguredNetwork<T, MobileNetV3Config> {
 public:
  explicit MobileNetV3(MobileNetV3Config cfg) : ConfiguredNetwork<T, MobileNetV3Config>(std::move(cfg), "MobileNetV3", build_mobilenet_v3<T>) {}
};

template <>
struct NetworkOf<MobileNetV3Config> {
  template <class T>
  using type = MobileNetV3<T>;
};

}  // namespace senet
