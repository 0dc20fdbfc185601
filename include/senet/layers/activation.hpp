#pragma once
/// \file activation.hpp
/// Parameter-free element-wise layers `ReLU<T>`, `Sigmoid<T>`, `Tanh<T>`, `Hardswish<T>`, `SiLU<T>` and the row-wise
/// `Softmax<T>` over `[N, K]` logits. Any input shape; the output has the input's shape.

#include "senet/layers/module.hpp"
#include "senet/ops/activation.hpp"

namespace senet {

namespace detail {
/// Shared body of the element-wise activations; `Kernel` is the in-place op.
template <class T, void (*Kernel)(T*, Index)>
class ElementwiseLayer : public Module<T> {
 public:
  void forward_inplace(Tensor<T>& x) const override { Kernel(x.data(), x.size()); }
  Tensor<T> forward(const Tensor<T>& x) const override {
    Tensor<T> y(x);
    forward_inplace(y);
    return y;
  }
  Shape output_shape(const Shape& input) const override { return input; }
  /// No summary row: an element-wise activation has no parameters, no MACs and its input's shape.
  Shape summarize(const Shape& input, const std::string&, std::vector<LayerSummary>&) const override {
    return input;
  }
};
}  // namespace detail

/// `max(x, 0)`, as `torch.nn.ReLU`.
template <class T>
class ReLU : public detail::ElementwiseLayer<T, relu_inplace<T>> {
 public:
  std::string type_name() const override { return "ReLU"; }
};

/// `1 / (1 + exp(-x))`, as `torch.nn.Sigmoid`.
template <class T>
class Sigmoid : public detail::ElementwiseLayer<T, sigmoid_inplace<T>> {
 public:
  std::string type_name() const override { return "Sigmoid"; }
};

/// `tanh(x)`, as `torch.nn.Tanh`.
template <class T>
class Tanh : public detail::ElementwiseLayer<T, tanh_inplace<T>> {
 public:
  std::string type_name() const override { return "Tanh"; }
};

/// `x * relu6(x + 3) / 6`, as `torch.nn.Hardswish` (MobileNetV3).
template <class T>
class Hardswish : public detail::ElementwiseLayer<T, hard_swish_inplace<T>> {
 public:
  std::string type_name() const override { return "Hardswish"; }
};

/// `x * sigmoid(x)`, as `torch.nn.SiLU` (EfficientNet).
template <class T>
class SiLU : public detail::ElementwiseLayer<T, silu_inplace<T>> {
 public:
  std::string type_name() const override { return "SiLU"; }
};

/// Softmax over dimension 1 of `[N, K]` logits, as `torch.nn.Softmax(dim=1)`.
template <class T>
class Softmax : public Module<T> {
 public:
  Tensor<T> forward(const Tensor<T>& x) const override {
    Tensor<T> y(x);
    softmax_rows_inplace(y);
    return y;
  }
  Shape output_shape(const Shape& input) const override {
    SENET_CHECK(input.size() == 2, "Softmax: input must be [N, K], got ", to_string(input));
    return input;
  }
  std::string type_name() const override { return "Softmax"; }
};

}  // namespace senet
