#pragma once
/// \file pooling_nchw16c.hpp
/// Max and average pooling on the blocked `NCHW16c` layout (`FeatureView`s, possibly bordered), with exactly
/// `senet::max_pool2d`'s (and PyTorch's) semantics: padding is -infinity, dilation, ceil mode, and a
/// NaN anywhere in a window gives NaN. Each output pixel is one vector of 16 channels: the maximum
/// of its window's in-bounds taps (the window is clipped per output row and pixel, so `x`'s border
/// is never read and may hold anything). The AVX-512 path uses intrinsics; the others a lane loop
/// the compiler vectorises.

#include <algorithm>
#include <array>
#include <limits>

#include "senet/core/error.hpp"
#include "senet/core/tensor.hpp"
#include "senet/ops/nchw16c.hpp"
#include "senet/ops/pooling.hpp"

#ifdef _OPENMP
#include <omp.h>
#endif

namespace senet {

namespace detail {

/// One output row of one plane: `x` at image pixel (0, 0) of the input plane, `y` at the row's first
/// output pixel; `rows` are the window's in-bounds input rows (already clipped).
struct MaxPool16cRow {
  const float* x = nullptr;
  Index x_row = 0;                // floats between input rows
  Index top = 0, i0 = 0, i1 = 0;  // window rows top + i * dilation_h, i in [i0, i1)
  float* y = nullptr;
  Index OW = 0, W = 0;
};

/// `best = (v > best || v != v) ? v : best` lane by lane: NaN wins wherever it sits, as in
/// `senet::max_pool2d`.
__attribute__((always_inline)) inline void max_pool16c_row_lanes(const MaxPool16cRow& r, const Pool2dParams& p) {
  for (Index ow = 0; ow < r.OW; ++ow) {
    const Index left = ow * p.stride_w - p.pad_w;
    const auto [j0, j1] = window_taps(left, p.kernel_w, p.dilation_w, r.W);
    float best[16];
    for (int k = 0; k < 16; ++k) best[k] = -std::numeric_limits<float>::infinity();
    for (Index i = r.i0; i < r.i1; ++i) {
      const float* row = r.x + (r.top + i * p.dilation_h) * r.x_row;
      for (Index j = j0; j < j1; ++j) {
        const float* v = row + (left + j * p.dilation_w) * kChannelBlock;
        for (int k = 0; k < 16; ++k) best[k] = (v[k] > best[k] || v[k] != v[k]) ? v[k] : best[k];
      }
    }
    float* dst = r.y + ow * kChannelBlock;
    for (int k = 0; k < 16; ++k) dst[k] = best[k];
  }
}

inline void max_pool16c_row_portable(const MaxPool16cRow& r, const Pool2dParams& p) { max_pool16c_row_lanes(r, p); }

#if SENET_X86_SIMD
SENET_TARGET_AVX2 inline void max_pool16c_row_avx2(const MaxPool16cRow& r, const Pool2dParams& p) {
  max_pool16c_row_lanes(r, p);
}

SENET_TARGET_AVX512 inline void max_pool16c_row_avx512(const MaxPool16cRow& r, const Pool2dParams& p) {
  const __m512 neg_inf = _mm512_set1_ps(-std::numeric_limits<float>::infinity());
  for (Index ow = 0; ow < r.OW; ++ow) {
    const Index left = ow * p.stride_w - p.pad_w;
    const auto [j0, j1] = window_taps(left, p.kernel_w, p.dilation_w, r.W);
    __m512 best = neg_inf;
    for (Index i = r.i0; i < r.i1; ++i) {
      const float* row = r.x + (r.top + i * p.dilation_h) * r.x_row;
      for (Index j = j0; j < j1; ++j) {
        const __m512 v = _mm512_loadu_ps(row + (left + j * p.dilation_w) * kChannelBlock);
        // vmaxps(v, best) = v > best ? v : best keeps a NaN already in best; a NaN in v is put in
        // by the unordered mask.
        best = _mm512_mask_mov_ps(_mm512_max_ps(v, best), _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q), v);
      }
    }
    _mm512_storeu_ps(r.y + ow * kChannelBlock, best);
  }
}
#endif

}  // namespace detail

