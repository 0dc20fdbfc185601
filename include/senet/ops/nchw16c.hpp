#pragma once
/// \file nchw16c.hpp
/// The channel-blocked activation layout of senet's fast engine, shared by its kernels:
/// `NCHW16c` tensors and bordered views, the layout conversions, and the CPU dispatch
/// (`Conv2dPath`) every blocked kernel follows.
///
/// Layout: a `Tensor<float>` of shape `[N, Cb, H, W, 16]`, `Cb = ceil(C / 16)`; element `(n, c, h, w)`
/// lives at `[n][c / 16][h][w][c % 16]`. Channels `C..16*Cb-1` are zero when `to_nchw16c` writes
/// them (the kernels never depend on it: packed weights are zero there). The 16 lanes of an
/// AVX-512 vector are 16 channels of one pixel.

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <memory>
#include <new>

#include "senet/core/error.hpp"
#include "senet/core/tensor.hpp"
#include "senet/core/threading.hpp"
#include "senet/ops/activation.hpp"

#ifdef _OPENMP
#include <omp.h>
#endif

#if (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__))
#define SENET_X86_SIMD 1
#include <immintrin.h>
#define SENET_TARGET_AVX512 __attribute__((target("avx512f,avx512bw,avx512dq,avx512vl,fma")))
#define SENET_TARGET_AVX2 __attribute__((target("avx2,fma")))
#define SENET_TARGET_AVX512_BF16 __attribute__((target("avx512f,avx512bw,avx512dq,avx512vl,avx512bf16,fma")))
#define SENET_TARGET_AMX_BF16 \
  __attribute__((target("amx-tile,amx-bf16,avx512f,avx512bw,avx512dq,avx512vl,avx512bf16,fma")))
#include <cpuid.h>
#if defined(__linux__)
#include <sys/syscall.h>
#include <unistd.h>
#endif
#else
#define SENET_X86_SIMD 0
#endif

namespace senet {

/// Channels per block of the `NCHW16c` layout.
inline constexpr Index kChannelBlock = 16;

/// Number of 16-channel blocks holding `channels` channels.
inline Index channel_blocks(Index channels) { return (channels + kChannelBlock - 1) / kChannelBlock; }

/// The shape a packed convolution weight keeps of PyTorch's `[K, C, kh, kw]`, with its blocking.
struct PackedConvShape {
  Index out_channels = 0;  ///< K
  Index in_channels = 0;   ///< C
  Index kernel_h = 0, kernel_w = 0;

  Index in_blocks() const { return channel_blocks(in_channels); }
  Index out_blocks() const { return channel_blocks(out_channels); }
  Index padded_out() const { return out_blocks() * kChannelBlock; }

  /// The shape of `w` `[K, C, kh, kw]`; `packer` names the caller in the error for other ranks.
  static PackedConvShape of(const Tensor<float>& w, const char* packer) {
    SENET_CHECK(w.rank() == 4, packer, ": weight must be [K, C, kh, kw], got ", to_string(w.shape()));
    return {w.dim(0), w.dim(1), w.dim(2), w.dim(3)};
  }
};

/// Tile width for rows of `width` pixels and tiles of at most `max_pixels`: the fewest tiles, as
/// even as can be (13 with at most 6 -> 5 + 5 + 3, not 6 + 6 + 1; 49 with 14 -> 4 x 13).
inline Index balanced_tile_pixels(Index width, Index max_pixels) {
  const Index tiles = (width + max_pixels - 1) / max_pixels;
  return (width + tiles - 1) / tiles;
}

/// A non-owning view of `batch` feature maps of `channels` x `height` x `width` in `NCHW16c`,
/// framed by `border` pixels on every side: the buffer is
/// `[batch, ceil(channels / 16), height + 2 border, width + 2 border, 16]` and pixel `(h, w)` of the
/// image sits at `(h + border, w + border)`. A convolution whose padding fits in its input's border
/// reads the border as the padding (so it must hold zeros), and one that writes a bordered output
/// zeroes the border: the fast engine thus pads a 3x3 convolution's input without a copy.
struct FeatureView {
  float* data = nullptr;
  Index batch = 0, channels = 0, height = 0, width = 0, border = 0;

