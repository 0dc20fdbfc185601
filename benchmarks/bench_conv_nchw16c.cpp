// Microbenchmarks of the NCHW16c direct convolution (senet/ops/conv2d_nchw16c.hpp) on
// SE-ResNet-50's conv shapes, its AVX-512 and AVX2 paths beside the im2col + Eigen `senet::conv2d`
// baseline, on 1 and 2 threads, and the AVX-512 path on bf16 weights (`avx512_bf16`; `_bordered`:
// fp32 and bf16 on inputs that carry their padding, as the engine lays them out); SE-ResNeXt-50's grouped shapes (`--benchmark_filter=Grouped`); and of the stem's own kernels (senet/ops/conv2d_stem.hpp,
// senet/ops/pooling_nchw16c.hpp; `--benchmark_filter=Stem` runs them with their baseline); and
// Winograd F(4x4, 3x3) and F(2x2, 3x3) (senet/ops/conv2d_winograd.hpp) beside the direct kernel on SE-ResNet-50's
// 3x3 stride-1 shapes (`--benchmark_filter=3x3s1`) and the stride-2 form on its stride-2 ones
// (`--benchmark_filter=3x3s2`); a 1x1 on 2 threads on an input each thread
// has just written half of (`--benchmark_filter=ForeignInput`); the 7x7 stage's convolutions with
// their weights in cache and in memory only (`--benchmark_filter=_weights/`), and the Winograd
// forms with theirs in memory only (`_cold_weights`, beside the same names without).
// Counters report GFLOP/s (2 FLOPs per multiply-accumulate of the direct convolution, also for
// Winograd: its effective rate). The NCHW16c runs include the fused
// epilogue (bias + ReLU); the baseline adds its bias.
//
//   OMP_WAIT_POLICY=passive bench_conv_nchw16c --benchmark_repetitions=5
//       --benchmark_report_aggregates_only=true
//   fp32 against bf16, in interleaved rounds (the machine is shared):
//   OMP_WAIT_POLICY=passive bench_conv_nchw16c --benchmark_filter='Nchw16c/(avx512|avx512_bf16|amx_bf16)_bordered/'
//       --benchmark_repetitions=5 --benchmark_enable_random_interleaving=true
#include <benchmark/benchmark.h>

#if defined(__x86_64__) || defined(_M_X64)
#include <emmintrin.h>
#endif

#include <algorithm>
#include <random>
#include <vector>

#include "senet/core/threading.hpp"
#include "senet/ops/conv2d.hpp"
#include "senet/ops/conv2d_nchw16c.hpp"
#include "senet/ops/conv2d_stem.hpp"
#include "senet/ops/conv2d_winograd.hpp"
#include "senet/ops/pooling_nchw16c.hpp"

namespace {

senet::Tensor<float> random_tensor(senet::Shape shape, unsigned seed) {
  senet::Tensor<float> t(std::move(shape));
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0.f, 1.f);
  for (float& v : t) v = d(rng);
  return t;
}

struct Problem {
  senet::Tensor<float> x, w;
  std::vector<float> bias;
  senet::Conv2dParams p;
  double macs = 0;
};

// args: in channels, out channels, spatial size, kernel, stride, threads, groups (padding kernel / 2)
Problem make_problem(const benchmark::State& state) {
  const senet::Index c = state.range(0), k = state.range(1), hw = state.range(2), kernel = state.range(3),
                     stride = state.range(4), groups = state.range(6);
  Problem pr;
  pr.x = random_tensor({1, c, hw, hw}, 1);
  pr.w = random_tensor({k, c / groups, kernel, kernel}, 2);
  pr.p.groups = groups;
  pr.bias.assign(static_cast<std::size_t>(k), 0.1f);
  pr.p.kernel_h = pr.p.kernel_w = kernel;
  pr.p.stride_h = pr.p.stride_w = stride;
  pr.p.pad_h = pr.p.pad_w = kernel / 2;
  const senet::Shape out = senet::conv2d_output_shape(pr.x.shape(), pr.w.shape(), pr.p);
  pr.macs = double(senet::conv2d_macs(out, pr.w.shape()));
  return pr;
}

