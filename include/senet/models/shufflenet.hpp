#pragma once
/// \file shufflenet.hpp
/// ShuffleNet v1 (Zhang et al., 2018), 1x with g = 3, and the SE paper's SE-ShuffleNet (Hu et al.,
/// Table 3): `shufflenet` and `se_shufflenet`. The topology and parameter names are those of
/// Megvii's official ShuffleNet-Series code (`ShuffleNetV1/network.py`, `blocks.py`, by the
/// ShuffleNet authors' group), so that the official `ShuffleNetV1(model_size='1.0x', group=3)`'s
/// `state_dict()` loads into `shufflenet` by name (its published files, training snapshots, have
/// not been checked here: save their `state_dict` entry alone, without a DataParallel `module.`
/// prefix if there is one). SE, which no reference places, sits as in the SE paper's residual
/// blocks: on the main branch after its last BatchNorm, before the add (stride 1) or the ReLU and
/// the concatenation (stride 2).
///
/// Structure (the twin: tests/fixtures/torch_mobile.py):
/// - `first_conv`: 3x3 stride-2 convolution to 24 channels (`0`), BatchNorm (`1`), ReLU; then
///   `maxpool` 3x3 stride 2 padding 1.
/// - `features.0 ..`: stages of 4, 8, 4 units with output widths 240, 480, 960; the first unit
///   of a stage has stride 2. A unit of input `in`, output `out` and `mid = out / 4`:
///   `branch_main_1`: `0` 1x1 group convolution to `mid` (g groups; 1 group in the network's very
///   first unit, whose 24 input channels are too few to split), `1` BatchNorm, ReLU, `3` 3x3
///   depthwise convolution with the stride, `4` BatchNorm; the channel shuffle;
///   `branch_main_2`: `0` 1x1 group convolution (g groups) to `out` (stride 1) or `out - in`
///   (stride 2), `1` BatchNorm; in SE-ShuffleNet `se` (average squeeze, `fc1` to `C / 16`
///   rounded down, ReLU, `fc2`, sigmoid gate; 1x1 convolutions with biases). Stride 1:
///   `relu(x + main)`. Stride 2: `cat(avgpool(x), relu(main))`, the pooled input first
///   (`branch_proj`: 3x3 average pool, stride 2, padding 1, the padding counted in the divisor).
/// - The shuffle is the official code's: `[N, C, H, W]` viewed as `[N, C / g, g, H, W]` and its
///   two channel axes swapped, which is `ChannelShuffle(C / g)` (`torch.nn.ChannelShuffle(C / g)`),
///   the inverse of the paper's `(g, C / g)` transpose, `ChannelShuffle(g)`. Either gives each
///   group of the next group convolution channels from every group of the last one; the official
///   one is taken so that the official weights compute what they were trained for. It runs in
///   every unit, the first too.
/// - Head: global average pool (`globalpool`; the official `AvgPool2d(7)` is the same at 224),
///   `classifier.0` (linear without bias).
/// - Convolutions have no bias; BatchNorm eps 1e-5.
/// - Sizes at 224x224 (every convolution and linear layer, SE included): shufflenet 1,864,728
///   parameters and 137,460,672 MACs (the paper: 1.8M, 140M); se_shufflenet 2,483,533 and
///   138,071,088 (the paper: 2.4M, 142M).

#include <string>
#include <utility>
#include <vector>

#include "senet/layers/activation.hpp"
#include "senet/layers/batch_norm2d.hpp"
#include "senet/layers/channel_shuffle.hpp"
#include "senet/layers/concat.hpp"
#include "senet/layers/conv2d.hpp"
#include "senet/layers/linear.hpp"
#include "senet/layers/pooling.hpp"
#include "senet/layers/residual.hpp"
#include "senet/layers/se_block.hpp"
#include "senet/layers/sequential.hpp"
#include "senet/models/conv_norm_activation.hpp"
#include "senet/models/network.hpp"

