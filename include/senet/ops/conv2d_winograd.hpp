#pragma once
/// \file conv2d_winograd.hpp
/// Winograd convolution on channel-blocked activations (`NCHW16c`): a 3x3, stride-1 convolution
/// as F(4x4, 3x3), 36 multiplies per 4x4 output tile and channel pair instead of 144, or as
/// F(2x2, 3x3), 16 instead of 36.
///
/// Each input patch `d` (6x6 for 4x4 outputs, 4x4 for 2x2) becomes `V = B^T d B`, each 3x3 kernel
/// `g` becomes `U = G g G^T` (once, when packed), and the output tile is `A^T (U . V) A`, where
/// `U . V` is, at each of the 36 (16) positions, a product over the input channels: a 1x1
/// convolution of the transformed tiles (F(4x4): the points 0, 1, -1, 2, -2 and infinity of
/// Lavin and Gray, "Fast Algorithms for Convolutional Neural Networks", 2016; F(2x2): 0, 1, -1 and
/// infinity). The products run on
/// `conv2d_nchw16c`'s own 1x1 register tiles (AVX-512, AVX2 or portable), so they reach the same
/// fraction of the machine's peak as a 1x1 convolution; the transforms are vector loops over the
/// 16 channels of a block.
///
/// Work: the tiles of each image are cut into chunks, one chunk per call on one thread: its input
/// transform, its 36 (16) products and its output transform (with the epilogue of
/// `Conv2dEpilogue`: bias, SE scale, residual, activation) run while the chunk's transformed tiles
/// are in that core's L2. The transformed weights are 36 / 9 = 4x the direct ones for F(4x4)
/// (16 / 9 = 1.8x for F(2x2)) and are read once per chunk, so Winograd pays where a layer has
/// many tiles per weight: early, wide layers; F(2x2) does half as much for a deep layer's fewer
/// tiles, at less than half the weight bytes to read and keep. `prepare` decides per layer (see
/// `PrepareOptions::winograd_max_channels`).
///
/// Stride 2 (`WinogradConv2dWeights::stride`): a 3x3, stride-2 convolution is the sum of four
/// stride-1 convolutions on the input's phases (even and odd rows x even and odd columns) with the
/// kernel's 2x2, 2x1, 1x2 and 1x1 parts; each runs as Winograd F(4x4, 2x2) (points 0, 1, -1, 2 and
/// infinity) along its 2-tap sides, 81 products per 4x4 output tile and channel pair over 36
/// transformed weight matrices, against 144 multiplies direct (1.78x fewer; weights 4x).
///
/// Accuracy: F(4x4)'s transforms scale values by up to 8 and 1/24 (F(2x2)'s by 1/2), so results
/// differ from the direct convolution by a few FP32 roundings more (within 1e-5 of the output's scale in the op tests;
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

/// The weights of a 3x3 convolution for `conv2d_winograd_nchw16c`: at each of the `n x n`
/// positions `(i, j)` of a transformed tile (`n = tile + 2`), `(G g G^T)[i][j]` for every output and
/// input channel, packed as a 1x1 convolution's weights (`positions[n i + j]`).
struct WinogradConv2dWeights {
  Index in_channels = 0, out_channels = 0;
  int tile = 4;  ///< output tile side: F(4x4, 3x3) or F(2x2, 3x3)
  /// 1, or 2: a stride-2 3x3 by phases, F(4x4, 2x2) (`positions` then holds the 36 distinct
  /// matrices of the 81 products, see `detail::WinogradStride2`).
  int stride = 1;
  std::vector<PackedConv2dWeights> positions;

  bool empty() const { return positions.empty(); }
  /// The precision the products run in (`fp32`, or `bf16`: `vdpbf16ps` on bfloat16 weights and
  /// transformed inputs, FP32 sums and transforms).
  ConvPrecision precision() const { return empty() ? ConvPrecision::fp32 : positions[0].precision; }
  /// Bytes of the packed weights.
  Index bytes() const {
    Index total = 0;
    for (const auto& p : positions)
      total += p.data.size() * Index(sizeof(float)) + p.data_bf16.size() * Index(sizeof(std::uint16_t));
    return total;
  }
};

/// Whether `conv2d_winograd_nchw16c` computes a convolution of parameters `p`: a 3x3 kernel,
/// stride 1, no dilation, no groups, padding of at most 2.
inline bool winograd_applies(const Conv2dParams& p) {
  return p.kernel_h == 3 && p.kernel_w == 3 && p.stride_h == 1 && p.stride_w == 1 && p.dilation_h == 1 &&
         p.dilation_w == 1 && p.groups == 1 && p.pad_h <= 2 && p.pad_w <= 2;
}

/// Whether `conv2d_winograd_nchw16c` computes a convolution of parameters `p` on stride-2 weights:
/// a 3x3 kernel, stride 2, no dilation, no groups, padding of at most 2.
inline bool winograd_stride2_applies(const Conv2dParams& p) {
  return p.kernel_h == 3 && p.kernel_w == 3 && p.stride_h == 2 && p.stride_w == 2 && p.dilation_h == 1 &&
         p.dilation_w == 1 && p.groups == 1 && p.pad_h <= 2 && p.pad_w <= 2;
}

