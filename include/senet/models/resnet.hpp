#pragma once
/// \file resnet.hpp
/// The ResNet family with and without SE blocks, in timm's form (`resnet50`, `seresnet50`) and in
/// the Caffe/Cadene form that timm keeps as `legacy_seresnet50`.
///
/// The two forms have the same parameter shapes but are different networks (paper-facts §5):
/// | | timm | legacy (Caffe/Cadene) |
/// |---|---|---|
/// | stem names | `conv1`, `bn1` | `layer0.conv1`, `layer0.bn1` |
/// | stem max pool | 3x3 s2, padding 1 | 3x3 s2, no padding, ceil mode |
/// | bottleneck stride | on conv2 (3x3) | on conv1 (1x1) |
/// | SE name, width | `se`, `make_divisible(C/16, 8)` | `se_module`, `C // 16` |
/// | basic block | bn2 -> SE | bn2 -> ReLU -> SE |
/// | classifier | `fc` | `last_linear` |

#include <array>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "senet/layers/activation.hpp"
#include "senet/layers/batch_norm2d.hpp"
#include "senet/layers/conv2d.hpp"
#include "senet/layers/linear.hpp"
#include "senet/layers/pooling.hpp"
#include "senet/layers/se_block.hpp"
#include "senet/models/model.hpp"
#include "senet/ops/elementwise.hpp"

namespace senet {

enum class BlockType { basic, bottleneck };
enum class ResNetStyle { timm, legacy };

/// The stem of a ResNet: ImageNet's (7x7 stride-2 conv, BN, ReLU, 3x3 stride-2 max pool) or, for
/// small images such as 8x8 digits, one 3x3 stride-1 conv with BN and ReLU and no pooling.
enum class StemType { imagenet, small };

/// Where an SE block sits in a residual block (the paper's Fig. 5 and Table 14).
enum class SEPosition {
  standard,  ///< on the residual branch after its last BN, before the add
  pre,       ///< on the residual branch's input; the shortcut takes the unscaled input
  post,      ///< after the add and the final ReLU
  identity,  ///< on the shortcut, after its projection when there is one
  after3x3   ///< bottlenecks only: after the 3x3 conv's BN and ReLU (SE width = the 3x3 width)
};

/// Everything that defines a ResNet-family network. `width` is the stem's channel count and the
/// first stage's planes (64 in every published model; smaller for tests); stage `i` has planes
/// `width << i` and `layers[i]` blocks, and every stage after the first starts with stride 2.
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
  Index num_classes = 1000;
  Index in_channels = 3;
  Index input_size = 224;  ///< the image size the model is made for (summary and bench default)
};

/// Throws `senet::Error` unless `input` is `[N, cfg.in_channels, H, W]`.
inline void check_resnet_input(const ResNetConfig& cfg, const Shape& input) {
  SENET_CHECK(input.size() == 4, cfg.name, ": input must be [N, ", cfg.in_channels, ", H, W], got ", to_string(input));
  SENET_CHECK(input[1] == cfg.in_channels, cfg.name, ": expected ", cfg.in_channels, " input channels, got ", input[1],
              " (input ", to_string(input), ")");
}

/// A residual block: basic (two 3x3) or bottleneck (1x1, 3x3, 1x1 x4), optional SE at
/// `cfg.se_position` (by default on the residual branch after its last BN), optional projection
/// shortcut `downsample.0` (1x1 conv) / `downsample.1` (BN). Output `relu(branch + shortcut)`.
template <class T>
class ResidualBlock : public Module<T> {
 public:
  ResidualBlock(const ResNetConfig& cfg, Index in_channels, Index planes, Index stride, bool with_se)
      : type_(cfg.block), style_(cfg.style), se_position_(cfg.se_position) {
    const bool bottleneck = type_ == BlockType::bottleneck;
    const Index out = bottleneck ? planes * 4 : planes;
    // timm strides the 3x3 of a bottleneck (v1.5); Caffe strides its first 1x1.
    const Index s1 = (!bottleneck || style_ == ResNetStyle::legacy) ? stride : 1;
    const Index s2 = stride / s1;
    if (bottleneck) {
      conv1_.emplace(in_channels, planes, conv_params(1, s1));
      conv2_.emplace(planes, planes, conv_params(3, s2, 1));
      conv3_.emplace(planes, out, conv_params(1));
      bn3_.emplace(out);
    } else {
      conv1_.emplace(in_channels, planes, conv_params(3, s1, 1));
      conv2_.emplace(planes, planes, conv_params(3, 1, 1));
    }
    bn1_.emplace(planes);
    bn2_.emplace(planes);
    if (with_se) {
      SENET_CHECK(bottleneck || se_position_ != SEPosition::after3x3,
                  "SE position after3x3 needs bottleneck blocks; basic blocks have two 3x3 convs");
      const Index se_channels = se_position_ == SEPosition::pre        ? in_channels
                                : se_position_ == SEPosition::after3x3 ? planes
                                                                       : out;
      se_.emplace(se_channels, cfg.se_options);
    }
    if (stride != 1 || in_channels != out) {
      downsample_conv_.emplace(in_channels, out, conv_params(1, stride));
      downsample_bn_.emplace(out);
    }
  }