void set_flops(benchmark::State& state, double macs) {
  state.counters["GFLOP/s"] =
      benchmark::Counter(2.0 * macs * double(state.iterations()) / 1e9, benchmark::Counter::kIsRate);
}

// Evicts `bytes` at `data` from every cache level (`clflush`: x86-64 baseline, no target flags).
void evict_from_caches(const void* data, std::size_t bytes) {
#if defined(__x86_64__) || defined(_M_X64)
  const char* p = static_cast<const char*>(data);
  for (std::size_t i = 0; i < bytes; i += 64) _mm_clflush(p + i);
  _mm_mfence();
#else
  (void)data;
  (void)bytes;
#endif
}

// `bordered`: the input carries its padding as a zero border, as the engine lays it out (else the
// call pads a copy first). `precision`: of the packed weights. `winograd_tile` 4 or 2:
// conv2d_winograd_nchw16c as F(4x4, 3x3) or F(2x2, 3x3). `cold_weights`: each call finds its
// weights in memory, none in any cache (evicted outside the timing), as a network whose weights
// outgrow the last-level cache reads them.
void BM_Nchw16c(benchmark::State& state, senet::Conv2dPath path, bool bordered = false,
                senet::ConvPrecision precision = senet::ConvPrecision::fp32, int winograd_tile = 0,
                bool cold_weights = false) {
  if (!senet::conv2d_path_supported(path, precision)) {
    state.SkipWithError("path not supported on this CPU");
    return;
  }
  senet::set_num_threads(int(state.range(5)));
  const Problem pr = make_problem(state);
  const auto packed = senet::pack_conv2d_weights_nchw16c(pr.w, pr.p.groups, precision);  // once, outside the timing
  const auto xb = senet::to_nchw16c(pr.x);
  const senet::Index C = pr.x.dim(1), H = pr.x.dim(2), W = pr.x.dim(3), b = bordered ? pr.p.pad_h : 0;
  senet::Tensor<float> xpad({1, senet::channel_blocks(C), H + 2 * b, W + 2 * b, senet::kChannelBlock});
  const senet::FeatureView x{xpad.data(), 1, C, H, W, b};
  for (senet::Index cb = 0; cb < x.blocks(); ++cb)
    for (senet::Index h = 0; h < H; ++h)
      std::copy_n(xb.data() + ((cb * H + h) * W) * senet::kChannelBlock, W * senet::kChannelBlock, x.at(0, cb, h, 0));
  senet::Tensor<float> y(senet::conv2d_nchw16c_output_shape(xb.shape(), packed, pr.p));
  senet::Conv2dEpilogue e;
  e.bias = pr.bias.data();
  e.activation = senet::Activation::relu;
  const auto transformed = winograd_tile ? senet::pack_conv2d_winograd_weights(pr.w, winograd_tile, precision,
                                                                               int(pr.p.stride_h))
                                         : senet::WinogradConv2dWeights{};
  for (auto _ : state) {
    if (cold_weights) {
      state.PauseTiming();
      if (winograd_tile)
        for (const auto& position : transformed.positions)
          evict_from_caches(position.data.data(), std::size_t(position.data.size()) * sizeof(float));
      else
        evict_from_caches(packed.data.data(), std::size_t(packed.data.size()) * sizeof(float));
      state.ResumeTiming();
    }
    if (winograd_tile)
      senet::conv2d_winograd_nchw16c(x, transformed, pr.p, e, senet::view_nchw16c(y, packed.out_channels), path);
    else
      senet::conv2d_nchw16c(x, packed, pr.p, e, senet::view_nchw16c(y, packed.out_channels), path);
    benchmark::DoNotOptimize(y.data());
    benchmark::ClobberMemory();
  }
  set_flops(state, pr.macs);
}

