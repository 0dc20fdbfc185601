#pragma once
/// \file pooling.hpp
/// Max and average pooling over NCHW tensors with PyTorch's exact padding, ceil-mode and divisor
/// rules, and global (whole-plane) average and max pooling.

#include <array>
#include <algorithm>
#include <cmath>
#include <limits>
#include <utility>
#include <vector>

#include "senet/core/error.hpp"
#include "senet/core/tensor.hpp"
#include "senet/core/threading.hpp"
#include "senet/ops/conv2d.hpp"

namespace senet {

/// How an SE block squeezes each channel plane to one number (the naive and the blocked kernels).
enum class SESqueeze {
  avg,    ///< global average pooling (the standard block)
  max,    ///< global max pooling
  avgmax  ///< `0.5 * avg + 0.5 * max` (timm's `add_maxpool`)
};


/// Hyper-parameters of `max_pool2d` / `avg_pool2d`, as in `torch.nn.MaxPool2d` / `AvgPool2d`.
struct Pool2dParams {
  Index kernel_h = 1, kernel_w = 1;
  Index stride_h = 1, stride_w = 1;
  Index pad_h = 0, pad_w = 0;
  Index dilation_h = 1, dilation_w = 1;  ///< max pooling only
  bool ceil_mode = false;
  bool count_include_pad = true;  ///< average pooling only
};

/// Output extent along one axis, PyTorch's rule: in ceil mode a last window is added when it
/// covers input, but never one that would start inside the right padding.
inline Index pool_output_extent(Index in, Index kernel, Index stride, Index pad, Index dilation, bool ceil_mode) {
  const Index span = in + 2 * pad - dilation * (kernel - 1) - 1;
  Index out = floor_div(span + (ceil_mode ? stride - 1 : 0), stride) + 1;
  if (ceil_mode && (out - 1) * stride >= in + pad) --out;
  return out;
}

/// Output height and width of pooling an `H x W` image under `p`; throws `senet::Error` on
/// invalid parameters or an image smaller than the window. Allocates nothing.
inline std::array<Index, 2> pool2d_output_size(Index H, Index W, const Pool2dParams& p) {
  SENET_CHECK(p.kernel_h >= 1 && p.kernel_w >= 1 && p.stride_h >= 1 && p.stride_w >= 1 && p.dilation_h >= 1 &&
                  p.dilation_w >= 1,
              "pool2d: kernel, stride and dilation must be positive");
  SENET_CHECK(2 * p.pad_h <= p.kernel_h && 2 * p.pad_w <= p.kernel_w,
              "pool2d: padding must be at most half the kernel");
  const Index oh = pool_output_extent(H, p.kernel_h, p.stride_h, p.pad_h, p.dilation_h, p.ceil_mode);
  const Index ow = pool_output_extent(W, p.kernel_w, p.stride_w, p.pad_w, p.dilation_w, p.ceil_mode);
  SENET_CHECK(oh >= 1 && ow >= 1, "pool2d: a ", H, "x", W, " input is smaller than the ", p.kernel_h, "x",
              p.kernel_w, " window");
  return {oh, ow};
}

/// Output shape `[N, C, OH, OW]` of pooling `input` `[N, C, H, W]`.
inline Shape pool2d_output_shape(const Shape& input, const Pool2dParams& p) {
  SENET_CHECK(input.size() == 4, "pool2d: input must be [N, C, H, W], got ", to_string(input));
  const auto [oh, ow] = pool2d_output_size(input[2], input[3], p);
  return {input[0], input[1], oh, ow};
}

namespace detail {
/// The taps `[first, last)` of a window starting at `start` (kernel `k`, dilation `d`) that fall
/// inside `[0, extent)`, so that pooling loops need no bounds tests.
inline std::pair<Index, Index> window_taps(Index start, Index k, Index d, Index extent) {
  const Index first = start < 0 ? (-start + d - 1) / d : 0;
  const Index last = std::min(k, start < extent ? (extent - start + d - 1) / d : 0);
  return {first, std::max(first, last)};
}
}  // namespace detail

/// Max pooling; padding never wins (it is -infinity). `x` [N, C, H, W] -> `y` [N, C, OH, OW].
template <class T>
void max_pool2d(const Tensor<T>& x, const Pool2dParams& p, Tensor<T>& y) {
  const Shape out = pool2d_output_shape(x.shape(), p);
  SENET_CHECK(y.shape() == out, "max_pool2d: output must be ", to_string(out), ", got ", to_string(y.shape()));
  const Index planes = out[0] * out[1], OH = out[2], OW = out[3], H = x.dim(2), W = x.dim(3);
#ifdef _OPENMP
#pragma omp parallel for schedule(static) num_threads(senet::num_threads()) if (planes * OH * OW > 65536)
#endif
  for (Index pl = 0; pl < planes; ++pl) {
    const T* src = x.data() + pl * H * W;
    T* dst = y.data() + pl * OH * OW;
    std::vector<T> column_max(static_cast<std::size_t>(W));
    for (Index oh = 0; oh < OH; ++oh) {
      // Separable: the window's rows first, a whole input row at a time (vectorises), then its
      // columns. `v > m || v != v` lets NaN win wherever it sits, as in PyTorch.
      const Index top = oh * p.stride_h - p.pad_h;
      const auto [i0, i1] = detail::window_taps(top, p.kernel_h, p.dilation_h, H);
      std::fill(column_max.begin(), column_max.end(), -std::numeric_limits<T>::infinity());
      for (Index i = i0; i < i1; ++i) {
        const T* row = src + (top + i * p.dilation_h) * W;
        for (Index w = 0; w < W; ++w)
          column_max[w] = (row[w] > column_max[w] || row[w] != row[w]) ? row[w] : column_max[w];
      }
      for (Index ow = 0; ow < OW; ++ow) {
        const Index left = ow * p.stride_w - p.pad_w;
        const auto [j0, j1] = detail::window_taps(left, p.kernel_w, p.dilation_w, W);
        T best = -std::numeric_limits<T>::infinity();
        for (Index j = j0; j < j1; ++j) {
          const T v = column_max[left + j * p.dilation_w];
          best = (v > best || v != v) ? v : best;
        }
        dst[oh * OW + ow] = best;
      }
    }
  }
}

/// Average pooling with PyTorch's divisor: the window clipped to the padded input when
/// `count_include_pad`, else the number of real input elements. Dilation is not supported.
template <class T>
void avg_pool2d(const Tensor<T>& x, const Pool2dParams& p, Tensor<T>& y) {
  SENET_CHECK(p.dilation_h == 1 && p.dilation_w == 1, "avg_pool2d: dilation is not supported");
  const Shape out = pool2d_output_shape(x.shape(), p);
  SENET_CHECK(y.shape() == out, "avg_pool2d: output must be ", to_string(out), ", got ", to_string(y.shape()));
  const Index planes = out[0] * out[1], OH = out[2], OW = out[3], H = x.dim(2), W = x.dim(3);
#ifdef _OPENMP
#pragma omp parallel for schedule(static) num_threads(senet::num_threads()) if (planes * OH * OW > 65536)
#endif
  for (Index pl = 0; pl < planes; ++pl) {
    const T* src = x.data() + pl * H * W;
    T* dst = y.data() + pl * OH * OW;
    for (Index oh = 0; oh < OH; ++oh)
      for (Index ow = 0; ow < OW; ++ow) {
        Index h0 = oh * p.stride_h - p.pad_h, w0 = ow * p.stride_w - p.pad_w;
        Index h1 = std::min(h0 + p.kernel_h, H + p.pad_h), w1 = std::min(w0 + p.kernel_w, W + p.pad_w);
        const Index padded_count = (h1 - h0) * (w1 - w0);
        h0 = std::max<Index>(h0, 0);
        w0 = std::max<Index>(w0, 0);
        h1 = std::min(h1, H);
        w1 = std::min(w1, W);
        T sum = 0;
        for (Index ih = h0; ih < h1; ++ih)
          for (Index iw = w0; iw < w1; ++iw) sum += src[ih * W + iw];
        const Index count = p.count_include_pad ? padded_count : (h1 - h0) * (w1 - w0);
        dst[oh * OW + ow] = count > 0 ? sum / static_cast<T>(count) : T(0);
      }
  }
}

/// Adaptive average pooling to `[N, C, OH, OW]` (`y`'s shape), PyTorch's windows: output cell `i`
/// averages input rows `floor(i * H / OH)` to `ceil((i + 1) * H / OH)` (exclusive), likewise columns.
template <class T>
void adaptive_avg_pool2d(const Tensor<T>& x, Tensor<T>& y) {
  SENET_CHECK(
      x.rank() == 4 && y.rank() == 4 && x.dim(0) == y.dim(0) && x.dim(1) == y.dim(1) && y.dim(2) >= 1 && y.dim(3) >= 1,
      "adaptive_avg_pool2d: cannot pool ", to_string(x.shape()), " to ", to_string(y.shape()));
  const Index planes = x.dim(0) * x.dim(1), H = x.dim(2), W = x.dim(3), OH = y.dim(2), OW = y.dim(3);
  for (Index pl = 0; pl < planes; ++pl) {
    const T* src = x.data() + pl * H * W;
    T* dst = y.data() + pl * OH * OW;
    for (Index oh = 0; oh < OH; ++oh) {
      const Index h0 = oh * H / OH, h1 = ((oh + 1) * H + OH - 1) / OH;
      for (Index ow = 0; ow < OW; ++ow) {
        const Index w0 = ow * W / OW, w1 = ((ow + 1) * W + OW - 1) / OW;
        T sum = 0;
        for (Index ih = h0; ih < h1; ++ih)
          for (Index iw = w0; iw < w1; ++iw) sum += src[ih * W + iw];
        dst[oh * OW + ow] = sum / static_cast<T>((h1 - h0) * (w1 - w0));
      }
    }
  }
}

/// Mean over each H x W plane: `x` [N, C, H, W] -> `y` [N, C] (any shape of N*C elements).
template <class T>
void global_avg_pool(const Tensor<T>& x, Tensor<T>& y) {
  SENET_CHECK(x.rank() == 4, "global_avg_pool: input must be [N, C, H, W], got ", to_string(x.shape()));
  const Index planes = x.dim(0) * x.dim(1), hw = x.dim(2) * x.dim(3);
  SENET_CHECK(y.size() == planes, "global_avg_pool: output must hold ", planes, " values");
  SENET_CHECK(hw > 0, "global_avg_pool: empty plane in ", to_string(x.shape()));
  for (Index pl = 0; pl < planes; ++pl) {
    const T* src = x.data() + pl * hw;
    T sum = 0;
    for (Index i = 0; i < hw; ++i) sum += src[i];
    y[pl] = sum / static_cast<T>(hw);
  }
}

/// Maximum over each H x W plane: `x` [N, C, H, W] -> `y` [N, C].
template <class T>
void global_max_pool(const Tensor<T>& x, Tensor<T>& y) {
  SENET_CHECK(x.rank() == 4, "global_max_pool: input must be [N, C, H, W], got ", to_string(x.shape()));
  const Index planes = x.dim(0) * x.dim(1), hw = x.dim(2) * x.dim(3);
  SENET_CHECK(y.size() == planes, "global_max_pool: output must hold ", planes, " values");
  SENET_CHECK(hw > 0, "global_max_pool: empty plane in ", to_string(x.shape()));
  for (Index pl = 0; pl < planes; ++pl) {
    const T* src = x.data() + pl * hw;
    T best = src[0];
    for (Index i = 1; i < hw; ++i)
      if (src[i] > best || std::isnan(src[i])) best = src[i];  // NaN wins, as in PyTorch
    y[pl] = best;
  }
}

}  // namespace senet