/// Max pooling of an `NCHW16c` view: `x` `N x C x H x W` -> `y` `N x C x OH x OW`
/// (`pool2d_output_shape`), both views with any border. Writes all 16 lanes of every block of `y`'s
/// image (padding lanes pool `x`'s padding lanes), then zeroes `y`'s border. `x`'s border is never
/// read. `y` must not overlap `x`. `path` picks the vector code as for `conv2d_nchw16c`.
inline void max_pool2d_nchw16c(const FeatureView& x, const Pool2dParams& p, const FeatureView& y,
                               Conv2dPath path = Conv2dPath::automatic) {
  SENET_CHECK(x.data != nullptr, "max_pool2d_nchw16c: input view without data");
  // Not a structured binding: clang before 16 cannot capture one into the OpenMP region below.
  const std::array<Index, 2> out_size = pool2d_output_size(x.height, x.width, p);
  const Index OH = out_size[0], OW = out_size[1];
  detail::check_output_view("max_pool2d_nchw16c", y, {nullptr, x.batch, x.channels, OH, OW, 0});
  path = resolve_conv2d_path(path);
  using RowFn = void (*)(const detail::MaxPool16cRow&, const Pool2dParams&);
  RowFn row_fn = &detail::max_pool16c_row_portable;
#if SENET_X86_SIMD
  if (path == Conv2dPath::avx512) row_fn = &detail::max_pool16c_row_avx512;
  if (path == Conv2dPath::avx2) row_fn = &detail::max_pool16c_row_avx2;
#endif
  const Index planes = x.batch * x.blocks(), H = x.height, W = x.width;
  const Index items = planes * OH;
#ifdef _OPENMP
#pragma omp parallel for schedule(static) num_threads(senet::num_threads()) if (items * OW >= 8192 && !omp_in_parallel())
#endif
  for (Index it = 0; it < items; ++it) {
    // Rows outermost within an image: each thread takes a band of rows, as the convolutions
    // around it do, so that it reads what it wrote (not the other core's cache).
    const Index n = it / (OH * x.blocks()), oh = it / x.blocks() % OH, cb = it % x.blocks();
    detail::MaxPool16cRow r;
    r.x = x.at(n, cb, 0, 0);
    r.x_row = x.row_stride();
    r.top = oh * p.stride_h - p.pad_h;
    const auto [i0, i1] = detail::window_taps(r.top, p.kernel_h, p.dilation_h, H);
    r.i0 = i0;
    r.i1 = i1;
    r.y = y.at(n, cb, oh, 0);
    r.OW = OW;
    r.W = W;
    row_fn(r, p);
  }
  zero_border(y);
}

/// Average pooling of an `NCHW16c` view with `senet::avg_pool2d`'s (PyTorch's) semantics: ceil
/// mode, padding counted in the divisor when `p.count_include_pad`, no dilation. `x`'s border is
/// never read; all 16 lanes of `y`'s image are written, then `y`'s border is zeroed.
inline void avg_pool2d_nchw16c(const FeatureView& x, const Pool2dParams& p, const FeatureView& y) {
  SENET_CHECK(x.data != nullptr, "avg_pool2d_nchw16c: input view without data");
  SENET_CHECK(p.dilation_h == 1 && p.dilation_w == 1, "avg_pool2d_nchw16c: dilation is not supported");
  const std::array<Index, 2> out_size = pool2d_output_size(x.height, x.width, p);
  const Index OH = out_size[0], OW = out_size[1], H = x.height, W = x.width;
  detail::check_output_view("avg_pool2d_nchw16c", y, {nullptr, x.batch, x.channels, OH, OW, 0});
  const Index planes = x.batch * x.blocks(), items = planes * OH;
#ifdef _OPENMP
#pragma omp parallel for schedule(static) num_threads(senet::num_threads()) if (items * OW >= 8192 && !omp_in_parallel())
#endif
  for (Index it = 0; it < items; ++it) {
    const Index plane = it / OH, oh = it % OH, n = plane / x.blocks(), cb = plane % x.blocks();
    Index h0 = oh * p.stride_h - p.pad_h, h1 = std::min(h0 + p.kernel_h, H + p.pad_h);
    const Index rows = h1 - h0;
    h0 = std::max<Index>(h0, 0);
    h1 = std::min(h1, H);
    float* out = y.at(n, cb, oh, 0);
    for (Index ow = 0; ow < OW; ++ow) {
      Index w0 = ow * p.stride_w - p.pad_w, w1 = std::min(w0 + p.kernel_w, W + p.pad_w);
      const Index cols = w1 - w0;
      w0 = std::max<Index>(w0, 0);
      w1 = std::min(w1, W);
      float sum[kChannelBlock] = {};
      for (Index ih = h0; ih < h1; ++ih) {
        const float* src = x.at(n, cb, ih, 0);
        for (Index iw = w0; iw < w1; ++iw)
          for (Index l = 0; l < kChannelBlock; ++l) sum[l] += src[iw * kChannelBlock + l];
      }
      const Index count = p.count_include_pad ? rows * cols : (h1 - h0) * (w1 - w0);
      for (Index l = 0; l < kChannelBlock; ++l) out[ow * kChannelBlock + l] = count > 0 ? sum[l] / float(count) : 0.0f;
    }
  }
  zero_border(y);
}

}  // namespace senet