// A 1x1 convolution on 2 threads whose input each thread has just rewritten half of, as the
// network's previous layer leaves it (half of it in the other core's cache: the first sweep's
// prefetch is for this), beside the same input read by both threads before (in both caches).
// args: C, K, HW, foreign (1: rewritten halves)
void BM_Nchw16cForeignInput(benchmark::State& state) {
  const senet::Index c = state.range(0), k = state.range(1), hw = state.range(2);
  const bool foreign = state.range(3) != 0;
  const int saved = senet::num_threads();
  senet::set_num_threads(2);
  senet::Conv2dParams p;
  p.kernel_h = p.kernel_w = 1;
  const auto packed = senet::pack_conv2d_weights_nchw16c(random_tensor({k, c, 1, 1}, 2), 1);
  auto x = senet::to_nchw16c(random_tensor({1, c, hw, hw}, 1));
  senet::Tensor<float> y(senet::conv2d_nchw16c_output_shape(x.shape(), packed, p));
  const std::vector<float> bias(static_cast<std::size_t>(k), 0.1f);
  senet::Conv2dEpilogue e;
  e.bias = bias.data();
  e.activation = senet::Activation::relu;
  for (auto _ : state) {
    if (foreign) {
      state.PauseTiming();
      float* data = x.data();
      const senet::Index half = x.size() / 2;
#ifdef _OPENMP
#pragma omp parallel for num_threads(2) schedule(static)
#endif
      for (int t = 0; t < 2; ++t)
        for (senet::Index i = t * half; i < (t + 1) * half; ++i) data[i] = data[i] + 0.0f;  // a store
      state.ResumeTiming();
    }
    senet::conv2d_nchw16c(senet::view_nchw16c(x, c), packed, p, e, senet::view_nchw16c(y, k));
    benchmark::ClobberMemory();
  }
  senet::set_num_threads(saved);
  set_flops(state, double(c * k * hw * hw));
}

void BM_EigenIm2col(benchmark::State& state) {
  senet::set_num_threads(int(state.range(5)));
  const Problem pr = make_problem(state);
  senet::Tensor<float> y(senet::conv2d_output_shape(pr.x.shape(), pr.w.shape(), pr.p));
  for (auto _ : state) {
    senet::conv2d(pr.x, pr.w, pr.bias.data(), pr.p, y);
    benchmark::DoNotOptimize(y.data());
    benchmark::ClobberMemory();
  }
  set_flops(state, pr.macs);
}

// SE-ResNet-50's conv shapes (benchmarks/bench_senet.cpp's list plus the strided 1x1
// downsample), each on 1 and 2 threads.
void shapes(benchmark::internal::Benchmark* b) {
  const long list[][5] = {
      {3, 64, 224, 7, 2},     // stem (stays on the im2col path: C = 3 padded to 16)
      {256, 64, 56, 1, 1},    // layer1 conv1
      {64, 64, 56, 3, 1},     // layer1 conv2
      {64, 256, 56, 1, 1},    // layer1 conv3
      {128, 128, 56, 3, 2},   // layer2.0 conv2 (strided)
      {256, 512, 56, 1, 2},   // layer2.0 downsample (strided 1x1)
      {256, 256, 14, 3, 1},   // layer3 conv2
      {1024, 256, 14, 1, 1},  // layer3 conv1
      {512, 512, 14, 3, 2},   // layer4.0 conv2 (strided, 7-pixel rows: two-row tiles)
      {1024, 2048, 14, 1, 2}, // layer4.0 downsample (strided 1x1, 7-pixel rows)
      {512, 512, 7, 3, 1},    // layer4 conv2
      {512, 2048, 7, 1, 1},   // layer4 conv3
  };
  b->ArgNames({"C", "K", "HW", "k", "s", "threads", "g"});
  for (long threads : {1, 2})
    for (const auto& s : list) b->Args({s[0], s[1], s[2], s[3], s[4], threads, 1});
  b->Unit(benchmark::kMicrosecond)->UseRealTime();
}