  Tensor<T> forward(const Tensor<T>& x) const override {
    Tensor<T> out = conv1_->forward(at(SEPosition::pre) ? se_->forward(x) : x);
    bn1_->forward_inplace(out);
    relu_inplace(out.data(), out.size());
    out = conv2_->forward(out);
    bn2_->forward_inplace(out);
    if (conv3_) {
      relu_inplace(out.data(), out.size());
      if (at(SEPosition::after3x3)) se_->forward_inplace(out);
      out = conv3_->forward(out);
      bn3_->forward_inplace(out);
    } else if (style_ == ResNetStyle::legacy) {
      relu_inplace(out.data(), out.size());  // Caffe's basic block has a ReLU before its SE
    }
    if (at(SEPosition::standard)) se_->forward_inplace(out);
    if (downsample_conv_) {
      Tensor<T> shortcut = downsample_conv_->forward(x);
      downsample_bn_->forward_inplace(shortcut);
      if (at(SEPosition::identity)) se_->forward_inplace(shortcut);
      add_inplace(out, shortcut);
    } else if (at(SEPosition::identity)) {
      add_inplace(out, se_->forward(x));
    } else {
      add_inplace(out, x);
    }
    relu_inplace(out.data(), out.size());
    if (at(SEPosition::post)) se_->forward_inplace(out);
    return out;
  }

  Shape summarize(const Shape& input, const std::string& prefix, std::vector<LayerSummary>& rows) const override {
    const std::string se = join_name(prefix, se_name());
    if (at(SEPosition::pre)) se_->summarize(input, se, rows);
    Shape s = conv1_->summarize(input, join_name(prefix, "conv1"), rows);
    s = bn1_->summarize(s, join_name(prefix, "bn1"), rows);
    s = conv2_->summarize(s, join_name(prefix, "conv2"), rows);
    s = bn2_->summarize(s, join_name(prefix, "bn2"), rows);
    if (conv3_) {
      if (at(SEPosition::after3x3)) se_->summarize(s, se, rows);
      s = conv3_->summarize(s, join_name(prefix, "conv3"), rows);
      s = bn3_->summarize(s, join_name(prefix, "bn3"), rows);
    }
    if (at(SEPosition::standard)) se_->summarize(s, se, rows);
    Shape shortcut = input;
    if (downsample_conv_) {
      shortcut = downsample_conv_->summarize(input, join_name(prefix, "downsample.0"), rows);
      downsample_bn_->summarize(shortcut, join_name(prefix, "downsample.1"), rows);
    }
    if (at(SEPosition::identity)) se_->summarize(shortcut, se, rows);
    if (at(SEPosition::post)) se_->summarize(s, se, rows);
    return s;
  }
  Shape output_shape(const Shape& input) const override {
    std::vector<LayerSummary> rows;
    return summarize(input, "", rows);
  }
  std::string type_name() const override { return type_ == BlockType::bottleneck ? "Bottleneck" : "BasicBlock"; }

  /// The block's SE module, or null when it has none.
  const SEBlock<T>* se() const { return se_ ? &*se_ : nullptr; }
  SEPosition se_position() const { return se_position_; }
  BlockType type() const { return type_; }
  ResNetStyle style() const { return style_; }
  const Conv2d<T>& conv1() const { return *conv1_; }
  const Conv2d<T>& conv2() const { return *conv2_; }
  /// Bottlenecks only (null for basic blocks).
  const Conv2d<T>* conv3() const { return conv3_ ? &*conv3_ : nullptr; }
  const BatchNorm2d<T>& bn1() const { return *bn1_; }
  const BatchNorm2d<T>& bn2() const { return *bn2_; }
  const BatchNorm2d<T>* bn3() const { return bn3_ ? &*bn3_ : nullptr; }
  /// The projection shortcut's conv and BN, or null when the shortcut is the identity.
  const Conv2d<T>* downsample_conv() const { return downsample_conv_ ? &*downsample_conv_ : nullptr; }
  const BatchNorm2d<T>* downsample_bn() const { return downsample_bn_ ? &*downsample_bn_ : nullptr; }

