#pragma once
/// \file conv2d_stem.hpp
/// Direct FP32 convolution for a network's first layer: an input with few channels (an RGB image,
/// `C <= 16`) in plain `NCHW`, an output in the blocked `NCHW16c` layout of the fast engine,
/// written into a (possibly bordered) `FeatureView` with a fused bias and activation.
///
/// Why a kernel of its own: `conv2d_nchw16c` pads the input channels to 16, so on SE-ResNet-50's
/// stem (7x7 stride 2, C = 3) it does 5.3x the work; im2col + GEMM unfolds 147 rows per output
/// pixel. Here each input value is broadcast from the `NCHW` plane as it is and multiplied into
/// vectors of 16 output channels, so no work is wasted on channel padding.
///
/// Layouts
/// - Input `x`: `[N, C, H, W]` (any `C`; weights and scratch grow with `C`, so keep it small).
/// - Packed weights (`PackedStemWeights::data`): `[C, kh, kw, Kp]`, `Kp = 16 ceil(K / 16)`; element
///   `(k, c, i, j)` of a PyTorch weight `[K, C, kh, kw]` at `[c][i][j][k]`, zero for `k >= K`. One tap
///   of one input channel is one contiguous row of `Kp` output channels (vector loads).
/// - Output `y`: a `FeatureView` of `N x K x OH x OW`; all `Kp` lanes of the image are written
///   (lanes `k >= K` get `act(0) = 0`), then its border is zeroed for the next layer's padding.
///
/// - BF16 packed weights (`ConvPrecision::bf16`, `PackedStemWeights::data_bf16`): horizontally
///   adjacent taps in pairs, `[C, kh, ceil(kw / 2), Kp, 2]`, the operand of one `vdpbf16ps` per 16
///   outputs (the missing tap of an odd `kw` zero). The input is then rounded to bf16 into a
///   per-thread plane of tap pairs: word `q` of a padded row holds its values `q` and
///   `q + dilation_w` (an aligned 32-bit broadcast per pixel and pair). A 7x7 stem takes 4 pair
///   steps per row instead of 7 FMAs, each `vdpbf16ps` twice an FMA's work.
///
/// Kernels (`Conv2dPath` selects one; all compute the same result)
/// - `avx512`: `P` output pixels along a row x `V` vectors of 16 output channels (`V = min(4, Kb)`;
///   `P` at most 6 for V = 4, 8 for V = 3, 14 for V <= 2: <= 28 zmm accumulators), each input
///   value broadcast once per tile and tap, the V weight vectors loaded once per tap. Rows are
///   split into balanced tiles. Measured on the stem (Zen 5, one thread, GFLOP/s, runs 5% apart):
///   6x4 185-200, 14x2 190-200, 7x4 180-196 (32 registers: none left for the broadcast), 8x3
///   178-189, 4x4 137-150; 6x4 keeps K = 64 in one pass over the input.
/// - `avx512` on bf16 weights (AVX512_BF16): the same tiles with `vdpbf16ps` (`amx` runs these too).
/// - `avx2`: 6 pixels x 16 output channels (12 ymm accumulators); fp32 only.
/// - `portable`: plain C++, 4 pixels x 16 channels (bf16: FP32 arithmetic on the rounded values).
/// Strides 1 and 2 are compile-time in the tiles, others are runtime (correct, a little slower).
///
/// Padding: the input is copied once per call into a zero-bordered per-thread scratch
/// `[N, C, H + 2 pad_h, W + 2 pad_w]` (0.6 MB for the stem), so the tiles never test bounds.
/// Threads: the tiles `N x channel groups x OH x row tiles` are split into one contiguous range
/// per OpenMP thread; inside an enclosing parallel region the call runs on the calling thread.

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <type_traits>
#include <utility>

#include "senet/core/error.hpp"
#include "senet/core/tensor.hpp"
#include "senet/ops/conv2d.hpp"
#include "senet/ops/nchw16c.hpp"

#ifdef _OPENMP
#include <omp.h>
#endif

