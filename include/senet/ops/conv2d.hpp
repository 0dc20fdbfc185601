#pragma once
/// \file conv2d.hpp
/// 2-D convolution kernels on NCHW tensors: a naive reference (the oracle for tests) and an
/// im2col + Eigen GEMM path. Both compute exactly PyTorch's `torch.nn.functional.conv2d`.

#include <array>
#include <Eigen/Core>
#include <algorithm>
#include <vector>

#include "senet/core/error.hpp"
#include "senet/core/tensor.hpp"
#include "senet/ops/gemm.hpp"

namespace senet {

/// Hyper-parameters of a 2-D convolution (PyTorch's meaning for each).
struct Conv2dParams {
  Index kernel_h = 1, kernel_w = 1;
  Index stride_h = 1, stride_w = 1;
  Index pad_h = 0, pad_w = 0;
  Index dilation_h = 1, dilation_w = 1;
  Index groups = 1;
};

/// `a / b` rounded toward negative infinity (C++ division truncates toward zero), as PyTorch's
/// `div_rtn`: a window that does not fit must give an extent <= 0, not 1.
inline Index floor_div(Index a, Index b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }

/// Output extent of a sliding window along one axis (floor mode); <= 0 when the kernel does not fit.
inline Index window_output_extent(Index in, Index kernel, Index stride, Index pad, Index dilation) {
  return floor_div(in + 2 * pad - dilation * (kernel - 1) - 1, stride) + 1;
}

/// Output height and width of convolving an `H x W` image under `p`; throws `senet::Error` on
/// invalid parameters or an image smaller than the kernel. Allocates nothing (engines' hot paths).
inline std::array<Index, 2> conv2d_output_size(Index H, Index W, const Conv2dParams& p) {
  SENET_CHECK(p.groups >= 1 && p.stride_h >= 1 && p.stride_w >= 1 && p.dilation_h >= 1 && p.dilation_w >= 1 &&
                  p.pad_h >= 0 && p.pad_w >= 0,
              "conv2d: invalid stride, padding, dilation or groups");
  const Index oh = window_output_extent(H, p.kernel_h, p.stride_h, p.pad_h, p.dilation_h);
  const Index ow = window_output_extent(W, p.kernel_w, p.stride_w, p.pad_w, p.dilation_w);
  SENET_CHECK(oh >= 1 && ow >= 1, "conv2d: a ", H, "x", W, " input is smaller than the ", p.kernel_h, "x",
              p.kernel_w, " kernel (dilation ", p.dilation_h, "x", p.dilation_w, ", padding ", p.pad_h, "x", p.pad_w,
              ")");
  return {oh, ow};
}

/// Output shape `[N, K, OH, OW]` of convolving `input` `[N, C, H, W]` with `weight`
/// `[K, C / groups, kh, kw]`; throws `senet::Error` naming the shapes when they do not fit.
inline Shape conv2d_output_shape(const Shape& input, const Shape& weight, const Conv2dParams& p) {
  SENET_CHECK(input.size() == 4, "conv2d: input must be [N, C, H, W], got ", to_string(input));
  SENET_CHECK(weight.size() == 4, "conv2d: weight must be [K, C/groups, kh, kw], got ", to_string(weight));
  SENET_CHECK(p.groups >= 1, "conv2d: invalid stride, padding, dilation or groups");
  SENET_CHECK(input[1] == weight[1] * p.groups && weight[0] % p.groups == 0, "conv2d: input ", to_string(input),
              " does not fit weight ", to_string(weight), " with groups ", p.groups);
  SENET_CHECK(weight[2] == p.kernel_h && weight[3] == p.kernel_w, "conv2d: weight ", to_string(weight),
              " does not match kernel ", p.kernel_h, "x", p.kernel_w);
  const auto [oh, ow] = conv2d_output_size(input[2], input[3], p);
  return {input[0], weight[0], oh, ow};
}

/// Multiply-accumulates of one convolution: output elements x (C / groups) x kh x kw.
inline Index conv2d_macs(const Shape& output, const Shape& weight) {
  return shape_numel(output) * weight[1] * weight[2] * weight[3];
}

/// Naive convolution, a direct transcription of the definition; the oracle for tests.
/// `x`: [N, C, H, W], `w`: [K, C/groups, kh, kw], `bias`: [K] or null, `y`: [N, K, OH, OW].
template <class T>
void conv2d_reference(const Tensor<T>& x, const Tensor<T>& w, const T* bias, const Conv2dParams& p, Tensor<T>& y) {
  const Shape out = conv2d_output_shape(x.shape(), w.shape(), p);
  SENET_CHECK(y.shape() == out, "conv2d: output must be ", to_string(out), ", got ", to_string(y.shape()));
  const Index N = out[0], K = out[1], OH = out[2], OW = out[3];
  const Index C = x.dim(1), H = x.dim(2), W = x.dim(3);
  const Index Cg = C / p.groups, Kg = K / p.groups;
  for (Index n = 0; n < N; ++n)
    for (Index k = 0; k < K; ++k) {
      const Index g = k / Kg;
      for (Index oh = 0; oh < OH; ++oh)
        for (Index ow = 0; ow < OW; ++ow) {
          T acc = bias ? bias[k] : T(0);
          for (Index c = 0; c < Cg; ++c)
            for (Index i = 0; i < p.kernel_h; ++i)
              for (Index j = 0; j < p.kernel_w; ++j) {
                const Index ih = oh * p.stride_h - p.pad_h + i * p.dilation_h;
                const Index iw = ow * p.stride_w - p.pad_w + j * p.dilation_w;
                if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
                acc +=
                    x[((n * C + g * Cg + c) * H + ih) * W + iw] * w[((k * Cg + c) * p.kernel_h + i) * p.kernel_w + j];
              }
          y[((n * K + k) * OH + oh) * OW + ow] = acc;
        }
    }
}

namespace detail {

/// Unfolds one group of one image into columns: `col` [Cg * kh * kw, OH * OW], zero where the
/// window reads padding.
template <class T>
void im2col(const T* x, Index Cg, Index H, Index W, const Conv2dParams& p, Index OH, Index OW, T* col) {
  const Index rows = Cg * p.kernel_h * p.kernel_w;
#ifdef _OPENMP
#pragma omp parallel for schedule(static) num_threads(senet::num_threads()) if (rows * OH * OW > 65536)
#endif
  for (Index r = 0; r < rows; ++r) {
    const Index c = r / (p.kernel_h * p.kernel_w);
    const Index i = (r / p.kernel_w) % p.kernel_h;
    const Index j = r % p.kernel_w;
    T* dst = col + r * OH * OW;
    const T* src = x + c * H * W;
    for (Index oh = 0; oh < OH; ++oh) {
      const Index ih = oh * p.stride_h - p.pad_h + i * p.dilation_h;
      T* row = dst + oh * OW;
      if (ih < 0 || ih >= H) {
        std::fill(row, row + OW, T(0));
        continue;
      }
      for (Index ow = 0; ow < OW; ++ow) {
        const Index iw = ow * p.stride_w - p.pad_w + j * p.dilation_w;
        row[ow] = (iw >= 0 && iw < W) ? src[ih * W + iw] : T(0);
      }
    }
  }
}

}  // namespace detail

/// Convolution as a GEMM per image and group: `Y_g [Kg, OH*OW] = W_g [Kg, Cg*kh*kw] * col`.
/// A 1x1, stride 1, unpadded convolution multiplies the input directly (no unfolding).
/// Same arguments and result as `conv2d_reference`.
template <class T>
void conv2d(const Tensor<T>& x, const Tensor<T>& w, const T* bias, const Conv2dParams& p, Tensor<T>& y) {
  using RowMajor = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  using Map = Eigen::Map<RowMajor>;
  const Shape out = conv2d_output_shape(x.shape(), w.shape(), p);
  SENET_CHECK(y.shape() == out, "conv2d: output must be ", to_string(out), ", got ", to_string(y.shape()));
  const Index N = out[0], K = out[1], OH = out[2], OW = out[3];
  const Index C = x.dim(1), H = x.dim(2), W = x.dim(3);
  const Index Cg = C / p.groups, Kg = K / p.groups, L = OH * OW;
  const Index depth = Cg * p.kernel_h * p.kernel_w;
  const bool pointwise =
      p.kernel_h == 1 && p.kernel_w == 1 && p.stride_h == 1 && p.stride_w == 1 && p.pad_h == 0 && p.pad_w == 0;
  std::vector<T> col(pointwise ? 0 : static_cast<std::size_t>(depth * L));
  for (Index n = 0; n < N; ++n)
    for (Index g = 0; g < p.groups; ++g) {
      const T* xg = x.data() + (n * C + g * Cg) * H * W;
      if (!pointwise) detail::im2col(xg, Cg, H, W, p, OH, OW, col.data());
      T* yg = y.data() + (n * K + g * Kg) * L;
      gemm(w.data() + g * Kg * depth, pointwise ? xg : col.data(), yg, Kg, L, depth);
      if (bias) Map(yg, Kg, L).colwise() += Eigen::Map<const Eigen::Matrix<T, Eigen::Dynamic, 1>>(bias + g * Kg, Kg);
    }
}

}  // namespace senet
