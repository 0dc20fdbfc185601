#pragma once
/// \file regnet.hpp
/// RegNetY (Radosavovic et al., 2020) as torchvision 0.14 builds it: `regnet_y_400mf` and
/// `regnet_y_800mf`, with torchvision's parameter names, so its published `.pth` files load as
/// they are. The Y in RegNetY is SE: one in every bottleneck, after the grouped 3x3.
///
/// Facts (torchvision/models/regnet.py and ops/misc.py, 0.14):
/// - Widths come from six numbers (`BlockParams.from_init_params`): block `i` of `depth` has the
///   continuous width `u_i = w_0 + w_a * i`, quantised in log space to
///   `round(w_0 * w_m^round(log(u_i / w_0) / log(w_m)) / 8) * 8` (torch computes this in float32,
///   rounding half to even); equal consecutive widths form a stage. The bottleneck width
///   `int(w * bottleneck_multiplier)` is then made divisible by the group width
///   `min(group_width, bottleneck)` (`_make_divisible`), and the stage width follows from it.
///   regnet_y_400mf (depth 16, w_0 48, w_a 27.89, w_m 2.09, group width 8): stages of 1, 3, 6, 6
///   blocks, widths 48, 104, 208, 440. regnet_y_800mf (14, 56, 38.84, 2.4, 16): 1, 3, 8, 2
///   blocks, widths 64, 144, 320, 784. Both: bottleneck multiplier 1, SE ratio 0.25.
/// - `stem`: 3x3 stride-2 convolution to 32 channels (`stem.0`), BatchNorm (`stem.1`), ReLU.
/// - `trunk_output.block<s>.block<s>-<i>` (s = 1..4): `ResBottleneckBlock`s, the first of each stage
///   with stride 2. `proj` (1x1 convolution with the stride, BatchNorm) when the width or the size
///   changes, else the identity; `f` the bottleneck: `f.a` 1x1 to the stage width w, `f.b` 3x3
///   grouped (w / group width groups) with the stride, `f.se`, `f.c` 1x1 without activation;
///   ReLU after `proj(x) + f(x)`. Every convolution a `Conv2dNormActivation` (`.0` convolution
///   without bias, `.1` BatchNorm with eps 1e-5, ReLU unless stated).
/// - SE (`f.se.fc1`, `.fc2`, 1x1 convolutions with bias): average squeeze, hidden width
///   `round(0.25 * block input width)` (not of w: 8 in `block1-0`, whose input is the stem's 32),
///   ReLU, sigmoid gate.
/// - Head: global average pool (`avgpool`), `fc` (linear to the classes).
/// - Sizes at 224x224 (every convolution and linear layer, SE included): regnet_y_400mf 4,344,144
///   parameters and 401,842,848 MACs; regnet_y_800mf 6,432,512 and 833,856,256.

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

/// Everything that defines a RegNet(Y): torchvision's `BlockParams.from_init_params` arguments,
/// the stem width and the usual sizes. The defaults are regnet_y_400mf's.
struct RegNetConfig {
  std::string name = "regnet_y_400mf";
  Index depth = 16;       ///< blocks in all
  Index w_0 = 48;         ///< initial width (a multiple of 8)
  double w_a = 27.89;     ///< width slope (>= 0)
  double w_m = 2.09;      ///< width step of the log-space quantisation (> 1)
  Index group_width = 8;  ///< channels per group of the 3x3
  double bottleneck_multiplier = 1.0;
  double se_ratio = 0.25;  ///< SE hidden width per block input channel; 0: no SE (a RegNetX)
  Index stem_width = 32;
  Index num_classes = 1000;
  Index in_channels = 3;
  Index input_size = 224;  ///< the image size the model is made for (summary and bench default)
};

/// One stage of a RegNet: `depth` blocks of output width `width`, the first with stride 2.
struct RegNetStage {
  Index depth, width, group_width;
};

/// Throws `senet::Error` unless `cfg` describes a network that can be built (torchvision's own
/// check, "Invalid RegNet settings", plus positive sizes).
inline void check_regnet_config(const RegNetConfig& cfg) {
  SENET_CHECK(cfg.w_a >= 0 && cfg.w_0 > 0 && cfg.w_m > 1 && cfg.w_0 % 8 == 0 && cfg.depth >= 1 && cfg.depth <= 1000 &&
                  cfg.group_width >= 1 && cfg.bottleneck_multiplier > 0 && cfg.se_ratio >= 0 && cfg.stem_width >= 1 &&
                  cfg.num_classes >= 1 && cfg.in_channels >= 1 && cfg.input_size >= 1,
              cfg.name, ": invalid RegNet configuration (w_a >= 0, w_0 a positive multiple of 8, w_m > 1, positive sizes)");
}

