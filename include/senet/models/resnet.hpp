#pragma once
/// \file resnet.hpp
/// The ResNet family with and without SE blocks, in timm's form (`resnet50`, `seresnet50`,
/// `seresnext50_32x4d`) and in the Caffe/Cadene form that timm keeps as `legacy_seresnet50` (and
/// `legacy_senet154`, Cadene's `senet154`: deep stem, SENet-154 bottlenecks, 3x3 shortcuts):
/// one builder, `build_resnet`, declares the structure from generic containers (`Sequential`,
/// `Residual`) and layers, `SEBlock` among them, placed where `ResNetConfig::se_position` says.
///
/// The two forms have the same parameter shapes but are different networks (paper-facts §5):
/// | | timm | legacy (Caffe/Cadene) |
/// |---|---|---|
/// | stem names | `conv1`, `bn1`, `maxpool` | `layer0.conv1`, `layer0.bn1`, `layer0.pool` |
/// | stem max pool | 3x3 s2, padding 1 | 3x3 s2, no padding, ceil mode |
/// | bottleneck stride | on conv2 (3x3) | on conv1 (1x1); SE-ResNeXt, SENet-154: on conv2 |
/// | SE name, width | `se`, `make_divisible(C/16, 8)` | `se_module`, `C // 16` |
/// | basic block | bn2 -> SE | bn2 -> ReLU -> SE |
/// | head | `global_pool`, `fc` | `avg_pool`, `last_linear` |
///
/// SENet-154 (paper-facts §5, §8; Cadene's `SENet(SEBottleneck, [3, 8, 36, 3], groups=64)`) is the
/// legacy form with three fields away from their defaults: `stem = StemType::deep` (`layer0.conv1`
/// 3x3 s2, `conv2` 3x3, `conv3` 3x3 to 128 channels, then the ceil-mode pool), `reduce_mult = 2`
/// (the first 1x1 gives `planes * 2` channels, the 64-group 3x3 `planes * 4`) and
/// `downsample_kernel = 3` (the strided blocks' projections are 3x3 stride 2 padding 1 convs).
/// Its dropout before `last_linear` is the identity at inference and has no module here.
///
/// ReLUs are children too (no parameters, no summary row): timm's names `act1`, `act2`, `act3`
/// in both forms.

#include <algorithm>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "senet/layers/activation.hpp"
#include "senet/layers/batch_norm2d.hpp"
#include "senet/layers/conv2d.hpp"
#include "senet/layers/linear.hpp"
#include "senet/layers/pooling.hpp"
#include "senet/layers/residual.hpp"
#include "senet/layers/se_block.hpp"
#include "senet/models/network.hpp"