namespace senet {

/// Everything that defines a ShuffleNet v1 (with or without SE). The defaults are 1x, g = 3.
struct ShuffleNetConfig {
  std::string name = "shufflenet";
  bool se = false;            ///< an SE block on every unit's main branch
  SEOptions se_options = {};  ///< the paper's: r = 16, C / r rounded down, sigmoid, biases
  Index groups = 3;           ///< g, of the 1x1 group convolutions and the shuffle
  /// The stem's width, then each stage's output width (the official `stage_out_channels`).
  std::vector<Index> stage_out_channels = {24, 240, 480, 960};
  std::vector<Index> stage_repeats = {4, 8, 4};  ///< units per stage
  Index num_classes = 1000;
  Index in_channels = 3;
  Index input_size = 224;  ///< the image size the model is made for (summary and bench default)
};

/// Throws `senet::Error` unless `cfg` describes a network that can be built: every group
/// convolution's widths divisible by the groups.
inline void check_shufflenet_config(const ShuffleNetConfig& cfg) {
  bool ok = cfg.num_classes >= 1 && cfg.in_channels >= 1 && cfg.input_size >= 1 && cfg.groups >= 1 &&
            cfg.se_options.reduction >= 1 && cfg.stage_out_channels.size() == cfg.stage_repeats.size() + 1 &&
            cfg.stage_out_channels[0] >= 1;
  for (std::size_t s = 0; ok && s < cfg.stage_repeats.size(); ++s) {
    const Index in = cfg.stage_out_channels[s], out = cfg.stage_out_channels[s + 1], mid = out / 4;
    ok = cfg.stage_repeats[s] >= 1 && out > in && mid >= 1 && mid % cfg.groups == 0 && out % cfg.groups == 0 &&
         (out - in) % cfg.groups == 0 && (s == 0 || in % cfg.groups == 0);
  }
  SENET_CHECK(ok, cfg.name,
              ": invalid ShuffleNet configuration (positive sizes; one more stage width than stage repeats; each stage "
              "wider than the last, its width, width / 4 and the widths added divisible by the groups)");
}

/// Appends `cfg`'s network to `root`: `first_conv`, `maxpool`, `features` (the units),
/// `globalpool` and `classifier`, named as Megvii's official code names them.
template <class T>
void build_shufflenet(const ShuffleNetConfig& cfg, Sequential<T>& root) {
  check_shufflenet_config(cfg);
  constexpr double kEps = 1e-5;
  const Index g = cfg.groups;
  Index in = cfg.stage_out_channels[0];
  detail::conv_norm_activation(root, "first_conv", cfg.in_channels, in, 3, 2, 1, Activation::relu, kEps);
  root.add("maxpool", MaxPool2d<T>(pool_params(3, 2, 1)));
  auto& features = root.add("features", Sequential<T>());
  Index unit = 0;
  for (std::size_t s = 0; s < cfg.stage_repeats.size(); ++s) {
    const Index out = cfg.stage_out_channels[s + 1], mid = out / 4;
    for (Index i = 0; i < cfg.stage_repeats[s]; ++i, ++unit) {
      const Index stride = i == 0 ? 2 : 1, main_out = stride == 2 ? out - in : out;
      const std::string name = std::to_string(unit);
      // The main branch: stride 1, the body of a residual; stride 2, the second branch of a
      // concatenation, in the unit's own namespace.
      Sequential<T>* main;
      Concat<T>* cat = nullptr;
      Residual<T>* res = nullptr;
      if (stride == 1) {
        res = &features.add(name, Residual<T>("ShuffleV1Block"));
        main = &res->body();
      } else {
        cat = &features.add(name, Concat<T>());
        cat->add("branch_proj", AvgPool2d<T>(pool_params(3, 2, 1)));
        main = &cat->add("", Sequential<T>());
      }
      auto& main_1 = main->add("branch_main_1", Sequential<T>());
      main_1.add("0", Conv2d<T>(in, mid, conv_params(1, 1, 0, 1, unit == 0 ? 1 : g)));
      main_1.add("1", BatchNorm2d<T>(mid, kEps));
      main_1.add("2", ReLU<T>());
      main_1.add("3", Conv2d<T>(mid, mid, conv_params(3, stride, 1, 1, mid)));
      main_1.add("4", BatchNorm2d<T>(mid, kEps));
      if (g > 1) main->add("channel_shuffle", ChannelShuffle<T>(mid / g));  // the official [C / g, g] swap
      auto& main_2 = main->add("branch_main_2", Sequential<T>());
      main_2.add("0", Conv2d<T>(mid, main_out, conv_params(1, 1, 0, 1, g)));
      main_2.add("1", BatchNorm2d<T>(main_out, kEps));
      if (cfg.se) main->add("se", SEBlock<T>(main_out, cfg.se_options));
      if (res) {
        res->after().add("relu", ReLU<T>());
      } else {
        main->add("relu", ReLU<T>());
      }
      in = out;
    }
  }
  root.add("globalpool", GlobalAvgPool2d<T>());
  root.add("classifier", Sequential<T>()).add("0", Linear<T>(in, cfg.num_classes, false));
}

/// ShuffleNet v1 / SE-ShuffleNet as `build_shufflenet` composes it from `cfg`.
/// Input [N, in_channels, H, W] -> logits [N, num_classes].
template <class T>
class ShuffleNet : public ConfiguredNetwork<T, ShuffleNetConfig> {
 public:
  explicit ShuffleNet(ShuffleNetConfig cfg)
      : ConfiguredNetwork<T, ShuffleNetConfig>(std::move(cfg), "ShuffleNet", build_shufflenet<T>) {}
};

template <>
struct NetworkOf<ShuffleNetConfig> {
  template <class T>
  using type = ShuffleNet<T>;
};

}  // namespace senet
