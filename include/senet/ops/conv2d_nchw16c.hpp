#pragma once
/// \file conv2d_nchw16c.hpp
/// Direct FP32 convolution on channel-blocked activations (`NCHW16c`, see nchw16c.hpp), the core of
/// senet's fast engine: register-blocked AVX-512 / AVX2 microkernels with the patches read in place
/// (implicit GEMM, no im2col), weights packed once, and a fused epilogue (bias, SE scale, residual,
/// activation) applied while the output tile is still in registers.
///
/// Layouts
/// - Activations: `NCHW16c` tensors or `FeatureView`s (bordered). Padding lanes of the input may
///   hold any finite value: the packed weights are zero there.
/// - Packed weights (`PackedConv2dWeights::data`): blocks of 32 output channels, each
///   `[Cb, kh, kw, 16, B]` with `B = 32` (the last block `B = 16` when `ceil(K / 16)` is odd);
///   element `(k, c, i, j)` of a PyTorch weight `[K, C, kh, kw]` lives in block `k / 32` at
///   `[c / 16][i][j][c % 16][k % 32]`, zero for `c >= C` or `k >= K`. A 32-channel AVX-512 tile
///   thus reads its weights as one sequential stream of 128-byte rows (one row per input
///   channel and tap); a 16-channel tile reads half of each row.
///   Grouped convolutions have two more layouts (lane groups, 16-wide blocks): see
///   `PackedConv2dWeights`.
/// - BF16 packed weights (`ConvPrecision::bf16`, `PackedConv2dWeights::data_bf16`): the same blocks
///   with the channels of each 16-channel row taken in pairs, `[Cb, kh, kw, 8, B, 2]`: element
///   `(k, c, i, j)` at `[c / 16][i][j][c % 16 / 2][k % B][c % 2]`, so that one 64-byte row holds
///   16 outputs x one channel pair, the operand of one `vdpbf16ps` (in elements, every block and
///   tap starts where it does in the FP32 layout).
///
/// Kernels (all compute the same result; `Conv2dPath` selects one)
/// - `avx512`: up to 14 output pixels along a row x 2 vectors of 16 output channels, 28 zmm
///   accumulators (rows split into balanced tiles, see `detail::avx512_tile_pixels`; a last odd
///   16-channel block runs a 1-vector tile), each input channel broadcast once per pixel; rows of
///   7 pixels (a 224 x 224 network's last stage) as tiles of two rows (`detail::two_row_tiles`). Compiled through
///   `__attribute__((target(...)))`, so this header needs no `-march` flags; taken when the CPU reports AVX-512
///   F/BW/DQ/VL.
/// - `avx2`: 6 pixels x 16 output channels (12 ymm accumulators), AVX2 + FMA, same packed weights.
/// - Lane groups (groups of 1-8 channels) run their own tiles on each path: up to `24 / G`
///   pixels x 16 channels x `G` rotations on AVX-512, no permutes until the epilogue.
/// Strides 1 and 2 are compile-time in the tiles; other strides run one pixel per tile (correct,
/// slow). A 3-channel stem wastes 13/16 of this layout: `conv2d_stem.hpp` has its own kernel.
/// - `portable`: plain C++ loops (whatever the compiler vectorises), the fallback everywhere.
/// - BF16 weights: `avx512` runs the same tiles (14 x 2) with `vdpbf16ps`, the input rounded to
///   bf16 (`vcvtneps2bf16`) into a tile-local buffer its channel pairs are broadcast from, once
///   per kernel row for 3x3s, once per row tile for all output groups of a 1x1 that runs 8 or
///   more of them over each row tile (no per-call conversion pass: the input stays FP32 in memory); it
///   needs AVX512_BF16. `amx` runs the same tiles on AMX: the conversion buffer is the A tile,
///   the packed pair rows the B tiles as they lie, one `tdpbf16ps` per tap and 16 outputs, the
///   sums stored into the AVX-512 epilogue. `portable` computes the same in FP32 arithmetic;
///   `avx2` has no bf16 tiles. Measured on an Intel Xeon with AMX (KVM, 2 cores, loaded):
///   `vdpbf16ps` zmm peaks at half the FP32 FMA rate there (~1 per 2 cycles), so `avx512` on bf16
///   runs at ~0.5-0.8x fp32; `amx` at ~2.5-4.5x (1x1s take two channel blocks per `tdpbf16ps`).
/// `Conv2dPath::automatic` takes the best path the CPU supports. Forcing a path the CPU lacks
/// throws `senet::Error`.
///
/// Padding is materialised, so that the microkernels never test bounds: inputs are `FeatureView`s
/// whose zero border is the padding when it is wide enough (the engine's producing layer writes a
/// bordered output), else the call makes a zero-bordered per-thread copy. A 1x1, stride-1,
/// unpadded convolution between border-free views treats the whole image as one row of `H * W` pixels.
///
/// Loop order and threads: the tiles `N x (K / 32) x OH x row tiles` are split into one contiguous
/// range per OpenMP thread. Where an image's input outweighs the weights (early layers), each row
/// tile runs every output group in turn while its input is in L1; else (deep layers) the output
/// groups are outermost, each group's weight slice stays in cache while the batch streams past,
/// each thread streams its own slice of the weights, and the first tiles of a group prefetch the
/// next group's slice (the weights of a large model come from memory on every call); where a
/// group's sweep is only a few tiles (a deep layer at batch 1), those tiles take the slice in
/// L1-sized parts of input channels, each part for every tile in turn, so that the weights stream
/// past once (the tiles' sums kept between parts, same result to the bit). On more
/// than one thread, a thread's first sweep over the input prefetches each tile's input a few
/// channel blocks ahead (the input was written by the other threads, into their caches). Inside an
/// enclosing parallel region the call runs on the calling thread. The team is OpenMP's, which
/// persists across calls; `senet::set_num_threads` sizes it for every caller.

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <memory>
#include <new>
#include <utility>
#include <vector>

#include "senet/core/error.hpp"
#include "senet/core/tensor.hpp"
#include "senet/ops/conv2d.hpp"
#include "senet/ops/nchw16c.hpp"

#ifdef _OPENMP
#include <omp.h>
#endif