  Index blocks() const { return channel_blocks(channels); }
  Index padded_height() const { return height + 2 * border; }
  Index padded_width() const { return width + 2 * border; }
  /// Floats between two rows of pixels.
  Index row_stride() const { return padded_width() * kChannelBlock; }
  /// Floats between two channel blocks (one bordered plane).
  Index block_stride() const { return padded_height() * row_stride(); }
  /// Floats the view spans.
  Index size() const { return batch * blocks() * block_stride(); }
  /// Address of image pixel `(h, w)` (border pixels at -1, width, ...) of block `cb` of image `n`.
  float* at(Index n, Index cb, Index h, Index w) const {
    return data + (n * blocks() + cb) * block_stride() + (h + border) * row_stride() + (w + border) * kChannelBlock;
  }
  /// Whether `other` has the same batch, channels, height and width (borders may differ).
  bool same_image(const FeatureView& other) const {
    return batch == other.batch && channels == other.channels && height == other.height && width == other.width;
  }
};

namespace detail {
/// Throws unless `y` has data and `expected`'s batch, channels, height and width (any border);
/// `op` names the operation in the error.
inline void check_output_view(const char* op, const FeatureView& y, const FeatureView& expected) {
  SENET_CHECK(y.data != nullptr && y.border >= 0 && y.same_image(expected), op, ": output view must be ",
              expected.batch, " x ", expected.channels, " x ", expected.height, " x ", expected.width,
              " (N x C x H x W), got ", y.batch, " x ", y.channels, " x ", y.height, " x ", y.width,
              y.data ? "" : " without data");
}
}  // namespace detail

/// A border-free view of an `NCHW16c` tensor `[N, Cb, H, W, 16]` holding `channels` channels
/// (default: all `16 Cb`).
inline FeatureView view_nchw16c(Tensor<float>& x, Index channels = -1) {
  SENET_CHECK(x.rank() == 5 && x.dim(4) == kChannelBlock, "view_nchw16c: tensor must be [N, Cb, H, W, 16], got ",
              to_string(x.shape()));
  if (channels < 0) channels = x.dim(1) * kChannelBlock;
  SENET_CHECK(channel_blocks(channels) == x.dim(1), "view_nchw16c: ", channels, " channels do not fill ",
              to_string(x.shape()));
  return {x.data(), x.dim(0), channels, x.dim(2), x.dim(3), 0};
}
inline FeatureView view_nchw16c(const Tensor<float>& x, Index channels = -1) {
  return view_nchw16c(const_cast<Tensor<float>&>(x), channels);  // views are shallow; inputs are only read
}

/// Sets the border of `v` to zero (the image is left alone).
inline void zero_border(const FeatureView& v) {
  if (v.border == 0) return;
  const Index Hp = v.padded_height(), row = v.row_stride(), side = v.border * kChannelBlock;
  for (Index plane = 0; plane < v.batch * v.blocks(); ++plane) {
    float* p = v.data + plane * v.block_stride();
    std::memset(p, 0, sizeof(float) * std::size_t(v.border * row));
    std::memset(p + (Hp - v.border) * row, 0, sizeof(float) * std::size_t(v.border * row));
    for (Index h = v.border; h < Hp - v.border; ++h) {
      std::memset(p + h * row, 0, sizeof(float) * std::size_t(side));
      std::memset(p + h * row + row - side, 0, sizeof(float) * std::size_t(side));
    }
  }
}

/// The arithmetic of a convolution's packed weights (`pack_conv2d_weights_nchw16c`). Activations
/// stay FP32 in memory either way.
enum class ConvPrecision {
  fp32,  ///< FP32 weights, FP32 multiply-adds
  /// bfloat16 weights (rounded to nearest even when packed); each input is rounded to bfloat16 as
  /// the kernel reads it, and the exact products are summed in FP32 (AMX `tdpbf16ps`, or
  /// `vdpbf16ps` on AVX512_BF16: twice the FP32 FMA rate on Zen 5, half of it on the Intel CPU
  /// measured here, where AMX is the fast path), with 8 bits of mantissa in the factors.
  bf16,
};

/// `"fp32"`, `"bf16"`.
inline const char* to_string(ConvPrecision precision) { return precision == ConvPrecision::bf16 ? "bf16" : "fp32"; }

namespace detail {

/// `f` rounded to bfloat16 as `vcvtneps2bf16` rounds it: to nearest even, denormals to a zero of
/// their sign, NaN kept a (quiet) NaN, overflow to infinity.
inline std::uint16_t float_to_bf16(float f) {
  std::uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  if ((u & 0x7F800000u) == 0) return std::uint16_t((u >> 16) & 0x8000u);
  if ((u & 0x7FFFFFFFu) > 0x7F800000u) return std::uint16_t((u >> 16) | 0x0040u);
  return std::uint16_t((u + 0x7FFFu + ((u >> 16) & 1u)) >> 16);
}

/// The float a bfloat16 bit pattern stands for (exact).
inline float bf16_to_float(std::uint16_t h) {
  const std::uint32_t u = std::uint32_t(h) << 16;
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
}

}  // namespace detail

/// Which microkernel `conv2d_nchw16c` runs. The path names the instruction set; the packed
/// weights' `ConvPrecision` names the arithmetic. With bf16 weights (all paths compute the same up
/// to summation order): `amx` runs AMX tiles (`tdpbf16ps`; AMX-TILE, AMX-BF16 and the OS's leave
/// to use the tile state); `avx512` runs `vdpbf16ps` tiles and needs AVX512_BF16 besides AVX-512;
/// `portable` computes in FP32 on the bf16-rounded input and weights; `avx2` has no bf16 tiles.
/// fp32 weights cannot take `amx`. Other blocked kernels (stem, pooling) know only `avx512`,
/// `avx2` and `portable`.
enum class Conv2dPath {
  automatic,  ///< the best the CPU supports
  avx512,     ///< AVX-512F (with BW/DQ/VL) + FMA
  avx2,       ///< AVX2 + FMA
  portable,   ///< plain C++, no intrinsics
  /// AMX tiles (`tdpbf16ps`, Sapphire Rapids and later) for bf16 weights only; fp32 weights
  /// cannot take it.
  amx,
};

/// `"avx512"`, `"avx2"`, `"portable"`, `"automatic"`.
inline const char* to_string(Conv2dPath path) {
  switch (path) {
    case Conv2dPath::avx512:
      return "avx512";
    case Conv2dPath::avx2:
      return "avx2";
    case Conv2dPath::portable:
      return "portable";
    case Conv2dPath::amx:
      return "amx";
    default:
      return "automatic";
  }
}

namespace detail {
/// Whether the CPU has AMX-TILE and AMX-BF16 and the OS lets this process use the tile state
/// (Linux: asked for once, `ARCH_REQ_XCOMP_PERM`).
inline bool amx_bf16_usable() {
#if SENET_X86_SIMD && defined(__linux__) && defined(__x86_64__)
  static const bool usable = [] {
    unsigned a = 0, b = 0, c = 0, d = 0;
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d) || !((d >> 22) & 1) || !((d >> 24) & 1)) return false;
    return syscall(SYS_arch_prctl, 0x1023 /* ARCH_REQ_XCOMP_PERM */, 18 /* XFEATURE_XTILEDATA */) == 0;
  }();
  return usable;
#else
  return false;
#endif
}

