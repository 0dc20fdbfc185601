#pragma once
/// \file model.hpp
/// `senet::Model<T>`: what every architecture offers on top of `Module<T>`.

#include <algorithm>
#include <cstdint>
#include <string>

#include "senet/core/error.hpp"
#include "senet/layers/module.hpp"

namespace senet {

/// An image classifier: [N, in_channels, H, W] images -> [N, num_classes] logits.
///
/// Thread safety: the const members (`forward`, `summary`, `activation_bytes`, ...) may run on
/// many threads at once on one model, naive or prepared; `forward` writes only buffers of its own
/// call. Configure the model (load weights, set the activation limit) before sharing it. The
/// contract in full, with the thread count and determinism: `senet/models/prepared.hpp`.
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

  /// The default activation limit: 4 GiB (SE-ResNet-50 at 224x224 needs about 16 MB per image).
  static constexpr std::uint64_t kDefaultActivationLimit = std::uint64_t(4) << 30;

  /// Bytes of activation memory `forward` may take for an input of shape `input` [N, C, H, W].
  /// The reference path's figure is an upper estimate from the layers' output shapes: six times
  /// the largest activation (a block's input, branch and shortcut, and a convolution's unfolded
  /// input, up to twice as large). The fast engine reports its planned arena exactly.
  virtual std::uint64_t activation_bytes(const Shape& input) const {
    std::vector<LayerSummary> rows;
    this->summarize(input, "", rows);
    double largest = double(shape_numel(input));
    for (const auto& row : rows) largest = std::max(largest, double(shape_numel(row.output_shape)));
    return saturated_bytes(6 * largest * double(sizeof(T)));
  }

  /// The most activation memory one `forward` may take; an input that needs more is refused with
  /// a `senet::Error` before anything is allocated (a server's defence against huge images).
  /// Set it before sharing the model between threads.
  void set_activation_limit(std::uint64_t bytes) { activation_limit_ = bytes; }
  std::uint64_t activation_limit() const { return activation_limit_; }

 protected:
  /// Throws when `bytes` of activations for `input` exceed the limit.
  void check_activation_memory(const Shape& input, std::uint64_t bytes) const {
    SENET_CHECK(bytes <= activation_limit_, name(), ": an input of ", to_string(input), " needs ", megabytes(bytes),
                " MB of activations, over the limit of ", megabytes(activation_limit_),
                " MB (Model::set_activation_limit; senet run --max-activation-mb)");
  }
  void check_activation_memory(const Shape& input) const { check_activation_memory(input, activation_bytes(input)); }

  static std::uint64_t saturated_bytes(double bytes) {
    return bytes >= 1.8e19 ? ~std::uint64_t(0) : std::uint64_t(bytes);
  }

 private:
  static std::uint64_t megabytes(std::uint64_t bytes) { return (bytes + (1u << 20) - 1) >> 20; }

  std::uint64_t activation_limit_ = kDefaultActivationLimit;
};

}  // namespace senet