namespace senet {

/// Convolution weights packed once for `conv2d_stem_nchw16c` (groups = 1).
struct PackedStemWeights : PackedConvShape {
  /// fp32: `[C, kh, kw, Kp]` flattened, `Kp = padded_out()`; zero for output channels `k >= K`.
  /// Empty for bf16.
  Tensor<float> data;
  ConvPrecision precision = ConvPrecision::fp32;
  /// bf16: `[C, kh, ceil(kw / 2), Kp, 2]`, element `(k, c, i, j)` of a PyTorch weight at
  /// `[c][i][j / 2][k][j % 2]` (bfloat16 bits, rounded to nearest even); zero for `k >= K` and for
  /// `j = kw`. Empty for fp32.
  Tensor<std::uint16_t> data_bf16;
};

/// Packs a PyTorch conv weight `[K, C, kh, kw]` (groups = 1) as `[C, kh, kw, Kp]`, or in
/// `precision` bf16 as tap pairs (see `PackedStemWeights::data_bf16`).
inline PackedStemWeights pack_conv2d_stem_weights(const Tensor<float>& w,
                                                  ConvPrecision precision = ConvPrecision::fp32) {
  PackedStemWeights packed{PackedConvShape::of(w, "pack_conv2d_stem_weights"), {}, precision, {}};
  const Index K = packed.out_channels, C = packed.in_channels, kh = packed.kernel_h, kw = packed.kernel_w;
  const Index Kp = packed.padded_out(), taps = C * kh * kw;
  if (precision == ConvPrecision::bf16) {
    const Index pairs = (kw + 1) / 2;
    packed.data_bf16 = Tensor<std::uint16_t>({C * kh * pairs * Kp * 2});  // zero-initialised
    for (Index k = 0; k < K; ++k)
      for (Index c = 0; c < C; ++c)
        for (Index i = 0; i < kh; ++i)
          for (Index j = 0; j < kw; ++j)
            packed.data_bf16[(((c * kh + i) * pairs + j / 2) * Kp + k) * 2 + j % 2] =
                detail::float_to_bf16(w[((k * C + c) * kh + i) * kw + j]);
    return packed;
  }
  packed.data = Tensor<float>({taps * Kp});  // zero-initialised: the padding channels stay zero
  for (Index k = 0; k < K; ++k)
    for (Index t = 0; t < taps; ++t) packed.data[t * Kp + k] = w[k * taps + t];
  return packed;
}

namespace detail {

/// Geometry shared by the stem tiles; input strides in floats of the padded `NCHW` input.
struct StemGeom {
  Index C = 0, kh = 0, kw = 0;
  Index x_c = 0;      // between input channels: Hp * Wp
  Index x_tap_h = 0;  // one kernel row further: dilation_h * Wp
  Index x_tap_w = 0;  // one kernel column further: dilation_w
  Index x_pix = 0;    // one output pixel further along the row: stride_w
  Index Kp = 0;       // one weight row: all padded output channels
  Index y_kb = 0;     // between output channel blocks: y.block_stride()
  Activation act = Activation::none;
  /// bf16: what is kept of the last tap pair's input words (0xFFFF when `kw` is odd: the missing
  /// tap's input, one pixel past the window, must not reach the sums, not even as NaN * 0).
  std::uint32_t last_pair_keep = 0xFFFFFFFFu;
};

/// One output tile: `x` at the tile's first input pixel (channel 0, tap 0), `w` at its first output
/// channel of weight row 0, `bias` at its first output channel (padded, never null), `y` at its
/// first pixel in its first output block.
using StemTileFn = void (*)(const StemGeom&, const float* x, const float* w, const float* bias, float* y);
/// The same on bf16 weights: `x` in the plane of tap pairs, `w` at the first output channel's pair
/// of weight row 0; `StemGeom::kw` counts tap pairs and `x_tap_w` is one pair further.
using StemBf16TileFn = void (*)(const StemGeom&, const std::uint32_t* x, const std::uint16_t* w, const float* bias,
                                float* y);

/// Portable tile: `P` pixels x 16 output channels.
template <int P>
void stem_tile_portable(const StemGeom& g, const float* x, const float* w, const float* bias, float* y) {
  float acc[P][16] = {};
  for (Index c = 0; c < g.C; ++c)
    for (Index i = 0; i < g.kh; ++i)
      for (Index j = 0; j < g.kw; ++j) {
        const float* xp = x + c * g.x_c + i * g.x_tap_h + j * g.x_tap_w;
        const float* wr = w + ((c * g.kh + i) * g.kw + j) * g.Kp;
#pragma GCC unroll 4
        for (int p = 0; p < P; ++p) {
          const float xv = xp[p * g.x_pix];
#pragma GCC unroll 16
          for (int k = 0; k < 16; ++k) acc[p][k] += xv * wr[k];
        }
      }
  for (int p = 0; p < P; ++p)
    for (int k = 0; k < 16; ++k) {
      const float v = acc[p][k] + bias[k];
      y[p * 16 + k] = activate(v, g.act);
    }
}

/// Portable bf16 tile: `P` pixels x 16 output channels, FP32 arithmetic on the bf16 values.
template <int P>
void stem_tile_portable_bf16(const StemGeom& g, const std::uint32_t* x, const std::uint16_t* w, const float* bias,
                             float* y) {
  float acc[P][16] = {};
  for (Index c = 0; c < g.C; ++c)
    for (Index i = 0; i < g.kh; ++i)
      for (Index j = 0; j < g.kw; ++j) {
        const std::uint32_t* xp = x + c * g.x_c + i * g.x_tap_h + j * g.x_tap_w;
        const std::uint16_t* wr = w + ((c * g.kh + i) * g.kw + j) * 2 * g.Kp;
        for (int p = 0; p < P; ++p) {
          const std::uint32_t pair = xp[p * g.x_pix] & (j + 1 == g.kw ? g.last_pair_keep : 0xFFFFFFFFu);
          const float x0 = bf16_to_float(std::uint16_t(pair & 0xFFFFu)), x1 = bf16_to_float(std::uint16_t(pair >> 16));
          for (int k = 0; k < 16; ++k) acc[p][k] += x0 * bf16_to_float(wr[2 * k]) + x1 * bf16_to_float(wr[2 * k + 1]);
        }
      }
  for (int p = 0; p < P; ++p)
    for (int k = 0; k < 16; ++k) y[p * 16 + k] = activate(acc[p][k] + bias[k], g.act);
}

/// Row `dst` of the plane of tap pairs: word `q < n` = `bf16(src[q]) | bf16(src[q + d]) << 16`
/// (`src`: a padded input row of `n + d` floats).
inline void stem_pair_row_portable(const float* src, Index n, Index d, std::uint32_t* dst) {
  for (Index q = 0; q < n; ++q) dst[q] = std::uint32_t(float_to_bf16(src[q])) | std::uint32_t(float_to_bf16(src[q + d])) << 16;
}

#if SENET_X86_SIMD

/// `stem_pair_row_portable`, 16 words per step (`vcvtneps2bf16` rounds as `float_to_bf16`).
SENET_TARGET_AVX512_BF16 inline void stem_pair_row_avx512(const float* src, Index n, Index d, std::uint32_t* dst) {
  for (Index q = 0; q < n; q += 16) {
    const __mmask16 m = n - q >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << (n - q)) - 1);
    const __m512i lo = _mm512_cvtepu16_epi32((__m256i)_mm512_cvtneps_pbh(_mm512_maskz_loadu_ps(m, src + q)));
    const __m512i hi = _mm512_cvtepu16_epi32((__m256i)_mm512_cvtneps_pbh(_mm512_maskz_loadu_ps(m, src + q + d)));
    _mm512_mask_storeu_epi32(dst + q, m, _mm512_or_si512(lo, _mm512_slli_epi32(hi, 16)));
  }
}

