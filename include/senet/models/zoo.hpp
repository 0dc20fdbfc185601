#pragma once
/// \file zoo.hpp
/// The registry of named architectures: `model_names()`, `model_config(name)`, `create_model<T>(name)`.

#include <memory>
#include <string>
#include <vector>

#include "senet/models/resnet.hpp"

namespace senet {

/// Every registered architecture name, in display order.
inline const std::vector<std::string>& model_names() {
  static const std::vector<std::string> names = {
      "resnet18",          "resnet34",          "resnet50",          "resnet101",          "resnet152",
      "seresnet18",        "seresnet34",        "seresnet50",        "seresnet101",        "seresnet152",
      "legacy_seresnet18", "legacy_seresnet34", "legacy_seresnet50", "legacy_seresnet101", "legacy_seresnet152"};
  return names;
}

/// The configuration behind a registered name; throws `senet::Error` for an unknown one.
inline ResNetConfig model_config(const std::string& name, Index num_classes = 1000) {
  ResNetConfig cfg;
  cfg.name = name;
  cfg.num_classes = num_classes;
  std::string depth = name;
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
  } else {
    depth.clear();
  }
  if (depth == "18")
    cfg.block = BlockType::basic, cfg.layers = {2, 2, 2, 2};
  else if (depth == "34")
    cfg.block = BlockType::basic, cfg.layers = {3, 4, 6, 3};
  else if (depth == "50")
    cfg.layers = {3, 4, 6, 3};
  else if (depth == "101")
    cfg.layers = {3, 4, 23, 3};
  else if (depth == "152")
    cfg.layers = {3, 8, 36, 3};
  else {
    std::string known;
    for (const auto& n : model_names()) known += (known.empty() ? "" : ", ") + n;
    throw Error("unknown model '" + name + "' (known: " + known + ")");
  }
  return cfg;
}

/// A new model with zero weights (load them with `load_weights`).
template <class T>
std::unique_ptr<Model<T>> create_model(const ResNetConfig& cfg) {
  return std::make_unique<ResNet<T>>(cfg);
}
template <class T>
std::unique_ptr<Model<T>> create_model(const std::string& name, Index num_classes = 1000) {
  return create_model<T>(model_config(name, num_classes));
}

}  // namespace senet
