#pragma once
/// \file linear.hpp
/// `senet::Linear<T>` (fully connected) and `senet::Flatten<T>`.

#include <optional>

#include "senet/layers/module.hpp"
#include "senet/ops/linear.hpp"

namespace senet {

/// Fully connected layer, as `torch.nn.Linear`: `y = x W^T + b`. Parameters `weight`
/// [out, in] and `bias` [out] when enabled. Input [N, in] (or any [N, ...] with `in` elements
/// per row) -> output [N, out].
template <class T>
class Linear : public Module<T> {
 public:
  Linear(Index in_features, Index out_features, bool bias = true)
      : in_features_(in_features), out_features_(out_features), weight_({out_features, in_features}) {
    SENET_CHECK(in_features >= 1 && out_features >= 1, "Linear: features must be positive");
    if (bias) bias_ = Tensor<T>({out_features});
  }

  Tensor<T> forward(const Tensor<T>& x) const override {
    Tensor<T> y(output_shape(x.shape()), uninitialized);  // every element is written
    linear(x, weight_, bias_ ? bias_->data() : nullptr, y);
    return y;
  }
  Shape output_shape(const Shape& input) const override {
    SENET_CHECK(!input.empty() && input[0] * in_features() == shape_numel(input), "Linear: input ", to_string(input),
                " does not have ", in_features(), " features per row");
    return {input[0], out_features()};
  }
  std::int64_t macs(const Shape& input) const override { return input[0] * in_features() * out_features(); }
  std::string type_name() const override { return "Linear"; }

  Index in_features() const { return in_features_; }
  Index out_features() const { return out_features_; }
  /// `[out, in]`, as in PyTorch.
  const Tensor<T>& weight() const { return weight_; }
  /// `[out]`, or null for a bias-free layer.
  const Tensor<T>* bias() const { return bias_ ? &*bias_ : nullptr; }

 protected:
  void do_visit_parameters(const ParameterVisitor<T>& visit, const std::string& prefix) override {
    visit(join_name(prefix, "weight"), weight_, ParameterKind::learnable);
    if (bias_) visit(join_name(prefix, "bias"), *bias_, ParameterKind::learnable);
  }

 private:
  Index in_features_, out_features_;  // kept apart from the tensors (a prepared model frees those)
  Tensor<T> weight_;
  std::optional<Tensor<T>> bias_;
};

/// [N, C, H, W] -> [N, C*H*W], as `torch.nn.Flatten`.
template <class T>
class Flatten : public Module<T> {
 public:
  Tensor<T> forward(const Tensor<T>& x) const override { return x.reshaped(output_shape(x.shape())); }
  Shape output_shape(const Shape& input) const override {
    SENET_CHECK(!input.empty(), "Flatten: input must have a batch dimension");
    return {input[0], input[0] ? shape_numel(input) / input[0] : 0};
  }
  std::string type_name() const override { return "Flatten"; }
};

}  // namespace senet