namespace detail {

/// The transforms of F(M x M, 3x3), `N = M + 2` points: `B^T` (input), `G` (kernel), `A^T` (output).
template <int M>
struct WinogradMatrices;

template <>
struct WinogradMatrices<4> {  // points 0, 1, -1, 2, -2, infinity
  static constexpr float BT[6][6] = {{4, 0, -5, 0, 1, 0},  {0, -4, -4, 1, 1, 0}, {0, 4, -4, -1, 1, 0},
                                     {0, -2, -1, 2, 1, 0}, {0, 2, -1, -2, 1, 0}, {0, 4, 0, -5, 0, 1}};
  static constexpr double G[6][3] = {{1.0 / 4, 0, 0},
                                     {-1.0 / 6, -1.0 / 6, -1.0 / 6},
                                     {-1.0 / 6, 1.0 / 6, -1.0 / 6},
                                     {1.0 / 24, 1.0 / 12, 1.0 / 6},
                                     {1.0 / 24, -1.0 / 12, 1.0 / 6},
                                     {0, 0, 1}};
  static constexpr float AT[4][6] = {{1, 1, 1, 1, 1, 0}, {0, 1, -1, 2, -2, 0}, {0, 1, 1, 4, 4, 0}, {0, 1, -1, 8, -8, 1}};
};

template <>
struct WinogradMatrices<2> {  // points 0, 1, -1, infinity
  static constexpr float BT[4][4] = {{1, 0, -1, 0}, {0, 1, 1, 0}, {0, -1, 1, 0}, {0, 1, 0, -1}};
  static constexpr double G[4][3] = {{1, 0, 0}, {0.5, 0.5, 0.5}, {0.5, -0.5, 0.5}, {0, 0, 1}};
  static constexpr float AT[2][4] = {{1, 1, 1, 0}, {0, 1, -1, -1}};
};

/// The stride-2 form: F(4x4, 2x2) on the points 0, 1, -1, 2 and infinity (`BT` 5x5, `G` 5x2, `AT`
/// 4x5), and where each of the 81 products of a tile lies and which weight matrix it takes:
/// - 0-24, `5 i + j`: the even-row, even-column phase (kernel taps (0,0), (0,2), (2,0), (2,2)),
///   `(B^T d B)[i][j]`, matrix `5 i + j` = `(G g G^T)[i][j]`;
/// - 25-44, `25 + 4 i + b`: even rows, odd columns (taps (0,1), (2,1)), `(B^T d)[i][b]`, matrix
///   `25 + i` = `(G g)[i]`;
/// - 45-64, `45 + 5 a + j`: odd rows, even columns (taps (1,0), (1,2)), `(d B)[a][j]`, matrix
///   `30 + j` = `(g G^T)[j]`;
/// - 65-80, `65 + 4 a + b`: odd rows and columns (tap (1,1)), `d[a][b]`, matrix 35.
/// The output tile is `A^T M_ee A + A^T M_eo + M_oe A + M_oo`.
struct WinogradStride2 {
  static constexpr int kProducts = 81, kMatrices = 36;
  static constexpr float BT[5][5] = {
      {2, -1, -2, 1, 0}, {0, -2, -1, 1, 0}, {0, 2, -3, 1, 0}, {0, -1, 0, 1, 0}, {0, 2, -1, -2, 1}};
  static constexpr double G[5][2] = {{0.5, 0}, {-0.5, -0.5}, {-1.0 / 6, 1.0 / 6}, {1.0 / 6, 1.0 / 3}, {0, 1}};
  static constexpr float AT[4][5] = {{1, 1, 1, 1, 0}, {0, 1, -1, 2, 0}, {0, 1, 1, 4, 0}, {0, 1, -1, 8, 1}};
  static constexpr int matrix_of(int product) {
    return product < 25 ? product : product < 45 ? 25 + (product - 25) / 4 : product < 65 ? 30 + (product - 45) % 5 : 35;
  }
};

/// `pack_conv2d_winograd_weights` with `stride` 2: the 36 matrices of `WinogradStride2`, each
/// transformed in double and packed as a 1x1 convolution's FP32 weights.
inline WinogradConv2dWeights pack_winograd_stride2_weights(const Tensor<float>& w) {
  const auto& G = WinogradStride2::G;
  const Index K = w.dim(0), C = w.dim(1);
  WinogradConv2dWeights packed{C, K, 4, 2, {}};
  Tensor<float> u({K, C, 1, 1});
  for (int m = 0; m < WinogradStride2::kMatrices; ++m) {
    for (Index kc = 0; kc < K * C; ++kc) {
      const float* g = w.data() + kc * 9;
      double sum = 0;
      if (m < 25)
        for (int a = 0; a < 2; ++a)
          for (int b = 0; b < 2; ++b) sum += G[m / 5][a] * g[6 * a + 2 * b] * G[m % 5][b];
      else if (m < 30)
        for (int a = 0; a < 2; ++a) sum += G[m - 25][a] * g[6 * a + 1];
      else if (m < 35)
        for (int b = 0; b < 2; ++b) sum += g[3 + 2 * b] * G[m - 30][b];
      else
        sum = g[4];
      u[kc] = float(sum);
    }
    packed.positions.push_back(pack_conv2d_weights_nchw16c(u, 1));
  }
  return packed;
}

template <int M>
WinogradConv2dWeights pack_winograd_weights(const Tensor<float>& w, ConvPrecision precision) {
  constexpr int N = M + 2;
  const auto& G = WinogradMatrices<M>::G;
  const Index K = w.dim(0), C = w.dim(1);
  WinogradConv2dWeights packed{C, K, M, 1, {}};
  Tensor<float> u({K, C, 1, 1});  // one position at a time: packing holds one position's copy
  for (int i = 0; i < N; ++i)
    for (int j = 0; j < N; ++j) {
      for (Index kc = 0; kc < K * C; ++kc) {
        const float* g = w.data() + kc * 9;
        double sum = 0;
        for (int a = 0; a < 3; ++a)
          sum += G[i][a] * (g[a * 3] * G[j][0] + g[a * 3 + 1] * G[j][1] + g[a * 3 + 2] * G[j][2]);
        u[kc] = float(sum);
      }
      packed.positions.push_back(pack_conv2d_weights_nchw16c(u, 1, precision));
    }
  return packed;
}

}  // namespace detail

/// Packs a PyTorch conv weight `[K, C, 3, 3]` for `conv2d_winograd_nchw16c` as F(`tile` x `tile`,
/// 3x3), `tile` 4 or 2 (transformed in double), in `precision` (bf16: the transformed weights
/// rounded to bfloat16); `stride` 2: for a stride-2 convolution (by phases, F(4x4, 2x2): `tile`
/// 4, FP32 only).
inline WinogradConv2dWeights pack_conv2d_winograd_weights(const Tensor<float>& w, int tile = 4,
                                                          ConvPrecision precision = ConvPrecision::fp32,
                                                          int stride = 1) {
  SENET_CHECK(w.rank() == 4 && w.dim(2) == 3 && w.dim(3) == 3,
              "pack_conv2d_winograd_weights: weight must be [K, C, 3, 3], got ", to_string(w.shape()));
  SENET_CHECK(tile == 4 || tile == 2, "pack_conv2d_winograd_weights: tile must be 4 or 2, got ", tile);
  SENET_CHECK(stride == 1 || stride == 2, "pack_conv2d_winograd_weights: stride must be 1 or 2, got ", stride);
  if (stride == 2) {
    SENET_CHECK(tile == 4 && precision == ConvPrecision::fp32,
                "pack_conv2d_winograd_weights: stride 2 runs F(4x4, 2x2) in FP32 only");
    return detail::pack_winograd_stride2_weights(w);
  }
  return tile == 4 ? detail::pack_winograd_weights<4>(w, precision) : detail::pack_winograd_weights<2>(w, precision);
}

namespace detail {

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

/// One chunk of tiles of one image: `inputs` fills the transformed tiles
/// `v[((p * Cb + cb) * T + t) * 16]`, `outputs` writes the finished pixels of output blocks
/// `kb_begin` .. `kb_end - 1` from the products `m[((p * Kb + kb) * T + t) * 16]`. The portable
/// transforms are the matrices' loops; the AVX-512 ones (below) are written out.
struct WinogradChunk {
  const FeatureView* x;
  const FeatureView* y;
  const FeatureView* res;
  const Conv2dParams* p;
  const float* bias;   // padded
  const float* scale;  // [N, Kp] or null
  Activation act;
  Index tiles_w, n, first, count, T;  // tiles per row; image; the chunk's first tile and tile count; its capacity
  Index kb_begin, kb_end;             // the output blocks it finishes

