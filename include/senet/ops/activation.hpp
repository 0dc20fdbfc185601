#pragma once
/// \file activation.hpp
/// Element-wise activations applied in place, and the row-wise softmax.

#include <algorithm>
#include <cmath>

#include "senet/core/error.hpp"
#include "senet/core/tensor.hpp"

namespace senet {

/// The activation a fused epilogue applies last (the fast engine's convolutions and scaling
/// passes, `Conv2dEpilogue`).
enum class Activation {
  none,
  relu,        ///< `max(x, 0)`
  hard_swish,  ///< `x * relu6(x + 3) / 6` (MobileNetV3)
  silu         ///< `x * sigmoid(x)`, computed as `x / (1 + exp(-x))` like PyTorch's `silu` (EfficientNet)
};

/// `act(v)` for one value, as the in-place functions below compute it.
template <class T>
T activate(T v, Activation act) {
  switch (act) {
    case Activation::relu:
      return v < T(0) ? T(0) : v;
    case Activation::hard_swish:
      return v * std::min(std::max(v + T(3), T(0)), T(6)) / T(6);
    case Activation::silu:
      return v / (T(1) + std::exp(-v));
    case Activation::none:
      break;
  }
  return v;
}

/// `x = max(x, 0)` over `n` values; NaN stays NaN, as in PyTorch.
template <class T>
void relu_inplace(T* x, Index n) {
  for (Index i = 0; i < n; ++i) x[i] = x[i] < T(0) ? T(0) : x[i];
}

/// `x = 1 / (1 + exp(-x))` over `n` values.
template <class T>
void sigmoid_inplace(T* x, Index n) {
  for (Index i = 0; i < n; ++i) x[i] = T(1) / (T(1) + std::exp(-x[i]));
}

/// `x = tanh(x)` over `n` values.
template <class T>
void tanh_inplace(T* x, Index n) {
  for (Index i = 0; i < n; ++i) x[i] = std::tanh(x[i]);
}

/// `x = relu6(x + 3) / 6 = min(max(x + 3, 0), 6) / 6` over `n` values (PyTorch's `hardsigmoid`).
template <class T>
void hard_sigmoid_inplace(T* x, Index n) {
  for (Index i = 0; i < n; ++i) x[i] = std::min(std::max(x[i] + T(3), T(0)), T(6)) / T(6);
}

/// `x = x * relu6(x + 3) / 6` over `n` values (PyTorch's `hardswish`, in its order of operations).
template <class T>
void hard_swish_inplace(T* x, Index n) {
  for (Index i = 0; i < n; ++i) x[i] = x[i] * std::min(std::max(x[i] + T(3), T(0)), T(6)) / T(6);
}

/// `x = x / (1 + exp(-x)) = x * sigmoid(x)` over `n` values (PyTorch's `silu`, in its order of
/// operations: `silu(-inf)` is NaN there and here, `silu(x)` for x below about -88 is -0 in float).
template <class T>
void silu_inplace(T* x, Index n) {
  for (Index i = 0; i < n; ++i) x[i] = x[i] / (T(1) + std::exp(-x[i]));
}

/// `x = act(x)` over `n` values.
template <class T>
void activate_inplace(T* x, Index n, Activation act) {
  if (act == Activation::relu) relu_inplace(x, n);
  if (act == Activation::hard_swish) hard_swish_inplace(x, n);
  if (act == Activation::silu) silu_inplace(x, n);
}

/// Softmax over the last dimension of a `[rows, cols]` tensor, in place (max-subtracted, so
/// large logits do not overflow).
template <class T>
void softmax_rows_inplace(Tensor<T>& x) {
  SENET_CHECK(x.rank() == 2, "softmax: input must be [N, K], got ", to_string(x.shape()));
  const Index rows = x.dim(0), cols = x.dim(1);
  for (Index r = 0; r < rows; ++r) {
    T* row = x.data() + r * cols;
    const T top = *std::max_element(row, row + cols);
    T sum = 0;
    for (Index c = 0; c < cols; ++c) sum += row[c] = std::exp(row[c] - top);
    for (Index c = 0; c < cols; ++c) row[c] /= sum;
  }
}

}  // namespace senet