/// One tap pair: `acc[p][v] += w[32 v .. 32 v + 31] . x[p * pix]` (`keep`: see `StemGeom`).
template <int P, int V, bool Keep>
SENET_TARGET_AVX512_BF16 __attribute__((always_inline)) inline void stem_pair_dpbf16(__m512 (&acc)[P][V],
                                                                                   const std::uint16_t* w,
                                                                                   const std::uint32_t* x, Index pix,
                                                                                   std::uint32_t keep) {
  __m512bh wv[V];
#pragma GCC unroll 4
  for (int v = 0; v < V; ++v) wv[v] = (__m512bh)_mm512_loadu_si512(w + 32 * v);
#pragma GCC unroll 16
  for (int p = 0; p < P; ++p) {
    const __m512bh b = (__m512bh)_mm512_set1_epi32(int(Keep ? x[p * pix] & keep : x[p * pix]));
#pragma GCC unroll 4
    for (int v = 0; v < V; ++v) acc[p][v] = _mm512_dpbf16_ps(acc[p][v], wv[v], b);
  }
}

/// AVX-512 BF16 tile: `stem_tile_avx512` with one `vdpbf16ps` per pixel, vector and tap pair.
template <int P, int V, int S>
SENET_TARGET_AVX512_BF16 void stem_tile_avx512_bf16(const StemGeom& g, const std::uint32_t* x, const std::uint16_t* w,
                                                    const float* bias, float* y) {
  const Index pix = S ? Index(S) : g.x_pix;
  __m512 acc[P][V];
  tile_zero_avx512(acc);
  const Index pair_row = 2 * g.Kp;
  for (Index c = 0; c < g.C; ++c)
    for (Index i = 0; i < g.kh; ++i) {
      const std::uint32_t* xr = x + c * g.x_c + i * g.x_tap_h;
      const std::uint16_t* wr = w + (c * g.kh + i) * g.kw * pair_row;
      for (Index j = 0; j + 1 < g.kw; ++j)
        stem_pair_dpbf16<P, V, false>(acc, wr + j * pair_row, xr + j * g.x_tap_w, pix, 0);
      const Index j = g.kw - 1;
      stem_pair_dpbf16<P, V, true>(acc, wr + j * pair_row, xr + j * g.x_tap_w, pix, g.last_pair_keep);
    }
  tile_store_avx512<P, V>(acc, bias, nullptr, nullptr, g.act, y, g.y_kb);
}

