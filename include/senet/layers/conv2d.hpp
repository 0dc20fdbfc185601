#pragma once
/// \file conv2d.hpp
/// `senet::Conv2d<T>`: a 2-D convolution owning `weight` [K, C/groups, kh, kw] and optional `bias` [K].

#include <optional>

#include "senet/layers/module.hpp"
#include "senet/ops/conv2d.hpp"

namespace senet {

/// Square-kernel convolution parameters: `conv_params(3, 2, 1)` is 3x3, stride 2, padding 1.
inline Conv2dParams conv_params(Index kernel, Index stride = 1, Index padding = 0, Index dilation = 1,
                                Index groups = 1) {
  Conv2dParams p;
  p.kernel_h = p.kernel_w = kernel;
  p.stride_h = p.stride_w = stride;
  p.pad_h = p.pad_w = padding;
  p.dilation_h = p.dilation_w = dilation;
  p.groups = groups;
  return p;
}

/// 2-D convolution, as `torch.nn.Conv2d`. Parameters: `weight` [out, in/groups, kh, kw],
/// `bias` [out] when enabled. Input [N, in, H, W] -> output [N, out, OH, OW].
template <class T>
class Conv2d : public Module<T> {
 public:
  Conv2d(Index in_channels, Index out_channels, const Conv2dParams& params, bool bias = false)
      : params_(params),
        weight_shape_({out_channels, in_channels / std::max<Index>(params.groups, 1), params.kernel_h, params.kernel_w}),
        weight_(weight_shape_) {
    SENET_CHECK(in_channels >= 1 && out_channels >= 1 && params.groups >= 1 && in_channels % params.groups == 0 &&
                    out_channels % params.groups == 0,
                "Conv2d: channels ", in_channels, " -> ", out_channels, " do not divide into ", params.groups,
                " groups");
    if (bias) bias_ = Tensor<T>({out_channels});
  }

  Tensor<T> forward(const Tensor<T>& x) const override {
    Tensor<T> y(output_shape(x.shape()), uninitialized);  // every element is written
    conv2d(x, weight_, bias_ ? bias_->data() : nullptr, params_, y);
    return y;
  }

  Shape output_shape(const Shape& input) const override { return conv2d_output_shape(input, weight_shape_, params_); }
  std::int64_t macs(const Shape& input) const override { return conv2d_macs(output_shape(input), weight_shape_); }
  std::string type_name() const override { return "Conv2d"; }

  const Conv2dParams& params() const { return params_; }
  Index in_channels() const { return weight_shape_[1] * params_.groups; }
  Index out_channels() const { return weight_shape_[0]; }
  Tensor<T>& weight() { return weight_; }
  const Tensor<T>& weight() const { return weight_; }
  /// The bias, or null when the convolution has none.
  const Tensor<T>* bias() const { return bias_ ? &*bias_ : nullptr; }
  Tensor<T>* bias() { return bias_ ? &*bias_ : nullptr; }

 protected:
  void do_visit_parameters(const ParameterVisitor<T>& visit, const std::string& prefix) override {
    visit(join_name(prefix, "weight"), weight_, ParameterKind::learnable);
    if (bias_) visit(join_name(prefix, "bias"), *bias_, ParameterKind::learnable);
  }

 private:
  Conv2dParams params_;
  Shape weight_shape_;  // kept apart from the tensor: a prepared model frees the weights, not the shapes
  Tensor<T> weight_;
  std::optional<Tensor<T>> bias_;
};

}  // namespace senet
