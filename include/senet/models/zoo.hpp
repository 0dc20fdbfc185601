#pragma once
/// \file zoo.hpp
/// The registry of named architectures, one entry per name (`model_registry()`): its family's
/// configuration, its pre-processing preset, a description and its class names.
/// `create_model<T>(name)` builds one; adding a family means its own header (its builder, class
/// and `NetworkOf` specialisation), its configuration in `ModelConfig` and its entries here.

#include <algorithm>
#include <array>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "senet/models/efficientnet.hpp"
#include "senet/models/fashion_mnist_classes.hpp"
#include "senet/models/imagenet_classes.hpp"
#include "senet/models/inception.hpp"
#include "senet/models/mobilenet.hpp"
#include "senet/models/mobilenet_v3.hpp"
#include "senet/models/regnet.hpp"
#include "senet/models/resnet.hpp"
#include "senet/models/shufflenet.hpp"

namespace senet {

/// How a registered model is built: the configuration its family's builder takes.
using ModelConfig = std::variant<ResNetConfig, InceptionConfig, MobileNetV3Config, RegNetConfig, EfficientNetConfig,
                                 MobileNetConfig, ShuffleNetConfig>;

/// The names of a model's classes in class-index order: a view of a static list such as
/// `imagenet_classes()` or `fashion_mnist_classes()`; empty when the classes have no names.
class ClassNames {
 public:
  ClassNames() = default;
  template <std::size_t N>
  ClassNames(const std::array<const char*, N>& names) : names_(names.data()), size_(N) {}  // NOLINT: implicit

  std::size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  /// The name of class `i` (`i < size()`).
  const char* operator[](std::size_t i) const { return names_[i]; }

