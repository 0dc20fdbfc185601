#pragma once
/// \file conv2d_winograd.hpp
/// Winograd F(4x4, 3x3) convolution on channel-blocked activations (`NCHW16c`): a 3x3, stride-1
/// convolution in 36 multiplies per 4x4 output tile and channel pair instead of 144.
///
/// Each 6x6 input patch `d` (4x4 outputs need 6x6 inputs) becomes `V = B^T d B`, each 3x3 kernel
/// `g` becomes `U = G g G^T` (once, when packed), and the output tile is `A^T (U . V) A`, where
/// `U . V` is, at each of the 36 positions, a product over the input channels: a 1x1 convolution
/// of the transformed tiles (the points 0, 1, -1, 2, -2 and infinity of Lavin and Gray, "Fast
/// Algorithms for Convolutional Neural Networks", 2016). The 36 products run on
/// `conv2d_nchw16c`'s own 1x1 register tiles (AVX-512, AVX2 or portable), so they reach the same
/// fraction of the machine's peak as a 1x1 convolution; the transforms are vector loops over the
/// 16 channels of a block.
///
/// Work: the tiles of each image are cut into chunks, one chunk per call on one thread: its input
/// transform, its 36 products and its output transform (with the epilogue of
/// `Conv2dEpilogue`: bias, SE scale, residual, activation) run while the chunk's transformed tiles
/// are in that core's L2. The transformed weights are 36 / 9 = 4x the direct ones and are read
/// once per chunk, so Winograd pays where a layer has many tiles per weight: early, wide layers.
/// `prepare` decides per layer (see `PrepareOptions::winograd`).
///
/// Accuracy: the transforms scale values by up to 8 and 1/24, so results differ from the direct
/// convolution by a few FP32 roundings more (within 1e-5 of the output's scale in the op tests;
/// the logits of every prepared fixture stay within 1e-4 of PyTorch).

#include <algorithm>
#include <array>
#include <vector>

#include "senet/core/error.hpp"
#include "senet/core/tensor.hpp"
#include "senet/core/threading.hpp"
#include "senet/ops/activation.hpp"
#include "senet/ops/conv2d.hpp"
#include "senet/ops/conv2d_nchw16c.hpp"
#include "senet/ops/nchw16c.hpp"

namespace senet {

/// The weights of a 3x3 convolution for `conv2d_winograd_nchw16c`: at each of the 6 x 6 positions
/// `(i, j)` of a transformed tile, `(G g G^T)[i][j]` for every output and input channel, packed as
/// a 1x1 convolution's weights (`positions[6 i + j]`).
struct WinogradConv2dWeights {
  Index in_channels = 0, out_channels = 0;
  std::vector<PackedConv2dWeights> positions;