/// Whether the CPU is Intel's (CPUID vendor "GenuineIntel"), for defaults measured to differ
/// between vendors.
inline bool cpu_is_intel() {
#if SENET_X86_SIMD
  static const bool intel = [] {
    unsigned a = 0, b = 0, c = 0, d = 0;
    return __get_cpuid(0, &a, &b, &c, &d) && b == 0x756e6547u && d == 0x49656e69u && c == 0x6c65746eu;
  }();
  return intel;
#else
  return false;
#endif
}

/// Bytes of L2 cache per core, as the CPU reports it (CPUID 0x80000006, which AMD and Intel both
/// fill in), within [512 KB, 4 MB]; 1 MB where it cannot be read.
inline Index l2_cache_bytes() {
  static const Index bytes = [] {
    Index reported = 0;
#if SENET_X86_SIMD
    unsigned a = 0, b = 0, c = 0, d = 0;
    if (__get_cpuid(0x80000000u, &a, &b, &c, &d) && a >= 0x80000006u && __get_cpuid(0x80000006u, &a, &b, &c, &d))
      reported = Index(c >> 16) << 10;
#endif
    return reported > 0 ? std::clamp<Index>(reported, Index(1) << 19, Index(4) << 20) : Index(1) << 20;
  }();
  return bytes;
}
}  // namespace detail