 protected:
  void do_visit_parameters(const ParameterVisitor<T>& visit, const std::string& prefix) override {
    conv1_->visit_parameters(visit, join_name(prefix, "conv1"));
    bn1_->visit_parameters(visit, join_name(prefix, "bn1"));
    conv2_->visit_parameters(visit, join_name(prefix, "conv2"));
    bn2_->visit_parameters(visit, join_name(prefix, "bn2"));
    if (conv3_) {
      conv3_->visit_parameters(visit, join_name(prefix, "conv3"));
      bn3_->visit_parameters(visit, join_name(prefix, "bn3"));
    }
    if (se_) se_->visit_parameters(visit, join_name(prefix, se_name()));
    if (downsample_conv_) {
      downsample_conv_->visit_parameters(visit, join_name(prefix, "downsample.0"));
      downsample_bn_->visit_parameters(visit, join_name(prefix, "downsample.1"));
    }
  }

 private:
  const char* se_name() const { return style_ == ResNetStyle::legacy ? "se_module" : "se"; }
  /// True when this block has an SE module and it sits at `position`.
  bool at(SEPosition position) const { return se_ && se_position_ == position; }

  BlockType type_;
  ResNetStyle style_;
  SEPosition se_position_;
  // optional<> only to construct in the body; conv1/bn1/conv2/bn2 are always present.
  std::optional<Conv2d<T>> conv1_, conv2_, conv3_;
  std::optional<BatchNorm2d<T>> bn1_, bn2_, bn3_;
  std::optional<SEBlock<T>> se_;
  std::optional<Conv2d<T>> downsample_conv_;
  std::optional<BatchNorm2d<T>> downsample_bn_;
};

/// ResNet / SE-ResNet: stem (7x7 s2 conv, BN, ReLU, 3x3 s2 max pool, or the small stem), stages of
/// residual blocks (four in published models: planes width x {1, 2, 4, 8}, strides 1, 2, 2, 2),
/// global average pool, FC.
/// Input [N, in_channels, H, W] -> logits [N, num_classes].
template <class T>
class ResNet : public Model<T> {
 public:
  explicit ResNet(ResNetConfig cfg)
      : cfg_(std::move(cfg)),
        stem_conv_(cfg_.in_channels, cfg_.width,
                   cfg_.stem == StemType::imagenet ? conv_params(7, 2, 3) : conv_params(3, 1, 1)),
        stem_bn_(cfg_.width),
        stem_pool_(cfg_.style == ResNetStyle::legacy ? pool_params(3, 2, 0, /*ceil_mode=*/true) : pool_params(3, 2, 1)),
        fc_(output_features(cfg_), cfg_.num_classes) {
    SENET_CHECK(cfg_.num_classes >= 1 && cfg_.in_channels >= 1 && cfg_.width >= 1 && !cfg_.layers.empty(),
                "ResNet: invalid configuration");
    stages_.resize(cfg_.layers.size());
    std::vector<bool> se_in_stage(cfg_.layers.size(), cfg_.se && !cfg_.se_stages);
    if (cfg_.se && cfg_.se_stages)
      for (Index st : *cfg_.se_stages) {
        SENET_CHECK(st >= 1 && st <= Index(cfg_.layers.size()), "ResNet: SE stage ", st, " does not exist (stages 1..",
                    cfg_.layers.size(), ")");
        se_in_stage[std::size_t(st - 1)] = true;
      }
    Index in = cfg_.width;
    for (std::size_t stage = 0; stage < cfg_.layers.size(); ++stage) {
      const Index planes = cfg_.width << stage;
      SENET_CHECK(cfg_.layers[stage] >= 1, "ResNet: stage ", stage + 1, " needs at least one block");
      std::vector<ResidualBlock<T>> blocks;
      for (Index i = 0; i < cfg_.layers[stage]; ++i) {
        blocks.emplace_back(cfg_, in, planes, (stage > 0 && i == 0) ? 2 : 1, se_in_stage[stage]);
        in = cfg_.block == BlockType::bottleneck ? planes * 4 : planes;
      }
      stages_[stage] = std::move(blocks);
    }
  }