  bool empty() const { return positions.empty(); }
  /// Bytes of the packed weights.
  Index bytes() const {
    Index total = 0;
    for (const auto& p : positions) total += p.data.size() * Index(sizeof(float));
    return total;
  }
};

/// Whether `conv2d_winograd_nchw16c` computes a convolution of parameters `p`: a 3x3 kernel,
/// stride 1, no dilation, no groups, padding of at most 2.
inline bool winograd_applies(const Conv2dParams& p) {
  return p.kernel_h == 3 && p.kernel_w == 3 && p.stride_h == 1 && p.stride_w == 1 && p.dilation_h == 1 &&
         p.dilation_w == 1 && p.groups == 1 && p.pad_h <= 2 && p.pad_w <= 2;
}

/// Packs a PyTorch conv weight `[K, C, 3, 3]` for `conv2d_winograd_nchw16c` (transformed in double).
inline WinogradConv2dWeights pack_conv2d_winograd_weights(const Tensor<float>& w) {
  SENET_CHECK(w.rank() == 4 && w.dim(2) == 3 && w.dim(3) == 3,
              "pack_conv2d_winograd_weights: weight must be [K, C, 3, 3], got ", to_string(w.shape()));
  static constexpr double G[6][3] = {{1.0 / 4, 0, 0},
                                     {-1.0 / 6, -1.0 / 6, -1.0 / 6},
                                     {-1.0 / 6, 1.0 / 6, -1.0 / 6},
                                     {1.0 / 24, 1.0 / 12, 1.0 / 6},
                                     {1.0 / 24, -1.0 / 12, 1.0 / 6},
                                     {0, 0, 1}};
  const Index K = w.dim(0), C = w.dim(1);
  WinogradConv2dWeights packed{C, K, {}};
  Tensor<float> u({K, C, 1, 1});  // one position at a time: packing holds one position's copy
  for (int i = 0; i < 6; ++i)
    for (int j = 0; j < 6; ++j) {
      for (Index kc = 0; kc < K * C; ++kc) {
        const float* g = w.data() + kc * 9;
        double sum = 0;
        for (int a = 0; a < 3; ++a)
          sum += G[i][a] * (g[a * 3] * G[j][0] + g[a * 3 + 1] * G[j][1] + g[a * 3 + 2] * G[j][2]);
        u[kc] = float(sum);
      }
      packed.positions.push_back(pack_conv2d_weights_nchw16c(u));
    }
  return packed;
}

namespace detail {

/// `v[p * stride]` for the 36 positions `p = 6 i + j` of `B^T d B`, `d[i][j]` the 16 channels of
/// input pixel `(i, j)` of the patch (a zero vector outside the image).
#if defined(__GNUC__)
__attribute__((always_inline))
#endif
inline void winograd_input_tile(const float* const (&d)[6][6], float* __restrict v, Index stride) {
  float t[6][6][16];
  for (int j = 0; j < 6; ++j)
    for (int k = 0; k < 16; ++k) {
      const float d0 = d[0][j][k], d1 = d[1][j][k], d2 = d[2][j][k], d3 = d[3][j][k], d4 = d[4][j][k],
                  d5 = d[5][j][k];
      t[0][j][k] = 4 * d0 - 5 * d2 + d4;
      t[1][j][k] = d3 + d4 - 4 * (d1 + d2);
      t[2][j][k] = d4 - d3 + 4 * (d1 - d2);
      t[3][j][k] = d4 - d2 + 2 * (d3 - d1);
      t[4][j][k] = d4 - d2 + 2 * (d1 - d3);
      t[5][j][k] = 4 * d1 - 5 * d3 + d5;
    }
  for (int i = 0; i < 6; ++i) {
    float* row = v + i * 6 * stride;
    for (int k = 0; k < 16; ++k) {
      const float t0 = t[i][0][k], t1 = t[i][1][k], t2 = t[i][2][k], t3 = t[i][3][k], t4 = t[i][4][k],
                  t5 = t[i][5][k];
      row[k] = 4 * t0 - 5 * t2 + t4;
      row[stride + k] = t3 + t4 - 4 * (t1 + t2);
      row[2 * stride + k] = t4 - t3 + 4 * (t1 - t2);
      row[3 * stride + k] = t4 - t2 + 2 * (t3 - t1);
      row[4 * stride + k] = t4 - t2 + 2 * (t1 - t3);
      row[5 * stride + k] = 4 * t1 - 5 * t3 + t5;
    }
  }
}

/// `out[i][j] = (A^T m A)[i][j]`, the 4x4 outputs of a tile from its 36 products `m[p * stride]`.
#if defined(__GNUC__)
__attribute__((always_inline))
#endif
inline void winograd_output_tile(const float* m, Index stride, float (&out)[4][4][16]) {
  float t[4][6][16];
  for (int j = 0; j < 6; ++j)
    for (int k = 0; k < 16; ++k) {
      const float* c = m + j * stride + k;
      const float m0 = c[0], m1 = c[6 * stride], m2 = c[12 * stride], m3 = c[18 * stride], m4 = c[24 * stride],
                  m5 = c[30 * stride];
      t[0][j][k] = m0 + m1 + m2 + m3 + m4;
      t[1][j][k] = m1 - m2 + 2 * (m3 - m4);
      t[2][j][k] = m1 + m2 + 4 * (m3 + m4);
      t[3][j][k] = m1 - m2 + 8 * (m3 - m4) + m5;
    }
  for (int i = 0; i < 4; ++i)
    for (int k = 0; k < 16; ++k) {
      const float t0 = t[i][0][k], t1 = t[i][1][k], t2 = t[i][2][k], t3 = t[i][3][k], t4 = t[i][4][k],
                  t5 = t[i][5][k];
      out[i][0][k] = t0 + t1 + t2 + t3 + t4;
      out[i][1][k] = t1 - t2 + 2 * (t3 - t4);
      out[i][2][k] = t1 + t2 + 4 * (t3 + t4);
      out[i][3][k] = t1 - t2 + 8 * (t3 - t4) + t5;
    }
}

/// One output pixel's 16 channels: `y = act((o + bias) * scale + res)` (`scale`, `res` may be null).
#if defined(__GNUC__)
__attribute__((always_inline))
#endif
inline void winograd_store_pixel(const float* o, const float* bias, const float* scale, const float* res,
                                 Activation act, float* y) {
  float v[16];
  for (int k = 0; k < 16; ++k) v[k] = o[k] + bias[k];
  if (scale)
    for (int k = 0; k < 16; ++k) v[k] *= scale[k];
  if (res)
    for (int k = 0; k < 16; ++k) v[k] += res[k];
  if (act == Activation::relu)  // inline: the others are rare after a 3x3 (MobileNets use depthwise ones)
    for (int k = 0; k < 16; ++k) v[k] = v[k] > 0.0f ? v[k] : 0.0f;
  else if (act != Activation::none)
    activate_inplace(v, 16, act);
  for (int k = 0; k < 16; ++k) y[k] = v[k];
}

/// The transforms of one chunk: `WinogradChunk::inputs` fills the transformed tiles, `outputs`
/// writes the finished pixels. The same code is compiled for AVX-512 and without (below).
struct WinogradChunk {
  const FeatureView* x;
  const FeatureView* y;
  const FeatureView* res;
  const Conv2dParams* p;
  const float* bias;   // padded
  const float* scale;  // [N, Kp] or null
  Activation act;
  Index tiles_w, n, first, count, T;  // tiles per row; image; the chunk's first tile and tile count; its capacity

