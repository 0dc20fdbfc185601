#pragma once
/// \file pooling.hpp
/// Pooling layers: `MaxPool2d<T>`, `AvgPool2d<T>` (PyTorch's padding and ceil-mode rules),
/// `AdaptiveAvgPool2d<T>` and
/// the global `GlobalAvgPool2d<T>` / `GlobalMaxPool2d<T>` ([N, C, H, W] -> [N, C]).

#include "senet/layers/module.hpp"
#include "senet/ops/pooling.hpp"

namespace senet {

/// Square-window pooling parameters: `pool_params(3, 2, 1)` is 3x3, stride 2, padding 1.
inline Pool2dParams pool_params(Index kernel, Index stride, Index padding = 0, bool ceil_mode = false,
                                bool count_include_pad = true) {
  Pool2dParams p;
  p.kernel_h = p.kernel_w = kernel;
  p.stride_h = p.stride_w = stride;
  p.pad_h = p.pad_w = padding;
  p.ceil_mode = ceil_mode;
  p.count_include_pad = count_include_pad;
  return p;
}

namespace detail {
/// A sliding-window pooling layer over `[N, C, H, W]`; `Op` names the kernel.
template <class T, class Op>
class WindowPool2d : public Module<T> {
 public:
  explicit WindowPool2d(const Pool2dParams& params) : params_(params) {}
  Tensor<T> forward(const Tensor<T>& x) const override {
    Tensor<T> y(output_shape(x.shape()), uninitialized);  // every element is written
    Op::run(x, params_, y);
    return y;
  }
  Shape output_shape(const Shape& input) const override { return pool2d_output_shape(input, params_); }
  std::string type_name() const override { return Op::name; }
  const Pool2dParams& params() const { return params_; }

 private:
  Pool2dParams params_;
};
struct MaxPoolOp {
  static constexpr const char* name = "MaxPool2d";
  template <class T>
  static void run(const Tensor<T>& x, const Pool2dParams& p, Tensor<T>& y) {
    max_pool2d(x, p, y);
  }
};
struct AvgPoolOp {
  static constexpr const char* name = "AvgPool2d";
  template <class T>
  static void run(const Tensor<T>& x, const Pool2dParams& p, Tensor<T>& y) {
    avg_pool2d(x, p, y);
  }
};
}  // namespace detail

/// Max pooling, as `torch.nn.MaxPool2d`. [N, C, H, W] -> [N, C, OH, OW].
template <class T>
class MaxPool2d : public detail::WindowPool2d<T, detail::MaxPoolOp> {
 public:
  using detail::WindowPool2d<T, detail::MaxPoolOp>::WindowPool2d;
};

/// Average pooling, as `torch.nn.AvgPool2d` (PyTorch's divisor rules). [N, C, H, W] -> [N, C, OH, OW].
template <class T>
class AvgPool2d : public detail::WindowPool2d<T, detail::AvgPoolOp> {
 public:
  using detail::WindowPool2d<T, detail::AvgPoolOp>::WindowPool2d;
};

/// Adaptive average pooling to a fixed output size, as `torch.nn.AdaptiveAvgPool2d((OH, OW))`.
template <class T>
class AdaptiveAvgPool2d : public Module<T> {
 public:
  AdaptiveAvgPool2d(Index output_h, Index output_w) : output_h_(output_h), output_w_(output_w) {
    SENET_CHECK(output_h >= 1 && output_w >= 1, "AdaptiveAvgPool2d: output size must be positive");
  }
  Tensor<T> forward(const Tensor<T>& x) const override {
    Tensor<T> y(output_shape(x.shape()), uninitialized);  // every element is written
    adaptive_avg_pool2d(x, y);
    return y;
  }
  Shape output_shape(const Shape& input) const override {
    SENET_CHECK(input.size() == 4, "AdaptiveAvgPool2d: input must be [N, C, H, W], got ", to_string(input));
    return {input[0], input[1], output_h_, output_w_};
  }
  std::string type_name() const override { return "AdaptiveAvgPool2d"; }

 private:
  Index output_h_, output_w_;
};

namespace detail {
/// A whole-plane pooling layer, [N, C, H, W] -> [N, C]; `Op` names the kernel.
template <class T, class Op>
class GlobalPool2d : public Module<T> {
 public:
  Tensor<T> forward(const Tensor<T>& x) const override {
    Tensor<T> y(output_shape(x.shape()), uninitialized);  // every element is written
    Op::run(x, y);
    return y;
  }
  Shape output_shape(const Shape& input) const override {
    SENET_CHECK(input.size() == 4, Op::name, ": input must be [N, C, H, W], got ", to_string(input));
    return {input[0], input[1]};
  }
  std::string type_name() const override { return Op::name; }
};
struct GlobalAvgPoolOp {
  static constexpr const char* name = "GlobalAvgPool2d";
  template <class T>
  static void run(const Tensor<T>& x, Tensor<T>& y) {
    global_avg_pool(x, y);
  }
};
struct GlobalMaxPoolOp {
  static constexpr const char* name = "GlobalMaxPool2d";
  template <class T>
  static void run(const Tensor<T>& x, Tensor<T>& y) {
    global_max_pool(x, y);
  }
};
}  // namespace detail

/// Mean over each plane: [N, C, H, W] -> [N, C] (timm's `SelectAdaptivePool2d('avg', flatten=True)`).
template <class T>
class GlobalAvgPool2d : public detail::GlobalPool2d<T, detail::GlobalAvgPoolOp> {};

/// Maximum over each plane: [N, C, H, W] -> [N, C].
template <class T>
class GlobalMaxPool2d : public detail::GlobalPool2d<T, detail::GlobalMaxPoolOp> {};

}  // namespace senet
