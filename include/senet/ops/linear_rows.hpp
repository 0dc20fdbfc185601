#pragma once
/// \file linear_rows.hpp
/// `linear_rows`: the fully connected layers of the fast engine (the SE excitations and the
/// classifier head) on packed weights. A prepared model runs them on a few rows at a time (one
/// image's descriptor per SE block, a small batch's features in the head), where a layer costs
/// what reading its weights costs, and those come from memory on every call (a large model's
/// weights do not stay in cache). So the weights are packed in blocks of 16 outputs, each block
/// one contiguous stream, 4 blocks read side by side (4 streams in flight), each input broadcast
/// against a block's 16 outputs (no horizontal sums), and in bf16 half the bytes. Measured
/// (`bench_senet --benchmark_filter=LinearRows`, weights from memory, one thread) beside Eigen's
/// product: SE-ResNet-50's classifier 2048 -> 1000 at batch 1 240 us (Eigen 244, bf16 114), at
/// batch 8 491 us (Eigen 1117, bf16 246); its 128 -> 2048 excitation 36.7 us (Eigen 33.4, bf16 17.9).

#include <algorithm>
#include <cstdint>
#include <vector>

#include "senet/core/error.hpp"
#include "senet/core/tensor.hpp"
#include "senet/core/threading.hpp"
#include "senet/ops/nchw16c.hpp"

namespace senet {

/// A fully connected layer's weights packed for `linear_rows`, in blocks of 16 outputs.
/// fp32: `data[(b * in + i) * 16 + k]` is the weight from input `i` to output `16 b + k`. bf16:
/// `data_bf16[((b * pairs + p) * 16 + k) * 2 + j]` is the weight from input `2 p + j` to output
/// `16 b + k` (the channel pairs `vdpbf16ps` reads), rounded to nearest even. Outputs past
/// `out_features` and an odd last input are zeros.
struct PackedLinearWeights {
  Index in_features = 0, out_features = 0;
  ConvPrecision precision = ConvPrecision::fp32;
  std::vector<float> data;
  std::vector<std::uint16_t> data_bf16;