/// Whether this build and this CPU can run `path` on weights of `precision` (`automatic` and
/// `portable` always can; bf16 on `avx512` needs AVX512_BF16 too, and `avx2` cannot).
inline bool conv2d_path_supported(Conv2dPath path, ConvPrecision precision = ConvPrecision::fp32) {
#if SENET_X86_SIMD
  switch (path) {
    case Conv2dPath::avx512:
      return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
             __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("fma") &&
             (precision == ConvPrecision::fp32 || __builtin_cpu_supports("avx512bf16"));
    case Conv2dPath::avx2:
      return precision == ConvPrecision::fp32 && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    case Conv2dPath::amx:
      return precision == ConvPrecision::bf16 && conv2d_path_supported(Conv2dPath::avx512, precision) &&
             detail::amx_bf16_usable();
    default:
      return true;
  }
#else
  (void)precision;
  return path == Conv2dPath::automatic || path == Conv2dPath::portable;
#endif
}

/// The path `path` stands for on weights of `precision`: itself, checked against this CPU, or for
/// `automatic` the fastest this CPU supports (for bf16: `amx`, else `avx512` with AVX512_BF16, else
/// `portable`, correct but slow: pack bf16 only where `conv2d_path_supported(Conv2dPath::amx or
/// avx512, ConvPrecision::bf16)`). Stateless: a caller that wants another path passes it (`prepare` takes one
/// in its options), so nothing global changes under other threads.
inline Conv2dPath resolve_conv2d_path(Conv2dPath path = Conv2dPath::automatic,
                                      ConvPrecision precision = ConvPrecision::fp32) {
  if (path == Conv2dPath::automatic) {
    if (precision == ConvPrecision::bf16) {
      static const Conv2dPath best_bf16 = conv2d_path_supported(Conv2dPath::amx, precision)      ? Conv2dPath::amx
                                          : conv2d_path_supported(Conv2dPath::avx512, precision) ? Conv2dPath::avx512
                                                                                                 : Conv2dPath::portable;
      return best_bf16;
    }
    static const Conv2dPath best = conv2d_path_supported(Conv2dPath::avx512) ? Conv2dPath::avx512
                                   : conv2d_path_supported(Conv2dPath::avx2) ? Conv2dPath::avx2
                                                                             : Conv2dPath::portable;
    return best;
  }
  SENET_CHECK(conv2d_path_supported(path, precision), "conv2d_nchw16c: this CPU cannot run the ", to_string(path),
              " path", precision == ConvPrecision::bf16 ? " on bf16 weights" : "");
  return path;
}

/// `[N, C, H, W]` -> `[N, ceil(C/16), H, W, 16]`, the missing channels zero.
inline Tensor<float> to_nchw16c(const Tensor<float>& x) {
  SENET_CHECK(x.rank() == 4, "to_nchw16c: input must be [N, C, H, W], got ", to_string(x.shape()));
  const Index N = x.dim(0), C = x.dim(1), H = x.dim(2), W = x.dim(3), Cb = channel_blocks(C), HW = H * W;
  Tensor<float> y({N, Cb, H, W, kChannelBlock});
  for (Index n = 0; n < N; ++n)
    for (Index c = 0; c < C; ++c) {
      const float* src = x.data() + (n * C + c) * HW;
      float* dst = y.data() + (n * Cb + c / kChannelBlock) * HW * kChannelBlock + c % kChannelBlock;
      for (Index i = 0; i < HW; ++i) dst[i * kChannelBlock] = src[i];
    }
  return y;
}

