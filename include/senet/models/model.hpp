#pragma once
/// \file model.hpp
/// `senet::Model<T>`: what every architecture offers on top of `Module<T>`.

#include <string>

#include "senet/layers/module.hpp"

namespace senet {

/// An image classifier: [N, in_channels, H, W] images -> [N, num_classes] logits.
template <class T>
class Model : public Module<T> {
 public:
  /// Registered architecture name, e.g. "seresnet50".
  virtual const std::string& name() const = 0;
  virtual Index in_channels() const = 0;
  virtual Index num_classes() const = 0;
  /// The square image size the model is made for (224 for ImageNet models).
  virtual Index input_size() const = 0;

  /// Per-layer rows (name, type, output shape, params, MACs) for one image of `size` x `size`.
  std::vector<LayerSummary> summary(Index size = 224, Index batch = 1) const {
    std::vector<LayerSummary> rows;
    this->summarize({batch, in_channels(), size, size}, "", rows);
    return rows;
  }
  /// Multiply-accumulates of one forward pass for a batch of `size` x `size` images.
  std::int64_t total_macs(Index size = 224, Index batch = 1) const {
    std::int64_t macs = 0;
    for (const auto& row : summary(size, batch)) macs += row.macs;
    return macs;
  }
};

}  // namespace senet