/// The stages of `cfg`, as torchvision's `BlockParams.from_init_params` computes them (the
/// quantisation in float32, as torch does it by default, with round-half-to-even).
inline std::vector<RegNetStage> regnet_stages(const RegNetConfig& cfg) {
  check_regnet_config(cfg);
  const float w0 = float(cfg.w_0), wa = float(cfg.w_a), wm = float(cfg.w_m), log_wm = float(std::log(cfg.w_m));
  std::vector<Index> widths;
  for (Index i = 0; i < cfg.depth; ++i) {
    const float u = float(i) * wa + w0;  // torch.arange(depth) * w_a + w_0
    const float capacity = std::nearbyint(std::log(u / w0) / log_wm);
    widths.push_back(Index(std::nearbyint(w0 * std::pow(wm, capacity) / 8.0f)) * 8);
  }
  std::vector<RegNetStage> stages;
  for (std::size_t i = 0; i < widths.size(); ++i) {
    if (i == 0 || widths[i] != widths[i - 1]) {
      stages.push_back({0, widths[i], cfg.group_width});
    }
    ++stages.back().depth;
  }
  // _adjust_widths_groups_compatibilty: the bottleneck a multiple of the (capped) group width
  for (auto& s : stages) {
    const Index bottleneck = Index(double(s.width) * cfg.bottleneck_multiplier);
    s.group_width = std::min(s.group_width, bottleneck);
    s.width = Index(double(make_divisible(double(bottleneck), s.group_width)) / cfg.bottleneck_multiplier);
  }
  return stages;
}

/// Appends `cfg`'s network to `root`: `stem`, `trunk_output` (stages `block1` ..), `avgpool`
/// and `fc`, named as torchvision names them.
template <class T>
void build_regnet(const RegNetConfig& cfg, Sequential<T>& root) {
  constexpr double kEps = 1e-5;
  const std::vector<RegNetStage> stages = regnet_stages(cfg);
  detail::conv_norm_activation(root, "stem", cfg.in_channels, cfg.stem_width, 3, 2, 1, Activation::relu, kEps);
  auto& trunk = root.add("trunk_output", Sequential<T>());
  Index in = cfg.stem_width;
  for (std::size_t s = 0; s < stages.size(); ++s) {
    const std::string stage_name = "block" + std::to_string(s + 1);
    auto& stage = trunk.add(stage_name, Sequential<T>());
    const Index out = stages[s].width;
    const Index bottleneck = Index(std::nearbyint(double(out) * cfg.bottleneck_multiplier));
    const Index groups = bottleneck / stages[s].group_width;
    for (Index i = 0; i < stages[s].depth; ++i) {
      const Index stride = i == 0 ? 2 : 1;
      auto& block = stage.add(stage_name + "-" + std::to_string(i), Residual<T>("ResBottleneckBlock"));
      if (in != out || stride != 1) {
        detail::conv_norm_activation(block.shortcut(), "proj", in, out, 1, stride, 1, Activation::none, kEps);
      }
      auto& f = block.body().add("f", Sequential<T>());
      detail::conv_norm_activation(f, "a", in, bottleneck, 1, 1, 1, Activation::relu, kEps);
      detail::conv_norm_activation(f, "b", bottleneck, bottleneck, 3, stride, groups, Activation::relu, kEps);
      if (cfg.se_ratio > 0) {
        // Python's round(): half to even, as nearbyint in the default rounding mode
        f.add("se", SEBlock<T>::with_hidden(bottleneck, Index(std::nearbyint(cfg.se_ratio * double(in)))));
      }
      detail::conv_norm_activation(f, "c", bottleneck, out, 1, 1, 1, Activation::none, kEps);
      block.after().add("activation", ReLU<T>());
      in = out;
    }
  }
  root.add("avgpool", GlobalAvgPool2d<T>());
  root.add("fc", Linear<T>(in, cfg.num_classes));
}

/// RegNet(Y) as `build_regnet` composes it from `cfg`.
/// Input [N, in_channels, H, W] -> logits [N, num_classes].
template <class T>
class RegNet : public ConfiguredNetwork<T, RegNetConfig> {
 public:
  explicit RegNet(RegNetConfig cfg) : ConfiguredNetwork<T, RegNetConfig>(std::move(cfg), "RegNet", build_regnet<T>) {}
};

template <>
struct NetworkOf<RegNetConfig> {
  template <class T>
  using type = RegNet<T>;
};

}  // namespace senet