 private:
  const char* const* names_ = nullptr;
  std::size_t size_ = 0;
};

/// One registered architecture: its configuration (builder, default input size, classes), the
/// pre-processing preset its published weights expect (`preprocess_preset`), a one-line
/// description (`senet models`), and the names of the classes its published weights predict
/// (`senet classify` prints them; empty: "class N").
struct ModelEntry {
  std::string name;
  ModelConfig config;
  std::string preset;
  std::string description;
  ClassNames labels;
};

namespace detail {

/// The small SE-ResNet trained by examples/digits/train.py on scikit-learn's 8x8 digits:
/// [N, 1, 8, 8] images scaled to [0, 1] -> 10 logits.
inline ResNetConfig digits_config() {
  ResNetConfig cfg;
  cfg.name = "se_resnet_digits";
  cfg.block = BlockType::basic;
  cfg.layers = {1, 1, 1};
  cfg.stem = StemType::small;
  cfg.width = 16;
  cfg.se = true;
  cfg.se_options = {4, SERounding::floor};
  cfg.in_channels = 1;
  cfg.num_classes = 10;
  cfg.input_size = 8;
  return cfg;
}

/// The small SE-ResNet trained by examples/fashion/train.py on Fashion-MNIST (`se_resnet_fashion`),
/// or without SE (`resnet_fashion`, `se` false): [N, 1, 28, 28] images normalised by the "fashion"
/// preset -> 10 logits. The small stem keeps 28x28; basic blocks [2, 2, 2] of widths 16 / 32 / 64
/// at 28x28 / 14x14 / 7x7; SE with `max(1, C / 4)` hidden channels in every block.
inline ResNetConfig fashion_config(bool se) {
  ResNetConfig cfg;
  cfg.name = se ? "se_resnet_fashion" : "resnet_fashion";
  cfg.block = BlockType::basic;
  cfg.layers = {2, 2, 2};
  cfg.stem = StemType::small;
  cfg.width = 16;
  cfg.se = se;
  cfg.se_options = {4, SERounding::floor};
  cfg.in_channels = 1;
  cfg.num_classes = 10;
  cfg.input_size = 28;
  return cfg;
}

/// SENet-154 as Cadene's `senet154` and timm's `legacy_senet154` build it (paper-facts §5, §8):
/// the deep stem (3x3 convs to 64, 64, 128), bottlenecks whose first 1x1 gives `planes * 2` and
/// whose 64-group 3x3 (stride there) gives `planes * 4` (`floor(planes * 4 / 64) * 64`), SE with
/// `C // 16`, layers [3, 8, 36, 3], projections 1x1 in layer1 and 3x3 stride 2 padding 1 in
/// layers 2-4; dropout (p 0.2) before `last_linear` is the identity at inference.
inline ResNetConfig senet154_config() {
  ResNetConfig cfg;
  cfg.name = "legacy_senet154";
  cfg.block = BlockType::bottleneck;
  cfg.layers = {3, 8, 36, 3};
  cfg.stem = StemType::deep;
  cfg.style = ResNetStyle::legacy;
  cfg.se = true;
  cfg.se_options = {16, SERounding::floor};
  cfg.groups = 64;
  cfg.base_width = 4;
  cfg.reduce_mult = 2;
  cfg.downsample_kernel = 3;
  return cfg;
}

/// `resnetD`, `seresnetD` (timm) and `legacy_seresnetD` (Caffe/Cadene) for D in 18..152, and the
/// ResNeXt forms `resnextD_GxWd`, `seresnextD_GxWd`, `legacy_seresnextD_GxWd` (G groups of W
/// channels in the first stage's 3x3: 32x4d) for D in 50, 101.
inline std::optional<ResNetConfig> imagenet_resnet_config(const std::string& name) {
  ResNetConfig cfg;
  cfg.name = name;
  std::string rest = name;
  const auto take = [&rest](const std::string& prefix) {
    if (rest.rfind(prefix, 0) != 0) return false;
    rest = rest.substr(prefix.size());
    return true;
  };
  if (take("legacy_se")) {
    cfg.style = ResNetStyle::legacy;
    cfg.se = true;
    cfg.se_options = {16, SERounding::floor};
  } else if (take("se")) {
    cfg.se = true;
  }
  std::string depth;
  if (take("resnext")) {
    const auto underscore = rest.find('_'), x = rest.find('x');
    if (underscore == std::string::npos || x == std::string::npos || rest.back() != 'd') return std::nullopt;
    depth = rest.substr(0, underscore);
    const std::string groups = rest.substr(underscore + 1, x - underscore - 1);
    const std::string base_width = rest.substr(x + 1, rest.size() - x - 2);
    if (groups != "32" || base_width != "4" || (depth != "50" && depth != "101")) return std::nullopt;
    cfg.groups = 32;
    cfg.base_width = 4;
  } else if (take("resnet") && (cfg.style == ResNetStyle::timm || cfg.se)) {
    depth = rest;
  }
  if (depth == "18" || depth == "34") cfg.block = BlockType::basic;
  if (depth == "18")
    cfg.layers = {2, 2, 2, 2};
  else if (depth == "34" || depth == "50")
    cfg.layers = {3, 4, 6, 3};
  else if (depth == "101")
    cfg.layers = {3, 4, 23, 3};
  else if (depth == "152")
    cfg.layers = {3, 8, 36, 3};
  else
    return std::nullopt;
  return cfg;
}
/// torchvision's `regnet_y_*`: `BlockParams.from_init_params(depth, w_0, w_a, w_m, group_width,
/// se_ratio=0.25)`, stem width 32.
inline RegNetConfig regnet_y_config(const std::string& name, Index depth, Index w_0, double w_a, double w_m,
                                    Index group_width) {
  RegNetConfig cfg;
  cfg.name = name;
  cfg.depth = depth;
  cfg.w_0 = w_0;
  cfg.w_a = w_a;
  cfg.w_m = w_m;
  cfg.group_width = group_width;
  return cfg;
}

/// torchvision's `efficientnet_b*` (B0 .. B4): `_efficientnet_conf(width_mult, depth_mult)`, made
/// for `input_size` x `input_size` images.
inline EfficientNetConfig efficientnet_config(const std::string& name, double width_mult, double depth_mult,
                                              Index input_size) {
  EfficientNetConfig cfg;
  cfg.name = name;
  cfg.width_mult = width_mult;
  cfg.depth_mult = depth_mult;
  cfg.input_size = input_size;
  return cfg;
}
}  // namespace detail

/// Every registered model, in display order: one line per name.
inline const std::vector<ModelEntry>& model_registry() {
  static const std::vector<ModelEntry> entries = [] {
    std::vector<ModelEntry> e;
    const auto resnet = [&e](const std::string& name, const std::string& description) {
      e.push_back({name, *detail::imagenet_resnet_config(name), "timm", description, imagenet_classes()});
    };
    for (const char* d : {"18", "34", "50", "101", "152"})
      resnet(std::string("resnet") + d, std::string("ResNet-") + d + " (torchvision / timm)");
    for (const char* d : {"18", "34", "50", "101", "152"})
      resnet(std::string("seresnet") + d, std::string("SE-ResNet-") + d + " (timm)");
    for (const char* d : {"18", "34", "50", "101", "152"})
      resnet(std::string("legacy_seresnet") + d, std::string("SE-ResNet-") + d + " (Caffe / Cadene, timm legacy)");
    resnet("resnext50_32x4d", "ResNeXt-50 32x4d (torchvision / timm)");
    resnet("seresnext50_32x4d", "SE-ResNeXt-50 32x4d (timm)");
    resnet("seresnext101_32x4d", "SE-ResNeXt-101 32x4d (timm)");
    resnet("legacy_seresnext50_32x4d", "SE-ResNeXt-50 32x4d (Caffe / Cadene, timm legacy)");
    resnet("legacy_seresnext101_32x4d", "SE-ResNeXt-101 32x4d (Caffe / Cadene, timm legacy)");
    e.push_back({"legacy_senet154", detail::senet154_config(), "timm",
                 "SENet-154 (Cadene's senet154, timm legacy_senet154: ImageNet mean / std)", imagenet_classes()});
    e.push_back({"bn_inception", InceptionConfig{"bn_inception", false}, "bninception",
                 "BN-Inception (Cadene's bninception, Caffe names, convolutions with biases)", imagenet_classes()});
    e.push_back({"se_bn_inception", InceptionConfig{"se_bn_inception", true}, "bninception",
                 "SE-BN-Inception (the SENet authors': SE after every module's concatenation)", imagenet_classes()});
    e.push_back({"mobilenet", MobileNetConfig{"mobilenet", false}, "timm",
                 "MobileNet v1 1.0-224 (the SE paper's baseline; torchvision-style names)", imagenet_classes()});
    e.push_back({"se_mobilenet", MobileNetConfig{"se_mobilenet", true}, "timm",
                 "SE-MobileNet 1.0-224 (the SE paper's: SE at the end of all 13 depthwise-separable blocks)",
                 imagenet_classes()});
    e.push_back({"shufflenet", ShuffleNetConfig{"shufflenet", false}, "timm",
                 "ShuffleNet v1 1x, g = 3 (Megvii's official ShuffleNet-Series names and shuffle)", imagenet_classes()});
    e.push_back({"se_shufflenet", ShuffleNetConfig{"se_shufflenet", true}, "timm",
                 "SE-ShuffleNet 1x, g = 3 (the SE paper's: SE on the main branch of all 16 units)", imagenet_classes()});
    e.push_back({"mobilenet_v3_large", MobileNetV3Config{"mobilenet_v3_large", MobileNetV3Variant::large}, "torchvision",
                 "MobileNetV3-Large (torchvision: SE with hard-sigmoid gate in 8 of 15 blocks)", imagenet_classes()});
    e.push_back({"mobilenet_v3_small", MobileNetV3Config{"mobilenet_v3_small", MobileNetV3Variant::small}, "torchvision",
                 "MobileNetV3-Small (torchvision: SE with hard-sigmoid gate in 9 of 11 blocks)", imagenet_classes()});
    e.push_back({"regnet_y_400mf", detail::regnet_y_config("regnet_y_400mf", 16, 48, 27.89, 2.09, 8), "torchvision",
                 "RegNetY-400MF (torchvision: SE with ReLU and sigmoid gate in all 16 bottlenecks)", imagenet_classes()});
    e.push_back({"regnet_y_800mf", detail::regnet_y_config("regnet_y_800mf", 14, 56, 38.84, 2.4, 16), "torchvision",
                 "RegNetY-800MF (torchvision: SE with ReLU and sigmoid gate in all 14 bottlenecks)", imagenet_classes()});
    e.push_back({"efficientnet_b0", detail::efficientnet_config("efficientnet_b0", 1.0, 1.0, 224), "efficientnet_b0",
                 "EfficientNet-B0 (torchvision: SE with SiLU inside and sigmoid gate in all 16 MBConv blocks)",
                 imagenet_classes()});
    e.push_back({"efficientnet_b1", detail::efficientnet_config("efficientnet_b1", 1.0, 1.1, 240), "efficientnet_b1",
                 "EfficientNet-B1 (torchvision: B0 with 1.1x the blocks, 23, made for 240x240)", imagenet_classes()});
    e.push_back({"se_resnet_digits", detail::digits_config(), "digits",
                 "small SE-ResNet trained on scikit-learn's 8x8 digits (examples/digits)", {}});
    e.push_back({"se_resnet_fashion", detail::fashion_config(true), "fashion",
                 "small SE-ResNet trained on Fashion-MNIST, 28x28 grey (examples/fashion)", fashion_mnist_classes()});
    e.push_back({"resnet_fashion", detail::fashion_config(false), "fashion",
                 "se_resnet_fashion without SE, trained the same way (examples/fashion)", fashion_mnist_classes()});
    return e;
  }();
  return entries;
}

/// The entry of a registered name; throws `senet::Error` for an unknown one, listing the known.
inline const ModelEntry& model_entry(const std::string& name) {
  for (const auto& e : model_registry())
    if (e.name == name) return e;
  std::string known;
  for (const auto& e : model_registry()) known += (known.empty() ? "" : ", ") + e.name;
  throw Error("unknown model '" + name + "' (known: " + known + ")");
}

/// Every registered architecture name, in display order.
inline const std::vector<std::string>& model_names() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> n;
    for (const auto& e : model_registry()) n.push_back(e.name);
    return n;
  }();
  return names;
}