namespace senet {

/// Output channels per block of the packed weights.
inline constexpr Index kWeightBlock = 32;

/// Convolution weights packed once for `conv2d_nchw16c`.
///
/// Grouped convolutions take one of two layouts, chosen by the packer:
/// - *lane groups*: groups of `G` = 1, 2, 4 or 8 channels with as many outputs as inputs
///   (ResNeXt's early stages, depthwise convolutions) lie inside one 16-channel block, so output
///   block `kb` reads input block `kb` only. The kernel multiplies each input vector as it is by
///   `G` weight vectors, one per rotation `r`: lane `i` of rotation `r` holds the weight from input
///   channel `i` to the output `r` places before it in its group (cyclically). Each rotation sums
///   into its own accumulators over all taps; only at the end is rotation `r` moved `r` lanes
///   within the groups (one permute per output vector and rotation) and the rotations added. No
///   multiply-add is wasted and the inner loop has no shuffles. `data` is
///   `[Kb, kh, kw, G, 16]`, lane `i` of row `r` the weight of output `grp(i) + (i - r) mod G` on
///   input `i` (channels of block `kb`, `grp(i)` the first channel of `i`'s group).
/// - *block-diagonal* (every other grouping): dense blocks restricted to the input channels each
///   block of output channels reads: block `b` holds rows for the `group_in_blocks` input blocks
///   from `block_in_offset[b]` on, zero where an input and an output channel are in different
///   groups. Blocks are 16 output channels wide when that lets them read fewer input blocks (groups
///   of 16), else 32, so groups of 16 or more waste nothing.
struct PackedConv2dWeights : PackedConvShape {
  /// Lane groups: `[Kb * kh * kw * lane_group * 16]`. Else blocks of `block_width` output channels,
  /// each `[Cbg, kh, kw, 16, <= block_width]`, flattened (see the file comment). Zero outside
  /// `C x K` and between groups.
  Tensor<float> data;
  Index groups = 1;
  Index lane_group = 0;                ///< channels per group in the lane-group layout, else 0
  Index block_width = 32;              ///< output channels per weight block (32 or 16)
  Index group_in_blocks = 0;           ///< Cbg: input blocks each weight block reads (Cb when groups = 1)
  std::vector<Index> block_in_offset;  ///< per weight block: its first input block
  /// `fp32`: the weights are `data`. `bf16`: they are `data_bf16`, and `data` is empty. Lane-group
  /// layouts are always fp32.
  ConvPrecision precision = ConvPrecision::fp32;
  /// bf16 precision: the weights' bfloat16 bit patterns, blocks as `data`'s with each row of 16
  /// input channels stored as 8 channel pairs, `[Cbg, kh, kw, 8, <= block_width, 2]` per block (see
  /// the file comment); 64-byte aligned. Empty for fp32.
  Tensor<std::uint16_t> data_bf16;
};

/// Packs a PyTorch conv weight `[K, C / groups, kh, kw]` for `conv2d_nchw16c` (the layout of its groups:
/// see `PackedConv2dWeights`) in `precision`. bf16 applies to dense and block-diagonal grouped
/// layouts; lane groups (depthwise, groups of 1-8 channels: memory-bound, and their tiles have no
/// channel pairs to feed `vdpbf16ps`) stay fp32 whatever is asked: `precision` of the result says
/// which was packed.
inline PackedConv2dWeights pack_conv2d_weights_nchw16c(const Tensor<float>& w, Index groups = 1,
                                                       ConvPrecision precision = ConvPrecision::fp32) {
  PackedConv2dWeights packed{PackedConvShape::of(w, "pack_conv2d_weights_nchw16c"), {}, groups, 0, kWeightBlock, 0, {},
                             ConvPrecision::fp32, {}};
  SENET_CHECK(groups >= 1 && packed.out_channels % groups == 0, "pack_conv2d_weights_nchw16c: ",
              packed.out_channels, " output channels do not divide into ", groups, " groups");
  const Index K = packed.out_channels, Cg = packed.in_channels, kh = packed.kernel_h, kw = packed.kernel_w;
  packed.in_channels = Cg * groups;
  const Index Cb = packed.in_blocks(), Kp = packed.padded_out(), Kg = K / groups, taps = kh * kw;
  if (groups > 1 && Cg == Kg && Cg < kChannelBlock && kChannelBlock % Cg == 0) {
    packed.lane_group = Cg;
    packed.data = Tensor<float>({Kp * taps * Cg});
    for (Index i = 0; i < K; ++i)  // input channel
      for (Index r = 0; r < Cg; ++r) {
        const Index c = i % Cg, k = i - c + (c - r + Cg) % Cg;  // its place in the group, the output
        for (Index t = 0; t < taps; ++t)
          packed.data[((i / kChannelBlock * taps + t) * Cg + r) * kChannelBlock + i % kChannelBlock] =
              w[(k * Cg + c) * taps + t];
      }
    return packed;
  }
  // Each block's input channels: those of the groups its output channels belong to ([first, last]
  // input block), for blocks of `width` output channels.
  auto in_ranges = [&](Index width) {
    std::vector<std::pair<Index, Index>> ranges;
    for (Index k0 = 0; k0 < Kp; k0 += width) {
      const Index k1 = std::min(K, k0 + width) - 1;
      ranges.emplace_back(k0 / Kg * Cg / kChannelBlock, ((k1 / Kg + 1) * Cg - 1) / kChannelBlock);
    }
    return ranges;
  };
  auto widest = [](const std::vector<std::pair<Index, Index>>& ranges) {
    Index most = 0;
    for (const auto& [first, last] : ranges) most = std::max(most, last - first + 1);
    return most;
  };
  auto ranges = in_ranges(kWeightBlock);
  packed.group_in_blocks = widest(ranges);
  if (groups > 1) {
    auto narrow = in_ranges(kChannelBlock);
    if (2 * widest(narrow) <= packed.group_in_blocks) {  // 16-wide tiles then read half as many rows
      ranges = std::move(narrow);
      packed.block_width = kChannelBlock;
      packed.group_in_blocks = widest(ranges);
    }
  }
  for (const auto& [first, last] : ranges)  // the same count for every block, inside the input
    packed.block_in_offset.push_back(std::min(first, Cb - packed.group_in_blocks));
  const Index Cbg = packed.group_in_blocks, bw = packed.block_width;
  packed.data = Tensor<float>({Cbg * taps * kChannelBlock * Kp});
  const Index rows = Cbg * taps * kChannelBlock;  // rows of one block
  for (Index k = 0; k < K; ++k) {
    const Index block = k / bw, width = std::min<Index>(bw, Kp - block * bw);
    const Index c_base = packed.block_in_offset[std::size_t(block)] * kChannelBlock, g = k / Kg;
    float* dst = packed.data.data() + block * bw * rows + k % bw;
    for (Index cg = 0; cg < Cg; ++cg) {
      const Index c = g * Cg + cg - c_base;  // input channel, relative to the block's first
      for (Index t = 0; t < taps; ++t)
        dst[((c / kChannelBlock * taps + t) * kChannelBlock + c % kChannelBlock) * width] = w[(k * Cg + cg) * taps + t];
    }
  }
  if (precision == ConvPrecision::bf16) {  // row r = channel c of a tap goes to pair row r / 2, lane c % 2
    packed.precision = ConvPrecision::bf16;
    packed.data_bf16 = Tensor<std::uint16_t>({packed.data.size()});
    for (Index block = 0; block * bw < Kp; ++block) {
      const Index width = std::min<Index>(bw, Kp - block * bw);
      const float* src = packed.data.data() + block * bw * rows;
      std::uint16_t* dst = packed.data_bf16.data() + block * bw * rows;
      for (Index r = 0; r < rows; ++r)
        for (Index k = 0; k < width; ++k) dst[(r / 2 * width + k) * 2 + r % 2] = detail::float_to_bf16(src[r * width + k]);
    }
    packed.data = Tensor<float>();
  }
  return packed;
}

/// What `conv2d_nchw16c` applies to each output while it is still in registers:
/// `y = act((conv(x) + bias) * scale + residual)`.
struct Conv2dEpilogue {
  const float* bias = nullptr;  ///< `[K]` (e.g. folded BatchNorm) or null
  /// Per image and channel, `[N, 16 ceil(K / 16)]` (an SE block's gates, padding lanes included), or null.
  const float* scale = nullptr;
  /// Added after the scale: a view with the output's image and border (it may be the output itself:
  /// each element is read before it is written), or a view with `data == nullptr` for none.
  FeatureView residual;
  Activation activation = Activation::none;  ///< applied last
};

/// The output image of `conv2d_nchw16c(x, w, p, ...)` (data null, border `border`); throws on a
/// mismatch. Allocates nothing.
inline FeatureView conv2d_nchw16c_output(const FeatureView& x, const PackedConv2dWeights& w, const Conv2dParams& p,
                                         Index border = 0) {
  SENET_CHECK(p.groups == w.groups, "conv2d_nchw16c: the weights were packed for ", w.groups,
              " groups, the parameters say ", p.groups);
  SENET_CHECK(x.channels == w.in_channels, "conv2d_nchw16c: input has ", x.channels, " channels, the weights expect ",
              w.in_channels);
  SENET_CHECK(w.kernel_h == p.kernel_h && w.kernel_w == p.kernel_w, "conv2d_nchw16c: the packed weights are ",
              w.kernel_h, "x", w.kernel_w, ", the parameters say ", p.kernel_h, "x", p.kernel_w);
  const auto [oh, ow] = conv2d_output_size(x.height, x.width, p);
  return {nullptr, x.batch, w.out_channels, oh, ow, border};
}

/// Output shape `[N, ceil(K/16), OH, OW, 16]` of `conv2d_nchw16c`; throws on a mismatch.
inline Shape conv2d_nchw16c_output_shape(const Shape& x, const PackedConv2dWeights& w, const Conv2dParams& p) {
  SENET_CHECK(x.size() == 5 && x[4] == kChannelBlock, "conv2d_nchw16c: input must be [N, Cb, H, W, 16], got ",
              to_string(x));
  SENET_CHECK(x[1] == w.in_blocks(), "conv2d_nchw16c: input ", to_string(x), " does not hold the ", w.in_channels,
              " channels of the packed weights");
  const FeatureView out = conv2d_nchw16c_output({nullptr, x[0], w.in_channels, x[2], x[3], 0}, w, p);
  return {out.batch, w.out_blocks(), out.height, out.width, kChannelBlock};
}

namespace detail {

/// Geometry shared by the microkernels; strides in floats.
struct Conv16cGeom {
  Index Cb = 0;  // input channel blocks
  Index kh = 0, kw = 0;
  Index x_cb = 0;     // between input channel blocks: Hp * Wp * 16
  Index x_tap_h = 0;  // one kernel row further: dilation_h * Wp * 16
  Index x_tap_w = 0;  // one kernel column further: dilation_w * 16
  Index x_pix = 0;    // one output pixel further along the row: stride_w * 16
  Index Kp = 0;       // row of the weight block (one input channel): 32, or 16 for a narrow block
                      // (bf16: a row of 2 Kp elements per channel pair)
  Index lane_group = 0;  // lane-group layout: channels per group (rows per tap), else 0
  Index y_kb = 0;     // between output channel blocks (of the output and the residual)
  // Two-row tiles (AVX-512, `L > 0`: rows of `L` pixels): the tile's second output row, one output
  // row further in the input (stride_h * the input's row) and in the output (and the residual).
  Index x_next_row = 0, y_next_row = 0;
  // AVX-512: weights of the next output group to pull toward L2 while this tile computes (null:
  // none), `prefetch_lines` cache lines per tap.
  const void* prefetch = nullptr;
  Index prefetch_lines = 0;
  // AVX-512: the tile's own input `x_ahead_blocks` input blocks ahead of the one it reads, to pull
  // toward L2 while it computes (0: none), `x_ahead_lines` lines per kernel row.
  Index x_ahead_blocks = 0, x_ahead_lines = 0;
  // AVX-512 BF16 1x1: the tile's input already rounded to bf16 (see `round_tile_input_bf16`),
  // or null: the tile rounds its own.
  const std::uint32_t* x_pairs = nullptr;
  // AVX-512 FP32: the tile's sums so far, `P x V` vectors (null: start from zero), and where to
  // leave its sums instead of applying the epilogue (null: apply it), for a tile run over its
  // input channel blocks in parts (`stream_weights` in `conv2d_nchw16c`).
  const float* partial_in = nullptr;
  float* partial_out = nullptr;
  Activation act = Activation::none;
};

/// Largest tile of each path (pixels; the AVX-512 one also 2 vectors of 16 output channels).
inline constexpr int kAvx512MaxPixels = 14;
inline constexpr int kAvx2Pixels = 6, kPortablePixels = 4;

/// One output tile: `x` at the tile's first input pixel (channel block 0, tap 0), `w` at its first
/// output channel (row 0; `float` or, in bf16 tiles, `std::uint16_t`), `y`/`res` at its first
/// pixel in its first output block, `bias` and `scale` (null: none) at its first output channel
/// (`bias` padded, never null).
using Conv16cTileFn = void (*)(const Conv16cGeom&, const float* x, const void* w, const float* bias,
                               const float* scale, const float* res, float* y);

/// `y[16 p + k] = act((acc[p][k] + bias[k]) * scale[k] + res[16 p + k])`; `scale` and `res` may be null.
template <int P>
void tile_store_portable(const float (&acc)[P][16], const float* bias, const float* scale, const float* res, Activation act,
                         float* y) {
  for (int p = 0; p < P; ++p)
    for (int k = 0; k < 16; ++k) {
      float v = acc[p][k] + bias[k];
      if (scale) v *= scale[k];
      if (res) v += res[p * 16 + k];
      v = activate(v, act);
      y[p * 16 + k] = v;
    }
}

/// Portable tile: `P` pixels x 16 output channels.
template <int P>
void conv16c_tile_portable(const Conv16cGeom& g, const float* x, const void* weights, const float* bias,
                           const float* scale, const float* res, float* y) {
  const float* w = static_cast<const float*>(weights);
  float acc[P][16] = {};
  const Index taps = g.kh * g.kw;
  for (Index cb = 0; cb < g.Cb; ++cb)
    for (Index i = 0; i < g.kh; ++i)
      for (Index j = 0; j < g.kw; ++j) {
        const float* xp = x + cb * g.x_cb + i * g.x_tap_h + j * g.x_tap_w;
        const float* wp = w + (cb * taps + i * g.kw + j) * 16 * g.Kp;
        for (int c = 0; c < 16; ++c) {
          const float* wr = wp + c * g.Kp;
          for (int p = 0; p < P; ++p) {
            const float xv = xp[p * g.x_pix + c];
            for (int k = 0; k < 16; ++k) acc[p][k] += xv * wr[k];
          }
        }
      }
  tile_store_portable<P>(acc, bias, scale, res, g.act, y);
}

/// Portable bf16 tile: `P` pixels x 16 output channels on bf16 weights (`w`: pair rows, see
/// `PackedConv2dWeights::data_bf16`), the input rounded to bf16 as it is read, the exact products
/// summed in FP32: what the AVX-512 BF16 tile computes, on any CPU.
template <int P>
void conv16c_tile_portable_bf16(const Conv16cGeom& g, const float* x, const void* weights, const float* bias,
                                const float* scale, const float* res, float* y) {
  const auto* w = static_cast<const std::uint16_t*>(weights);
  float acc[P][16] = {};
  const Index taps = g.kh * g.kw;
  for (Index cb = 0; cb < g.Cb; ++cb)
    for (Index i = 0; i < g.kh; ++i)
      for (Index j = 0; j < g.kw; ++j) {
        const float* xp = x + cb * g.x_cb + i * g.x_tap_h + j * g.x_tap_w;
        const std::uint16_t* wp = w + (cb * taps + i * g.kw + j) * 16 * g.Kp;
        for (int c = 0; c < 16; ++c) {
          float wr[16];
          for (int k = 0; k < 16; ++k) wr[k] = bf16_to_float(wp[(c / 2 * g.Kp + k) * 2 + c % 2]);
          for (int p = 0; p < P; ++p) {
            const float xv = bf16_to_float(float_to_bf16(xp[p * g.x_pix + c]));
            for (int k = 0; k < 16; ++k) acc[p][k] += xv * wr[k];
          }
        }
      }
  tile_store_portable<P>(acc, bias, scale, res, g.act, y);
}

/// Portable lane-group tile: `P` pixels x 16 output channels, each lane summing over the
/// `lane_group` input channels of its own group (`w`: `[kh, kw, lane_group, 16]`, rotations: see
/// `PackedConv2dWeights`).
template <int P>
void conv16c_lanes_tile_portable(const Conv16cGeom& g, const float* x, const void* weights, const float* bias,
                                 const float* scale, const float* res, float* y) {
  const float* w = static_cast<const float*>(weights);
  float acc[P][16] = {};
  const Index G = g.lane_group;
  for (Index i = 0; i < g.kh; ++i)
    for (Index j = 0; j < g.kw; ++j) {
      const float* xp = x + i * g.x_tap_h + j * g.x_tap_w;
      const float* wp = w + (i * g.kw + j) * G * 16;
      for (Index r = 0; r < G; ++r)
        for (int p = 0; p < P; ++p)
          for (int k = 0; k < 16; ++k) {
            const Index c = (k + r) % G + k / G * G;  // the input lane whose rotation r reaches k
            acc[p][k] += xp[p * g.x_pix + c] * wp[r * 16 + c];
          }
    }
  tile_store_portable<P>(acc, bias, scale, res, g.act, y);
}

#if SENET_X86_SIMD

/// `Conv16cGeom::x_ahead_blocks`: at input block `cb` (`xr`: its kernel row), pulls the same row
/// of block `cb + x_ahead_blocks` toward L2.
inline void prefetch_input_ahead(const Conv16cGeom& g, const float* xr, Index cb) {
  if (g.x_ahead_blocks == 0 || cb + g.x_ahead_blocks >= g.Cb) return;
  const char* a = reinterpret_cast<const char*>(xr + g.x_ahead_blocks * g.x_cb);
  for (Index l = 0; l < g.x_ahead_lines; ++l) _mm_prefetch(a + 64 * l, _MM_HINT_T1);
  if (g.x_next_row == 0) return;
  a += g.x_next_row * Index(sizeof(float));
  for (Index l = 0; l < g.x_ahead_lines; ++l) _mm_prefetch(a + 64 * l, _MM_HINT_T1);
}

/// AVX-512 tile: `P` pixels x `V` vectors of 16 output channels, `P * V` zmm accumulators.
/// `S` is the pixel stride in input pixels when known at compile time (1, 2), else 0 (runtime).
/// `L > 0`: the pixels are `P / L` output rows of `L` (see `Conv16cGeom::x_next_row`).
template <int P, int V, int S, int L = 0>
SENET_TARGET_AVX512 void conv16c_tile_avx512(const Conv16cGeom& g, const float* x, const void* weights,
                                             const float* bias, const float* scale, const float* res, float* y) {
  constexpr Index kPixStatic = Index(S) * 16;
  const Index pix = S ? kPixStatic : g.x_pix;
  const float* w = static_cast<const float*>(weights);
  __m512 acc[P][V];
  if (g.partial_in) {
#pragma GCC unroll 32
    for (int p = 0; p < P; ++p)
#pragma GCC unroll 8
      for (int v = 0; v < V; ++v) acc[p][v] = _mm512_loadu_ps(g.partial_in + (p * V + v) * 16);
  } else {
    tile_zero_avx512(acc);
  }
  const Index taps = g.kh * g.kw, Kp = g.Kp;
  const char* pf = static_cast<const char*>(g.prefetch);
  for (Index cb = 0; cb < g.Cb; ++cb)
    for (Index i = 0; i < g.kh; ++i)
      for (Index j = 0; j < g.kw; ++j) {
        const float* xp = x + cb * g.x_cb + i * g.x_tap_h + j * g.x_tap_w;
        const float* wp = w + (cb * taps + i * g.kw + j) * 16 * Kp;
        if (pf)
          for (Index l = 0; l < g.prefetch_lines; ++l, pf += 64) _mm_prefetch(pf, _MM_HINT_T1);
        if (j == 0) prefetch_input_ahead(g, xp, cb);
#pragma GCC unroll 4
        for (int c = 0; c < 16; ++c) tile_fma_avx512<P, V, L>(acc, wp + c * Kp, xp + c, pix, g.x_next_row);
      }
  if (g.partial_out) {
#pragma GCC unroll 32
    for (int p = 0; p < P; ++p)
#pragma GCC unroll 8
      for (int v = 0; v < V; ++v) _mm512_storeu_ps(g.partial_out + (p * V + v) * 16, acc[p][v]);
    return;
  }
  tile_store_avx512<P, V, L>(acc, bias, scale, res, g.act, y, g.y_kb, g.y_next_row);
}

/// One channel pair at one tap: `acc[p][v] += w[32 v .. 32 v + 31] . x[XS p]` (`vdpbf16ps`: lane k
/// adds both channels' exact products in FP32), `w` a pair row (per vector 16 outputs x 2
/// channels), `x[XS p]` the pair's two bf16 inputs of pixel `p` (in rows of `L` pixels, `L > 0`:
/// `x[(p / L) * XR + (p % L) * XS]`).
template <int P, int V, int XS, int L = 0, int XR = 0>
SENET_TARGET_AVX512_BF16 __attribute__((always_inline)) inline void tile_dpbf16_avx512(__m512 (&acc)[P][V],
                                                                                     const std::uint16_t* w,
                                                                                     const std::uint32_t* x) {
  __m512bh wv[V];
#pragma GCC unroll 4
  for (int v = 0; v < V; ++v) wv[v] = (__m512bh)_mm512_loadu_si512(w + 32 * v);
#pragma GCC unroll 32
  for (int p = 0; p < P; ++p) {
    const __m512bh b = (__m512bh)_mm512_set1_epi32(int(x[tile_pixel_offset<L>(p, XS, XR)]));
#pragma GCC unroll 4
    for (int v = 0; v < V; ++v) acc[p][v] = _mm512_dpbf16_ps(acc[p][v], wv[v], b);
  }
}

/// `n` input pixels `pix` floats apart rounded to bf16: pixel q's 8 channel pairs at `xb[8 q]`.
template <int N>
SENET_TARGET_AVX512_BF16 __attribute__((always_inline)) inline void tile_to_bf16_avx512(std::uint32_t* xb,
                                                                                      const float* x, Index pix,
                                                                                      Index n = N) {
#pragma GCC unroll 32
  for (Index q = 0; q < n; ++q)
    _mm256_store_si256(reinterpret_cast<__m256i*>(xb + 8 * q), (__m256i)_mm512_cvtneps_pbh(_mm512_loadu_ps(x + q * pix)));
}

/// `pixels` input pixels `pix` floats apart, of `Cb` blocks `x_cb` apart, rounded to bf16: pixel q
/// of block cb's 8 channel pairs at `xb[(cb * kAvx512MaxPixels + q) * 8]` (a tile's `x_pairs`).
SENET_TARGET_AVX512_BF16 inline void round_tile_input_bf16(std::uint32_t* xb, const float* x, Index x_cb, Index Cb,
                                                           Index pix, Index pixels) {
  for (Index cb = 0; cb < Cb; ++cb) tile_to_bf16_avx512<kAvx512MaxPixels>(xb + cb * kAvx512MaxPixels * 8, x + cb * x_cb, pix, pixels);
}

/// AVX-512 BF16 tile: `conv16c_tile_avx512` on bf16 weights. The input is rounded to bf16 into a
/// tile-local buffer as it is read (a load, a convert and a store per pixel, against 8 pairs x `V`
/// dot products), whose channel pairs are then broadcast from memory (load ports, not the vector
/// unit the dot products share). With a compile-time stride, no dilation and a kernel 2-8 wide,
/// each kernel row's input pixels are converted once for all its taps (3x3 stride 1: 16 pixels,
/// not 3 x 14); else each tap converts its own `P` pixels.
///
/// `L > 0`: the pixels are `P / L` output rows of `L` (see `Conv16cGeom::x_next_row`), each
/// converted into its own part of the buffer.
template <int P, int V, int S, int L = 0>
SENET_TARGET_AVX512_BF16 void conv16c_tile_avx512_bf16(const Conv16cGeom& g, const float* x, const void* weights,
                                                       const float* bias, const float* scale, const float* res,
                                                       float* y) {
  static_assert(L == 0 || (S != 0 && P % (L > 0 ? L : 1) == 0), "two-row tiles need a compile-time stride and whole rows");
  constexpr int kRows = L > 0 ? P / (L > 0 ? L : 1) : 1, kRowPixels = L > 0 ? L : P;
  constexpr Index kPixStatic = Index(S) * 16;
  constexpr int kRowSlots = (kRowPixels - 1) * (S ? S : 1) + 8;  // pixels a kernel row of up to 8 taps reads
  constexpr int kSlots = kRows * kRowSlots;
  const Index pix = S ? kPixStatic : g.x_pix;
  const auto* w = static_cast<const std::uint16_t*>(weights);
  __m512 acc[P][V];
  tile_zero_avx512(acc);
  alignas(32) std::uint32_t xb[kSlots * 8];
  const Index taps = g.kh * g.kw, Kp = g.Kp;
  const char* pf = static_cast<const char*>(g.prefetch);
  if (g.x_pairs) {  // 1x1 on an input rounded once for every output group (see the caller)
    for (Index cb = 0; cb < g.Cb; ++cb) {
      if (pf)
        for (Index l = 0; l < g.prefetch_lines; ++l, pf += 64) _mm_prefetch(pf, _MM_HINT_T1);
      const std::uint32_t* xq = g.x_pairs + cb * kAvx512MaxPixels * 8;
      const std::uint16_t* wp = w + cb * 16 * Kp;
#pragma GCC unroll 2
      for (int c = 0; c < 8; ++c) tile_dpbf16_avx512<P, V, 8>(acc, wp + c * 2 * Kp, xq + c);
    }
    tile_store_avx512<P, V, L>(acc, bias, scale, res, g.act, y, g.y_kb, g.y_next_row);
    return;
  }
  // Measured: 3-4% faster than converting per tap on SE-ResNet-50's 3x3s (strides 1 and 2).
  const bool row_mode = S != 0 && g.kw > 1 && g.kw <= 8 && g.x_tap_w == kChannelBlock;
  for (Index cb = 0; cb < g.Cb; ++cb)
    for (Index i = 0; i < g.kh; ++i) {
      const float* xr = x + cb * g.x_cb + i * g.x_tap_h;
      const std::uint16_t* wr = w + (cb * taps + i * g.kw) * 16 * Kp;
      prefetch_input_ahead(g, xr, cb);
      if constexpr (S != 0) {
        if (row_mode) {
          for (int row = 0; row < kRows; ++row)
            tile_to_bf16_avx512<kRowSlots>(xb + row * kRowSlots * 8, xr + row * g.x_next_row, kChannelBlock,
                                           (kRowPixels - 1) * S + g.kw);
          // Without this GCC forwards the stores to the broadcasts through registers (extracts and
          // shuffles, then spilled accumulators: half the speed).
          asm("" : "+m"(xb));
          for (Index j = 0; j < g.kw; ++j) {
            if (pf)
              for (Index l = 0; l < g.prefetch_lines; ++l, pf += 64) _mm_prefetch(pf, _MM_HINT_T1);
            const std::uint16_t* wp = wr + j * 16 * Kp;
#pragma GCC unroll 2
            for (int c = 0; c < 8; ++c)
              tile_dpbf16_avx512<P, V, 8 * S, L, kRowSlots * 8>(acc, wp + c * 2 * Kp, xb + 8 * j + c);
          }
          continue;
        }
      }
      for (Index j = 0; j < g.kw; ++j) {
        if (pf)
          for (Index l = 0; l < g.prefetch_lines; ++l, pf += 64) _mm_prefetch(pf, _MM_HINT_T1);
        for (int row = 0; row < kRows; ++row)  // pixel p's pairs at xb[8 p]
          tile_to_bf16_avx512<kRowPixels>(xb + row * kRowPixels * 8, xr + row * g.x_next_row + j * g.x_tap_w, pix);
        asm("" : "+m"(xb));
        const std::uint16_t* wp = wr + j * 16 * Kp;
#pragma GCC unroll 2
        for (int c = 0; c < 8; ++c) tile_dpbf16_avx512<P, V, 8>(acc, wp + c * 2 * Kp, xb + c);
      }
    }
  tile_store_avx512<P, V, L>(acc, bias, scale, res, g.act, y, g.y_kb, g.y_next_row);
}

/// AMX tile configuration (palette 1): rows and bytes per row of tmm0-15.
struct alignas(64) AmxTileConfig {
  std::uint8_t palette = 1, start_row = 0, reserved[14] = {};
  std::uint16_t colsb[16] = {};
  std::uint8_t rows[16] = {};
};

/// The tile height this thread's AMX tiles are configured for (0: none), shared by every tile
/// width (a variable per template instance would miss the others' ldtilecfg).
inline int& amx_configured_rows() {
  static thread_local int rows = 0;
  return rows;
}

/// AMX BF16 tile: `conv16c_tile_avx512_bf16`'s arithmetic on the tile unit. Per tap, one
/// `tdpbf16ps` per 16 outputs: C (tmm0, tmm1: `P` pixels x 16 outputs, fp32) += A (tmm2: the `P`
/// pixels' 16 channels in bf16, the conversion buffer itself) . B (tmm3, tmm4: the 8 pair rows
/// of the packed weights as they lie). The sums leave through memory into the AVX-512 epilogue,
/// a pixel at a time. The tile unit takes its height from the configuration, so the pixel count
/// `P` (1-14) is a run-time value: one function per `V` and `S` serves every width (a template
/// instance per width cost a third of the compile time of every file that runs the engine).
template <int V, int S>
SENET_TARGET_AMX_BF16 __attribute__((noinline)) void conv16c_tile_amx_bf16_rows(
    int P, const Conv16cGeom& g, const float* x, const void* weights, const float* bias, const float* scale,
    const float* res, float* y) {
  constexpr Index kPixStatic = Index(S) * 16;
  constexpr int kMaxPixels = kAvx512MaxPixels;
  constexpr int kSlots = (kMaxPixels - 1) * (S ? S : 1) + 8;
  const Index pix = S ? kPixStatic : g.x_pix;
  const auto* w = static_cast<const std::uint16_t*>(weights);
  // ldtilecfg costs as much as several taps: configure a thread's tiles once per tile height.
  int& configured = amx_configured_rows();
  if (configured != P) {
    AmxTileConfig cfg;
    cfg.rows[0] = cfg.rows[1] = cfg.rows[2] = P;
    cfg.colsb[0] = cfg.colsb[1] = 64;
    cfg.colsb[2] = 32;
    cfg.rows[3] = cfg.rows[4] = 8;
    cfg.colsb[3] = cfg.colsb[4] = 64;
    cfg.rows[5] = P;  // 1x1: two channel blocks per tdpbf16ps (A 32 channels, B 16 pair rows)
    cfg.colsb[5] = 64;
    cfg.rows[6] = cfg.rows[7] = 16;
    cfg.colsb[6] = cfg.colsb[7] = 64;
    _tile_loadconfig(&cfg);
    configured = P;
  }
  _tile_zero(0);
  _tile_zero(1);
  alignas(64) std::uint32_t xb[std::max(kSlots * 8, kMaxPixels * 16)];
  const Index taps = g.kh * g.kw, Kp = g.Kp, w_stride = 4 * Kp;  // bytes between pair rows
  const char* pf = static_cast<const char*>(g.prefetch);
  const bool row_mode = S != 0 && g.kw > 1 && g.kw <= 8 && g.x_tap_w == kChannelBlock;
  Index cb = 0;
  // 1x1: blocks cb and cb + 1 in one tdpbf16ps (their pair rows are adjacent in the packed
  // weights), half the tile loads and products of one block at a time (measured: 1.3-1.8x on
  // SE-ResNet-50's 1x1s). Pixel p's 32 channels at xb[16 p].
  if (taps == 1)
    for (; cb + 1 < g.Cb; cb += 2) {
      const float* x0 = x + cb * g.x_cb;
      if (pf)
        for (Index l = 0; l < 2 * g.prefetch_lines; ++l, pf += 64) _mm_prefetch(pf, _MM_HINT_T1);
      for (int p = 0; p < P; ++p) {
        _mm256_store_si256(reinterpret_cast<__m256i*>(xb + 16 * p),
                           (__m256i)_mm512_cvtneps_pbh(_mm512_loadu_ps(x0 + p * pix)));
        _mm256_store_si256(reinterpret_cast<__m256i*>(xb + 16 * p + 8),
                           (__m256i)_mm512_cvtneps_pbh(_mm512_loadu_ps(x0 + g.x_cb + p * pix)));
      }
      asm("" : "+m"(xb));
      const std::uint16_t* wp = w + cb * 16 * Kp;
      _tile_loadd(5, xb, 64);
      _tile_loadd(6, wp, w_stride);
      _tile_dpbf16ps(0, 5, 6);
      if (V == 2) {
        _tile_loadd(7, wp + 32, w_stride);
        _tile_dpbf16ps(1, 5, 7);
      }
      asm volatile("" ::: "memory");
    }
  for (; cb < g.Cb; ++cb)
    for (Index i = 0; i < g.kh; ++i) {
      const float* xr = x + cb * g.x_cb + i * g.x_tap_h;
      const std::uint16_t* wr = w + (cb * taps + i * g.kw) * 16 * Kp;
      if (row_mode) tile_to_bf16_avx512<kSlots>(xb, xr, kChannelBlock, (P - 1) * S + g.kw);
      for (Index j = 0; j < g.kw; ++j) {
        if (pf)
          for (Index l = 0; l < g.prefetch_lines; ++l, pf += 64) _mm_prefetch(pf, _MM_HINT_T1);
        if (!row_mode) tile_to_bf16_avx512<kMaxPixels>(xb, xr + j * g.x_tap_w, pix, P);
        asm("" : "+m"(xb));  // the tile loads read xb through an address GCC does not follow
        const std::uint16_t* wp = wr + j * 16 * Kp;
        if (row_mode)
          _tile_loadd(2, xb + 8 * j, 32 * S);
        else
          _tile_loadd(2, xb, 32);
        _tile_loadd(3, wp, w_stride);
        _tile_dpbf16ps(0, 2, 3);
        if (V == 2) {
          _tile_loadd(4, wp + 32, w_stride);
          _tile_dpbf16ps(1, 2, 4);
        }
        asm volatile("" ::: "memory");  // the next conversion must not move above these loads
      }
    }
  alignas(64) float sums[V][kMaxPixels * 16];
  _tile_stored(0, sums[0], 64);
  if (V == 2) _tile_stored(1, sums[V - 1], 64);
  for (int p = 0; p < P; ++p) {
    __m512 acc[1][V];
#pragma GCC unroll 4
    for (int v = 0; v < V; ++v) acc[0][v] = _mm512_load_ps(sums[v] + 16 * p);
    tile_store_avx512<1, V>(acc, bias, scale, res ? res + 16 * p : nullptr, g.act, y + 16 * p, g.y_kb);
  }
}

/// The AMX tile of `P` pixels, as the tile tables hold it.
template <int P, int V, int S>
void conv16c_tile_amx_bf16(const Conv16cGeom& g, const float* x, const void* weights, const float* bias,
                           const float* scale, const float* res, float* y) {
  static_assert(P >= 1 && P <= kAvx512MaxPixels, "an AMX tile has at most kAvx512MaxPixels rows");
  conv16c_tile_amx_bf16_rows<V, S>(P, g, x, weights, bias, scale, res, y);
}

/// AVX2 tile: `P` pixels x 16 output channels as two ymm halves, `2P` accumulators.
template <int P, int S>
SENET_TARGET_AVX2 void conv16c_tile_avx2(const Conv16cGeom& g, const float* x, const void* weights, const float* bias,
                                         const float* scale, const float* res, float* y) {
  constexpr Index kPixStatic = Index(S) * 16;
  const Index pix = S ? kPixStatic : g.x_pix;
  const float* w = static_cast<const float*>(weights);
  __m256 acc[P][2];
#pragma GCC unroll 16
  for (int p = 0; p < P; ++p) acc[p][0] = acc[p][1] = _mm256_setzero_ps();
  const Index taps = g.kh * g.kw, Kp = g.Kp;
  for (Index cb = 0; cb < g.Cb; ++cb)
    for (Index i = 0; i < g.kh; ++i)
      for (Index j = 0; j < g.kw; ++j) {
        const float* xp = x + cb * g.x_cb + i * g.x_tap_h + j * g.x_tap_w;
        const float* wp = w + (cb * taps + i * g.kw + j) * 16 * Kp;
#pragma GCC unroll 4
        for (int c = 0; c < 16; ++c) tile_fma_avx2<P>(acc, wp + c * Kp, xp + c, pix);
      }
  tile_store_avx2<P>(acc, bias, scale, res, g.act, y);
}

/// AVX-512 lane-group tile: `P` pixels x 16 output channels for groups of `G` channels, `P * G`
/// accumulators, one per pixel and rotation (see `PackedConv2dWeights`).
template <int P, int G, int S>
SENET_TARGET_AVX512 void conv16c_lanes_tile_avx512(const Conv16cGeom& g, const float* x, const void* weights,
                                                   const float* bias, const float* scale, const float* res,
                                                   float* y) {
  const Index pix = S ? Index(S) * 16 : g.x_pix;
  const float* w = static_cast<const float*>(weights);
  __m512 acc[P][G];
  tile_zero_avx512(acc);
  for (Index i = 0; i < g.kh; ++i)
    for (Index j = 0; j < g.kw; ++j) {
      const float* xp = x + i * g.x_tap_h + j * g.x_tap_w;
      const float* wp = w + (i * g.kw + j) * G * 16;
      __m512 wv[G];
#pragma GCC unroll 8
      for (int r = 0; r < G; ++r) wv[r] = _mm512_loadu_ps(wp + r * 16);
#pragma GCC unroll 32
      for (int p = 0; p < P; ++p) {
        const __m512 xv = _mm512_loadu_ps(xp + p * pix);
#pragma GCC unroll 8
        for (int r = 0; r < G; ++r) acc[p][r] = _mm512_fmadd_ps(xv, wv[r], acc[p][r]);
      }
    }
  // Output lane k takes lane grp(k) + (k + r) mod G of rotation r.
  const __m512i lane = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
  const __m512i first = _mm512_and_si512(lane, _mm512_set1_epi32(~(G - 1)));
  __m512 sum[P][1];
#pragma GCC unroll 32
  for (int p = 0; p < P; ++p) sum[p][0] = acc[p][0];
#pragma GCC unroll 8
  for (int r = 1; r < G; ++r) {
    const __m512i from = _mm512_or_si512(
        first, _mm512_and_si512(_mm512_add_epi32(lane, _mm512_set1_epi32(r)), _mm512_set1_epi32(G - 1)));
#pragma GCC unroll 32
    for (int p = 0; p < P; ++p) sum[p][0] = _mm512_add_ps(sum[p][0], _mm512_maskz_permutexvar_ps(__mmask16(0xFFFF), from, acc[p][r]));
  }
  tile_store_avx512<P, 1>(sum, bias, scale, res, g.act, y, g.y_kb);
}

/// AVX2 lane-group tile: `P` pixels x 16 output channels as two ymm halves (a group never spans
/// both: groups have at most 8 channels), `2 P G` accumulators.
template <int P, int G, int S>
SENET_TARGET_AVX2 void conv16c_lanes_tile_avx2(const Conv16cGeom& g, const float* x, const void* weights,
                                               const float* bias, const float* scale, const float* res, float* y) {
  const Index pix = S ? Index(S) * 16 : g.x_pix;
  const float* w = static_cast<const float*>(weights);
  __m256 acc[P][G][2];
#pragma GCC unroll 16
  for (int p = 0; p < P; ++p)
#pragma GCC unroll 8
    for (int r = 0; r < G; ++r) acc[p][r][0] = acc[p][r][1] = _mm256_setzero_ps();
  for (Index i = 0; i < g.kh; ++i)
    for (Index j = 0; j < g.kw; ++j) {
      const float* xp = x + i * g.x_tap_h + j * g.x_tap_w;
      const float* wp = w + (i * g.kw + j) * G * 16;
#pragma GCC unroll 16
      for (int p = 0; p < P; ++p) {
        const __m256 x0 = _mm256_loadu_ps(xp + p * pix), x1 = _mm256_loadu_ps(xp + p * pix + 8);
#pragma GCC unroll 8
        for (int r = 0; r < G; ++r) {
          acc[p][r][0] = _mm256_fmadd_ps(x0, _mm256_loadu_ps(wp + r * 16), acc[p][r][0]);
          acc[p][r][1] = _mm256_fmadd_ps(x1, _mm256_loadu_ps(wp + r * 16 + 8), acc[p][r][1]);
        }
      }
    }
  const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  const __m256i first = _mm256_and_si256(lane, _mm256_set1_epi32(~(G - 1)));
  __m256 sum[P][2];
#pragma GCC unroll 16
  for (int p = 0; p < P; ++p) sum[p][0] = acc[p][0][0], sum[p][1] = acc[p][0][1];
#pragma GCC unroll 8
  for (int r = 1; r < G; ++r) {
    const __m256i from = _mm256_or_si256(
        first, _mm256_and_si256(_mm256_add_epi32(lane, _mm256_set1_epi32(r)), _mm256_set1_epi32(G - 1)));
#pragma GCC unroll 16
    for (int p = 0; p < P; ++p)
      for (int h = 0; h < 2; ++h) sum[p][h] = _mm256_add_ps(sum[p][h], _mm256_permutevar8x32_ps(acc[p][r][h], from));
  }
  tile_store_avx2<P>(sum, bias, scale, res, g.act, y);
}

#endif  // SENET_X86_SIMD


template <int S, int V, int... Ps>
std::array<Conv16cTileFn, sizeof...(Ps)> avx512_tile_row(std::integer_sequence<int, Ps...>) {
#if SENET_X86_SIMD
  return {&conv16c_tile_avx512<Ps + 1, V, S>...};
#else
  return {};
#endif
}

template <int S, int V, int... Ps>
std::array<Conv16cTileFn, sizeof...(Ps)> avx512_bf16_tile_row(std::integer_sequence<int, Ps...>) {
#if SENET_X86_SIMD
  return {&conv16c_tile_avx512_bf16<Ps + 1, V, S>...};
#else
  return {};
#endif
}

template <int S, int V, int... Ps>
std::array<Conv16cTileFn, sizeof...(Ps)> amx_bf16_tile_row(std::integer_sequence<int, Ps...>) {
#if SENET_X86_SIMD
  return {&conv16c_tile_amx_bf16<Ps + 1, V, S>...};
#else
  return {};
#endif
}

template <int S, int... Ps>
std::array<Conv16cTileFn, sizeof...(Ps)> avx2_tile_row(std::integer_sequence<int, Ps...>) {
#if SENET_X86_SIMD
  return {&conv16c_tile_avx2<Ps + 1, S>...};
#else
  return {};
#endif
}

/// Lane-group tiles of up to `24 / G` pixels on AVX-512 (`P G` accumulators and `G` weight vectors
/// in 32 registers without spilling; at most 14 pixels), `6 / G` on AVX2.
inline constexpr int lanes_max_pixels_avx512(int G) { return std::min(kAvx512MaxPixels, 24 / G); }
inline constexpr int lanes_max_pixels_avx2(int G) { return std::max(1, kAvx2Pixels / G); }

template <int G, int S, int... Ps>
std::array<Conv16cTileFn, kAvx512MaxPixels> avx512_lanes_tile_row(std::integer_sequence<int, Ps...>) {
#if SENET_X86_SIMD
  return {&conv16c_lanes_tile_avx512<Ps + 1, G, S>...};
#else
  return {};
#endif
}

template <int G, int S, int... Ps>
std::array<Conv16cTileFn, kAvx512MaxPixels> avx2_lanes_tile_row(std::integer_sequence<int, Ps...>) {
#if SENET_X86_SIMD
  return {&conv16c_lanes_tile_avx2<Ps + 1, G, S>...};
#else
  return {};
#endif
}

/// The lane-group tiles of `path` for groups of `G` channels and pixel stride `stride`:
/// `row[pixels - 1]`, null beyond the path's widest tile.
template <int G>
std::array<Conv16cTileFn, kAvx512MaxPixels> lanes_tile_row(Conv2dPath path, Index stride) {
  if (path == Conv2dPath::avx512) {
    using Seq = std::make_integer_sequence<int, lanes_max_pixels_avx512(G)>;
    return stride == 1 ? avx512_lanes_tile_row<G, 1>(Seq{}) : avx512_lanes_tile_row<G, 0>(Seq{});
  }
  using Seq = std::make_integer_sequence<int, lanes_max_pixels_avx2(G)>;
  return stride == 1 ? avx2_lanes_tile_row<G, 1>(Seq{}) : avx2_lanes_tile_row<G, 0>(Seq{});
}

inline std::array<Conv16cTileFn, kAvx512MaxPixels> lanes_tile_row(Conv2dPath path, Index stride, Index G) {
  switch (G) {
    case 1:
      return lanes_tile_row<1>(path, stride);
    case 2:
      return lanes_tile_row<2>(path, stride);
    case 4:
      return lanes_tile_row<4>(path, stride);
    default:
      return lanes_tile_row<8>(path, stride);
  }
}

template <int... Ps>
std::array<Conv16cTileFn, sizeof...(Ps)> portable_lanes_tile_row(std::integer_sequence<int, Ps...>) {
  return {&conv16c_lanes_tile_portable<Ps + 1>...};
}

template <int... Ps>
std::array<Conv16cTileFn, sizeof...(Ps)> portable_tile_row(std::integer_sequence<int, Ps...>) {
  return {&conv16c_tile_portable<Ps + 1>...};
}

template <int... Ps>
std::array<Conv16cTileFn, sizeof...(Ps)> portable_bf16_tile_row(std::integer_sequence<int, Ps...>) {
  return {&conv16c_tile_portable_bf16<Ps + 1>...};
}

/// AVX-512 tile width for a row of `width` output pixels: rows split into the fewest tiles of at
/// most 14 pixels, balanced (15 -> 8 + 7, 49 -> 13 + 13 + 13 + 10). Measured here (Zen 5, one
/// thread), 14 x 2 (28 accumulators) beat 12 x 2, 8 x 3, 7 x 4 and 6 x 4 on every SE-ResNet-50 shape.
inline int avx512_tile_pixels(Index width) {
  return int(balanced_tile_pixels(width, kAvx512MaxPixels));
}

/// The two-row AVX-512 tiles (`[V - 1]`, V = 1, 2: 14 pixels, two rows of 7) for output rows
/// `width` pixels wide, or nulls where one-row tiles run (other widths, strides other than 1 and
/// 2, lane groups, other paths; each width would add its own tile instances to every file that
/// includes this one, and only 7 is common).
inline std::array<Conv16cTileFn, 2> two_row_tiles(Conv2dPath path, bool bf16, bool lanes, Index stride, Index width) {
#if SENET_X86_SIMD
  if (path != Conv2dPath::avx512 || lanes || width != 7 || (stride != 1 && stride != 2)) return {};
  if (bf16)
    return stride == 1 ? std::array<Conv16cTileFn, 2>{&conv16c_tile_avx512_bf16<14, 1, 1, 7>, &conv16c_tile_avx512_bf16<14, 2, 1, 7>}
                       : std::array<Conv16cTileFn, 2>{&conv16c_tile_avx512_bf16<14, 1, 2, 7>, &conv16c_tile_avx512_bf16<14, 2, 2, 7>};
  if (stride == 1) return {&conv16c_tile_avx512<14, 1, 1, 7>, &conv16c_tile_avx512<14, 2, 1, 7>};
  return {&conv16c_tile_avx512<14, 1, 2, 7>, &conv16c_tile_avx512<14, 2, 2, 7>};
#else
  (void)path, (void)bf16, (void)lanes, (void)stride, (void)width;
  return {};
#endif
}

}  // namespace detail

/// Direct convolution of an `NCHW16c` view with packed weights and a fused epilogue (any groups).
///
/// `x`: `w.in_channels` channels; `y`: `w.out_channels` channels, the batch of `x` and the
/// convolution's output size (`conv2d_output_shape`). Writes every lane of `y`'s image (padding
/// lanes `k >= K` get `act(0 * scale + residual)`) and zeroes `y`'s border. The padding is read from
/// `x`'s border when it is at least as wide (the border must then hold zeros), else taken from a
/// zero-bordered per-thread copy. Any kernel size, stride, padding and dilation. `y` must not
/// overlap `x`. Computes `act((conv2d(x, w) + bias) * scale + residual)` as `senet::conv2d` would
/// (up to summation order); with bf16 weights (`w.precision`), `conv2d` of the input rounded to
/// bf16 and the bf16 weights, summed in FP32, the epilogue in FP32. `path`: see `Conv2dPath`
/// (for bf16 weights `amx` needs AMX, `avx512` needs AVX512_BF16 and `avx2` throws; `automatic`
/// takes `amx`, else `avx512`, else `portable`). The `amx` tiles keep a per-thread record of the
/// tile configuration they loaded: other code that reconfigures AMX on the same thread must
/// reset it (`detail::amx_configured_rows() = 0`).
inline void conv2d_nchw16c(const FeatureView& x, const PackedConv2dWeights& w, const Conv2dParams& p,
                           const Conv2dEpilogue& epilogue, const FeatureView& y, Conv2dPath path = Conv2dPath::automatic) {
  const FeatureView out = conv2d_nchw16c_output(x, w, p);
  detail::check_output_view("conv2d_nchw16c", y, out);
  const FeatureView& r = epilogue.residual;
  SENET_CHECK(!r.data || (r.same_image(y) && r.border == y.border),
              "conv2d_nchw16c: the residual must match the output's image and border");
  const bool bf16 = w.precision == ConvPrecision::bf16;
  path = resolve_conv2d_path(path, w.precision);
  const Index N = x.batch, Cb = x.blocks(), H = x.height, W = x.width;
  const Index Kb = y.blocks(), Kp = Kb * kChannelBlock;
  Index OH = y.height, OW = y.width;

  const float* bias = detail::padded_bias(epilogue.bias, w.out_channels, Kp);

  // The input the kernels read, framed by at least the padding: x itself, or a zero-bordered copy.
  const float* xin;  // the padded origin (-pad_h, -pad_w) of image 0, block 0
  Index x_row, x_cb;
  if (x.border >= p.pad_h && x.border >= p.pad_w) {
    xin = x.at(0, 0, -p.pad_h, -p.pad_w);
    x_row = x.row_stride();
    x_cb = x.block_stride();
  } else {
    const Index Hp = H + 2 * p.pad_h, Wp = W + 2 * p.pad_w;
    float* xp = detail::shared_scratch().first.get(N * Cb * Hp * Wp * kChannelBlock);
    const Index rows = N * Cb * Hp;
#ifdef _OPENMP
#pragma omp parallel for schedule(static) num_threads(senet::num_threads()) if (rows * Wp >= 4096 && !omp_in_parallel())
#endif
    for (Index row = 0; row < rows; ++row) {
      const Index h = row % Hp - p.pad_h, plane = row / Hp;
      float* dst = xp + row * Wp * kChannelBlock;
      if (h < 0 || h >= H) {
        std::memset(dst, 0, sizeof(float) * std::size_t(Wp * kChannelBlock));
        continue;
      }
      std::memset(dst, 0, sizeof(float) * std::size_t(p.pad_w * kChannelBlock));
      std::memcpy(dst + p.pad_w * kChannelBlock, x.at(plane / Cb, plane % Cb, h, 0),
                  sizeof(float) * std::size_t(W * kChannelBlock));
      std::memset(dst + (p.pad_w + W) * kChannelBlock, 0, sizeof(float) * std::size_t(p.pad_w * kChannelBlock));
    }
    xin = xp;
    x_row = Wp * kChannelBlock;
    x_cb = Hp * x_row;
  }

  detail::Conv16cGeom g;
  const bool lanes = w.lane_group > 0;  // each output block reads its own input block (see the packer)
  g.Cb = lanes ? 1 : w.group_in_blocks;  // the input blocks each weight block reads (all of them without groups)
  g.kh = w.kernel_h;
  g.kw = w.kernel_w;
  g.x_cb = x_cb;
  g.x_tap_h = p.dilation_h * x_row;
  g.x_tap_w = p.dilation_w * kChannelBlock;
  g.x_pix = p.stride_w * kChannelBlock;
  g.y_kb = y.block_stride();
  g.act = epilogue.activation;
  g.lane_group = w.lane_group;
  Index x_oh = p.stride_h * x_row;  // one output row further
  Index y_row = y.row_stride();
  // 1x1, stride 1, unpadded, no borders: the image is one row of H * W pixels.
  if (w.kernel_h == 1 && w.kernel_w == 1 && p.stride_h == 1 && p.stride_w == 1 && x.border == 0 && y.border == 0) {
    OW = OH * OW;
    OH = 1;
    x_oh = y_row = 0;
  }
  const Index y_origin = y.border * (y.row_stride() + kChannelBlock);  // of the output and the residual

  // Weight blocks: `bw` output channels (lane groups: 16, rows of 16), the last one 16 wide when
  // it holds the rest of an odd Kb (its own row stride). Offsets count elements (the bf16 layout
  // puts blocks and taps at the same element offsets as the fp32 one), `w_bytes` each.
  const Index bw = lanes ? kChannelBlock : w.block_width, halves = bw / kChannelBlock;
  const Index w_bytes = bf16 ? Index(sizeof(std::uint16_t)) : Index(sizeof(float));
  const Index w_rows = lanes ? w.kernel_h * w.kernel_w * w.lane_group : g.Cb * w.kernel_h * w.kernel_w * kChannelBlock;
  g.Kp = bw;
  detail::Conv16cGeom g_last = g;
  const Index last_block = (Kb - 1) / halves;
  g_last.Kp = Kp - last_block * bw;

  // Tile shape and kernel table of the chosen path: table[v - 1][pixels - 1].
  using detail::Conv16cTileFn;
  using TileRow = std::array<Conv16cTileFn, detail::kAvx512MaxPixels>;
  TileRow table[2] = {};
  int P = 1, V = 1;
  const Index stride = p.stride_w;
  if (path == Conv2dPath::amx) {  // bf16 weights only (resolve_conv2d_path), never lane groups
    using Seq = std::make_integer_sequence<int, detail::kAvx512MaxPixels>;
    P = stride <= 2 ? detail::avx512_tile_pixels(OW) : 1;
    V = int(std::min<Index>(halves, Kb));
    for (int v = 0; v < 2; ++v)
      table[v] = stride == 1   ? (v ? detail::amx_bf16_tile_row<1, 2>(Seq{}) : detail::amx_bf16_tile_row<1, 1>(Seq{}))
                 : stride == 2 ? (v ? detail::amx_bf16_tile_row<2, 2>(Seq{}) : detail::amx_bf16_tile_row<2, 1>(Seq{}))
                               : (v ? detail::amx_bf16_tile_row<0, 2>(Seq{}) : detail::amx_bf16_tile_row<0, 1>(Seq{}));
  } else if (path == Conv2dPath::avx512) {
    using Seq = std::make_integer_sequence<int, detail::kAvx512MaxPixels>;
    if (lanes) {  // any stride: a runtime pixel stride costs these tiles little
      P = int(balanced_tile_pixels(OW, detail::lanes_max_pixels_avx512(int(w.lane_group))));
      table[0] = detail::lanes_tile_row(path, stride, w.lane_group);
    } else {
      P = stride <= 2 ? detail::avx512_tile_pixels(OW) : 1;
      V = int(std::min<Index>(halves, Kb));
      if (bf16)
        for (int v = 0; v < 2; ++v)
          table[v] = stride == 1   ? (v ? detail::avx512_bf16_tile_row<1, 2>(Seq{}) : detail::avx512_bf16_tile_row<1, 1>(Seq{}))
                     : stride == 2 ? (v ? detail::avx512_bf16_tile_row<2, 2>(Seq{}) : detail::avx512_bf16_tile_row<2, 1>(Seq{}))
                                   : (v ? detail::avx512_bf16_tile_row<0, 2>(Seq{}) : detail::avx512_bf16_tile_row<0, 1>(Seq{}));
      else
        for (int v = 0; v < 2; ++v)
          table[v] = stride == 1   ? (v ? detail::avx512_tile_row<1, 2>(Seq{}) : detail::avx512_tile_row<1, 1>(Seq{}))
                     : stride == 2 ? (v ? detail::avx512_tile_row<2, 2>(Seq{}) : detail::avx512_tile_row<2, 1>(Seq{}))
                                   : (v ? detail::avx512_tile_row<0, 2>(Seq{}) : detail::avx512_tile_row<0, 1>(Seq{}));
    }
  } else if (path == Conv2dPath::avx2) {
    using Seq = std::make_integer_sequence<int, detail::kAvx2Pixels>;
    if (lanes) {
      P = detail::lanes_max_pixels_avx2(int(w.lane_group));
      table[0] = detail::lanes_tile_row(path, stride, w.lane_group);
    } else {
      P = stride <= 2 ? detail::kAvx2Pixels : 1;
      const auto row = stride == 1   ? detail::avx2_tile_row<1>(Seq{})
                       : stride == 2 ? detail::avx2_tile_row<2>(Seq{})
                                     : detail::avx2_tile_row<0>(Seq{});
      std::copy(row.begin(), row.end(), table[0].begin());
    }
  } else {
    P = detail::kPortablePixels;
    using Seq = std::make_integer_sequence<int, detail::kPortablePixels>;
    const auto row = lanes  ? detail::portable_lanes_tile_row(Seq{})
                     : bf16 ? detail::portable_bf16_tile_row(Seq{})
                            : detail::portable_tile_row(Seq{});
    std::copy(row.begin(), row.end(), table[0].begin());
  }
  const Index groups = (Kb + V - 1) / V;  // groups of V output blocks; the last may be narrower
  const Index tiles = (OW + P - 1) / P;
  const char* wdata = bf16 ? reinterpret_cast<const char*>(w.data_bf16.data())
                          : reinterpret_cast<const char*>(w.data.data());
  const Index w_size = bf16 ? w.data_bf16.size() : w.data.size();
  const float* scale = epilogue.scale;

  // Loop order: where an image's input outweighs the weights, each row tile runs every output
  // group while its input is in L1 (the weights stay in L2); else each group's weight slice stays
  // in cache while the whole image streams past (deep layers, whose weights are the larger).
  // Lane groups read a different input block per output block, so their tiles walk each block's
  // rows in turn, where neighbouring tiles share input rows (measured: ResNeXt-50's groups of 4
  // at 56 x 56 go from ~80 to ~100 GFLOP/s).
  const bool groups_inner = !lanes && w_size * w_bytes <= Cb * H * W * kChannelBlock * Index(sizeof(float));
  // BF16 1x1 whose row tiles run every output group in turn: each row tile's input is rounded
  // once, for all the groups, instead of once per group by every tile. Measured on SE-ResNet-50
  // (1 thread, 6 alternating rounds): its stride-2 downsamples 0.69 -> 0.57-0.59 ms, the
  // 64 -> 256 1x1s 0.39 -> 0.36; where the groups are few (2-4), the separate pass cost more than
  // the conversions it saved (0.10 -> 0.13 ms at 2), so from 8 groups on.
  const bool round_once = bf16 && path == Conv2dPath::avx512 && !lanes && groups_inner && groups >= 8 &&
                          w.kernel_h == 1 && w.kernel_w == 1 && w.groups == 1;
  // Rows of 7 pixels (a 224 x 224 network's last stage) would leave a one-row tile 14
  // accumulators, each weight row loaded for 7 pixels: such tiles take two output rows (an odd
  // last row runs alone). Measured on SE-ResNet-50 (`senet bench --profile`, 1 thread, 5
  // alternating rounds): its 7x7 stage 9.50 -> 9.09 ms in FP32 (3x3 stride 1 1.31 -> 1.22 ms,
  // stride 2 1.38 -> 1.23, the stride-2 downsample 1.25 -> 1.12), 5.71 -> 5.23 ms in bf16.
  const auto two_rows = round_once ? std::array<Conv16cTileFn, 2>{} : detail::two_row_tiles(path, bf16, lanes, stride, OW);
  const Index rows_per_tile = two_rows[0] && OH >= 2 ? 2 : 1;
  if (rows_per_tile == 2)
    for (detail::Conv16cGeom* a : {&g, &g_last}) {
      a->x_next_row = x_oh;
      a->y_next_row = y_row;
    }
  const Index tile_rows = (OH + rows_per_tile - 1) / rows_per_tile;  // per image
  const Index items = N * groups * tile_rows * tiles;
  // Weights from memory (AVX-512, groups outermost, slices of >= 32 KB): the hardware prefetcher
  // alone leaves a group's first tile waiting on DRAM, so the first (up to 4) tiles of each
  // group also prefetch the next group's slice, spread over their taps (measured: the 3x3 of
  // SE-ResNet-50's 7x7 stage with weights not in cache goes from ~105 to ~160 GFLOP/s).
  const Index slice_bytes = w_rows * bw * w_bytes, taps_per_tile = w_rows / kChannelBlock;
  const Index prefetch_tiles = std::min<Index>(N * tile_rows * tiles, 4);
  Index prefetch_lines = 0, prefetch_share = 0;  // lines per tap; bytes per tile
  if ((path == Conv2dPath::avx512 || path == Conv2dPath::amx) && !lanes && !groups_inner &&
      slice_bytes >= (Index(1) << 15)) {
    prefetch_lines = (slice_bytes / 64 + prefetch_tiles * taps_per_tile - 1) / (prefetch_tiles * taps_per_tile);
    prefetch_share = prefetch_lines * 64 * taps_per_tile;
  }
  // The input a thread reads first in a call was mostly written by the other threads (the
  // previous layer splits its output too): lines in another core's cache, which the hardware
  // prefetcher, facing one stream per input block, fetches at latency. So on its first sweep over
  // the input (groups outermost: the first `N * tile_rows * tiles` tiles of its range; else each row
  // tile's first group) a tile pulls its own input a few blocks ahead toward L2 (~1000 cycles of
  // its arithmetic ahead). Not on one thread: the input is then in the caller's own cache.
  // Measured (`bench_conv_nchw16c --benchmark_filter=ForeignInput`, 2 threads, an input each
  // thread had just written half of), SE-ResNet-50's 14x14 and 56x56 1x1s: 371 and 308 us without
  // a prefetch, 287 and 264 us prefetching the next tile (which cost 4-8% on an input already in
  // both caches: 57 KB ahead overflows L1), 263 and 274 us now, and 248 us (no cost) on an input
  // in both caches. The network at batch 1 on 2 threads: 23.5 -> 22.2 -> 21.7 ms. How much such
  // an input costs depends on where the VM places the two cores: in some hours ~250 us either way.
  const bool ahead_path = path == Conv2dPath::avx512 && !lanes && num_threads() > 1 && !detail::in_parallel_region();
  // The output's lines were last written in an earlier layer, on 2+ threads often by the other
  // core, whose cache then hands each one over as a store reaches it: each tile first pulls the
  // next tile's output lines for writing, ~a tile's arithmetic ahead. Measured on SE-ResNet-50
  // (`senet bench --profile`, 5 alternating rounds): on 2 threads in bf16 the 1x1s went from
  // 9.66 to 8.54 ms (its 64 -> 256 downsample 0.34 -> 0.22 ms), the network 0.94x; in FP32 the
  // network 0.95x. On one thread (the lines in the caller's own cache) 0.99-1.01x, so not there.
  const bool prefetch_output = ahead_path;
  const Index sweep = N * tile_rows * tiles;
  detail::Conv16cGeom g_ahead = g, g_last_ahead = g_last;
  for (detail::Conv16cGeom* a : {&g_ahead, &g_last_ahead}) {
    a->x_ahead_blocks = std::max<Index>(1, 4 / (w.kernel_h * w.kernel_w));
    a->x_ahead_lines = (P - 1) * p.stride_w + (w.kernel_w - 1) * p.dilation_w + 1;  // per kernel row
  }
  // A deep layer at a small batch: groups outermost and each group's sweep a few tiles
  // (SE-ResNet-50 at batch 1: 4 in the 7x7 stage, 14 in the 14x14 one), over a weight slice that
  // L1 does not keep from tile to tile. Each tile would read the group's whole slice (0.1-0.6 MB)
  // from L2, while the next slice comes from memory on software prefetches alone. Instead the
  // sweep's tiles take the slice in parts of input channel blocks, each part in turn for every
  // tile of the sweep (from L1 after the first), the tiles' sums parked in a per-thread buffer
  // between parts (a part and the parked sums within ~40 KB of L1): the weights stream past
  // once, in order, and each part prefetches the one `kStreamAhead` parts on. The same sums in
  // the same order (bit-identical results). Measured on the Intel Xeon (`bench_conv_nchw16c
  // --benchmark_filter=_weights/`, README): the 7x7 stage's 3x3 with its weights in memory
  // 1.63-1.71 -> 1.41-1.43 ms on 1 thread, 0.84-0.90 -> 0.70-0.75 ms on 2; in the network the
  // 14x14 stage's conv1s 0.90-0.92x on 2 threads. Slices of 32 KB (its conv3s) lost 4-10%.
  constexpr Index kStreamTiles = 16, kStreamAhead = 4, kPartial = 2 * detail::kAvx512MaxPixels * kChannelBlock;
  const bool stream_weights = path == Conv2dPath::avx512 && !bf16 && !lanes && !groups_inner && sweep <= kStreamTiles &&
                              slice_bytes >= (Index(1) << 16);
  const Index taps = w.kernel_h * w.kernel_w;
  const Index row_bytes = kChannelBlock * bw * w_bytes;  // one input block's rows of one tap
  const Index parked_bytes = sweep * kPartial * Index(sizeof(float));  // the sweep's sums between parts
  const Index part_bytes = std::max<Index>(8 << 10, std::min<Index>(24 << 10, (40 << 10) - parked_bytes));
  const Index part_blocks = std::max<Index>(1, part_bytes / (taps * row_bytes));
  const char* const w_end = wdata + w_size * w_bytes;
  // Where a tile's output starts (and its residual), from its image, block, row and column.
  auto output_offset = [&](Index n_, Index kb_, Index oh_, Index ow_) {
    return y_origin + (n_ * Kb + kb_) * g.y_kb + oh_ * y_row + ow_ * kChannelBlock;
  };
  // The weights of output block `kb_` (the second 16 outputs of a 32-wide block: 16 elements into
  // each fp32 row, 32 into a bf16 pair row), and the tile for `vectors_` vectors at (oh_, ow_).
  auto block_weights = [&](Index kb_) {
    return wdata + ((kb_ / halves) * bw * w_rows + (kb_ % halves) * kChannelBlock * (bf16 ? 2 : 1)) * w_bytes;
  };
  auto tile_at = [&](Index vectors_, Index oh_, Index ow_) {
    return rows_per_tile == 2 && oh_ + 1 < OH ? two_rows[vectors_ - 1] : table[vectors_ - 1][std::min<Index>(P, OW - ow_) - 1];
  };
  auto run_streamed = [&](Index begin, Index end) {
    static thread_local detail::Scratch partial_scratch;
    float* partial = partial_scratch.get(kStreamTiles * kPartial);
    for (Index it = begin; it < end;) {
      // The run of this group's tiles in [it, end): at most one sweep.
      const Index gi = it / sweep, run_end = std::min(end, (gi + 1) * sweep), count = run_end - it;
      const Index kb = gi * V, vectors = std::min<Index>(V, Kb - kb), block = kb / halves;
      const detail::Conv16cGeom& gb = block == last_block ? g_last : g;
      const char* wt = block_weights(kb);
      Conv16cTileFn tile[kStreamTiles];
      const float* xt[kStreamTiles];
      Index yoff[kStreamTiles], image[kStreamTiles];
      for (Index j = 0; j < count; ++j) {
        const Index item = it + j, t = item % tiles, tr = item / tiles % tile_rows, n = item / (tiles * tile_rows) % N;
        const Index ow = t * P, oh = tr * rows_per_tile;
        tile[j] = tile_at(vectors, oh, ow);
        xt[j] = xin + (n * Cb + w.block_in_offset[std::size_t(block)]) * x_cb + oh * x_oh + ow * g.x_pix;
        yoff[j] = output_offset(n, kb, oh, ow);
        image[j] = n;
      }
      const Index part_row_bytes = kChannelBlock * gb.Kp * w_bytes;  // a narrow last block's rows are shorter
      for (Index c0 = 0; c0 < gb.Cb; c0 += part_blocks) {
        const Index blocks = std::min(part_blocks, gb.Cb - c0), part_taps = blocks * taps;
        const char* part = wt + c0 * taps * part_row_bytes;
        // This part's tiles share the prefetch of the part `kStreamAhead` on, over their taps.
        const Index lines = (part_taps * part_row_bytes / 64 + count * part_taps - 1) / (count * part_taps);
        const char* ahead = part + kStreamAhead * part_blocks * taps * part_row_bytes;
        for (Index j = 0; j < count; ++j) {
          detail::Conv16cGeom gp = gb;
          gp.Cb = blocks;
          float* sums = partial + j * kPartial;
          gp.partial_in = c0 > 0 ? sums : nullptr;
          gp.partial_out = c0 + blocks < gb.Cb ? sums : nullptr;
          const char* pf = ahead + j * lines * 64 * part_taps;
          if (pf + lines * 64 * part_taps <= w_end) {
            gp.prefetch = pf;
            gp.prefetch_lines = lines;
          }
          tile[j](gp, xt[j] + c0 * x_cb, part, bias + kb * kChannelBlock,
                  scale ? scale + image[j] * Kp + kb * kChannelBlock : nullptr, r.data ? r.data + yoff[j] : nullptr,
                  y.data + yoff[j]);
        }
      }
      it = run_end;
    }
  };
  if (stream_weights) {
    detail::run_in_thread_ranges(items, run_streamed);
    zero_border(y);
    return;
  }
  auto run = [&](Index begin, Index end) {
    static thread_local detail::BasicScratch<std::uint32_t> pairs_scratch;
    std::uint32_t* pairs = round_once ? pairs_scratch.get(g.Cb * detail::kAvx512MaxPixels * 8) : nullptr;
    Index rounded = -1;  // the row tile whose input `pairs` holds
    // The tile's coordinates, decoded once and then stepped (divisions per tile would cost as
    // much as a small tile's arithmetic).
    Index t, tr, gi, n;  // tr: the tile row, its first output row `tr * rows_per_tile`
    if (groups_inner) {
      gi = begin % groups;
      t = (begin / groups) % tiles;
      tr = (begin / (groups * tiles)) % tile_rows;
      n = begin / (groups * tiles * tile_rows);
    } else {  // a group's weights serve every image of the batch while in cache
      t = begin % tiles;
      tr = (begin / tiles) % tile_rows;
      n = (begin / (tiles * tile_rows)) % N;
      gi = begin / (tiles * tile_rows * N);
    }
    auto step = [&](Index& digit, Index radix) { return ++digit == radix ? (digit = 0, true) : false; };
    // The next tile of the loop order.
    auto advance = [&](Index& gi_, Index& t_, Index& tr_, Index& n_) {
      if (groups_inner)
        (void)(step(gi_, groups) && step(t_, tiles) && step(tr_, tile_rows) && step(n_, N));
      else
        (void)(step(t_, tiles) && step(tr_, tile_rows) && step(n_, N) && step(gi_, groups));
    };
    for (Index it = begin; it < end; ++it) {
      const Index ow = t * P, pixels = std::min<Index>(P, OW - ow), kb = gi * V, oh = tr * rows_per_tile;
      const Index vectors = std::min<Index>(V, Kb - kb), block = kb / halves;
      const bool ahead = ahead_path && (groups_inner ? gi == 0 || it == begin : it - begin < sweep);
      const detail::Conv16cGeom* gt = block == last_block ? (ahead ? &g_last_ahead : &g_last) : (ahead ? &g_ahead : &g);
      detail::Conv16cGeom with_prefetch;
      const Index in_group = (n * tile_rows + tr) * tiles + t;  // the tile's place in its group's sweep
      if (prefetch_lines > 0 && gi + 1 < groups && in_group < prefetch_tiles) {
        with_prefetch = *gt;
        with_prefetch.prefetch = wdata + (block + 1) * bw * w_rows * w_bytes + in_group * prefetch_share;
        with_prefetch.prefetch_lines = prefetch_lines;
        gt = &with_prefetch;
      }
      const Index in_block = lanes ? kb : w.block_in_offset[std::size_t(block)];
      const float* xt = xin + (n * Cb + in_block) * x_cb + oh * x_oh + ow * g.x_pix;
      if (round_once) {
        if (in_group != rounded) {
#if SENET_X86_SIMD
          detail::round_tile_input_bf16(pairs, xt, x_cb, g.Cb, g.x_pix, pixels);
#endif
          rounded = in_group;
        }
        if (gt != &with_prefetch) {
          with_prefetch = *gt;
          gt = &with_prefetch;
        }
        with_prefetch.x_pairs = pairs;
      }
      const char* wt = block_weights(kb);
      const Index yoff = output_offset(n, kb, oh, ow);
      const Conv16cTileFn tile = tile_at(vectors, oh, ow);
      Index gi_next = gi, t_next = t, tr_next = tr, n_next = n;
      advance(gi_next, t_next, tr_next, n_next);
      if (prefetch_output && it + 1 < end) {
        const Index kb_next = gi_next * V, oh_next = tr_next * rows_per_tile, ow_next = t_next * P;
        const Index rows = std::min(rows_per_tile, OH - oh_next), cols = std::min<Index>(P, OW - ow_next);
        const Index vectors_next = std::min<Index>(V, Kb - kb_next);
        const float* y_next = y.data + output_offset(n_next, kb_next, oh_next, ow_next);
        for (Index v = 0; v < vectors_next; ++v)
          for (Index row = 0; row < rows; ++row)
            for (Index col = 0; col < cols; ++col)
              __builtin_prefetch(y_next + v * g.y_kb + row * y_row + col * kChannelBlock, 1, 3);
      }
      tile(*gt, xt, wt, bias + kb * kChannelBlock,
           scale ? scale + n * Kp + kb * kChannelBlock : nullptr, r.data ? r.data + yoff : nullptr, y.data + yoff);
      gi = gi_next;
      t = t_next;
      tr = tr_next;
      n = n_next;
    }
  };
  detail::run_in_thread_ranges(items, run);
  zero_border(y);
}

/// `conv2d_nchw16c` on border-free `NCHW16c` tensors: `x` `[N, ceil(C/16), H, W, 16]`, `y` of
/// `conv2d_nchw16c_output_shape`. A residual in `epilogue` must be a view of a tensor of `y`'s shape.
inline void conv2d_nchw16c(const Tensor<float>& x, const PackedConv2dWeights& w, const Conv2dParams& p,
                           const Conv2dEpilogue& epilogue, Tensor<float>& y, Conv2dPath path = Conv2dPath::automatic) {
  const Shape out = conv2d_nchw16c_output_shape(x.shape(), w, p);
  SENET_CHECK(y.shape() == out, "conv2d_nchw16c: output must be ", to_string(out), ", got ", to_string(y.shape()));
  conv2d_nchw16c(view_nchw16c(x, w.in_channels), w, p, epilogue, view_nchw16c(y, w.out_channels), path);
}

}  // namespace senet
