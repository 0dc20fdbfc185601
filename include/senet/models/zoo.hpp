#pragma once
/// \file zoo.hpp
/// The registry of named architectures: `model_names()`, `model_config(name)`, `create_model<T>(name)`.

#include <algorithm>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "senet/models/resnet.hpp"

namespace senet {

/// Every registered architecture name, in display order.
inline const std::vector<std::string>& model_names() {
  static const std::vector<std::string> names = {
      "resnet18",          "resnet34",           "resnet50",           "resnet101",
      "resnet152",         "seresnet18",         "seresnet34",         "seresnet50",
      "seresnet101",       "seresnet152",        "legacy_seresnet18",  "legacy_seresnet34",
      "legacy_seresnet50", "legacy_seresnet101", "legacy_seresnet152", "resnext50_32x4d",
      "seresnext50_32x4d", "seresnext101_32x4d", "legacy_seresnext50_32x4d", "legacy_seresnext101_32x4d",
      "se_resnet_digits"};
  return names;
}

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
}  // namespace detail

/// The configuration behind a registered name, with `num_classes` outputs when given (else the
/// model's own: 1000 for the ImageNet models); throws `senet::Error` for an unknown name.
inline ResNetConfig model_config(const std::string& name, std::optional<Index> num_classes = std::nullopt) {
  const auto& names = model_names();
  std::optional<ResNetConfig> cfg;
  if (std::find(names.begin(), names.end(), name) != names.end())
    cfg = name == "se_resnet_digits" ? detail::digits_config() : detail::imagenet_resnet_config(name);
  if (!cfg) {
    std::string known;
    for (const auto& n : model_names()) known += (known.empty() ? "" : ", ") + n;
    throw Error("unknown model '" + name + "' (known: " + known + ")");
  }
  if (num_classes) cfg->num_classes = *num_classes;
  return *cfg;
}

/// A new model with zero weights (load them with `load_weights`).
template <class T>
std::unique_ptr<Model<T>> create_model(const ResNetConfig& cfg) {
  return std::make_unique<ResNet<T>>(cfg);
}
template <class T>
std::unique_ptr<Model<T>> create_model(const std::string& name, std::optional<Index> num_classes = std::nullopt) {
  return create_model<T>(model_config(name, num_classes));
}

}  // namespace senet