/// AVX-512 tile: `P` pixels x `V` vectors of 16 output channels. `S` is the pixel stride in input
/// pixels when known at compile time (1, 2), else 0 (runtime `g.x_pix`).
template <int P, int V, int S>
SENET_TARGET_AVX512 void stem_tile_avx512(const StemGeom& g, const float* x, const float* w, const float* bias,
                                          float* y) {
  const Index pix = S ? Index(S) : g.x_pix;
  __m512 acc[P][V];
  tile_zero_avx512(acc);
  const Index Kp = g.Kp;
  for (Index c = 0; c < g.C; ++c)
    for (Index i = 0; i < g.kh; ++i) {
      const float* xr = x + c * g.x_c + i * g.x_tap_h;
      const float* wr = w + (c * g.kh + i) * g.kw * Kp;
      for (Index j = 0; j < g.kw; ++j) tile_fma_avx512<P, V>(acc, wr + j * Kp, xr + j * g.x_tap_w, pix);
    }
  tile_store_avx512<P, V>(acc, bias, nullptr, nullptr, g.act, y, g.y_kb);
}

/// AVX2 tile: `P` pixels x 16 output channels as two ymm halves, `2P` accumulators.
template <int P, int S>
SENET_TARGET_AVX2 void stem_tile_avx2(const StemGeom& g, const float* x, const float* w, const float* bias, float* y) {
  const Index pix = S ? Index(S) : g.x_pix;
  __m256 acc[P][2];
#pragma GCC unroll 16
  for (int p = 0; p < P; ++p) acc[p][0] = acc[p][1] = _mm256_setzero_ps();
  const Index Kp = g.Kp;
  for (Index c = 0; c < g.C; ++c)
    for (Index i = 0; i < g.kh; ++i) {
      const float* xr = x + c * g.x_c + i * g.x_tap_h;
      const float* wr = w + (c * g.kh + i) * g.kw * Kp;
      for (Index j = 0; j < g.kw; ++j) tile_fma_avx2<P>(acc, wr + j * Kp, xr + j * g.x_tap_w, pix);
    }
  tile_store_avx2<P>(acc, bias, nullptr, nullptr, g.act, y);
}

#endif  // SENET_X86_SIMD

/// Widest tile of each path, in pixels; the AVX-512 one per number of 16-channel vectors `V`.
inline constexpr int kStemAvx512MaxVectors = 4, kStemAvx512MaxPixels = 14;
inline constexpr int kStemAvx2Pixels = 6, kStemPortablePixels = 4;
inline constexpr int stem_avx512_pixels(int vectors) { return vectors >= 4 ? 6 : vectors == 3 ? 8 : 14; }