  Index blocks() const { return (out_features + kChannelBlock - 1) / kChannelBlock; }
  Index pairs() const { return (in_features + 1) / 2; }
  /// Bytes of the packed weights.
  Index bytes() const {
    return Index(data.size() * sizeof(float) + data_bf16.size() * sizeof(std::uint16_t));
  }
};

/// Packs `w` (PyTorch's `[out, in]`, or `[out, in, 1, 1]` for a 1x1 convolution used as a fully
/// connected layer) in `precision`.
inline PackedLinearWeights pack_linear_weights(const Tensor<float>& w, ConvPrecision precision = ConvPrecision::fp32) {
  SENET_CHECK(w.rank() >= 2 && w.dim(0) >= 1 && w.size() % w.dim(0) == 0,
              "pack_linear_weights: weight must be [out, in], got ", to_string(w.shape()));
  PackedLinearWeights p;
  p.out_features = w.dim(0);
  p.in_features = w.size() / p.out_features;
  p.precision = precision;
  const Index in = p.in_features, out = p.out_features, B = p.blocks(), pairs = p.pairs();
  if (precision == ConvPrecision::bf16) {
    p.data_bf16.assign(std::size_t(B * pairs * kChannelBlock * 2), 0);
    for (Index o = 0; o < out; ++o)
      for (Index i = 0; i < in; ++i)
        p.data_bf16[std::size_t(((o / kChannelBlock * pairs + i / 2) * kChannelBlock + o % kChannelBlock) * 2 + i % 2)] =
            detail::float_to_bf16(w[o * in + i]);
  } else {
    p.data.assign(std::size_t(B * in * kChannelBlock), 0.0f);
    for (Index o = 0; o < out; ++o)
      for (Index i = 0; i < in; ++i)
        p.data[std::size_t((o / kChannelBlock * in + i) * kChannelBlock + o % kChannelBlock)] = w[o * in + i];
  }
  return p;
}

namespace detail {

/// The rows of `x` as bf16 pairs, `pairs` per row (an odd last input paired with zero).
inline void linear_inputs_to_bf16(const float* x, Index N, Index in, Index pairs, std::uint32_t* xb) {
  for (Index n = 0; n < N; ++n)
    for (Index p = 0; p < pairs; ++p) {
      const float x0 = x[n * in + 2 * p], x1 = 2 * p + 1 < in ? x[n * in + 2 * p + 1] : 0.0f;
      xb[n * pairs + p] = std::uint32_t(float_to_bf16(x0)) | std::uint32_t(float_to_bf16(x1)) << 16;
    }
}

/// Output blocks `[begin, end)` of `linear_rows`: per block and row, `acc[k] += x[i] w[i][k]` in
/// the order the vector paths sum (FP32; bf16 weights: the inputs' bf16 pairs `xb`, each pair of
/// products added first, as `vdpbf16ps` does).
inline void linear_rows_portable(const float* x, const std::uint32_t* xb, Index N, const PackedLinearWeights& w,
                                 Index begin, Index end, const float* bias, float* y, Index y_stride) {
  const Index in = w.in_features, pairs = w.pairs();
  for (Index b = begin; b < end; ++b) {
    const Index width = std::min(kChannelBlock, w.out_features - b * kChannelBlock);
    for (Index n = 0; n < N; ++n) {
      const float* xr = x + n * in;
      float acc[kChannelBlock] = {};
      if (w.precision == ConvPrecision::bf16) {
        const std::uint16_t* wb = w.data_bf16.data() + b * pairs * kChannelBlock * 2;
        for (Index p = 0; p < pairs; ++p) {
          const std::uint32_t pair_of_x = xb[n * pairs + p];
          const float x0 = bf16_to_float(std::uint16_t(pair_of_x)), x1 = bf16_to_float(std::uint16_t(pair_of_x >> 16));
          for (Index k = 0; k < kChannelBlock; ++k) {
            const std::uint16_t* pair = wb + (p * kChannelBlock + k) * 2;
            acc[k] += x0 * bf16_to_float(pair[0]) + x1 * bf16_to_float(pair[1]);
          }
        }
      } else {
        const float* wb = w.data.data() + b * in * kChannelBlock;
        for (Index i = 0; i < in; ++i)
          for (Index k = 0; k < kChannelBlock; ++k) acc[k] += xr[i] * wb[i * kChannelBlock + k];
      }
      for (Index k = 0; k < width; ++k) y[n * y_stride + b * kChannelBlock + k] = acc[k] + (bias ? bias[b * kChannelBlock + k] : 0.0f);
    }
  }
}

#if SENET_X86_SIMD
/// `y[m][16 g + k] = acc[m][g][k] (+ bias[16 g + k])`, the last block's lanes `last_keep` only.
template <int Xs, int G>
SENET_TARGET_AVX512 __attribute__((always_inline)) inline void linear_blocks_store_avx512(
    const __m512 (&acc)[Xs][G], const float* bias, float* y, Index y_stride, __mmask16 last_keep) {
  for (int g = 0; g < G; ++g) {
    const __mmask16 keep = g + 1 == G ? last_keep : __mmask16(0xFFFF);
    const __m512 b = bias ? _mm512_maskz_loadu_ps(keep, bias + g * kChannelBlock) : _mm512_setzero_ps();
    for (int m = 0; m < Xs; ++m) _mm512_mask_storeu_ps(y + m * y_stride + g * kChannelBlock, keep, _mm512_add_ps(acc[m][g], b));
  }
}

/// `Xs` rows of `G` consecutive output blocks, one accumulator per row and block: the `G` blocks'
/// weights are `G` streams from memory at once (measured at batch 1, one thread, 2048 -> 1000, in
/// a one-off test: 297 us with one stream, 225 us with 4). Stores all 16 lanes of each block but the last, whose
/// first lanes `last_keep` holds.
template <int Xs, int G>
SENET_TARGET_AVX512 inline void linear_blocks_avx512(const float* x, Index in, const float* w, const float* bias,
                                                    float* y, Index y_stride, __mmask16 last_keep) {
  __m512 acc[Xs][G];
  tile_zero_avx512(acc);
  const Index block = in * kChannelBlock;
  for (Index i = 0; i < in; ++i) {
    __m512 wv[G];
#pragma GCC unroll 4
    for (int g = 0; g < G; ++g) wv[g] = _mm512_loadu_ps(w + g * block + i * kChannelBlock);
#pragma GCC unroll 4
    for (int m = 0; m < Xs; ++m) {
      const __m512 xv = _mm512_set1_ps(x[m * in + i]);
#pragma GCC unroll 4
      for (int g = 0; g < G; ++g) acc[m][g] = _mm512_fmadd_ps(xv, wv[g], acc[m][g]);
    }
  }
  linear_blocks_store_avx512<Xs, G>(acc, bias, y, y_stride, last_keep);
}

/// `linear_blocks_avx512` on bf16 weights: `xb` the rows' inputs as bf16 pairs (`pairs` per row).
template <int Xs, int G>
SENET_TARGET_AVX512_BF16 inline void linear_blocks_avx512_bf16(const std::uint32_t* xb, Index pairs,
                                                              const std::uint16_t* w, const float* bias, float* y,
                                                              Index y_stride, __mmask16 last_keep) {
  __m512 acc[Xs][G];
  tile_zero_avx512(acc);
  const Index block = pairs * 2 * kChannelBlock;
  for (Index p = 0; p < pairs; ++p) {
    __m512bh wv[G];
#pragma GCC unroll 4
    for (int g = 0; g < G; ++g) wv[g] = (__m512bh)_mm512_loadu_si512(w + g * block + p * 2 * kChannelBlock);
#pragma GCC unroll 4
    for (int m = 0; m < Xs; ++m) {
      const __m512bh xv = (__m512bh)_mm512_set1_epi32(int(xb[m * pairs + p]));
#pragma GCC unroll 4
      for (int g = 0; g < G; ++g) acc[m][g] = _mm512_dpbf16_ps(acc[m][g], wv[g], xv);
    }
  }
  linear_blocks_store_avx512<Xs, G>(acc, bias, y, y_stride, last_keep);
}

/// Output blocks `[begin, end)` on AVX-512: 4 blocks at a time (then 1), rows 4 at a time (then
/// 2, 1).
inline void linear_rows_avx512(const float* x, const std::uint32_t* xb, Index N, const PackedLinearWeights& w,
                               Index begin, Index end, const float* bias, float* y, Index y_stride) {
  const Index in = w.in_features, pairs = w.pairs();
  const bool bf16 = w.precision == ConvPrecision::bf16;
  auto blocks = [&](auto group, Index b) {
    constexpr int G = decltype(group)::value;
    const Index o = b * kChannelBlock, last_width = std::min(kChannelBlock, w.out_features - (b + G - 1) * kChannelBlock);
    const __mmask16 last_keep = __mmask16((1u << last_width) - 1);
    const float* bb = bias ? bias + o : nullptr;
    auto rows = [&](auto xs, Index n) {
      constexpr int Xs = decltype(xs)::value;
      if (bf16)
        linear_blocks_avx512_bf16<Xs, G>(xb + n * pairs, pairs, w.data_bf16.data() + b * pairs * 2 * kChannelBlock, bb,
                                         y + n * y_stride + o, y_stride, last_keep);
      else
        linear_blocks_avx512<Xs, G>(x + n * in, in, w.data.data() + b * in * kChannelBlock, bb, y + n * y_stride + o,
                                    y_stride, last_keep);
    };
    Index n = 0;
    for (; n + 4 <= N; n += 4) rows(std::integral_constant<int, 4>{}, n);
    for (; n + 2 <= N; n += 2) rows(std::integral_constant<int, 2>{}, n);
    for (; n < N; ++n) rows(std::integral_constant<int, 1>{}, n);
  };
  Index b = begin;
  for (; b + 4 <= end; b += 4) blocks(std::integral_constant<int, 4>{}, b);
  for (; b < end; ++b) blocks(std::integral_constant<int, 1>{}, b);
}

/// Output blocks `[begin, end)` on AVX2 (fp32 weights): each block as two halves of 8, a row at a
/// time with 2 accumulators per half.
SENET_TARGET_AVX2 inline void linear_rows_avx2(const float* x, Index N, const PackedLinearWeights& w, Index begin,
                                               Index end, const float* bias, float* y, Index y_stride) {
  const Index in = w.in_features;
  for (Index b = begin; b < end; ++b) {
    const Index width = std::min(kChannelBlock, w.out_features - b * kChannelBlock), o = b * kChannelBlock;
    const float* wb = w.data.data() + b * in * kChannelBlock;
    for (Index n = 0; n < N; ++n) {
      const float* xr = x + n * in;
      __m256 acc[2][2] = {{_mm256_setzero_ps(), _mm256_setzero_ps()}, {_mm256_setzero_ps(), _mm256_setzero_ps()}};
      Index i = 0;
      for (; i + 2 <= in; i += 2)
        for (int a = 0; a < 2; ++a) {
          const __m256 xv = _mm256_set1_ps(xr[i + a]);
          acc[a][0] = _mm256_fmadd_ps(xv, _mm256_loadu_ps(wb + (i + a) * kChannelBlock), acc[a][0]);
          acc[a][1] = _mm256_fmadd_ps(xv, _mm256_loadu_ps(wb + (i + a) * kChannelBlock + 8), acc[a][1]);
        }
      if (i < in) {
        const __m256 xv = _mm256_set1_ps(xr[i]);
        acc[0][0] = _mm256_fmadd_ps(xv, _mm256_loadu_ps(wb + i * kChannelBlock), acc[0][0]);
        acc[0][1] = _mm256_fmadd_ps(xv, _mm256_loadu_ps(wb + i * kChannelBlock + 8), acc[0][1]);
      }
      alignas(32) float out[kChannelBlock];
      _mm256_store_ps(out, _mm256_add_ps(acc[0][0], acc[1][0]));
      _mm256_store_ps(out + 8, _mm256_add_ps(acc[0][1], acc[1][1]));
      for (Index k = 0; k < width; ++k) y[n * y_stride + o + k] = out[k] + (bias ? bias[o + k] : 0.0f);
    }
  }
}
#endif

}  // namespace detail

/// `y[n, o] = sum_i x[n, i] w[o, i] (+ bias[o])` for `N` rows of `x` (`w.in_features` contiguous
/// values each), row `n` of `y` at `y + n * y_stride` (`y_stride >= out_features`; the rest of a
/// row is left alone), on kernel path `path` (`automatic`: the best this CPU runs; bf16 weights
/// take `avx512` with AVX512_BF16, `amx` meaning the same here, else `portable`; `avx2` runs fp32
/// weights only). The output blocks are split over the threads when the weights are large enough
/// to pay for a second thread.
inline void linear_rows(const float* x, Index N, const PackedLinearWeights& w, const float* bias, float* y,
                        Index y_stride, Conv2dPath path = Conv2dPath::automatic) {
  // AMX tiles do not pay at a few rows; a CPU with AMX has AVX512_BF16.
  if (path == Conv2dPath::amx) path = Conv2dPath::avx512;
  path = resolve_conv2d_path(path, w.precision);
  if (path == Conv2dPath::amx) path = Conv2dPath::avx512;
  // A second thread streams its share of the weights from memory alongside. Measured at batch 1,
  // 1 -> 2 threads (`bench_senet --benchmark_filter=LinearRows`): the 1 MB excitations 28.2 ->
  // 25.1 us and 36.7 -> 26.1 us, the 4 MB bf16 classifier 114 -> 59 us; at 256 KB even in a
  // one-off test (10.7 -> 10.6 us), but in the network, where they come from memory, SE-ResNet-50's
  // 14x14 stage's conv3 steps (256 KB excitations, since its first layer is folded into conv3)
  // took 0.95-0.98x on 2 threads with 128 KB as the threshold instead of 512 KB (`compare_steps.py`,
  // 6 alternating rounds; 1.01-1.04x the other way round in the next run).
  const bool worth_threads = w.bytes() >= (Index(1) << 17);
  // bf16: the inputs rounded once into pairs, for every output block.
  const std::uint32_t* xb = nullptr;
  if (w.precision == ConvPrecision::bf16) {
    static thread_local detail::BasicScratch<std::uint32_t> scratch;  // the caller's: shared by its team
    std::uint32_t* converted = scratch.get(N * w.pairs());
    detail::linear_inputs_to_bf16(x, N, w.in_features, w.pairs(), converted);
    xb = converted;
  }
#if SENET_X86_SIMD
  if (path == Conv2dPath::avx512) {
    detail::run_in_thread_ranges(
        w.blocks(),
        [&](Index begin, Index end) { detail::linear_rows_avx512(x, xb, N, w, begin, end, bias, y, y_stride); }, 4,
        worth_threads);
    return;
  }
  if (path == Conv2dPath::avx2) {
    detail::run_in_thread_ranges(
        w.blocks(), [&](Index begin, Index end) { detail::linear_rows_avx2(x, N, w, begin, end, bias, y, y_stride); },
        1, worth_threads);
    return;
  }
#endif
  detail::run_in_thread_ranges(
      w.blocks(), [&](Index begin, Index end) { detail::linear_rows_portable(x, xb, N, w, begin, end, bias, y, y_stride); },
      1, worth_threads);
}

}  // namespace senet