  template <int M>
#if defined(__GNUC__)
  __attribute__((always_inline))
#endif
  void inputs(float* v) const {
    constexpr int N = M + 2;
    const auto& BT = WinogradMatrices<M>::BT;
    static const float zero[16] = {};
    const Index Cb = x->blocks(), H = x->height, W = x->width, stride = Cb * T * kChannelBlock;
    for (Index cb = 0; cb < Cb; ++cb)
      for (Index t = 0; t < count; ++t) {
        const Index tile = first + t, h0 = tile / tiles_w * M - p->pad_h, w0 = tile % tiles_w * M - p->pad_w;
        const float* d[N][N];
        for (Index i = 0; i < N; ++i)
          for (Index j = 0; j < N; ++j) {
            const Index h = h0 + i, w = w0 + j;
            d[i][j] = h >= 0 && h < H && w >= 0 && w < W ? x->at(n, cb, h, w) : zero;
          }
        float rows[N][N][16];  // d B
        for (int a = 0; a < N; ++a)
          for (int j = 0; j < N; ++j)
            for (int k = 0; k < 16; ++k) {
              float sum = 0;
              for (int b = 0; b < N; ++b) sum += d[a][b][k] * BT[j][b];
              rows[a][j][k] = sum;
            }
        float* out = v + (cb * T + t) * kChannelBlock;
        for (int i = 0; i < N; ++i)  // B^T (d B)
          for (int j = 0; j < N; ++j)
            for (int k = 0; k < 16; ++k) {
              float sum = 0;
              for (int a = 0; a < N; ++a) sum += BT[i][a] * rows[a][j][k];
              out[(N * i + j) * stride + k] = sum;
            }
      }
  }

  template <int M>
#if defined(__GNUC__)
  __attribute__((always_inline))
#endif
  void outputs(const float* m) const {
    constexpr int N = M + 2;
    const auto& AT = WinogradMatrices<M>::AT;
    const Index Kb = y->blocks(), Kp = Kb * kChannelBlock, OH = y->height, OW = y->width, stride = Kb * T * kChannelBlock;
    for (Index kb = kb_begin; kb < kb_end; ++kb)
      for (Index t = 0; t < count; ++t) {
        const float* in = m + (kb * T + t) * kChannelBlock;
        const Index tile = first + t, h0 = tile / tiles_w * M, w0 = tile % tiles_w * M;
        const float* s = scale ? scale + n * Kp + kb * kChannelBlock : nullptr;
        float rows[N][M][16];  // m A
        for (int a = 0; a < N; ++a)
          for (int j = 0; j < M; ++j)
            for (int k = 0; k < 16; ++k) {
              float sum = 0;
              for (int b = 0; b < N; ++b) sum += in[(N * a + b) * stride + k] * AT[j][b];
              rows[a][j][k] = sum;
            }
        for (Index i = 0; i < M && h0 + i < OH; ++i)
          for (Index j = 0; j < M && w0 + j < OW; ++j) {
            float o[16];  // A^T (m A)
            for (int k = 0; k < 16; ++k) {
              float sum = 0;
              for (int a = 0; a < N; ++a) sum += AT[i][a] * rows[a][j][k];
              o[k] = sum;
            }
            winograd_store_pixel(o, bias + kb * kChannelBlock, s, res->data ? res->at(n, kb, h0 + i, w0 + j) : nullptr,
                                 act, y->at(n, kb, h0 + i, w0 + j));
          }
      }
  }

  /// `inputs` of the stride-2 form: the 81 values of each tile's 9x9 input window (see
  /// `WinogradStride2`).
  void inputs_stride2(float* v) const {
    const auto& BT = WinogradStride2::BT;
    static const float zero[16] = {};
    const Index Cb = x->blocks(), H = x->height, W = x->width, stride = Cb * T * kChannelBlock;
    for (Index cb = 0; cb < Cb; ++cb)
      for (Index t = 0; t < count; ++t) {
        const Index tile = first + t, h0 = tile / tiles_w * 8 - p->pad_h, w0 = tile % tiles_w * 8 - p->pad_w;
        const float* d[9][9];
        for (Index i = 0; i < 9; ++i)
          for (Index j = 0; j < 9; ++j) {
            const Index h = h0 + i, w = w0 + j;
            d[i][j] = h >= 0 && h < H && w >= 0 && w < W ? x->at(n, cb, h, w) : zero;
          }
        float* out = v + (cb * T + t) * kChannelBlock;
        float rows[5][5][16];  // even rows and columns: e B
        for (int a = 0; a < 5; ++a)
          for (int j = 0; j < 5; ++j)
            for (int k = 0; k < 16; ++k) {
              float sum = 0;
              for (int b = 0; b < 5; ++b) sum += d[2 * a][2 * b][k] * BT[j][b];
              rows[a][j][k] = sum;
            }
        for (int i = 0; i < 5; ++i)
          for (int j = 0; j < 5; ++j)
            for (int k = 0; k < 16; ++k) {
              float ee = 0;
              for (int a = 0; a < 5; ++a) ee += BT[i][a] * rows[a][j][k];
              out[(5 * i + j) * stride + k] = ee;
            }
        for (int i = 0; i < 5; ++i)
          for (int b = 0; b < 4; ++b)
            for (int k = 0; k < 16; ++k) {
              float eo = 0, oe = 0;
              for (int a = 0; a < 5; ++a) eo += BT[i][a] * d[2 * a][2 * b + 1][k];
              for (int c = 0; c < 5; ++c) oe += d[2 * b + 1][2 * c][k] * BT[i][c];
              out[(25 + 4 * i + b) * stride + k] = eo;
              out[(45 + 5 * b + i) * stride + k] = oe;
            }
        for (int a = 0; a < 4; ++a)
          for (int b = 0; b < 4; ++b)
            for (int k = 0; k < 16; ++k) out[(65 + 4 * a + b) * stride + k] = d[2 * a + 1][2 * b + 1][k];
      }
  }