/// Benchmarks may force the AVX-512 tile of the calling thread's calls: pixels and vectors (0 = the
/// defaults above). Thread-local, read before the work is split: other threads are never affected.
inline std::pair<int, int>& stem_avx512_tile_override() {
  static thread_local std::pair<int, int> tile{0, 0};
  return tile;
}

using StemTileRow = std::array<StemTileFn, kStemAvx512MaxPixels>;
using StemBf16TileRow = std::array<StemBf16TileFn, kStemAvx512MaxPixels>;

/// The AVX-512 tiles of `V` vectors and 1.. `sizeof...(Ps)` pixels, on FP32 or (`Bf16`) bf16 weights.
template <bool Bf16, int S, int V, int... Ps>
auto stem_avx512_row(std::integer_sequence<int, Ps...>) {
  using Row = std::conditional_t<Bf16, StemBf16TileRow, StemTileRow>;
#if SENET_X86_SIMD
  if constexpr (Bf16)
    return Row{&stem_tile_avx512_bf16<Ps + 1, V, S>...};
  else
    return Row{&stem_tile_avx512<Ps + 1, V, S>...};
#else
  return Row{};
#endif
}

/// The widest AVX-512 tile instantiated per number of vectors: the defaults, and 7 x 4, which the
/// benchmarks compare with 6 x 4. (Every tile is a function of its own; more cost compile time.)
inline constexpr int stem_avx512_table_pixels(int vectors) { return vectors >= 4 ? 7 : vectors == 3 ? 8 : 14; }

template <bool Bf16, int S>
auto stem_avx512_table() {
  using Seq1 = std::make_integer_sequence<int, stem_avx512_table_pixels(1)>;
  using Seq2 = std::make_integer_sequence<int, stem_avx512_table_pixels(2)>;
  using Seq3 = std::make_integer_sequence<int, stem_avx512_table_pixels(3)>;
  using Seq4 = std::make_integer_sequence<int, stem_avx512_table_pixels(4)>;
  return std::array<decltype(stem_avx512_row<Bf16, S, 1>(Seq1{})), kStemAvx512MaxVectors>{
      stem_avx512_row<Bf16, S, 1>(Seq1{}), stem_avx512_row<Bf16, S, 2>(Seq2{}), stem_avx512_row<Bf16, S, 3>(Seq3{}),
      stem_avx512_row<Bf16, S, 4>(Seq4{})};
}

template <int... Ps>
StemBf16TileRow stem_portable_bf16_row(std::integer_sequence<int, Ps...>) {
  return {&stem_tile_portable_bf16<Ps + 1>...};
}

template <int S, int... Ps>
StemTileRow stem_avx2_row(std::integer_sequence<int, Ps...>) {
#if SENET_X86_SIMD
  return {&stem_tile_avx2<Ps + 1, S>...};
#else
  return {};
#endif
}

template <int... Ps>
StemTileRow stem_portable_row(std::integer_sequence<int, Ps...>) {
  return {&stem_tile_portable<Ps + 1>...};
}

}  // namespace detail