/// The configuration behind a registered name, with `num_classes` outputs when given (else the
/// model's own: 1000 for the ImageNet models); throws `senet::Error` for an unknown name.
inline ModelConfig model_config_of(const std::string& name, std::optional<Index> num_classes = std::nullopt) {
  ModelConfig cfg = model_entry(name).config;
  if (num_classes) std::visit([&](auto& c) { c.num_classes = *num_classes; }, cfg);
  return cfg;
}

/// The ResNet-family configuration behind a registered name (its SE options and positions are
/// fields of it); throws `senet::Error` for an unknown name or another family's.
inline ResNetConfig model_config(const std::string& name, std::optional<Index> num_classes = std::nullopt) {
  ModelConfig cfg = model_config_of(name, num_classes);
  const ResNetConfig* resnet = std::get_if<ResNetConfig>(&cfg);
  SENET_CHECK(resnet != nullptr, name, " is not a ResNet-family model");
  return *resnet;
}

/// A new model with zero weights (load them with `load_weights`), of the family `cfg` configures.
template <class T, class Config, class Net = typename NetworkOf<Config>::template type<T>>
std::unique_ptr<Model<T>> create_model(const Config& cfg) {
  return std::make_unique<Net>(cfg);
}
template <class T>
std::unique_ptr<Model<T>> create_model(const ModelConfig& cfg) {
  return std::visit([](const auto& c) { return create_model<T>(c); }, cfg);
}
template <class T>
std::unique_ptr<Model<T>> create_model(const std::string& name, std::optional<Index> num_classes = std::nullopt) {
  return create_model<T>(model_config_of(name, num_classes));
}

}  // namespace senet
