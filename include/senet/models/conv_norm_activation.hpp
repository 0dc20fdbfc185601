#pragma once
/// \file conv_norm_activation.hpp
/// The two helpers torchvision's builders share (torchvision/ops/misc.py and models/_utils.py,
/// 0.14): `make_divisible`, its width rounding, and `conv_norm_activation`, its
/// `Conv2dNormActivation` (convolution, BatchNorm, activation) under torchvision's names.

#include <algorithm>
#include <string>

#include "senet/core/error.hpp"
#include "senet/layers/activation.hpp"
#include "senet/layers/batch_norm2d.hpp"
#include "senet/layers/conv2d.hpp"
#include "senet/layers/sequential.hpp"
#include "senet/ops/activation.hpp"

namespace senet {

/// torchvision's `_make_divisible(v, divisor)` (from TensorFlow's MobileNet): `v` rounded to the
/// nearest multiple of `divisor`, at least `divisor`, and never more than 10% below `v`.
inline Index make_divisible(double v, Index divisor = 8) {
  Index rounded = std::max<Index>(divisor, static_cast<Index>(v + double(divisor) / 2) / divisor * divisor);
  if (double(rounded) < 0.9 * v) rounded += divisor;
  return rounded;
}

namespace detail {
/// torchvision's `Conv2dNormActivation` as child `name` of `seq`: `0` the k x k convolution
/// (stride, padding `(k - 1) / 2`, `groups`, no bias), `1` its BatchNorm (`eps`), then `2` the
/// activation (none: no child).
template <class T>
Sequential<T>& conv_norm_activation(Sequential<T>& seq, const std::string& name, Index in, Index out, Index kernel,
                                    Index stride, Index groups, Activation activation, double eps) {
  Conv2dParams p = conv_params(kernel, stride, (kernel - 1) / 2);
  p.groups = groups;
  auto& unit = seq.add(name, Sequential<T>());
  unit.add("0", Conv2d<T>(in, out, p));
  unit.add("1", BatchNorm2d<T>(out, eps));
  switch (activation) {
    case Activation::relu:
      unit.add("2", ReLU<T>());
      break;
    case Activation::hard_swish:
      unit.add("2", Hardswish<T>());
      break;
    case Activation::silu:
      unit.add("2", SiLU<T>());
      break;
    case Activation::none:
      break;
  }
  return unit;
}
}  // namespace detail

}  // namespace senet
