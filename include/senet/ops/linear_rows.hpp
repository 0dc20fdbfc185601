#pragma once
/// \file linear_rows.hpp
/// `linear_rows`: the fully connected layer of the fast engine's SE excitations and head, on a
/// kernel path. A prepared model runs these on a few rows at a time (one image's descriptor per
/// SE block, a small batch's features in the head), where a product is as cheap as reading its
/// weights once. Eigen's GEMM first packs the weights, which costs more than the product at
/// these sizes (8 x 960 -> 1280, one thread: 1.2 ms in Eigen, 0.46 ms in the dot products below;
/// measured 2026-12-03), so the AVX-512 path takes dot products that read each weight row once
/// for every row of `x`. Larger batches and the other paths keep `linear` (Eigen).

#include <algorithm>

#include "senet/core/tensor.hpp"
#include "senet/core/threading.hpp"
#include "senet/ops/linear.hpp"
#include "senet/ops/nchw16c.hpp"

namespace senet {

/// The most rows of `x` that `linear_rows` multiplies with its own dot products.
inline constexpr Index kLinearRowsMax = 16;

namespace detail {

#if SENET_X86_SIMD
/// Adds the products of 16 inputs from `i` on (the lanes of `lanes`) to `acc` (see below).
template <int Xs, int Rs>
SENET_TARGET_AVX512 __attribute__((always_inline)) inline void linear_dots_step_avx512(
    __m512 (&acc)[Xs][Rs], const float* x, Index x_stride, const float* w, Index in, Index i, __mmask16 lanes) {
  __m512 wv[Rs];
  for (int r = 0; r < Rs; ++r) wv[r] = _mm512_maskz_loadu_ps(lanes, w + r * in + i);
  for (int m = 0; m < Xs; ++m) {
    const __m512 xv = _mm512_maskz_loadu_ps(lanes, x + m * x_stride + i);
    for (int r = 0; r < Rs; ++r) acc[m][r] = _mm512_fmadd_ps(xv, wv[r], acc[m][r]);
  }
}

/// `y[m, r] = x[m] . w[r] (+ bias[r])` for `Xs` rows of `x` (stride `x_stride`) and `Rs` rows of
/// `w` (stride `in`), row `m` of `y` at `y + m * y_stride`.
template <int Xs, int Rs>
SENET_TARGET_AVX512 inline void linear_dots_avx512(const float* x, Index x_stride, const float* w, Index in,
                                                  const float* bias, float* y, Index y_stride) {
  __m512 acc[Xs][Rs];
  tile_zero_avx512(acc);
  Index i = 0;
  for (; i + 16 <= in; i += 16) linear_dots_step_avx512<Xs, Rs>(acc, x, x_stride, w, in, i, 0xFFFF);
  if (i < in) linear_dots_step_avx512<Xs, Rs>(acc, x, x_stride, w, in, i, __mmask16((1u << (in - i)) - 1));
  for (int m = 0; m < Xs; ++m)
    for (int r = 0; r < Rs; ++r) y[m * y_stride + r] = _mm512_reduce_add_ps(acc[m][r]) + (bias ? bias[r] : 0.0f);
}

/// Outputs `[begin, end)` of `linear_rows` for `N <= kLinearRowsMax` rows: 2 weight rows by 8
/// rows of `x` per block (16 accumulators), the weight rows staying in L1 across the blocks of x.
SENET_TARGET_AVX512 inline void linear_rows_avx512(const float* x, Index N, const float* w, Index in, Index begin,
                                                   Index end, const float* bias, float* y, Index y_stride) {
  Index o = begin;
  for (; o + 2 <= end; o += 2) {
    const float* wo = w + o * in;
    const float* bo = bias ? bias + o : nullptr;
    Index n = 0;
    for (; n + 8 <= N; n += 8) linear_dots_avx512<8, 2>(x + n * in, in, wo, in, bo, y + n * y_stride + o, y_stride);
    for (; n + 4 <= N; n += 4) linear_dots_avx512<4, 2>(x + n * in, in, wo, in, bo, y + n * y_stride + o, y_stride);
    for (; n < N; ++n) linear_dots_avx512<1, 2>(x + n * in, in, wo, in, bo, y + n * y_stride + o, y_stride);
  }
  for (; o < end; ++o)
    for (Index n = 0; n < N; ++n)
      linear_dots_avx512<1, 1>(x + n * in, in, w + o * in, in, bias ? bias + o : nullptr, y + n * y_stride + o,
                               y_stride);
}
#endif

}  // namespace detail

/// `linear(x, N, w, bias, y, y_stride)` on kernel path `path` (resolved as for the convolutions;
/// `automatic` is the best this CPU runs): the same arguments and result, to float rounding.
inline void linear_rows(const float* x, Index N, const Tensor<float>& w, const float* bias, float* y, Index y_stride,
                        Conv2dPath path) {
#if SENET_X86_SIMD
  const Index out = w.dim(0), in = w.size() / (out ? out : 1);
  if (N <= kLinearRowsMax && resolve_conv2d_path(path) == Conv2dPath::avx512) {
    detail::run_in_thread_ranges(
        out,
        [&](Index begin, Index end) { detail::linear_rows_avx512(x, N, w.data(), in, begin, end, bias, y, y_stride); },
        16, /*worth_threads=*/N * in * out >= (Index(1) << 19));
    return;
  }
#else
  (void)path;
#endif
  linear(x, N, w, bias, y, y_stride);
}

}  // namespace senet