// SE-ResNet-50's 3x3 stride-1 convolutions (layer1-4 conv2), on 1 and 2 threads.
void winograd_shapes(benchmark::internal::Benchmark* b) {
  b->ArgNames({"C", "K", "HW", "k", "s", "threads", "g"});
  for (long threads : {1, 2})
    for (long c : {64, 128, 256, 512}) b->Args({c, c, 56 * 64 / c, 3, 1, threads, 1});
  b->Unit(benchmark::kMicrosecond)->UseRealTime();
}

// SE-ResNet-50's convolutions whose weights are read from memory in the network at batch 1 (the
// 7x7 stage's and a 14x14 1x1), on 1 and 2 threads: `avx512_cold_weights` beside
// `avx512_hot_weights`, the same calls with the weights left in cache by the previous call.
void deep_shapes(benchmark::internal::Benchmark* b) {
  const long list[][4] = {{512, 512, 7, 3}, {2048, 512, 7, 1}, {512, 2048, 7, 1}, {1024, 256, 14, 1}};
  b->ArgNames({"C", "K", "HW", "k", "s", "threads", "g"});
  for (long threads : {1, 2})
    for (const auto& s : list) b->Args({s[0], s[1], s[2], s[3], 1, threads, 1});
  b->Unit(benchmark::kMicrosecond)->UseRealTime();
}

// SE-ResNet-50's 3x3 stride-2 convolutions (layer2-4.0 conv2), on 1 and 2 threads: direct, and by
// phases as Winograd F(4x4, 2x2) (`3x3s2_winograd`; the engine takes it for layer2.0's).
void stride2_shapes(benchmark::internal::Benchmark* b) {
  b->ArgNames({"C", "K", "HW", "k", "s", "threads", "g"});
  for (long threads : {1, 2})
    for (long c : {128, 256, 512}) b->Args({c, c, 56 * 128 / c, 3, 2, threads, 1});
  b->Unit(benchmark::kMicrosecond)->UseRealTime();
}

// SE-ResNeXt-50 (32x4d)'s grouped 3x3s: 32 groups of 4, 8, 16 and 32 channels (the first two on the
// lane-group kernel, the others block-diagonal), and a depthwise 3x3 (groups of 1), on 1 thread.
void grouped_shapes(benchmark::internal::Benchmark* b) {
  const long list[][4] = {{128, 56, 1, 32}, {256, 28, 1, 32}, {256, 56, 2, 32}, {512, 14, 1, 32},
                          {1024, 7, 1, 32}, {144, 56, 1, 144}};
  b->ArgNames({"C", "K", "HW", "k", "s", "threads", "g"});
  for (const auto& s : list) b->Args({s[0], s[0], s[1], 3, s[2], 1, s[3]});
  b->Unit(benchmark::kMicrosecond)->UseRealTime();
}

// The stem (7x7 stride 2 pad 3, 3 -> 64 channels, 224 -> 112) on its own kernel
// (senet/ops/conv2d_stem.hpp): NCHW input, NCHW16c output with bias + ReLU, into a view with a
// 1-pixel border as the engine's next layer (the max pool) would read it. Args: threads, then
// a forced AVX-512 tile (pixels, vectors; 0 = the default).
void BM_Stem(benchmark::State& state, senet::Conv2dPath path,
             senet::ConvPrecision precision = senet::ConvPrecision::fp32) {
  if (!senet::conv2d_path_supported(path, precision)) {
    state.SkipWithError("path not supported on this CPU");
    return;
  }
  senet::set_num_threads(int(state.range(0)));
  const senet::Tensor<float> x = random_tensor({1, 3, 224, 224}, 1), w = random_tensor({64, 3, 7, 7}, 2);
  const std::vector<float> bias(64, 0.1f);
  const senet::Conv2dParams p = {7, 7, 2, 2, 3, 3};
  const auto packed = senet::pack_conv2d_stem_weights(w, precision);
  senet::Tensor<float> y({1, 4, 114, 114, 16});
  const senet::FeatureView v{y.data(), 1, 64, 112, 112, 1};
  senet::detail::stem_avx512_tile_override() = {int(state.range(1)), int(state.range(2))};
  for (auto _ : state) {
    senet::conv2d_stem_nchw16c(x, packed, p, bias.data(), senet::Activation::relu, v, path);
    benchmark::DoNotOptimize(y.data());
    benchmark::ClobberMemory();
  }
  senet::detail::stem_avx512_tile_override() = {0, 0};
  set_flops(state, 112.0 * 112 * 64 * 3 * 49);
}