/// Direct convolution of a few-channel `NCHW` input into an `NCHW16c` view, with bias and activation:
/// `y = act(conv2d(x, w) + bias)` as `senet::conv2d` computes it (up to summation order).
///
/// `x`: `[N, C, H, W]` (`x_shape`), `C = w.in_channels`; `bias`: `[K]` or null; `y`: `N x K x OH x OW`
/// (`conv2d_output_shape`), any border. Writes every lane of `y`'s image (lanes `k >= K` get 0),
/// then zeroes `y`'s border. Any kernel, stride, padding and dilation; groups must be 1.
/// `y` must not overlap `x`. (Taking a pointer lets a caller convolve some images of a batch.)
/// With bf16 weights, `conv2d` of the input rounded to bf16 and the bf16 weights, summed in FP32:
/// `path` `avx512` (or `amx`) needs AVX512_BF16, `avx2` throws, `automatic` takes the best.
inline void conv2d_stem_nchw16c(const float* x_data, const Shape& x_shape, const PackedStemWeights& w,
                                const Conv2dParams& p, const float* bias, Activation act, const FeatureView& y,
                                Conv2dPath path = Conv2dPath::automatic) {
  SENET_CHECK(x_shape.size() == 4, "conv2d_stem_nchw16c: input must be [N, C, H, W], got ", to_string(x_shape));
  SENET_CHECK(p.groups == 1, "conv2d_stem_nchw16c: only groups = 1 is supported, got ", p.groups);
  SENET_CHECK(x_data != nullptr, "conv2d_stem_nchw16c: no input data");
  SENET_CHECK(x_shape[1] == w.in_channels, "conv2d_stem_nchw16c: input ", to_string(x_shape), " does not have the ",
              w.in_channels, " channels of the packed weights");
  SENET_CHECK(w.kernel_h == p.kernel_h && w.kernel_w == p.kernel_w, "conv2d_stem_nchw16c: the packed weights are ",
              w.kernel_h, "x", w.kernel_w, ", the parameters say ", p.kernel_h, "x", p.kernel_w);
  const auto [oh, ow] = conv2d_output_size(x_shape[2], x_shape[3], p);
  detail::check_output_view("conv2d_stem_nchw16c", y, {nullptr, x_shape[0], w.out_channels, oh, ow, 0});
  const bool bf16 = w.precision == ConvPrecision::bf16;
  path = resolve_conv2d_path(path, w.precision);
  if (path == Conv2dPath::amx) path = Conv2dPath::avx512;  // the stem's bf16 tiles are vdpbf16ps ones
  const Index N = x_shape[0], C = x_shape[1], H = x_shape[2], W = x_shape[3];
  const Index OH = oh, OW = ow, Kb = w.out_blocks(), Kp = w.padded_out();

  const float* bias_p = detail::padded_bias(bias, w.out_channels, Kp);

  // The input the tiles read: x itself, or a zero-bordered copy [N, C, Hp, Wp]; bf16: the plane
  // of tap pairs of that copy.
  const Index Hp = H + 2 * p.pad_h, Wp = W + 2 * p.pad_w;
  const float* xin = x_data;
  const std::uint32_t* xpairs = nullptr;
  if (bf16) {
    static thread_local detail::BasicScratch<std::uint32_t> scratch;
    std::uint32_t* xq = scratch.get(N * C * Hp * Wp);
    const Index rows = N * C * Hp, d = p.dilation_w;
#ifdef _OPENMP
#pragma omp parallel for schedule(static) num_threads(senet::num_threads()) if (rows * Wp >= 65536 && !omp_in_parallel())
#endif
    for (Index r = 0; r < rows; ++r) {
      static thread_local detail::Scratch row_scratch;
      float* row = row_scratch.get(Wp + d);  // the padded row and d zeros past it
      const Index h = r % Hp - p.pad_h, plane = r / Hp;
      std::fill(row, row + Wp + d, 0.0f);
      if (h >= 0 && h < H) std::copy_n(x_data + (plane * H + h) * W, W, row + p.pad_w);
#if SENET_X86_SIMD
      if (path == Conv2dPath::avx512) {
        detail::stem_pair_row_avx512(row, Wp, d, xq + r * Wp);
        continue;
      }
#endif
      detail::stem_pair_row_portable(row, Wp, d, xq + r * Wp);
    }
    xpairs = xq;
  } else if (p.pad_h > 0 || p.pad_w > 0) {
    float* xp = detail::shared_scratch().first.get(N * C * Hp * Wp);
    const Index rows = N * C * Hp;
#ifdef _OPENMP
#pragma omp parallel for schedule(static) num_threads(senet::num_threads()) if (rows * Wp >= 65536 && !omp_in_parallel())
#endif
    for (Index r = 0; r < rows; ++r) {
      const Index h = r % Hp - p.pad_h, plane = r / Hp;
      float* dst = xp + r * Wp;
      if (h < 0 || h >= H) {
        std::memset(dst, 0, sizeof(float) * std::size_t(Wp));
        continue;
      }
      std::memset(dst, 0, sizeof(float) * std::size_t(p.pad_w));
      std::memcpy(dst + p.pad_w, x_data + (plane * H + h) * W, sizeof(float) * std::size_t(W));
      std::memset(dst + p.pad_w + W, 0, sizeof(float) * std::size_t(p.pad_w));
    }
    xin = xp;
  }

  detail::StemGeom g;
  g.C = C;
  g.kh = w.kernel_h;
  g.kw = bf16 ? (w.kernel_w + 1) / 2 : w.kernel_w;
  g.x_c = Hp * Wp;
  g.x_tap_h = p.dilation_h * Wp;
  g.x_tap_w = bf16 ? 2 * p.dilation_w : p.dilation_w;
  if (bf16 && w.kernel_w % 2 == 1) g.last_pair_keep = 0xFFFFu;
  g.x_pix = p.stride_w;
  g.Kp = Kp;
  g.y_kb = y.block_stride();
  g.act = act;
  const Index x_row = p.stride_h * Wp;  // one output row further

  // Tile shape and kernel table of the chosen path: table[vectors - 1][pixels - 1].
  std::array<detail::StemTileRow, detail::kStemAvx512MaxVectors> table{};
  std::array<detail::StemBf16TileRow, detail::kStemAvx512MaxVectors> bf16_table{};
  Index P = 1, V = 1;
  const Index stride = p.stride_w;
  if (path == Conv2dPath::avx512) {
    const auto forced = detail::stem_avx512_tile_override();
    V = std::min<Index>(forced.second > 0 ? forced.second : detail::kStemAvx512MaxVectors, Kb);
    P = forced.first > 0 ? std::min(forced.first, detail::stem_avx512_table_pixels(int(V)))
                         : balanced_tile_pixels(OW, detail::stem_avx512_pixels(int(V)));
    // Stride 2 (every ImageNet stem) with the stride in the code; the rest at run time.
    if (bf16)
      bf16_table = stride == 2 ? detail::stem_avx512_table<true, 2>() : detail::stem_avx512_table<true, 0>();
    else
      table = stride == 2 ? detail::stem_avx512_table<false, 2>() : detail::stem_avx512_table<false, 0>();
  } else if (bf16) {  // portable
    P = balanced_tile_pixels(OW, detail::kStemPortablePixels);
    bf16_table[0] = detail::stem_portable_bf16_row(std::make_integer_sequence<int, detail::kStemPortablePixels>{});
  } else if (path == Conv2dPath::avx2) {
    using Seq = std::make_integer_sequence<int, detail::kStemAvx2Pixels>;
    P = balanced_tile_pixels(OW, detail::kStemAvx2Pixels);
    table[0] = stride == 1   ? detail::stem_avx2_row<1>(Seq{})
               : stride == 2 ? detail::stem_avx2_row<2>(Seq{})
                             : detail::stem_avx2_row<0>(Seq{});
  } else {
    P = balanced_tile_pixels(OW, detail::kStemPortablePixels);
    table[0] = detail::stem_portable_row(std::make_integer_sequence<int, detail::kStemPortablePixels>{});
  }
  const Index groups = (Kb + V - 1) / V;  // groups of V output blocks; the last may be narrower
  const Index tiles = (OW + P - 1) / P;
  const Index items = N * groups * OH * tiles;
  const float* wdata = w.data.data();
  const std::uint16_t* wdata_bf16 = w.data_bf16.data();

  auto run = [&](Index begin, Index end) {
    for (Index it = begin; it < end; ++it) {
      const Index t = it % tiles, oh = (it / tiles) % OH, gi = (it / (tiles * OH)) % groups,
                  n = it / (tiles * OH * groups);
      const Index ow = t * P, pixels = std::min(P, OW - ow), kb = gi * V, vectors = std::min(V, Kb - kb);
      const Index x_offset = n * C * g.x_c + oh * x_row + ow * g.x_pix;
      if (bf16)
        bf16_table[vectors - 1][pixels - 1](g, xpairs + x_offset, wdata_bf16 + 2 * kb * kChannelBlock,
                                            bias_p + kb * kChannelBlock, y.at(n, kb, oh, ow));
      else
        table[vectors - 1][pixels - 1](g, xin + x_offset, wdata + kb * kChannelBlock, bias_p + kb * kChannelBlock,
                                       y.at(n, kb, oh, ow));
    }
  };
  detail::run_in_thread_ranges(items, run);
  zero_border(y);
}

/// `conv2d_stem_nchw16c` on a tensor `x` `[N, C, H, W]`.
inline void conv2d_stem_nchw16c(const Tensor<float>& x, const PackedStemWeights& w, const Conv2dParams& p,
                                const float* bias, Activation act, const FeatureView& y,
                                Conv2dPath path = Conv2dPath::automatic) {
  conv2d_stem_nchw16c(x.data(), x.shape(), w, p, bias, act, y, path);
}

}  // namespace senet
