#pragma once
/// \file zoo.hpp
/// The registry of named architectures: `model_names()`, `model_config(name)`, `create_model<T>(name)`.

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
      "legacy_seresnet50", "legacy_seresnet101", "legacy_seresnet152", "se_resnet_digits"};
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

/// `resnetD`, `seresnetD` (timm) and `legacy_seresnetD` (Caffe/Cadene) for D in 18..152.
inline std::optional<ResNetConfig> imagenet_resnet_config(const std::string& name) {
  ResNetConfig cfg;
  cfg.name = name;
  std::string depth;
  if (name.rfind("legacy_seresnet", 0) == 0) {
    cfg.style = ResNetStyle::legacy;
    cfg.se = true;
    cfg.se_options = {16, SERounding::floor};
    depth = name.substr(15);
  } else if (name.rfind("seresnet", 0) == 0) {
    cfg.se = true;
    depth = name.substr(8);
  } else if (name.rfind("resnet", 0) == 0) {
    depth = name.substr(6);
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
  std::optional<ResNetConfig> cfg =
      name == "se_resnet_digits" ? detail::digits_config() : detail::imagenet_resnet_config(name);
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
