#pragma once
/// \file batch_norm2d.hpp
/// `senet::BatchNorm2d<T>`: inference-mode batch normalisation over the channel axis.

#include <cmath>
#include <vector>

#include "senet/layers/module.hpp"
#include "senet/ops/elementwise.hpp"

namespace senet {

/// Inference BatchNorm, as `torch.nn.BatchNorm2d` in `eval()`:
/// `y = (x - running_mean) / sqrt(running_var + eps) * weight + bias`, per channel.
/// Parameters `weight`, `bias` [C]; buffers `running_mean`, `running_var` [C] (mean 0, var 1,
/// weight 1, bias 0 at construction, as PyTorch initialises them).
template <class T>
class BatchNorm2d : public Module<T> {
 public:
  explicit BatchNorm2d(Index channels, double eps = 1e-5)
      : eps_(eps),
        channels_(channels),
        weight_({channels}),
        bias_({channels}),
        running_mean_({channels}),
        running_var_({channels}) {
    weight_.fill(T(1));
    running_var_.fill(T(1));
  }

  /// The per-channel `scale` and `shift` such that `y = x * scale + shift`: what a prepare step
  /// folds into the preceding convolution.
  void folded(std::vector<T>& scale, std::vector<T>& shift) const {
    const Index C = channels();
    scale.resize(static_cast<std::size_t>(C));
    shift.resize(static_cast<std::size_t>(C));
    for (Index c = 0; c < C; ++c) {
      // Computed in double so that float models fold as precisely as PyTorch evaluates.
      const double s = double(weight_[c]) / std::sqrt(double(running_var_[c]) + eps_);
      scale[c] = T(s);
      shift[c] = T(double(bias_[c]) - double(running_mean_[c]) * s);
    }
  }

  void forward_inplace(Tensor<T>& x) const override {
    SENET_CHECK(x.rank() >= 2 && x.dim(1) == channels(), "BatchNorm2d: expected ", channels(), " channels, got ",
                to_string(x.shape()));
    std::vector<T> scale, shift;
    folded(scale, shift);
    channel_affine_inplace(x, scale.data(), shift.data());
  }
  Tensor<T> forward(const Tensor<T>& x) const override {
    Tensor<T> y(x);
    forward_inplace(y);
    return y;
  }

  Shape output_shape(const Shape& input) const override {
    SENET_CHECK(input.size() >= 2 && input[1] == channels(), "BatchNorm2d: expected ", channels(), " channels, got ",
                to_string(input));
    return input;
  }
  std::string type_name() const override { return "BatchNorm2d"; }

  Index channels() const { return channels_; }
  double eps() const { return eps_; }

 protected:
  void do_visit_parameters(const ParameterVisitor<T>& visit, const std::string& prefix) override {
    visit(join_name(prefix, "weight"), weight_, ParameterKind::learnable);
    visit(join_name(prefix, "bias"), bias_, ParameterKind::learnable);
    visit(join_name(prefix, "running_mean"), running_mean_, ParameterKind::buffer);
    visit(join_name(prefix, "running_var"), running_var_, ParameterKind::buffer);
  }

 private:
  double eps_;
  Index channels_;  // kept apart from the tensors (a prepared model frees those)
  Tensor<T> weight_, bias_, running_mean_, running_var_;
};

}  // namespace senet