  /// `outputs` of the stride-2 form.
  void outputs_stride2(const float* m) const {
    const auto& AT = WinogradStride2::AT;
    const Index Kb = y->blocks(), Kp = Kb * kChannelBlock, OH = y->height, OW = y->width, stride = Kb * T * kChannelBlock;
    for (Index kb = kb_begin; kb < kb_end; ++kb)
      for (Index t = 0; t < count; ++t) {
        const float* in = m + (kb * T + t) * kChannelBlock;
        const Index tile = first + t, h0 = tile / tiles_w * 4, w0 = tile % tiles_w * 4;
        const float* s = scale ? scale + n * Kp + kb * kChannelBlock : nullptr;
        float cols[5][4][16];  // M_ee A + M_eo
        for (int i = 0; i < 5; ++i)
          for (int b = 0; b < 4; ++b)
            for (int k = 0; k < 16; ++k) {
              float sum = in[(25 + 4 * i + b) * stride + k];
              for (int j = 0; j < 5; ++j) sum += in[(5 * i + j) * stride + k] * AT[b][j];
              cols[i][b][k] = sum;
            }
        for (Index a = 0; a < 4 && h0 + a < OH; ++a)
          for (Index b = 0; b < 4 && w0 + b < OW; ++b) {
            float o[16];
            for (int k = 0; k < 16; ++k) {
              float sum = in[(65 + 4 * a + b) * stride + k];
              for (int i = 0; i < 5; ++i) sum += AT[a][i] * cols[i][b][k] + in[(45 + 5 * a + i) * stride + k] * AT[b][i];
              o[k] = sum;
            }
            winograd_store_pixel(o, bias + kb * kChannelBlock, s, res->data ? res->at(n, kb, h0 + a, w0 + b) : nullptr,
                                 act, y->at(n, kb, h0 + a, w0 + b));
          }
      }
  }
};

/// The portable transforms of F(M x M, 3x3) (`S` 1) or of the stride-2 form (`S` 2, `M` 4).
template <int M, int S>
void winograd_inputs_portable(const WinogradChunk& c, float* v) {
  if constexpr (S == 2)
    c.inputs_stride2(v);
  else
    c.inputs<M>(v);
}
template <int M, int S>
void winograd_outputs_portable(const WinogradChunk& c, const float* m) {
  if constexpr (S == 2)
    c.outputs_stride2(m);
  else
    c.outputs<M>(m);
}

#if SENET_X86_SIMD
// The AVX-512 transforms keep a tile's vectors in registers and apply each 1-D transform once per
// row and once per column (the portable loops, left to the compiler, take ~4x as long).

/// `r = B^T d` for N vectors of 16 channels.
template <int M>
SENET_TARGET_AVX512 __attribute__((always_inline)) inline void winograd_bt_avx512(const __m512 (&d)[M + 2],
                                                                                    __m512 (&r)[M + 2]) {
  if constexpr (M == 4) {
    const __m512 two = _mm512_set1_ps(2.0f), four = _mm512_set1_ps(4.0f), five = _mm512_set1_ps(5.0f);
    const __m512 s12 = _mm512_add_ps(d[1], d[2]), d12 = _mm512_sub_ps(d[1], d[2]);
    const __m512 d42 = _mm512_sub_ps(d[4], d[2]), d31 = _mm512_sub_ps(d[3], d[1]);
    r[0] = _mm512_fmadd_ps(four, d[0], _mm512_fnmadd_ps(five, d[2], d[4]));
    r[1] = _mm512_fnmadd_ps(four, s12, _mm512_add_ps(d[3], d[4]));
    r[2] = _mm512_fmadd_ps(four, d12, _mm512_sub_ps(d[4], d[3]));
    r[3] = _mm512_fmadd_ps(two, d31, d42);
    r[4] = _mm512_fnmadd_ps(two, d31, d42);
    r[5] = _mm512_fmadd_ps(four, d[1], _mm512_fnmadd_ps(five, d[3], d[5]));
  } else {
    r[0] = _mm512_sub_ps(d[0], d[2]);
    r[1] = _mm512_add_ps(d[1], d[2]);
    r[2] = _mm512_sub_ps(d[2], d[1]);
    r[3] = _mm512_sub_ps(d[1], d[3]);
  }
}

/// `o = A^T m` for N vectors of 16 channels.
template <int M>
SENET_TARGET_AVX512 __attribute__((always_inline)) inline void winograd_at_avx512(const __m512 (&m)[M + 2],
                                                                                    __m512 (&o)[M]) {
  if constexpr (M == 4) {
    const __m512 s12 = _mm512_add_ps(m[1], m[2]), d12 = _mm512_sub_ps(m[1], m[2]);
    const __m512 s34 = _mm512_add_ps(m[3], m[4]), d34 = _mm512_sub_ps(m[3], m[4]);
    o[0] = _mm512_add_ps(_mm512_add_ps(m[0], s12), s34);
    o[1] = _mm512_fmadd_ps(_mm512_set1_ps(2.0f), d34, d12);
    o[2] = _mm512_fmadd_ps(_mm512_set1_ps(4.0f), s34, s12);
    o[3] = _mm512_add_ps(_mm512_fmadd_ps(_mm512_set1_ps(8.0f), d34, d12), m[5]);
  } else {
    o[0] = _mm512_add_ps(_mm512_add_ps(m[0], m[1]), m[2]);
    o[1] = _mm512_sub_ps(_mm512_sub_ps(m[1], m[2]), m[3]);
  }
}

/// An `N` x `N` input window of a tile from `(h0, w0)` (padded coordinates: may start outside the
/// image): each row's and column's offset, clamped into the image, and whether it lies inside.
/// Pixels outside load as zeros through masked loads from a clamped address, so border tiles run
/// the same code as interior ones.
template <int N>
struct WinogradWindow {
  Index row[N], col[N];
  __mmask16 row_ok[N], col_ok[N];
  WinogradWindow(const FeatureView& x, Index h0, Index w0) {
    for (Index i = 0; i < N; ++i) {
      const Index h = h0 + i, w = w0 + i;
      row[i] = (std::clamp<Index>(h, 0, x.height - 1) + x.border) * x.row_stride();
      col[i] = (std::clamp<Index>(w, 0, x.width - 1) + x.border) * kChannelBlock;
      row_ok[i] = h >= 0 && h < x.height ? 0xFFFF : 0;
      col_ok[i] = w >= 0 && w < x.width ? 0xFFFF : 0;
    }
  }
  /// Pixel `(i, j)` of the window in the channel block at `base`.
  SENET_TARGET_AVX512 __attribute__((always_inline)) __m512 load(const float* base, int i, int j) const {
    return _mm512_maskz_loadu_ps(row_ok[i] & col_ok[j], base + row[i] + col[j]);
  }
  /// Prefetches columns `from` .. `N - 1` of every row (one line per pixel) in the block at `base`.
  __attribute__((always_inline)) void prefetch(const float* base, int from) const {
    for (int i = 0; i < N; ++i)
      for (int j = from; j < N; ++j) __builtin_prefetch(base + row[i] + col[j], 0, 3);
  }
};

/// The window a chunk's input transform prefetches while it transforms tile `tile`: tile
/// `tile + kWinogradAhead`'s (none past the image's last tile), whose new columns it loads per
/// channel block. A window spans 6 (F(4x4)) to 9 (stride 2) rows of every channel block, more lines
/// than the hardware prefetcher follows, so a cold input (in memory, or in the other core's cache
/// on 2 threads) arrived at latency. Measured (a /tmp probe, SE-ResNet-50's 64-channel 3x3 at
/// 56 x 56, input, output and weights not in cache): 342 -> 268 us on 2 threads, 634 -> 510 us on
/// one; ~1-2% on an input in cache. SE-ResNet-50 on 2 threads (`senet bench --profile`, 6
/// alternating rounds, with the output prefetch of `WinogradBlockOutput`): its 12 Winograd 3x3s
/// 5.83 -> 5.25 ms, each one faster, the network 0.97x (bf16 0.97x).
constexpr Index kWinogradAhead = 2;
template <int N>
WinogradWindow<N> winograd_ahead_window(const WinogradChunk& c, Index tile, Index M, Index S, bool& ahead) {
  const Index next = tile + kWinogradAhead, tiles_h = (c.y->height + M - 1) / M;
  ahead = next < tiles_h * c.tiles_w;
  return WinogradWindow<N>(*c.x, next / c.tiles_w * M * S - c.p->pad_h, next % c.tiles_w * M * S - c.p->pad_w);
}

/// Where a chunk's output block `kb` goes, and its epilogue (`Conv2dEpilogue`'s terms).
struct WinogradBlockOutput {
  const float *bias, *scale, *res;
  float* y;
  Index y_row, res_row;
  Activation act;
  WinogradBlockOutput(const WinogradChunk& c, Index kb)
      : bias(c.bias + kb * kChannelBlock),
        scale(c.scale ? c.scale + c.n * c.y->blocks() * kChannelBlock + kb * kChannelBlock : nullptr),
        res(c.res->data ? c.res->at(c.n, kb, 0, 0) : nullptr),
        y(c.y->at(c.n, kb, 0, 0)),
        y_row(c.y->row_stride()),
        res_row(c.res->row_stride()),
        act(c.act) {}
  /// Prefetches, for writing, the output pixels of chunk tile `t` + `kWinogradAhead` of an `M` x `M`
  /// tiling (and its residual): lines a cold output would otherwise fetch at each store. Measured
  /// in SE-ResNet-50 (`senet bench --profile`, 2 threads, 5 alternating rounds), layer1's 3x3s
  /// beside the input prefetch alone: 0.33-0.37 -> 0.29-0.34 ms.
  __attribute__((always_inline)) void prefetch(const WinogradChunk& c, Index t, Index M) const {
    if (t + kWinogradAhead >= c.count) return;  // the next chunk's tiles may be another thread's
    const Index tile = c.first + t + kWinogradAhead, h0 = tile / c.tiles_w * M, w0 = tile % c.tiles_w * M;
    const Index rows = std::min<Index>(M, c.y->height - h0), cols = std::min<Index>(M, c.y->width - w0);
    for (Index i = 0; i < rows; ++i)
      for (Index j = 0; j < cols; ++j) {
        __builtin_prefetch(y + (h0 + i) * y_row + (w0 + j) * kChannelBlock, 1, 3);
        if (res) __builtin_prefetch(res + (h0 + i) * res_row + (w0 + j) * kChannelBlock, 0, 3);
      }
  }
  /// `y[h][w] = act((o + bias) * scale + res[h][w])` for one pixel's 16 channels.
  SENET_TARGET_AVX512 __attribute__((always_inline)) void store(Index h, Index w, __m512 o) const {
    __m512 value = _mm512_add_ps(o, _mm512_loadu_ps(bias));
    if (scale) value = _mm512_mul_ps(value, _mm512_loadu_ps(scale));
    if (res) value = _mm512_add_ps(value, _mm512_loadu_ps(res + h * res_row + w * kChannelBlock));
    float* dst = y + h * y_row + w * kChannelBlock;
    if (act == Activation::relu) value = _mm512_max_ps(value, _mm512_setzero_ps());
    _mm512_storeu_ps(dst, value);
    if (act != Activation::relu && act != Activation::none) activate_inplace(dst, kChannelBlock, act);
  }
};

/// `WinogradChunk::inputs`.
template <int M>
SENET_TARGET_AVX512 void winograd_inputs_avx512(const WinogradChunk& c, float* v) {
  constexpr int N = M + 2;
  const FeatureView& x = *c.x;
  const Index Cb = x.blocks(), stride = Cb * c.T * kChannelBlock;
  for (Index t = 0; t < c.count; ++t) {
    const Index tile = c.first + t;
    const WinogradWindow<N> window(x, tile / c.tiles_w * M - c.p->pad_h, tile % c.tiles_w * M - c.p->pad_w);
    bool ahead;
    const WinogradWindow<N> next = winograd_ahead_window<N>(c, tile, M, 1, ahead);
    for (Index cb = 0; cb < Cb; ++cb) {
      const float* base = x.data + (c.n * Cb + cb) * x.block_stride();
      if (ahead) next.prefetch(base, N - M);
      __m512 rows[N][N];
      for (int i = 0; i < N; ++i) {
        __m512 d[N];
        for (int j = 0; j < N; ++j) d[j] = window.load(base, i, j);
        winograd_bt_avx512<M>(d, rows[i]);  // d B: along the row
      }
      float* out = v + (cb * c.T + t) * kChannelBlock;
      for (int j = 0; j < N; ++j) {
        __m512 d[N], r[N];
        for (int i = 0; i < N; ++i) d[i] = rows[i][j];
        winograd_bt_avx512<M>(d, r);  // B^T (d B): along the column
        for (int i = 0; i < N; ++i) _mm512_storeu_ps(out + (N * i + j) * stride, r[i]);
      }
    }
  }
}

/// `r = B^T d` for the stride-2 form's 5 vectors of 16 channels (`WinogradStride2::BT`).
SENET_TARGET_AVX512 __attribute__((always_inline)) inline void winograd_stride2_bt_avx512(const __m512 (&d)[5],
                                                                                          __m512 (&r)[5]) {
  const __m512 two = _mm512_set1_ps(2.0f), three = _mm512_set1_ps(3.0f);
  const __m512 d31 = _mm512_sub_ps(d[3], d[1]);
  r[0] = _mm512_add_ps(_mm512_fmsub_ps(two, _mm512_sub_ps(d[0], d[2]), d[1]), d[3]);
  r[1] = _mm512_sub_ps(_mm512_fnmadd_ps(two, d[1], d[3]), d[2]);
  r[2] = _mm512_fnmadd_ps(three, d[2], _mm512_fmadd_ps(two, d[1], d[3]));
  r[3] = d31;
  r[4] = _mm512_fnmadd_ps(two, d31, _mm512_sub_ps(d[4], d[2]));
}

/// `o = A^T m` for the stride-2 form's 5 vectors (`WinogradStride2::AT`).
SENET_TARGET_AVX512 __attribute__((always_inline)) inline void winograd_stride2_at_avx512(const __m512 (&m)[5],
                                                                                          __m512 (&o)[4]) {
  const __m512 s12 = _mm512_add_ps(m[1], m[2]), d12 = _mm512_sub_ps(m[1], m[2]);
  o[0] = _mm512_add_ps(_mm512_add_ps(m[0], s12), m[3]);
  o[1] = _mm512_fmadd_ps(_mm512_set1_ps(2.0f), m[3], d12);
  o[2] = _mm512_fmadd_ps(_mm512_set1_ps(4.0f), m[3], s12);
  o[3] = _mm512_add_ps(_mm512_fmadd_ps(_mm512_set1_ps(8.0f), m[3], d12), m[4]);
}

/// `WinogradChunk::inputs_stride2`.
SENET_TARGET_AVX512 void winograd_stride2_inputs_avx512(const WinogradChunk& c, float* v) {
  const FeatureView& x = *c.x;
  const Index Cb = x.blocks(), stride = Cb * c.T * kChannelBlock;
  for (Index t = 0; t < c.count; ++t) {
    const Index tile = c.first + t;
    const WinogradWindow<9> window(x, tile / c.tiles_w * 8 - c.p->pad_h, tile % c.tiles_w * 8 - c.p->pad_w);
    bool ahead;
    const WinogradWindow<9> next = winograd_ahead_window<9>(c, tile, 4, 2, ahead);
    for (Index cb = 0; cb < Cb; ++cb) {
      const float* base = x.data + (c.n * Cb + cb) * x.block_stride();
      if (ahead) next.prefetch(base, 1);
      float* out = v + (cb * c.T + t) * kChannelBlock;
      __m512 ee[5][5];  // even rows and columns: e B, then B^T (e B)
      for (int a = 0; a < 5; ++a) {
        __m512 d[5];
        for (int b = 0; b < 5; ++b) d[b] = window.load(base, 2 * a, 2 * b);
        winograd_stride2_bt_avx512(d, ee[a]);
      }
      for (int j = 0; j < 5; ++j) {
        __m512 d[5], r[5];
        for (int a = 0; a < 5; ++a) d[a] = ee[a][j];
        winograd_stride2_bt_avx512(d, r);
        for (int i = 0; i < 5; ++i) _mm512_storeu_ps(out + (5 * i + j) * stride, r[i]);
      }
      for (int b = 0; b < 4; ++b) {  // even rows, odd columns: B^T d
        __m512 d[5], r[5];
        for (int a = 0; a < 5; ++a) d[a] = window.load(base, 2 * a, 2 * b + 1);
        winograd_stride2_bt_avx512(d, r);
        for (int i = 0; i < 5; ++i) _mm512_storeu_ps(out + (25 + 4 * i + b) * stride, r[i]);
      }
      for (int a = 0; a < 4; ++a) {  // odd rows, even columns: d B
        __m512 d[5], r[5];
        for (int b = 0; b < 5; ++b) d[b] = window.load(base, 2 * a + 1, 2 * b);
        winograd_stride2_bt_avx512(d, r);
        for (int j = 0; j < 5; ++j) _mm512_storeu_ps(out + (45 + 5 * a + j) * stride, r[j]);
      }
      for (int a = 0; a < 4; ++a)
        for (int b = 0; b < 4; ++b) _mm512_storeu_ps(out + (65 + 4 * a + b) * stride, window.load(base, 2 * a + 1, 2 * b + 1));
    }
  }
}

/// `WinogradChunk::outputs_stride2`.
SENET_TARGET_AVX512 void winograd_stride2_outputs_avx512(const WinogradChunk& c, const float* m) {
  const Index Kb = c.y->blocks(), T = c.T, stride = Kb * T * kChannelBlock;
  for (Index kb = c.kb_begin; kb < c.kb_end; ++kb) {
    const WinogradBlockOutput block(c, kb);
    for (Index t = 0; t < c.count; ++t) {
      const float* in = m + (kb * T + t) * kChannelBlock;
      __m512 rows[5][4];  // M_ee A
      for (int i = 0; i < 5; ++i) {
        __m512 r[5];
        for (int j = 0; j < 5; ++j) r[j] = _mm512_loadu_ps(in + (5 * i + j) * stride);
        winograd_stride2_at_avx512(r, rows[i]);
      }
      __m512 out[4][4];
      for (int b = 0; b < 4; ++b) {  // A^T (M_ee A + M_eo)
        __m512 r[5], o[4];
        for (int i = 0; i < 5; ++i) r[i] = _mm512_add_ps(rows[i][b], _mm512_loadu_ps(in + (25 + 4 * i + b) * stride));
        winograd_stride2_at_avx512(r, o);
        for (int a = 0; a < 4; ++a) out[a][b] = o[a];
      }
      for (int a = 0; a < 4; ++a) {  // + M_oe A + M_oo
        __m512 r[5], o[4];
        for (int j = 0; j < 5; ++j) r[j] = _mm512_loadu_ps(in + (45 + 5 * a + j) * stride);
        winograd_stride2_at_avx512(r, o);
        for (int b = 0; b < 4; ++b)
          out[a][b] = _mm512_add_ps(_mm512_add_ps(out[a][b], o[b]), _mm512_loadu_ps(in + (65 + 4 * a + b) * stride));
      }
      const Index tile = c.first + t, h0 = tile / c.tiles_w * 4, w0 = tile % c.tiles_w * 4;
      block.prefetch(c, t, 4);
      for (Index a = 0; a < std::min<Index>(4, c.y->height - h0); ++a)
        for (Index b = 0; b < std::min<Index>(4, c.y->width - w0); ++b) block.store(h0 + a, w0 + b, out[a][b]);
    }
  }
}

/// `WinogradChunk::outputs`.
template <int M>
SENET_TARGET_AVX512 void winograd_outputs_avx512(const WinogradChunk& c, const float* m) {
  constexpr int N = M + 2;
  const Index Kb = c.y->blocks(), T = c.T, stride = Kb * T * kChannelBlock;
  for (Index kb = c.kb_begin; kb < c.kb_end; ++kb) {
    const WinogradBlockOutput block(c, kb);
    for (Index t = 0; t < c.count; ++t) {
      const float* in = m + (kb * T + t) * kChannelBlock;
      __m512 rows[N][M];
      for (int i = 0; i < N; ++i) {
        __m512 r[N];
        for (int j = 0; j < N; ++j) r[j] = _mm512_loadu_ps(in + (N * i + j) * stride);
        winograd_at_avx512<M>(r, rows[i]);  // m A: along the row
      }
      const Index tile = c.first + t, h0 = tile / c.tiles_w * M, w0 = tile % c.tiles_w * M;
      const Index out_rows = std::min<Index>(M, c.y->height - h0), out_cols = std::min<Index>(M, c.y->width - w0);
      block.prefetch(c, t, M);
      for (Index j = 0; j < out_cols; ++j) {
        __m512 r[N], o[M];
        for (int i = 0; i < N; ++i) r[i] = rows[i][j];
        winograd_at_avx512<M>(r, o);  // A^T (m A): along the column
        for (Index i = 0; i < out_rows; ++i) block.store(h0 + i, w0 + j, o[i]);
      }
    }
  }
}
#endif

/// `conv2d_winograd_nchw16c` for F(M x M, 3x3) (`S` 1) or the stride-2 form (`S` 2, `M` 4), its
/// arguments checked.
template <int M, int S>
void conv2d_winograd(const FeatureView& x, const WinogradConv2dWeights& w, const Conv2dParams& p,
                     const Conv2dEpilogue& epilogue, const FeatureView& y, Conv2dPath path) {
  constexpr int Points = S == 2 ? WinogradStride2::kProducts : (M + 2) * (M + 2);
  const FeatureView& r = epilogue.residual;
  const Index N = x.batch, Cb = x.blocks(), Kb = y.blocks(), Kp = Kb * kChannelBlock, OH = y.height, OW = y.width;
  const Index tiles_w = (OW + M - 1) / M, tiles = (OH + M - 1) / M * tiles_w;

  // The products' register tiles: 1x1 tiles of `conv2d_nchw16c` on the transformed tiles (bf16
  // tiles round them to bfloat16 as they read them).
  const bool bf16 = w.precision() == ConvPrecision::bf16;
  std::array<Conv16cTileFn, kAvx512MaxPixels> table[2] = {};
  int P = kPortablePixels, V = 1;
  if (path == Conv2dPath::avx512) {
    using Seq = std::make_integer_sequence<int, kAvx512MaxPixels>;
    table[0] = bf16 ? avx512_bf16_tile_row<1, 1>(Seq{}) : avx512_tile_row<1, 1>(Seq{});
    table[1] = bf16 ? avx512_bf16_tile_row<1, 2>(Seq{}) : avx512_tile_row<1, 2>(Seq{});
    P = kAvx512MaxPixels;
    V = 2;
  } else if (path == Conv2dPath::avx2) {
    const auto row = avx2_tile_row<1>(std::make_integer_sequence<int, kAvx2Pixels>{});
    std::copy(row.begin(), row.end(), table[0].begin());
    P = kAvx2Pixels;
  } else {
    const auto row = bf16 ? portable_bf16_tile_row(std::make_integer_sequence<int, kPortablePixels>{})
                          : portable_tile_row(std::make_integer_sequence<int, kPortablePixels>{});
    std::copy(row.begin(), row.end(), table[0].begin());
  }

  const PackedConv2dWeights& w0 = w.positions[0];
  const Index bw = w0.block_width, halves = bw / kChannelBlock, rows = Cb * kChannelBlock;
  // Chunks: as many tiles as keep the chunk's transformed inputs and products within the core's L2
  // size, at least one row of register tiles, and at least one chunk per thread. Every chunk reads
  // all the weights, so no more chunks than that. Measured on SE-ResNet-50 (`senet bench
  // --profile`, 1 thread): on Zen 5 (1 MB of L2) chunks of 0.5 MB ran its 3x3s 1.07-1.17x slower
  // than 1 MB, 2 MB even; on an Intel Xeon with 2 MB, 2 MB against 1 MB took the 28 x 28 stage's
  // 3x3s from 0.71-0.89 to 0.61-0.69 ms and the 14 x 14 stage's from 1.14-1.42 to 0.92-1.27 ms.
  const Index per_tile = Points * (Cb + Kb) * kChannelBlock * Index(sizeof(float));
  const Index l2 = l2_cache_bytes(), most = std::max<Index>(P, l2 / per_tile / P * P);
  const bool weights_beyond_l2 = w.bytes() > l2;
  const Index threads = in_parallel_region() ? 1 : Index(num_threads());
  Index chunks = (tiles + most - 1) / most, parts = 1, part_blocks = Kb;
  const Index weight_blocks = (Kb + halves - 1) / halves;
  const Index image_inputs = Points * Cb * tiles * kChannelBlock * Index(sizeof(float));  // transformed
  if (threads > 1 && weights_beyond_l2 && w.bytes() >= 4 * image_inputs && N * chunks < 2 * threads &&
      weight_blocks >= 2) {
    // Weights beyond L2 come from L3 or memory once per chunk and thread. Where they outweigh an
    // image's transformed inputs several times and the chunks are few (a small image at batch 1),
    // the threads split the output blocks instead: each reads its part of the weights and
    // transforms the chunk's input itself (chunks of up to twice the L2 size of transformed inputs
    // and products). Measured on SE-ResNet-50 on 2 threads (`senet bench --profile`, 6 alternating
    // rounds, twice): its F(2x2) 3x3s at 14 x 14 (4.2 MB of weights, 5 x 0.8 MB) 0.41-0.44 ->
    // 0.39-0.40 ms and 0.44-0.51 -> 0.41-0.47 ms; the F(4x4) ones at 28 x 28 (2.4 MB, 2.6 x 0.9 MB)
    // went from 0.24-0.28 to 0.30-0.37 ms, so not those.
    parts = std::min(threads, weight_blocks);
    part_blocks = (weight_blocks + parts - 1) / parts * halves;
    const Index per_part_tile = Points * (Cb + part_blocks) * kChannelBlock * Index(sizeof(float));
    const Index most_part = std::max<Index>(P, 2 * l2 / per_part_tile / P * P);
    chunks = (tiles + most_part - 1) / most_part;
  } else if (N * chunks < threads) {
    chunks = std::min((tiles + P - 1) / P, (threads + N - 1) / N);
  }
  const Index T = (tiles + chunks - 1) / chunks;

  const float* bias = padded_bias(epilogue.bias, w.out_channels, Kp);
  static thread_local Scratch zeros;  // the products' bias: none (the epilogue adds the real one)
  float* no_bias = zeros.get(Kp);
  std::fill(no_bias, no_bias + Kp, 0.0f);
  Conv16cGeom g;
  g.Cb = Cb;
  g.kh = g.kw = 1;
  g.x_cb = T * kChannelBlock;
  g.x_pix = kChannelBlock;
  g.y_kb = T * kChannelBlock;
  // Weight offsets count elements (bf16 blocks start where fp32 ones do); the second 16 outputs
  // of a 32-wide block are 16 elements into each fp32 row, 32 into a bf16 pair row.
  const Index w_bytes = bf16 ? Index(sizeof(std::uint16_t)) : Index(sizeof(float)), half_offset = bf16 ? 32 : 16;
  auto position_data = [&](Index pos) -> const char* {
    const PackedConv2dWeights& wp = w.positions[std::size_t(S == 2 ? WinogradStride2::matrix_of(int(pos)) : pos)];
    return bf16 ? reinterpret_cast<const char*>(wp.data_bf16.data()) : reinterpret_cast<const char*>(wp.data.data());
  };
  const Index last_block = (Kb - 1) / halves, blocks = last_block + 1;
  g.Kp = bw;
  Conv16cGeom g_last = g;
  g_last.Kp = Kp - last_block * bw;
  const bool avx512 = path == Conv2dPath::avx512;
  // Weights larger than L2 come from L3 or memory on every chunk, a slice (one position's output
  // block: `rows` x `bw`) at a time; the tiles on a slice prefetch the next one, each its share,
  // spread over its input blocks (AVX-512 tiles).
  const bool prefetch = avx512 && weights_beyond_l2;
  const Index slice_lines = rows * bw * w_bytes / 64;

  // Items: the parts outermost, so that each thread keeps to its part of the weights.
  run_in_thread_ranges(parts * N * chunks, [&](Index begin, Index end) {
    SharedScratch& scratch = shared_scratch();
    float* v = scratch.first.get(Points * Cb * T * kChannelBlock);
    float* m = scratch.second.get(Points * Kb * T * kChannelBlock);
    for (Index item = begin; item < end; ++item) {
      const Index part = item / (N * chunks), n = item / chunks % N, first = item % chunks * T;
      const Index count = std::min(T, tiles - first), kb_begin = part * part_blocks;
      const Index kb_end = std::min(Kb, kb_begin + part_blocks);
      if (count <= 0 || kb_begin >= kb_end) continue;
      const WinogradChunk chunk{&x, &y, &r, &p, bias, epilogue.scale, epilogue.activation,
                                tiles_w, n, first, count, T, kb_begin, kb_end};
#if SENET_X86_SIMD
      if (!avx512)
        winograd_inputs_portable<M, S>(chunk, v);
      else if constexpr (S == 2)
        winograd_stride2_inputs_avx512(chunk, v);
      else
        winograd_inputs_avx512<M>(chunk, v);
#else
      winograd_inputs_portable<M, S>(chunk, v);
#endif
      const Index pixels_per_call = balanced_tile_pixels(count, P), calls = (count + pixels_per_call - 1) / pixels_per_call;
      const Index share_lines = (slice_lines + calls - 1) / calls;  // of the next slice, per tile
      for (Index pos = 0; pos < Points; ++pos) {
        const char* wp = position_data(pos);
        for (Index kb = kb_begin; kb < kb_end; kb += V) {
          const Index vectors = std::min<Index>(V, kb_end - kb), block = kb / halves;
          const Conv16cGeom& gt = block == last_block ? g_last : g;
          const char* wt = wp + (block * bw * rows + (kb % halves) * half_offset) * w_bytes;
          // the part's next slice: the next block, or the next position's first
          const Index next = (kb + V < kb_end ? pos : pos + 1) * blocks + (kb + V < kb_end ? block + 1 : kb_begin / halves);
          const char* next_slice = prefetch && (kb + V) % halves == 0 && next < Points * blocks
                                       ? position_data(next / blocks) + next % blocks * bw * rows * w_bytes
                                       : nullptr;
          for (Index t = 0, call = 0; t < count; t += pixels_per_call, ++call) {
            const Index pixels = std::min(pixels_per_call, count - t);
            Conv16cGeom tile_geom = gt;
            if (next_slice) {
              tile_geom.prefetch = next_slice + call * share_lines * 64;
              tile_geom.prefetch_lines = std::min(share_lines, slice_lines - call * share_lines) / Cb + 1;
            }
            table[vectors - 1][pixels - 1](tile_geom, v + (pos * Cb * T + t) * kChannelBlock, wt, no_bias, nullptr,
                                           nullptr, m + ((pos * Kb + kb) * T + t) * kChannelBlock);
          }
        }
      }
#if SENET_X86_SIMD
      if (!avx512)
        winograd_outputs_portable<M, S>(chunk, m);
      else if constexpr (S == 2)
        winograd_stride2_outputs_avx512(chunk, m);
      else
        winograd_outputs_avx512<M>(chunk, m);
#else
      winograd_outputs_portable<M, S>(chunk, m);
#endif
    }
  });
}

}  // namespace detail

