#pragma once
/// \file elementwise_nchw16c.hpp
/// The fast engine's per-channel and element-wise steps on `NCHW16c` views (`FeatureView`s, any
/// border): the SE squeeze (global average, max or both), `y = act(x * scale + residual)` (the SE
/// scale, the residual add and the activation in one pass), the copy of a view into a channel
/// range of another (concatenation at any channel offset), and ShuffleNet's channel shuffle. Plain
/// loops over the 16 lanes of a block, which the compiler vectorises.

#include <algorithm>

#include "senet/core/threading.hpp"
#include "senet/ops/nchw16c.hpp"
#include "senet/ops/pooling.hpp"

#ifdef _OPENMP
#include <omp.h>
#endif

namespace senet {

/// The squeeze of `x` over its pixels: `z` `[N, x.channels]` (mean, max or their average; a NaN
/// in a plane gives NaN for max, as PyTorch's `amax`).
inline void squeeze_nchw16c(const FeatureView& x, SESqueeze mode, float* z) {
  const Index N = x.batch, Cb = x.blocks(), C = x.channels, H = x.height, W = x.width;
#ifdef _OPENMP
#pragma omp parallel for schedule(static) num_threads(senet::num_threads()) if (N * Cb * H * W > 4096 && !omp_in_parallel())
#endif
  for (Index nb = 0; nb < N * Cb; ++nb) {
    const Index n = nb / Cb, cb = nb % Cb;
    // Separate loops per statistic: each vectorises over the 16 lanes. The sum runs in 4 chains
    // of pixels, where one chain waited out an add's latency per pixel: the fused SEs' squeezes
    // of a SE-ResNet-50 forward (timed in the engine, 30 forwards, 1 and 2 threads, FP32 and
    // bf16) 143-161 -> 107-127 us.
    constexpr Index kChains = 4;
    float sums[kChains][kChannelBlock] = {}, sum[kChannelBlock], top[kChannelBlock];
    std::copy_n(x.at(n, cb, 0, 0), kChannelBlock, top);
    for (Index h = 0; h < H; ++h) {
      const float* p = x.at(n, cb, h, 0);
      if (mode != SESqueeze::max) {
        Index i = 0;
        for (; i + kChains <= W; i += kChains)
          for (Index k = 0; k < kChains; ++k)
            for (Index l = 0; l < kChannelBlock; ++l) sums[k][l] += p[(i + k) * kChannelBlock + l];
        for (; i < W; ++i)
          for (Index l = 0; l < kChannelBlock; ++l) sums[0][l] += p[i * kChannelBlock + l];
      }
      if (mode != SESqueeze::avg)
        for (Index i = 0; i < W; ++i)
          for (Index l = 0; l < kChannelBlock; ++l) {
            const float v = p[i * kChannelBlock + l];
            top[l] = (v > top[l] || v != v) ? v : top[l];  // NaN wins, as in PyTorch
          }
    }
    std::copy_n(sums[0], kChannelBlock, sum);
    for (Index k = 1; k < kChains; ++k)
      for (Index l = 0; l < kChannelBlock; ++l) sum[l] += sums[k][l];
    const Index c0 = cb * kChannelBlock;
    for (Index l = 0; l < kChannelBlock && c0 + l < C; ++l) {
      const float avg = sum[l] / float(H * W);
      z[n * C + c0 + l] = mode == SESqueeze::avg   ? avg
                          : mode == SESqueeze::max ? top[l]
                                                    : 0.5f * avg + 0.5f * top[l];
    }
  }
}

/// `y = act(x * scale + residual)` over the images of `x` and `y` (same image, any borders; `y`
/// may be `x`). `scale`: `[N, 16 Cb]` per image and channel, or null for 1; `residual`: a view of
/// the same image, or one with `data == nullptr` for none; `act` last, with the vector code of
/// `path` (as for `conv2d_nchw16c`). The border of `y` is left alone.
inline void scale_add_act_nchw16c(const FeatureView& x, const float* scale, const FeatureView& residual,
                                  Activation act, const FeatureView& y, Conv2dPath path = Conv2dPath::automatic) {
  path = resolve_conv2d_path(path);
  const Index N = y.batch, Cb = y.blocks(), H = y.height, W = y.width;
#ifdef _OPENMP
#pragma omp parallel for schedule(static) num_threads(senet::num_threads()) if (N * Cb * H * W > 4096 && !omp_in_parallel())
#endif
  for (Index nb = 0; nb < N * Cb; ++nb) {
    const Index n = nb / Cb, cb = nb % Cb;
    float g[kChannelBlock];
    for (Index l = 0; l < kChannelBlock; ++l) g[l] = scale ? scale[(n * Cb + cb) * kChannelBlock + l] : 1.0f;
    for (Index h = 0; h < H; ++h) {
      const float* a = x.at(n, cb, h, 0);
      const float* r = residual.data ? residual.at(n, cb, h, 0) : nullptr;
      float* p = y.at(n, cb, h, 0);
      for (Index i = 0; i < W; ++i)
        for (Index l = 0; l < kChannelBlock; ++l) {
          float v = a[i * kChannelBlock + l] * g[l];
          if (r) v += r[i * kChannelBlock + l];
          p[i * kChannelBlock + l] = v;
        }
      activate_pixels_nchw16c(p, W, act, path);  // a second pass over the row, in L1
    }
  }
}

/// Copies the channels of `x` into channels `[offset, offset + x.channels)` of `y` (same batch and
/// image size, any borders): one branch of a concatenation. Any offset: a branch whose channels
/// straddle `y`'s 16-channel blocks is shifted lane by lane; one at a multiple of 16 copies whole
/// blocks, its padding lanes included, so the branches must be copied in channel order (a later
/// branch overwrites those lanes). Padding lanes of `y` past its last channel end up zero (or the
/// last branch's own padding lanes, which the engine's producers keep zero).
inline void copy_channels_nchw16c(const FeatureView& x, const FeatureView& y, Index offset) {
  const Index N = x.batch, H = x.height, W = x.width, C = x.channels;
  if (offset % kChannelBlock == 0) {  // whole blocks, rows at a time (lanes past C are x's zeros)
    const Index Cb = x.blocks(), first = offset / kChannelBlock;
#ifdef _OPENMP
#pragma omp parallel for schedule(static) num_threads(senet::num_threads()) if (N * Cb * H * W > 4096 && !omp_in_parallel())
#endif
    for (Index nb = 0; nb < N * Cb; ++nb)
      for (Index h = 0; h < H; ++h)
        std::copy_n(x.at(nb / Cb, nb % Cb, h, 0), W * kChannelBlock, y.at(nb / Cb, first + nb % Cb, h, 0));
    return;
  }
  const Index first = offset / kChannelBlock, last = (offset + C - 1) / kChannelBlock;
  const Index blocks = last - first + 1;
#ifdef _OPENMP
#pragma omp parallel for schedule(static) num_threads(senet::num_threads()) if (N * blocks * H * W > 4096 && !omp_in_parallel())
#endif
  for (Index nb = 0; nb < N * blocks; ++nb) {
    const Index n = nb / blocks, yb = first + nb % blocks;
    // Lanes of y's block yb that this branch owns, and where each comes from in x.
    const Index c_begin = std::max(offset, yb * kChannelBlock), c_end = std::min(offset + C, (yb + 1) * kChannelBlock);
    const bool last_block = yb == y.blocks() - 1 && offset + C == y.channels;
    for (Index h = 0; h < H; ++h) {
      float* dst = y.at(n, yb, h, 0);
      for (Index c = c_begin; c < c_end; ++c) {
        const Index xc = c - offset, l = c % kChannelBlock;
        const float* src = x.at(n, xc / kChannelBlock, h, 0) + xc % kChannelBlock;
        for (Index i = 0; i < W; ++i) dst[i * kChannelBlock + l] = src[i * kChannelBlock];
      }
      if (last_block)
        for (Index i = 0; i < W; ++i)
          for (Index l = c_end % kChannelBlock == 0 ? kChannelBlock : c_end % kChannelBlock; l < kChannelBlock; ++l)
            dst[i * kChannelBlock + l] = 0.0f;
    }
  }
}

/// ShuffleNet's channel shuffle from `x` to `y` (same image, any borders; not in place), as
/// `ChannelShuffle(groups)`: with `k = channels / groups`, output channel `i * groups + j` is input
/// channel `j * k + i`. Padding lanes of `y`'s last block are zeroed; its border is left alone.
inline void shuffle_channels_nchw16c(const FeatureView& x, Index groups, const FeatureView& y) {
  SENET_CHECK(groups >= 1 && x.channels % groups == 0 && x.same_image(y) && x.data != y.data,
              "shuffle_channels_nchw16c: ", x.channels, " channels in ", groups, " groups, into another view of ",
              "the same size");
  const Index N = y.batch, Cb = y.blocks(), C = y.channels, H = y.height, W = y.width, k = C / groups;
#ifdef _OPENMP
#pragma omp parallel for schedule(static) num_threads(senet::num_threads()) if (N * Cb * H * W > 4096 && !omp_in_parallel())
#endif
  for (Index nb = 0; nb < N * Cb; ++nb) {
    const Index n = nb / Cb, yb = nb % Cb;
    for (Index h = 0; h < H; ++h) {
      float* dst = y.at(n, yb, h, 0);
      for (Index l = 0; l < kChannelBlock; ++l) {
        const Index c = yb * kChannelBlock + l;
        if (c >= C) {
          for (Index i = 0; i < W; ++i) dst[i * kChannelBlock + l] = 0.0f;
          continue;
        }
        const Index xc = (c % groups) * k + c / groups;
        const float* src = x.at(n, xc / kChannelBlock, h, 0) + xc % kChannelBlock;
        for (Index i = 0; i < W; ++i) dst[i * kChannelBlock + l] = src[i * kChannelBlock];
      }
    }
  }
}

}  // namespace senet