// The stem's max pool (3x3 stride 2 pad 1, 64 x 112 x 112 -> 56 x 56) on NCHW16c, reading a
// bordered input and writing a bordered output.
void BM_StemMaxPool16c(benchmark::State& state) {
  senet::set_num_threads(int(state.range(0)));
  senet::Tensor<float> x = random_tensor({1, 4, 114, 114, 16}, 3), y({1, 4, 58, 58, 16});
  const senet::FeatureView xv{x.data(), 1, 64, 112, 112, 1}, yv{y.data(), 1, 64, 56, 56, 1};
  senet::Pool2dParams p;
  p.kernel_h = p.kernel_w = 3;
  p.stride_h = p.stride_w = 2;
  p.pad_h = p.pad_w = 1;
  for (auto _ : state) {
    senet::max_pool2d_nchw16c(xv, p, yv);
    benchmark::DoNotOptimize(y.data());
    benchmark::ClobberMemory();
  }
  state.counters["GB/s"] = benchmark::Counter(double(x.size() + y.size()) * 4 * double(state.iterations()) / 1e9,
                                              benchmark::Counter::kIsRate);
}

void stem_args(benchmark::internal::Benchmark* b) {
  b->ArgNames({"threads", "P", "V"});
  for (long threads : {1, 2}) b->Args({threads, 0, 0});
  b->Unit(benchmark::kMicrosecond)->UseRealTime();
}

// The AVX-512 tiles the default (6 x 4, balanced) was chosen among.
void stem_tiles(benchmark::internal::Benchmark* b) {
  b->ArgNames({"threads", "P", "V"});
  const long tiles[][2] = {{7, 4}, {4, 4}, {8, 3}, {14, 2}};
  for (const auto& t : tiles) b->Args({1, t[0], t[1]});
  b->Unit(benchmark::kMicrosecond)->UseRealTime();
}

// The stem's baseline under the same filter: im2col + Eigen GEMM (NCHW output, bias, no ReLU).
void stem_baseline(benchmark::internal::Benchmark* b) {
  b->ArgNames({"C", "K", "HW", "k", "s", "threads", "g"});
  for (long threads : {1, 2}) b->Args({3, 64, 224, 7, 2, threads, 1});
  b->Unit(benchmark::kMicrosecond)->UseRealTime();
}

BENCHMARK_CAPTURE(BM_Stem, avx512, senet::Conv2dPath::avx512)->Apply(stem_args);
BENCHMARK_CAPTURE(BM_Stem, avx2, senet::Conv2dPath::avx2)->Apply(stem_args);
BENCHMARK_CAPTURE(BM_Stem, portable, senet::Conv2dPath::portable)->Apply(stem_args);
BENCHMARK_CAPTURE(BM_Stem, avx512_bf16, senet::Conv2dPath::avx512, senet::ConvPrecision::bf16)->Apply(stem_args);
BENCHMARK_CAPTURE(BM_Stem, avx512_tile, senet::Conv2dPath::avx512)->Apply(stem_tiles);
BENCHMARK(BM_EigenIm2col)->Name("BM_StemBaseline_EigenIm2col")->Apply(stem_baseline);
BENCHMARK(BM_StemMaxPool16c)->Arg(1)->Arg(2)->ArgName("threads")->Unit(benchmark::kMicrosecond)->UseRealTime();