/// `conv2d_nchw16c` for a 3x3, stride-1 convolution (`winograd_applies(p)`) on Winograd weights
/// (stride 2, `winograd_stride2_applies(p)`, on weights packed with `stride` 2):
/// the same views, epilogue and border rules (`y`'s border is zeroed; `x`'s border is not read,
/// the padding is taken as zeros), the same result up to rounding. `path`: for FP32 weights an FP32
/// path, for bf16 ones `avx512` (with AVX512_BF16) or `portable` (`automatic`: the best this CPU has
/// of those); the transforms are vectorised on `avx512`.
inline void conv2d_winograd_nchw16c(const FeatureView& x, const WinogradConv2dWeights& w, const Conv2dParams& p,
                                    const Conv2dEpilogue& epilogue, const FeatureView& y,
                                    Conv2dPath path = Conv2dPath::automatic) {
  if (w.stride == 2) {
    SENET_CHECK(winograd_stride2_applies(p), "conv2d_winograd_nchw16c: stride-2 weights need a 3x3, stride-2, "
                                             "undilated, ungrouped convolution with padding <= 2");
    SENET_CHECK(Index(w.positions.size()) == detail::WinogradStride2::kMatrices && w.tile == 4 &&
                    w.precision() == ConvPrecision::fp32,
                "conv2d_winograd_nchw16c: stride-2 weights with ", w.positions.size(), " matrices");
  } else {
    SENET_CHECK(winograd_applies(p), "conv2d_winograd_nchw16c: needs a 3x3, stride-1, undilated, ungrouped "
                                     "convolution with padding <= 2");
    SENET_CHECK(w.stride == 1 && Index(w.positions.size()) == (w.tile + 2) * (w.tile + 2) && (w.tile == 4 || w.tile == 2),
                "conv2d_winograd_nchw16c: weights of F(", w.tile, "x", w.tile, ", 3x3) with ", w.positions.size(),
                " positions");
  }
  SENET_CHECK(!w.empty() && x.channels == w.in_channels, "conv2d_winograd_nchw16c: input has ", x.channels,
              " channels, the weights expect ", w.in_channels);
  const auto [OH, OW] = conv2d_output_size(x.height, x.width, p);
  detail::check_output_view("conv2d_winograd_nchw16c", y, {nullptr, x.batch, w.out_channels, OH, OW, 0});
  const FeatureView& r = epilogue.residual;
  SENET_CHECK(!r.data || (r.same_image(y) && r.border == y.border),
              "conv2d_winograd_nchw16c: the residual must match the output's image and border");
  path = resolve_conv2d_path(path, w.precision());
  if (w.precision() == ConvPrecision::bf16)
    SENET_CHECK((path == Conv2dPath::avx512 || path == Conv2dPath::portable) && conv2d_path_supported(path, w.precision()),
                "conv2d_winograd_nchw16c: bf16 weights run on the avx512 (with AVX512_BF16) or portable path, not ",
                to_string(path));
  else
    SENET_CHECK(path != Conv2dPath::amx, "conv2d_winograd_nchw16c: the amx path runs bf16 weights only");
  if (w.stride == 2)
    detail::conv2d_winograd<4, 2>(x, w, p, epilogue, y, path);
  else if (w.tile == 4)
    detail::conv2d_winograd<4, 1>(x, w, p, epilogue, y, path);
  else
    detail::conv2d_winograd<2, 1>(x, w, p, epilogue, y, path);
  zero_border(y);
}

}  // namespace senet