/// `[N, Cb, H, W, 16]` -> `[N, channels, H, W]`, dropping the padding channels
/// (`channels <= 16 * Cb`).
inline Tensor<float> from_nchw16c(const Tensor<float>& x, Index channels) {
  SENET_CHECK(x.rank() == 5 && x.dim(4) == kChannelBlock, "from_nchw16c: input must be [N, Cb, H, W, 16], got ",
              to_string(x.shape()));
  const Index N = x.dim(0), Cb = x.dim(1), H = x.dim(2), W = x.dim(3), HW = H * W;
  SENET_CHECK(channels >= 0 && channels <= Cb * kChannelBlock, "from_nchw16c: ", channels, " channels do not fit ",
              to_string(x.shape()));
  Tensor<float> y({N, channels, H, W});
  for (Index n = 0; n < N; ++n)
    for (Index c = 0; c < channels; ++c) {
      const float* src = x.data() + (n * Cb + c / kChannelBlock) * HW * kChannelBlock + c % kChannelBlock;
      float* dst = y.data() + (n * channels + c) * HW;
      for (Index i = 0; i < HW; ++i) dst[i] = src[i * kChannelBlock];
    }
  return y;
}

namespace detail {

/// A 64-byte aligned scratch buffer that only grows (per-thread padded inputs, reused across calls).
template <class T>
class BasicScratch {
 public:
  T* get(Index n) {
    if (n > capacity_) {
      buffer_.reset(static_cast<T*>(::operator new(std::size_t(n) * sizeof(T), std::align_val_t(64))));
      capacity_ = n;
    }
    return buffer_.get();
  }