  Tensor<T> forward(const Tensor<T>& x) const override {
    check_input(x.shape());
    this->check_activation_memory(x.shape());
    Tensor<T> h = stem_conv_.forward(x);
    stem_bn_.forward_inplace(h);
    relu_inplace(h.data(), h.size());
    if (cfg_.stem == StemType::imagenet) h = stem_pool_.forward(h);
    for (const auto& stage : stages_)
      for (const auto& block : stage) h = block.forward(h);
    return fc_.forward(pool_.forward(h));
  }

  Shape summarize(const Shape& input, const std::string& prefix, std::vector<LayerSummary>& rows) const override {
    check_input(input);
    const bool legacy = cfg_.style == ResNetStyle::legacy;
    Shape s = stem_conv_.summarize(input, join_name(prefix, legacy ? "layer0.conv1" : "conv1"), rows);
    s = stem_bn_.summarize(s, join_name(prefix, legacy ? "layer0.bn1" : "bn1"), rows);
    if (cfg_.stem == StemType::imagenet)
      s = stem_pool_.summarize(s, join_name(prefix, legacy ? "pool0" : "maxpool"), rows);
    for (std::size_t st = 0; st < stages_.size(); ++st)
      for (std::size_t i = 0; i < stages_[st].size(); ++i)
        s = stages_[st][i].summarize(s, join_name(prefix, block_name(st, i)), rows);
    s = pool_.summarize(s, join_name(prefix, "global_pool"), rows);
    return fc_.summarize(s, join_name(prefix, legacy ? "last_linear" : "fc"), rows);
  }
  Shape output_shape(const Shape& input) const override {
    check_input(input);
    return {input[0], cfg_.num_classes};
  }
  std::string type_name() const override { return "ResNet"; }

  const std::string& name() const override { return cfg_.name; }
  Index in_channels() const override { return cfg_.in_channels; }
  Index num_classes() const override { return cfg_.num_classes; }
  Index input_size() const override { return cfg_.input_size; }
  const ResNetConfig& config() const { return cfg_; }
  const Conv2d<T>& stem_conv() const { return stem_conv_; }
  const BatchNorm2d<T>& stem_bn() const { return stem_bn_; }
  const MaxPool2d<T>& stem_pool() const { return stem_pool_; }
  const Linear<T>& fc() const { return fc_; }
  std::size_t num_stages() const { return stages_.size(); }
  /// Blocks of stage `s` (0-based: timm's `layer1` is stage 0).
  const std::vector<ResidualBlock<T>>& stage(std::size_t s) const { return stages_.at(s); }
  std::vector<ResidualBlock<T>>& stage(std::size_t s) { return stages_.at(s); }

 protected:
  void do_visit_parameters(const ParameterVisitor<T>& visit, const std::string& prefix) override {
    const bool legacy = cfg_.style == ResNetStyle::legacy;
    stem_conv_.visit_parameters(visit, join_name(prefix, legacy ? "layer0.conv1" : "conv1"));
    stem_bn_.visit_parameters(visit, join_name(prefix, legacy ? "layer0.bn1" : "bn1"));
    for (std::size_t s = 0; s < stages_.size(); ++s)
      for (std::size_t i = 0; i < stages_[s].size(); ++i)
        stages_[s][i].visit_parameters(visit, join_name(prefix, block_name(s, i)));
    fc_.visit_parameters(visit, join_name(prefix, legacy ? "last_linear" : "fc"));
  }

 private:
  static Index output_features(const ResNetConfig& cfg) {
    return (cfg.width << (cfg.layers.size() - 1)) * (cfg.block == BlockType::bottleneck ? 4 : 1);
  }
  static std::string block_name(std::size_t stage, std::size_t i) {
    return "layer" + std::to_string(stage + 1) + "." + std::to_string(i);
  }
  void check_input(const Shape& input) const { check_resnet_input(cfg_, input); }

  ResNetConfig cfg_;
  Conv2d<T> stem_conv_;
  BatchNorm2d<T> stem_bn_;
  MaxPool2d<T> stem_pool_;
  std::vector<std::vector<ResidualBlock<T>>> stages_;
  GlobalAvgPool2d<T> pool_;
  Linear<T> fc_;
};

}  // namespace senet