  /// The transformed tiles `v[((p * Cb + cb) * T + t) * 16]` of the chunk.
#if defined(__GNUC__)
  __attribute__((always_inline))
#endif
  void inputs(float* v) const {
    static const float zero[16] = {};
    const Index Cb = x->blocks(), H = x->height, W = x->width;
    for (Index cb = 0; cb < Cb; ++cb)
      for (Index t = 0; t < count; ++t) {
        const Index tile = first + t, h0 = tile / tiles_w * 4 - p->pad_h, w0 = tile % tiles_w * 4 - p->pad_w;
        const float* d[6][6];
        for (Index i = 0; i < 6; ++i)
          for (Index j = 0; j < 6; ++j) {
            const Index h = h0 + i, w = w0 + j;
            d[i][j] = h >= 0 && h < H && w >= 0 && w < W ? x->at(n, cb, h, w) : zero;
          }
        winograd_input_tile(d, v + (cb * T + t) * 16, Cb * T * 16);
      }
  }

  /// The output pixels of the chunk from its products `m[((p * Kb + kb) * T + t) * 16]`.
#if defined(__GNUC__)
  __attribute__((always_inline))
#endif
  void outputs(const float* m) const {
    const Index Kb = y->blocks(), Kp = Kb * kChannelBlock, OH = y->height, OW = y->width;
    for (Index kb = 0; kb < Kb; ++kb)
      for (Index t = 0; t < count; ++t) {
        float o[4][4][16];
        winograd_output_tile(m + (kb * T + t) * 16, Kb * T * 16, o);
        const Index tile = first + t, h0 = tile / tiles_w * 4, w0 = tile % tiles_w * 4;
        const float* s = scale ? scale + n * Kp + kb * kChannelBlock : nullptr;
        for (Index i = 0; i < 4 && h0 + i < OH; ++i)
          for (Index j = 0; j < 4 && w0 + j < OW; ++j)
            winograd_store_pixel(o[i][j], bias + kb * kChannelBlock, s,
                                 res->data ? res->at(n, kb, h0 + i, w0 + j) : nullptr, act,
                                 y->at(n, kb, h0 + i, w0 + j));
      }
  }
};

#if SENET_X86_SIMD
SENET_TARGET_AVX512 inline void winograd_inputs_avx512(const WinogradChunk& c, float* v) { c.inputs(v); }
SENET_TARGET_AVX512 inline void winograd_outputs_avx512(const WinogradChunk& c, const float* m) { c.outputs(m); }
#endif
inline void winograd_inputs_portable(const WinogradChunk& c, float* v) { c.inputs(v); }
inline void winograd_outputs_portable(const WinogradChunk& c, const float* m) { c.outputs(m); }

}  // namespace detail

/// `conv2d_nchw16c` for a 3x3, stride-1 convolution (`winograd_applies(p)`) on Winograd weights:
/// the same views, epilogue and border rules (`y`'s border is zeroed; `x`'s border is not read,
/// the padding is taken as zeros), the same result up to rounding. `path`: FP32 paths only
/// (`automatic`: the best this CPU has); the transforms are vectorised on `avx512`.
inline void conv2d_winograd_nchw16c(const FeatureView& x, const WinogradConv2dWeights& w, const Conv2dParams& p,
                                    const Conv2dEpilogue& epilogue, const FeatureView& y,
                                    Conv2dPath path = Conv2dPath::automatic) {
  SENET_CHECK(winograd_applies(p), "conv2d_winograd_nchw16c: needs a 3x3, stride-1, undilated, ungrouped "
                                   "convolution with padding <= 2");
  SENET_CHECK(!w.empty() && x.channels == w.in_channels, "conv2d_winograd_nchw16c: input has ", x.channels,
              " channels, the weights expect ", w.in_channels);
  const auto [OH, OW] = conv2d_output_size(x.height, x.width, p);
  detail::check_output_view("conv2d_winograd_nchw16c", y, {nullptr, x.batch, w.out_channels, OH, OW, 0});
  const FeatureView& r = epilogue.residual;
  SENET_CHECK(!r.data || (r.same_image(y) && r.border == y.border),
              "conv2d_winograd_nchw16c: the residual must match the output's image and border");
  path = resolve_conv2d_path(path);
  SENET_CHECK(path != Conv2dPath::amx, "conv2d_winograd_nchw16c: the amx path runs bf16 weights only");
  const Index N = x.batch, Cb = x.blocks(), Kb = y.blocks(), Kp = Kb * kChannelBlock;
  const Index tiles_w = (OW + 3) / 4, tiles = (OH + 3) / 4 * tiles_w;

  // The products' register tiles: 1x1 tiles of `conv2d_nchw16c` on the transformed tiles.
  using detail::Conv16cTileFn;
  std::array<Conv16cTileFn, detail::kAvx512MaxPixels> table[2] = {};
  int P = detail::kPortablePixels, V = 1;
  if (path == Conv2dPath::avx512) {
    using Seq = std::make_integer_sequence<int, detail::kAvx512MaxPixels>;
    table[0] = detail::avx512_tile_row<1, 1>(Seq{});
    table[1] = detail::avx512_tile_row<1, 2>(Seq{});
    P = detail::kAvx512MaxPixels;
    V = 2;
  } else if (path == Conv2dPath::avx2) {
    const auto row = detail::avx2_tile_row<1>(std::make_integer_sequence<int, detail::kAvx2Pixels>{});
    std::copy(row.begin(), row.end(), table[0].begin());
    P = detail::kAvx2Pixels;
  } else {
    const auto row = detail::portable_tile_row(std::make_integer_sequence<int, detail::kPortablePixels>{});
    std::copy(row.begin(), row.end(), table[0].begin());
  }

  // Chunks: as many tiles as keep the chunk's transformed inputs and products within ~1 MB (a
  // share of L2), at least one row of register tiles, and at least one chunk per thread. Every
  // chunk reads all the weights, so no more chunks than that.
  const Index per_tile = 36 * (Cb + Kb) * kChannelBlock * Index(sizeof(float));
  const Index most = std::max<Index>(P, (Index(1) << 20) / per_tile / P * P);
  const Index threads = detail::in_parallel_region() ? 1 : Index(num_threads());
  Index chunks = (tiles + most - 1) / most;
  if (N * chunks < threads) chunks = std::min((tiles + P - 1) / P, (threads + N - 1) / N);
  const Index T = (tiles + chunks - 1) / chunks;

  const float* bias = detail::padded_bias(epilogue.bias, w.out_channels, Kp);
  static thread_local detail::Scratch zeros;  // the products' bias: none (the epilogue adds the real one)
  float* no_bias = zeros.get(Kp);
  std::fill(no_bias, no_bias + Kp, 0.0f);
  detail::Conv16cGeom g;
  g.Cb = Cb;
  g.kh = g.kw = 1;
  g.x_cb = T * kChannelBlock;
  g.x_pix = kChannelBlock;
  g.y_kb = T * kChannelBlock;
  const PackedConv2dWeights& w0 = w.positions[0];
  const Index bw = w0.block_width, halves = bw / kChannelBlock, rows = Cb * kChannelBlock;
  const Index last_block = (Kb - 1) / halves;
  g.Kp = bw;
  detail::Conv16cGeom g_last = g;
  g_last.Kp = Kp - last_block * bw;
  const bool avx512 = path == Conv2dPath::avx512;

  detail::run_in_thread_ranges(N * chunks, [&](Index begin, Index end) {
    static thread_local detail::Scratch v_scratch, m_scratch;
    float* v = v_scratch.get(36 * Cb * T * kChannelBlock);
    float* m = m_scratch.get(36 * Kb * T * kChannelBlock);
    for (Index item = begin; item < end; ++item) {
      const Index n = item / chunks, first = item % chunks * T, count = std::min(T, tiles - first);
      if (count <= 0) continue;
      const detail::WinogradChunk chunk{&x, &y, &r, &p, bias, epilogue.scale, epilogue.activation,
                                        tiles_w, n, first, count, T};
#if SENET_X86_SIMD
      avx512 ? detail::winograd_inputs_avx512(chunk, v) : detail::winograd_inputs_portable(chunk, v);
#else
      detail::winograd_inputs_portable(chunk, v);
#endif
      const Index pixels_per_call = balanced_tile_pixels(count, P);
      for (Index pos = 0; pos < 36; ++pos) {
        const float* wp = w.positions[std::size_t(pos)].data.data();
        for (Index kb = 0; kb < Kb; kb += V) {
          const Index vectors = std::min<Index>(V, Kb - kb), block = kb / halves;
          const detail::Conv16cGeom& gt = block == last_block ? g_last : g;
          const float* wt = wp + block * bw * rows + (kb % halves) * kChannelBlock;
          for (Index t = 0; t < count; t += pixels_per_call) {
            const Index pixels = std::min(pixels_per_call, count - t);
            table[vectors - 1][pixels - 1](gt, v + (pos * Cb * T + t) * kChannelBlock, wt, no_bias, nullptr,
                                           nullptr, m + ((pos * Kb + kb) * T + t) * kChannelBlock);
          }
        }
      }
#if SENET_X86_SIMD
      avx512 ? detail::winograd_outputs_avx512(chunk, m) : detail::winograd_outputs_portable(chunk, m);
#else
      detail::winograd_outputs_portable(chunk, m);
#endif
    }
  });
  zero_border(y);
}

}  // namespace senet