 private:
  struct Free {
    void operator()(T* p) const noexcept { ::operator delete(p, std::align_val_t(64)); }
  };
  std::unique_ptr<T, Free> buffer_;
  Index capacity_ = 0;
};
using Scratch = BasicScratch<float>;

/// The calling thread's two large scratch buffers, shared by every kernel that needs a temporary
/// bigger than a few tiles (the Winograd transformed tiles and products, a zero-bordered input
/// copy, the stem's padded input), so that the layers of a network all work in the same memory
/// and find it in cache: memory written once per forward comes from DRAM each time, while the
/// caches keep what many layers reuse. A kernel that takes them calls no other kernel that does.
/// Measured on the Intel Xeon (`benchmarks/compare_steps.py`, 5-6 alternating rounds, batch 1,
/// busy): with a pair per Winograd form the 14x14 stage's F(2x2) 3x3s (the only users of theirs)
/// ran the slower the earlier they came, 1.07-1.37 against 1.01-1.05 ms shared on 1 thread and
/// 0.60-0.75 against 0.57-0.60 ms on 2 (one allocation for each form's pair did not help); the
/// stem then writing its padded input here too: the stem 0.96x, the first 56x56 3x3 0.87x.
struct SharedScratch {
  Scratch first, second;
};
inline SharedScratch& shared_scratch() {
  static thread_local SharedScratch scratch;
  return scratch;
}

/// `bias` (`count` values, or null for none) zero-padded to `padded` values, in a per-thread
/// buffer that only grows: kernels read whole vectors of it, never null, and no call allocates.
inline const float* padded_bias(const float* bias, Index count, Index padded) {
  static thread_local Scratch scratch;
  float* out = scratch.get(padded);
  std::fill(out, out + padded, 0.0f);
  if (bias) std::copy(bias, bias + count, out);
  return out;
}

#if SENET_X86_SIMD

// The register tiles' shared steps: `acc[p][v]` accumulates pixel `p` of a tile for output
// channels `16 v .. 16 v + 15`. Always inlined into the tiles, so that `pix` and the optional
// epilogue terms stay compile-time where the tile knows them.

/// A tile's start: every accumulator zero.
template <int P, int V>
SENET_TARGET_AVX512 __attribute__((always_inline)) inline void tile_zero_avx512(__m512 (&acc)[P][V]) {
#pragma GCC unroll 32
  for (int p = 0; p < P; ++p)
#pragma GCC unroll 8
    for (int v = 0; v < V; ++v) acc[p][v] = _mm512_setzero_ps();
}

/// Where pixel `p` of a tile lies, in floats from its first: `p * pix` along one row, or, in a
/// tile of rows of `L` pixels (`L > 0`), `(p / L) * row + (p % L) * pix`.
template <int L>
constexpr Index tile_pixel_offset(int p, Index pix, Index row) {
  return L > 0 ? Index(p / (L > 0 ? L : 1)) * row + Index(p % (L > 0 ? L : 1)) * pix : Index(p) * pix;
}

/// One input channel at one tap: `acc[p][v] += w[16 v .. 16 v + 15] * x[tile_pixel_offset<L>(p, pix, row)]`.
template <int P, int V, int L = 0>
SENET_TARGET_AVX512 __attribute__((always_inline)) inline void tile_fma_avx512(__m512 (&acc)[P][V], const float* w,
                                                                              const float* x, Index pix, Index row = 0) {
  __m512 wv[V];
#pragma GCC unroll 4
  for (int v = 0; v < V; ++v) wv[v] = _mm512_loadu_ps(w + 16 * v);
#pragma GCC unroll 32
  for (int p = 0; p < P; ++p) {
    const __m512 b = _mm512_set1_ps(x[tile_pixel_offset<L>(p, pix, row)]);
#pragma GCC unroll 4
    for (int v = 0; v < V; ++v) acc[p][v] = _mm512_fmadd_ps(wv[v], b, acc[p][v]);
  }
}

/// `exp(x)` on 16 lanes (and on 8 below): Cephes' range reduction and degree-6 polynomial (as
/// Eigen's pexp), within 1.3 ulp of the exact value; +inf past 88.72, subnormals and 0 below
/// -87.3, NaN kept (tests/ops/test_activation.cpp). The AVX2 version applies 2^n in two steps.
SENET_TARGET_AVX512 __attribute__((always_inline)) inline __m512 exp_avx512(__m512 x) {
  // Masked forms with every lane set: the unmasked ones pass _mm512_undefined_ps, which GCC 12's
  // -Wuninitialized reports where this is inlined into a small function.
  const __mmask16 all = 0xFFFF;
  // NaN-propagating clamp (max / min return the second operand when either is NaN)
  x = _mm512_mask_max_ps(x, all, _mm512_set1_ps(-104.0f), x);
  x = _mm512_mask_min_ps(x, all, _mm512_set1_ps(89.0f), x);
  const __m512 t = _mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f));
  const __m512 n = _mm512_mask_roundscale_ps(t, all, t, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), x);
  r = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.12194440e-4f), r);
  __m512 p = _mm512_set1_ps(1.9875691500e-4f);
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.3981999507e-3f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(8.3334519073e-3f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.1665795894e-2f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.6666665459e-1f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.0000001201e-1f));
  p = _mm512_fmadd_ps(p, _mm512_mul_ps(r, r), _mm512_add_ps(r, _mm512_set1_ps(1.0f)));
  // p * 2^n: overflow to inf, underflow to subnormals and 0 as IEEE rounding gives them
  return _mm512_mask_scalef_ps(p, all, p, n);
}

SENET_TARGET_AVX2 __attribute__((always_inline)) inline __m256 exp_avx2(__m256 x) {
  x = _mm256_min_ps(_mm256_set1_ps(89.0f), _mm256_max_ps(_mm256_set1_ps(-104.0f), x));
  const __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                                   _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), x);
  r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
  __m256 p = _mm256_set1_ps(1.9875691500e-4f);
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507e-3f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073e-3f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894e-2f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459e-1f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201e-1f));
  p = _mm256_fmadd_ps(p, _mm256_mul_ps(r, r), _mm256_add_ps(r, _mm256_set1_ps(1.0f)));
  // 2^n as 2^a * 2^b, a = n / 2 (each factor a normal float for |n| <= 151)
  const __m256i ni = _mm256_cvtps_epi32(n);
  const __m256i a = _mm256_srai_epi32(ni, 1), b = _mm256_sub_epi32(ni, a);
  const __m256i bias = _mm256_set1_epi32(127);
  const __m256 fa = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(a, bias), 23));
  const __m256 fb = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(b, bias), 23));
  return _mm256_mul_ps(_mm256_mul_ps(p, fa), fb);
}

