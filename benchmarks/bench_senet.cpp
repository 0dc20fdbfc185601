// Microbenchmarks: the convolutions of SE-ResNet-50 at their real shapes, the SE block at each
// stage's shape, and whole models. Counters report GFLOP/s (2 FLOPs per multiply-accumulate).
#include <benchmark/benchmark.h>

#include <random>

#include "senet/layers/conv2d.hpp"
#include "senet/layers/se_block.hpp"
#include "senet/models/prepared_resnet.hpp"
#include "senet/models/random_init.hpp"
#include "senet/models/zoo.hpp"

namespace {

senet::Tensor<float> random_tensor(senet::Shape shape, unsigned seed = 1) {
  senet::Tensor<float> t(std::move(shape));
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0.f, 1.f);
  for (float& v : t) v = d(rng);
  return t;
}

void set_flops(benchmark::State& state, double macs) {
  state.counters["GFLOP/s"] =
      benchmark::Counter(2.0 * macs * double(state.iterations()) / 1e9, benchmark::Counter::kIsRate);
}

// args: in channels, out channels, spatial size, kernel, stride
void BM_Conv2d(benchmark::State& state) {
  const senet::Index c = state.range(0), k = state.range(1), hw = state.range(2), kernel = state.range(3),
                     stride = state.range(4);
  senet::Conv2d<float> conv(c, k, senet::conv_params(kernel, stride, kernel / 2));
  senet::randomize_parameters(conv, 1);
  const auto x = random_tensor({1, c, hw, hw});
  for (auto _ : state) benchmark::DoNotOptimize(conv.forward(x).data());
  set_flops(state, double(conv.macs(x.shape())));
}
BENCHMARK(BM_Conv2d)
    ->ArgNames({"C", "K", "HW", "k", "s"})
    ->Args({3, 64, 224, 7, 2})     // stem
    ->Args({256, 64, 56, 1, 1})    // layer1 conv1
    ->Args({64, 64, 56, 3, 1})     // layer1 conv2
    ->Args({64, 256, 56, 1, 1})    // layer1 conv3
    ->Args({128, 128, 56, 3, 2})   // layer2.0 conv2 (strided)
    ->Args({256, 256, 14, 3, 1})   // layer3 conv2
    ->Args({1024, 256, 14, 1, 1})  // layer3 conv1
    ->Args({512, 512, 7, 3, 1})    // layer4 conv2
    ->Args({512, 2048, 7, 1, 1})   // layer4 conv3
    ->Unit(benchmark::kMillisecond);

// args: channels, spatial size, batch
void BM_SEBlock(benchmark::State& state) {
  const senet::Index c = state.range(0), hw = state.range(1), n = state.range(2);
  senet::SEBlock<float> se(c, 16);
  senet::randomize_parameters(se, 1);
  auto x = random_tensor({n, c, hw, hw});
  for (auto _ : state) {
    se.forward_inplace(x);
    benchmark::ClobberMemory();
  }
  set_flops(state, double(se.macs(x.shape())));
  state.SetBytesProcessed(std::int64_t(state.iterations()) * 2 * x.size() * std::int64_t(sizeof(float)));
}
BENCHMARK(BM_SEBlock)
    ->ArgNames({"C", "HW", "N"})
    ->Args({256, 56, 1})
    ->Args({512, 28, 1})
    ->Args({1024, 14, 1})
    ->Args({2048, 7, 1})
    ->Args({2048, 7, 8})
    ->Unit(benchmark::kMicrosecond);

// args: batch; the model name and engine label the benchmark. The reference path ("naive") is
// the baseline of the prepared engine ("fast") in the same run.
void BM_Model(benchmark::State& state, const char* name, bool fast) {
  auto model = senet::create_model<float>(name);
  senet::randomize_parameters(*model, 42);
  const std::int64_t macs = model->total_macs(224, state.range(0));
  if (fast) model = senet::prepare(std::move(model));
  const senet::Index n = state.range(0);
  const auto x = random_tensor({n, 3, 224, 224});
  for (auto _ : state) benchmark::DoNotOptimize(model->forward(x).data());
  set_flops(state, double(macs));
}
BENCHMARK_CAPTURE(BM_Model, resnet50_naive, "resnet50", false)->Arg(1)->Unit(benchmark::kMillisecond)->MinTime(2.0);
BENCHMARK_CAPTURE(BM_Model, resnet50_fast, "resnet50", true)->Arg(1)->Unit(benchmark::kMillisecond)->MinTime(2.0);
BENCHMARK_CAPTURE(BM_Model, seresnet50_naive, "seresnet50", false)->Arg(1)->Unit(benchmark::kMillisecond)->MinTime(2.0);
BENCHMARK_CAPTURE(BM_Model, seresnet50_fast, "seresnet50", true)
    ->Arg(1)
    ->Arg(8)
    ->Unit(benchmark::kMillisecond)
    ->MinTime(2.0);
BENCHMARK_CAPTURE(BM_Model, legacy_seresnet50_fast, "legacy_seresnet50", true)
    ->Arg(1)
    ->Unit(benchmark::kMillisecond)
    ->MinTime(2.0);

}  // namespace

BENCHMARK_MAIN();