BENCHMARK_CAPTURE(BM_Nchw16c, avx512, senet::Conv2dPath::avx512)->Apply(shapes);
BENCHMARK_CAPTURE(BM_Nchw16c, avx512_bf16, senet::Conv2dPath::avx512, false, senet::ConvPrecision::bf16)->Apply(shapes);
BENCHMARK_CAPTURE(BM_Nchw16c, avx512_bordered, senet::Conv2dPath::avx512, true)->Apply(shapes);
BENCHMARK_CAPTURE(BM_Nchw16c, avx512_bf16_bordered, senet::Conv2dPath::avx512, true, senet::ConvPrecision::bf16)
    ->Apply(shapes);
BENCHMARK_CAPTURE(BM_Nchw16c, amx_bf16_bordered, senet::Conv2dPath::amx, true, senet::ConvPrecision::bf16)->Apply(shapes);
BENCHMARK_CAPTURE(BM_Nchw16c, avx512_hot_weights, senet::Conv2dPath::avx512, true)->Apply(deep_shapes);
BENCHMARK_CAPTURE(BM_Nchw16c, avx512_cold_weights, senet::Conv2dPath::avx512, true, senet::ConvPrecision::fp32, 0,
                  true)
    ->Apply(deep_shapes);
BENCHMARK_CAPTURE(BM_Nchw16c, 3x3s1_direct, senet::Conv2dPath::avx512, true)->Apply(winograd_shapes);
BENCHMARK_CAPTURE(BM_Nchw16c, 3x3s1_winograd, senet::Conv2dPath::avx512, true, senet::ConvPrecision::fp32, 4)
    ->Apply(winograd_shapes);
BENCHMARK_CAPTURE(BM_Nchw16c, 3x3s1_winograd2x2, senet::Conv2dPath::avx512, true, senet::ConvPrecision::fp32, 2)
    ->Apply(winograd_shapes);
BENCHMARK_CAPTURE(BM_Nchw16c, 3x3s1_winograd_cold_weights, senet::Conv2dPath::avx512, true,
                  senet::ConvPrecision::fp32, 4, true)
    ->Apply(winograd_shapes);
BENCHMARK_CAPTURE(BM_Nchw16c, 3x3s1_winograd2x2_cold_weights, senet::Conv2dPath::avx512, true,
                  senet::ConvPrecision::fp32, 2, true)
    ->Apply(winograd_shapes);
BENCHMARK_CAPTURE(BM_Nchw16c, 3x3s2_direct, senet::Conv2dPath::avx512, true)->Apply(stride2_shapes);
BENCHMARK_CAPTURE(BM_Nchw16c, 3x3s2_winograd, senet::Conv2dPath::avx512, true, senet::ConvPrecision::fp32, 4)
    ->Apply(stride2_shapes);
BENCHMARK_CAPTURE(BM_Nchw16c, avx2, senet::Conv2dPath::avx2)->Apply(shapes);
BENCHMARK(BM_EigenIm2col)->Apply(shapes);
BENCHMARK_CAPTURE(BM_Nchw16c, grouped_avx512, senet::Conv2dPath::avx512, true)->Apply(grouped_shapes);
BENCHMARK(BM_EigenIm2col)->Name("BM_GroupedBaseline_EigenIm2col")->Apply(grouped_shapes);
BENCHMARK(BM_Nchw16cForeignInput)
    ->ArgNames({"C", "K", "HW", "foreign"})
    ->ArgsProduct({{1024}, {256}, {14}, {0, 1}})
    ->ArgsProduct({{256}, {64}, {56}, {0, 1}})
    ->Unit(benchmark::kMicrosecond)
    ->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