/// `act(v)` on 16 lanes, as `senet::activate` (hard-swish divides by 6 and SiLU is
/// `x / (1 + exp(-x))`, as PyTorch computes them).
SENET_TARGET_AVX512 __attribute__((always_inline)) inline __m512 activate_avx512(__m512 r, Activation act) {
  const __m512 zero = _mm512_setzero_ps();
  if (act == Activation::relu) return _mm512_max_ps(r, zero);
  if (act == Activation::hard_swish) {
    const __m512 six = _mm512_set1_ps(6.0f);
    const __m512 gate = _mm512_min_ps(_mm512_max_ps(_mm512_add_ps(r, _mm512_set1_ps(3.0f)), zero), six);
    return _mm512_div_ps(_mm512_mul_ps(r, gate), six);
  }
  if (act == Activation::silu)
    return _mm512_div_ps(r, _mm512_add_ps(_mm512_set1_ps(1.0f), exp_avx512(_mm512_sub_ps(zero, r))));
  return r;
}

/// `act` in place on `vectors` x `pixels` stored vectors (`y[v * y_kb + 16 p ..]`). The tile
/// epilogues apply SiLU in this second pass over their (L1-resident) output, so that its exp is
/// compiled once, not into each of the hundreds of tile functions (measured: a quarter more
/// compile time for every file that runs the engine, when inlined); the scaling pass applies every
/// activation with it.
SENET_TARGET_AVX512 __attribute__((noinline)) inline void activate_tile_avx512(float* y, Index y_kb, Index pixels,
                                                                               int vectors, Activation act) {
  for (int v = 0; v < vectors; ++v)
    for (Index p = 0; p < pixels; ++p) {
      float* q = y + v * y_kb + 16 * p;
      _mm512_storeu_ps(q, activate_avx512(_mm512_loadu_ps(q), act));
    }
}

/// `y[v * y_kb + tile_pixel_offset<L>(p, 16, y_row) ..] = act((acc[p][v] + bias) * scale + res)`
/// (`res` at the same offsets); `scale` and `res` may be null.
template <int P, int V, int L = 0>
SENET_TARGET_AVX512 __attribute__((always_inline)) inline void tile_store_avx512(
    __m512 (&acc)[P][V], const float* bias, const float* scale, const float* res, Activation act, float* y,
    Index y_kb, Index y_row = 0) {
  const bool silu = act == Activation::silu;
  const bool relu = act == Activation::relu, hard_swish = act == Activation::hard_swish;
#pragma GCC unroll 4
  for (int v = 0; v < V; ++v) {
    const __m512 bv = _mm512_loadu_ps(bias + 16 * v);
    const __m512 sv = scale ? _mm512_loadu_ps(scale + 16 * v) : _mm512_set1_ps(1.0f);
#pragma GCC unroll 32
    for (int p = 0; p < P; ++p) {
      const Index at = v * y_kb + tile_pixel_offset<L>(p, 16, y_row);
      __m512 r = _mm512_add_ps(acc[p][v], bv);
      if (scale) r = _mm512_mul_ps(r, sv);
      if (res) r = _mm512_add_ps(r, _mm512_loadu_ps(res + at));
      if (relu) r = activate_avx512(r, Activation::relu);
      if (hard_swish) r = activate_avx512(r, Activation::hard_swish);
      _mm512_storeu_ps(y + at, r);
    }
  }
  if (silu) {
    if constexpr (L > 0) {
      for (int first = 0; first < P; first += L)
        activate_tile_avx512(y + first / L * y_row, y_kb, std::min(L, P - first), V, Activation::silu);
    } else {
      activate_tile_avx512(y, y_kb, P, V, Activation::silu);
    }
  }
}