namespace senet {

enum class BlockType { basic, bottleneck };
enum class ResNetStyle { timm, legacy };

/// The stem of a ResNet: ImageNet's (7x7 stride-2 conv, BN, ReLU, 3x3 stride-2 max pool); for
/// small images such as 8x8 digits, one 3x3 stride-1 conv with BN and ReLU and no pooling; or
/// SENet-154's deep stem (legacy style only): three 3x3 convs, each with BN and ReLU, the first
/// with stride 2, to `width`, `width` and `2 * width` channels (64, 64, 128), then the max pool.
enum class StemType { imagenet, small, deep };

/// Where an SE block sits in a residual block (the paper's Fig. 5 and Table 14).
enum class SEPosition {
  standard,  ///< on the residual branch after its last BN, before the add
  pre,       ///< on the residual branch's input; the shortcut takes the unscaled input
  post,      ///< after the add and the final ReLU
  identity,  ///< on the shortcut, after its projection when there is one
  after3x3   ///< bottlenecks only: after the 3x3 conv's BN and ReLU (SE width = the 3x3 width)
};

/// Everything that defines a ResNet-family network. `width` is the stem's channel count (the deep
/// stem's first two convs; its last gives `2 * width`) and the first stage's planes (64 in every
/// published model; smaller for tests); stage `i` has planes `width << i` and `layers[i]` blocks,
/// and every stage after the first starts with stride 2.
struct ResNetConfig {
  std::string name = "resnet";
  BlockType block = BlockType::bottleneck;
  std::vector<Index> layers{3, 4, 6, 3};
  StemType stem = StemType::imagenet;
  ResNetStyle style = ResNetStyle::timm;
  bool se = false;
  SEOptions se_options{16, SERounding::divisible8};
  SEPosition se_position = SEPosition::standard;
  /// Stages (1-based: timm's `layer1` is 1, the paper's conv2) whose blocks carry SE; every stage
  /// when unset.
  std::optional<std::vector<Index>> se_stages;
  Index width = 64;
  /// ResNeXt: the bottleneck's 3x3 convolution has `groups` groups and
  /// `floor(planes * base_width / 64) * groups` channels (32 and 4 in `resnext50_32x4d`); the
  /// defaults make a plain ResNet. Bottlenecks only.
  Index groups = 1;
  Index base_width = 64;
  /// Bottlenecks: when positive, the first 1x1 conv gives `planes * reduce_mult` channels and the
  /// 3x3 conv takes them to its own width (above): SENet-154's 2 (`planes * 2`, then 64 groups to
  /// `planes * 4`). 0, the default: the 3x3's width, as in ResNet and ResNeXt.
  Index reduce_mult = 0;
  /// Kernel of the projection shortcut's conv in the strided blocks (the first block of stages
  /// 2..N), with padding `downsample_kernel / 2`: 1 in ResNet, 3 in SENet-154 (Cadene's
  /// `downsample_kernel_size=3, downsample_padding=1`). A stride-1 projection (stage 1) is 1x1.
  Index downsample_kernel = 1;
  Index num_classes = 1000;
  Index in_channels = 3;
  Index input_size = 224;  ///< the image size the model is made for (summary and bench default)
};

/// Throws `senet::Error` unless `input` is `[N, cfg.in_channels, H, W]`.
inline void check_resnet_input(const ResNetConfig& cfg, const Shape& input) {
  check_image_input(cfg.name, cfg.in_channels, input);
}

/// Throws `senet::Error` unless `cfg` describes a network that can be built.
inline void check_resnet_config(const ResNetConfig& cfg) {
  SENET_CHECK(cfg.num_classes >= 1 && cfg.in_channels >= 1 && cfg.width >= 1 && !cfg.layers.empty() &&
                  cfg.layers.size() <= 16 && cfg.groups >= 1 && cfg.base_width >= 1 && cfg.reduce_mult >= 0 &&
                  cfg.downsample_kernel >= 1 && cfg.downsample_kernel % 2 == 1,
              cfg.name,
              ": invalid ResNet configuration (layers 1..16 stages, positive widths, groups and classes, "
              "reduce_mult >= 0, odd downsample_kernel)");
  for (std::size_t stage = 0; stage < cfg.layers.size(); ++stage)
    SENET_CHECK(cfg.layers[stage] >= 1, cfg.name, ": stage ", stage + 1, " needs at least one block");
  SENET_CHECK(cfg.block == BlockType::bottleneck || (cfg.groups == 1 && cfg.base_width == 64 && cfg.reduce_mult == 0),
              cfg.name, ": grouped (ResNeXt) convolutions and reduce_mult need bottleneck blocks");
  SENET_CHECK(cfg.stem != StemType::deep || cfg.style == ResNetStyle::legacy, cfg.name,
              ": the deep (SENet-154) stem has Cadene's names only: it needs the legacy style");
  SENET_CHECK(!cfg.se || cfg.block == BlockType::bottleneck || cfg.se_position != SEPosition::after3x3, cfg.name,
              ": SE position after3x3 needs bottleneck blocks; basic blocks have two 3x3 convs");
  if (cfg.se && cfg.se_stages)
    for (Index st : *cfg.se_stages)
      SENET_CHECK(st >= 1 && st <= Index(cfg.layers.size()), cfg.name, ": SE stage ", st,
                  " does not exist (stages 1..", cfg.layers.size(), ")");
}

/// A residual block of `cfg`'s family: basic (two 3x3) or bottleneck (1x1, 3x3 grouped for
/// ResNeXt, 1x1 to `planes * 4`), an SE block at `cfg.se_position` when `with_se`, a projection
/// shortcut `downsample.0` (conv: 1x1, or `cfg.downsample_kernel` when strided) /
/// `downsample.1` (BN) where the shape changes. Output `relu(body(x) + shortcut(x))`.
template <class T>
Residual<T> resnet_block(const ResNetConfig& cfg, Index in, Index planes, Index stride, bool with_se) {
  const bool bottleneck = cfg.block == BlockType::bottleneck, legacy = cfg.style == ResNetStyle::legacy;
  const Index width = bottleneck ? planes * cfg.base_width / 64 * cfg.groups : planes;
  const Index reduced = bottleneck && cfg.reduce_mult > 0 ? planes * cfg.reduce_mult : width;  // conv1's output
  const Index out = bottleneck ? planes * 4 : planes;
  const std::string se_name = legacy ? "se_module" : "se";
  const auto at = [&](SEPosition p) { return with_se && cfg.se_position == p; };
  Residual<T> block(bottleneck ? "Bottleneck" : "BasicBlock");
  Sequential<T>& body = block.body();
  if (at(SEPosition::pre)) body.add(se_name, SEBlock<T>(in, cfg.se_options));
  if (bottleneck) {
    // timm strides the 3x3 (v1.5); Caffe's SE-ResNet its first 1x1, its SE-ResNeXt and SENet-154
    // (Cadene's SEBottleneck, reduce_mult > 0) the 3x3.
    const Index s1 = legacy && cfg.groups == 1 && cfg.reduce_mult == 0 ? stride : 1;
    body.add("conv1", Conv2d<T>(in, reduced, conv_params(1, s1)));
    body.add("bn1", BatchNorm2d<T>(reduced));
    body.add("act1", ReLU<T>());
    body.add("conv2", Conv2d<T>(reduced, width, conv_params(3, stride / s1, 1, 1, cfg.groups)));
    body.add("bn2", BatchNorm2d<T>(width));
    body.add("act2", ReLU<T>());
    if (at(SEPosition::after3x3)) body.add(se_name, SEBlock<T>(width, cfg.se_options));
    body.add("conv3", Conv2d<T>(width, out, conv_params(1)));
    body.add("bn3", BatchNorm2d<T>(out));
  } else {
    body.add("conv1", Conv2d<T>(in, planes, conv_params(3, stride, 1)));
    body.add("bn1", BatchNorm2d<T>(planes));
    body.add("act1", ReLU<T>());
    body.add("conv2", Conv2d<T>(planes, planes, conv_params(3, 1, 1)));
    body.add("bn2", BatchNorm2d<T>(planes));
    if (legacy) body.add("act2", ReLU<T>());  // Caffe's basic block: a ReLU before its SE
  }
  if (at(SEPosition::standard)) body.add(se_name, SEBlock<T>(out, cfg.se_options));
  if (stride != 1 || in != out) {
    Sequential<T> downsample;
    const Index k = stride != 1 ? cfg.downsample_kernel : 1;
    downsample.add("0", Conv2d<T>(in, out, conv_params(k, stride, k / 2)));
    downsample.add("1", BatchNorm2d<T>(out));
    block.shortcut().add("downsample", std::move(downsample));
  }
  if (at(SEPosition::identity)) block.shortcut().add(se_name, SEBlock<T>(out, cfg.se_options));
  block.after().add(bottleneck ? "act3" : legacy ? "act3" : "act2", ReLU<T>());
  if (at(SEPosition::post)) block.after().add(se_name, SEBlock<T>(out, cfg.se_options));
  return block;
}

/// Channels of the last stage's output (the classifier's input).
inline Index resnet_features(const ResNetConfig& cfg) {
  return (cfg.width << (cfg.layers.size() - 1)) * (cfg.block == BlockType::bottleneck ? 4 : 1);
}

/// Channels of the stem's output (the first stage's input): `2 * width` for the deep stem, else
/// `width`.
inline Index resnet_stem_channels(const ResNetConfig& cfg) {
  return cfg.stem == StemType::deep ? 2 * cfg.width : cfg.width;
}

/// Appends `cfg`'s network to `root`: stem (7x7 s2 conv, BN, ReLU, 3x3 s2 max pool; the small
/// stem; or the deep stem's three 3x3 convs and the pool), stages `layer1..` of residual blocks
/// (planes `width << i`, stride 2 from the second stage on, in the first block), global average
/// pool, classifier.
template <class T>
void build_resnet(const ResNetConfig& cfg, Sequential<T>& root) {
  check_resnet_config(cfg);
  const bool legacy = cfg.style == ResNetStyle::legacy, small = cfg.stem == StemType::small,
             deep = cfg.stem == StemType::deep;
  Sequential<T>& stem = legacy ? root.add("layer0", Sequential<T>()) : root;
  const Conv2dParams conv1 = deep ? conv_params(3, 2, 1) : small ? conv_params(3, 1, 1) : conv_params(7, 2, 3);
  stem.add("conv1", Conv2d<T>(cfg.in_channels, cfg.width, conv1));
  stem.add("bn1", BatchNorm2d<T>(cfg.width));
  stem.add(legacy ? "relu1" : "act1", ReLU<T>());
  if (deep) {  // Cadene's senet154 layer0: conv2/bn2/relu2 (width), conv3/bn3/relu3 (2 * width)
    stem.add("conv2", Conv2d<T>(cfg.width, cfg.width, conv_params(3, 1, 1)));
    stem.add("bn2", BatchNorm2d<T>(cfg.width));
    stem.add("relu2", ReLU<T>());
    stem.add("conv3", Conv2d<T>(cfg.width, resnet_stem_channels(cfg), conv_params(3, 1, 1)));
    stem.add("bn3", BatchNorm2d<T>(resnet_stem_channels(cfg)));
    stem.add("relu3", ReLU<T>());
  }
  if (!small)
    stem.add(legacy ? "pool" : "maxpool",
             MaxPool2d<T>(legacy ? pool_params(3, 2, 0, /*ceil_mode=*/true) : pool_params(3, 2, 1)));
  Index in = resnet_stem_channels(cfg);
  for (std::size_t stage = 0; stage < cfg.layers.size(); ++stage) {
    const bool se = cfg.se && (!cfg.se_stages || std::count(cfg.se_stages->begin(), cfg.se_stages->end(),
                                                            Index(stage + 1)) > 0);
    const Index planes = cfg.width << stage;
    auto& blocks = root.add("layer" + std::to_string(stage + 1), Sequential<T>());
    for (Index i = 0; i < cfg.layers[stage]; ++i) {
      blocks.add(std::to_string(i), resnet_block<T>(cfg, in, planes, (stage > 0 && i == 0) ? 2 : 1, se));
      in = cfg.block == BlockType::bottleneck ? planes * 4 : planes;
    }
  }
  root.add(legacy ? "avg_pool" : "global_pool", GlobalAvgPool2d<T>());
  root.add(legacy ? "last_linear" : "fc", Linear<T>(resnet_features(cfg), cfg.num_classes));
}

/// ResNet / SE-ResNet / (SE-)ResNeXt as `build_resnet` composes it from `cfg`.
/// Input [N, in_channels, H, W] -> logits [N, num_classes].
template <class T>
class ResNet : public ConfiguredNetwork<T, ResNetConfig> {
 public:
  explicit ResNet(ResNetConfig cfg) : ConfiguredNetwork<T, ResNetConfig>(std::move(cfg), "ResNet", build_resnet<T>) {}
};

template <>
struct NetworkOf<ResNetConfig> {
  template <class T>
  using type = ResNet<T>;
};

}  // namespace senet