/// AVX2, 16 output channels as two ymm halves: `acc[p][h] += w[8 h .. 8 h + 7] * x[p * pix]`.
template <int P>
SENET_TARGET_AVX2 __attribute__((always_inline)) inline void tile_fma_avx2(__m256 (&acc)[P][2], const float* w,
                                                                          const float* x, Index pix) {
  const __m256 w0 = _mm256_loadu_ps(w), w1 = _mm256_loadu_ps(w + 8);
#pragma GCC unroll 16
  for (int p = 0; p < P; ++p) {
    const __m256 b = _mm256_broadcast_ss(x + p * pix);
    acc[p][0] = _mm256_fmadd_ps(w0, b, acc[p][0]);
    acc[p][1] = _mm256_fmadd_ps(w1, b, acc[p][1]);
  }
}

/// `act` in place on `pixels` stored pixels of 16 channels (see `activate_tile_avx512`).
SENET_TARGET_AVX2 __attribute__((noinline)) inline void activate_pixels_avx2(float* y, Index pixels, Activation act) {
  const __m256 zero = _mm256_setzero_ps(), one = _mm256_set1_ps(1.0f), three = _mm256_set1_ps(3.0f),
               six = _mm256_set1_ps(6.0f);
  for (Index i = 0; i < 2 * pixels; ++i) {
    __m256 r = _mm256_loadu_ps(y + 8 * i);
    if (act == Activation::relu) r = _mm256_max_ps(r, zero);
    if (act == Activation::hard_swish)
      r = _mm256_div_ps(_mm256_mul_ps(r, _mm256_min_ps(_mm256_max_ps(_mm256_add_ps(r, three), zero), six)), six);
    if (act == Activation::silu) r = _mm256_div_ps(r, _mm256_add_ps(one, exp_avx2(_mm256_sub_ps(zero, r))));
    _mm256_storeu_ps(y + 8 * i, r);
  }
}

/// `y[16 p + 8 h ..] = act((acc[p][h] + bias) * scale + res)`; `scale` and `res` may be null.
template <int P>
SENET_TARGET_AVX2 __attribute__((always_inline)) inline void tile_store_avx2(__m256 (&acc)[P][2], const float* bias,
                                                                            const float* scale, const float* res,
                                                                            Activation act, float* y) {
  const __m256 zero = _mm256_setzero_ps(), six = _mm256_set1_ps(6.0f), three = _mm256_set1_ps(3.0f);
#pragma GCC unroll 2
  for (int h = 0; h < 2; ++h) {
    const __m256 bv = _mm256_loadu_ps(bias + 8 * h);
    const __m256 sv = scale ? _mm256_loadu_ps(scale + 8 * h) : _mm256_set1_ps(1.0f);
#pragma GCC unroll 16
    for (int p = 0; p < P; ++p) {
      __m256 r = _mm256_add_ps(acc[p][h], bv);
      if (scale) r = _mm256_mul_ps(r, sv);
      if (res) r = _mm256_add_ps(r, _mm256_loadu_ps(res + p * 16 + 8 * h));
      if (act == Activation::relu) r = _mm256_max_ps(r, zero);
      if (act == Activation::hard_swish)
        r = _mm256_div_ps(_mm256_mul_ps(r, _mm256_min_ps(_mm256_max_ps(_mm256_add_ps(r, three), zero), six)), six);
      _mm256_storeu_ps(y + p * 16 + 8 * h, r);
    }
  }
  if (act == Activation::silu) activate_pixels_avx2(y, P, Activation::silu);
}

#endif  // SENET_X86_SIMD

}  // namespace detail

/// `act` in place on `pixels` stored pixels of 16 channels (`y[16 p + l]`), with the vector code of
/// `path` (a resolved path: `avx512`, `avx2` or `portable`).
inline void activate_pixels_nchw16c(float* y, Index pixels, Activation act, Conv2dPath path) {
  if (act == Activation::none) return;
#if SENET_X86_SIMD
  if (path == Conv2dPath::avx512) return detail::activate_tile_avx512(y, 0, pixels, 1, act);
  if (path == Conv2dPath::avx2) return detail::activate_pixels_avx2(y, pixels, act);
#else
  (void)path;
#endif
  for (Index i = 0; i < pixels * kChannelBlock; ++i) y[i] = activate(y[i], act);
}

}  // namespace senet
