// Microbenchmarks: the convolutions of SE-ResNet-50 at their real shapes, the SE block at each
// stage's shape (naive, and fused vs unfused in the fast engine), the fully connected layers
// (`--benchmark_filter=LinearRows`: the engine's kernel beside Eigen), and whole models. Counters report GFLOP/s (2 FLOPs per multiply-accumulate).
#include <benchmark/benchmark.h>

#include <algorithm>
#include <optional>
#include <vector>
#include <random>

#include "senet/layers/conv2d.hpp"
#include "senet/layers/excitation.hpp"
#include "senet/layers/se_block.hpp"
#include "senet/ops/linear.hpp"
#include "senet/ops/linear_rows.hpp"
#include "senet/models/prepared.hpp"
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

// The fully connected products (`linear`): the SE excitation's two FCs and the classifier, at
// batch 1 and 8, on 1 and 2 threads. args: batch, in, out, threads
void BM_Linear(benchmark::State& state) {
  const senet::Index n = state.range(0), in = state.range(1), out = state.range(2);
  const int saved = senet::num_threads();
  senet::set_num_threads(int(state.range(3)));
  const auto x = random_tensor({n, in}, 1), w = random_tensor({out, in}, 2), b = random_tensor({out}, 3);
  senet::Tensor<float> y({n, out});
  for (auto _ : state) {
    senet::linear(x, w, b.data(), y);
    benchmark::ClobberMemory();
  }
  senet::set_num_threads(saved);
  set_flops(state, double(n * in * out));
}
BENCHMARK(BM_Linear)
    ->ArgNames({"N", "in", "out", "threads"})
    ->ArgsProduct({{1, 8}, {2048}, {128, 1000}, {1, 2}})
    ->Args({8, 128, 2048, 1})
    ->Args({8, 128, 2048, 2})
    ->Unit(benchmark::kMicrosecond);

// The fast engine's fully connected layers (`linear_rows` on packed weights, fp32 and bf16)
// beside `linear` (Eigen) on the same products, the weights coming from memory as in a forward
// of a large model: each iteration takes the next of enough copies to fill 256 MB.
// args: batch, in, out, threads, kind (0: linear, 1: linear_rows fp32, 2: linear_rows bf16)
void BM_LinearRows(benchmark::State& state) {
  const senet::Index n = state.range(0), in = state.range(1), out = state.range(2), kind = state.range(4);
  const senet::ConvPrecision precision = kind == 2 ? senet::ConvPrecision::bf16 : senet::ConvPrecision::fp32;
  if (kind == 2 && !senet::conv2d_path_supported(senet::Conv2dPath::avx512, precision)) {
    state.SkipWithError("no AVX512_BF16 on this CPU");
    return;
  }
  const int saved = senet::num_threads();
  senet::set_num_threads(int(state.range(3)));
  const auto x = random_tensor({n, in}, 1), b = random_tensor({out}, 3);
  const senet::Index copies = std::max<senet::Index>(2, (senet::Index(256) << 20) / (in * out * 4));
  std::vector<senet::Tensor<float>> weights;
  std::vector<senet::PackedLinearWeights> packed;
  for (senet::Index c = 0; c < copies; ++c) {
    auto w = random_tensor({out, in}, unsigned(2 + c));
    if (kind == 0)
      weights.push_back(std::move(w));
    else
      packed.push_back(senet::pack_linear_weights(w, precision));
  }
  senet::Tensor<float> y({n, out});
  senet::Index next = 0;
  for (auto _ : state) {
    if (kind == 0)
      senet::linear(x.data(), n, weights[std::size_t(next)], b.data(), y.data(), out);
    else
      senet::linear_rows(x.data(), n, packed[std::size_t(next)], b.data(), y.data(), out);
    next = (next + 1) % copies;
    benchmark::ClobberMemory();
  }
  senet::set_num_threads(saved);
  set_flops(state, double(n * in * out));
}
BENCHMARK(BM_LinearRows)
    ->ArgNames({"N", "in", "out", "threads", "kind"})
    ->ArgsProduct({{1}, {1024}, {64}, {1}, {0, 1, 2}})
    ->ArgsProduct({{1}, {64}, {1024}, {1}, {0, 1, 2}})
    ->ArgsProduct({{1}, {2048}, {128}, {1, 2}, {0, 1, 2}})
    ->ArgsProduct({{1}, {128}, {2048}, {1, 2}, {0, 1, 2}})
    ->ArgsProduct({{1, 8}, {2048}, {1000}, {1, 2}, {0, 1, 2}})
    ->Unit(benchmark::kMicrosecond);

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

// The tail of a fast-engine bottleneck (conv3 1x1 + BN, SE, residual add, ReLU) on NCHW16c,
// args: planes (conv3's input), channels, spatial size, variant. Variants: 0 = no SE (the add and
// ReLU in conv3's epilogue, the baseline), 1 = SE unfused (conv3, then squeeze its output, excite,
// and one more pass for scale + add + ReLU), 2 = SE fused (squeeze conv3's input, excite with the
// SE's first layer folded into conv3 (`EngineConv::fold_into`), then conv3 with the gates, add
// and ReLU in its epilogue). The engine takes the fused path where it moves fewer bytes
// (`PreparedNetwork`'s `fused_se`: every stage of SE-ResNet-50).
void BM_SEBottleneckTail(benchmark::State& state) {
  const senet::Index planes = state.range(0), c = state.range(1), hw = state.range(2), variant = state.range(3);
  senet::Conv2d<float> conv(planes, c, senet::conv_params(1, 1, 0), /*bias=*/false);
  senet::BatchNorm2d<float> bn(c);
  senet::SEBlock<float> se(c, 16);
  senet::randomize_parameters(conv, 1);
  senet::randomize_parameters(bn, 2);
  senet::randomize_parameters(se, 3);
  senet::detail::EngineConv conv3(conv);
  std::vector<float> bn_scale, bn_shift;
  bn.folded(bn_scale, bn_shift);
  conv3.fold(bn_scale, bn_shift);
  std::vector<float> folded_bias;
  const senet::Tensor<float> folded =
      conv3.fold_into(se.fc1_weight(), se.fc1_bias() ? se.fc1_bias()->data() : nullptr, folded_bias);
  conv3.pack();
  const auto run_conv3 = [&](const senet::FeatureView& in, const senet::FeatureView& out, bool relu,
                             const senet::FeatureView& residual, const float* scale) {
    senet::Conv2dEpilogue e;
    e.bias = conv3.packed_bias.data();
    e.scale = scale;
    e.residual = residual;
    e.activation = relu ? senet::Activation::relu : senet::Activation::none;
    senet::conv2d_nchw16c(in, conv3.weights, conv3.params, e, out);
  };
  senet::Tensor<float> h2 = senet::to_nchw16c(random_tensor({1, planes, hw, hw}, 4));
  senet::Tensor<float> shortcut = senet::to_nchw16c(random_tensor({1, c, hw, hw}, 5));
  senet::Tensor<float> out(shortcut.shape());
  const senet::FeatureView x = senet::view_nchw16c(h2), y = senet::view_nchw16c(out), r = senet::view_nchw16c(shortcut);
  std::vector<float> mean(static_cast<std::size_t>(planes)), z(static_cast<std::size_t>(c)),
      hidden(static_cast<std::size_t>(se.hidden_channels())), gates(static_cast<std::size_t>(c));
  for (auto _ : state) {
    if (variant == 0) {
      run_conv3(x, y, true, r, nullptr);
    } else if (variant == 1) {
      run_conv3(x, y, false, {}, nullptr);
      senet::squeeze_nchw16c(y, senet::SESqueeze::avg, z.data());
      se.excite(z.data(), 1, hidden.data(), gates.data(), c);
      senet::scale_add_act_nchw16c(y, gates.data(), r, senet::Activation::relu, y);
    } else {
      senet::squeeze_nchw16c(x, senet::SESqueeze::avg, mean.data());
      se.excite(mean.data(), 1, hidden.data(), gates.data(), c,
                [&](int layer, const float* in, senet::Index rows, const senet::Tensor<float>& w, const float* bias,
                    float* y_rows, senet::Index stride) {
                  if (layer == 0)
                    senet::linear(in, rows, folded, folded_bias.data(), y_rows, stride);
                  else
                    senet::linear(in, rows, w, bias, y_rows, stride);
                });
      run_conv3(x, y, true, r, gates.data());
    }
    benchmark::ClobberMemory();
  }
  set_flops(state, double(planes * c * hw * hw));
}
BENCHMARK(BM_SEBottleneckTail)
    ->ArgNames({"planes", "C", "HW", "variant"})
    ->ArgsProduct({{64}, {256}, {56}, {0, 1, 2}})
    ->ArgsProduct({{128}, {512}, {28}, {0, 1, 2}})
    ->ArgsProduct({{256}, {1024}, {14}, {0, 1, 2}})
    ->ArgsProduct({{512}, {2048}, {7}, {0, 1, 2}})
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

// What recording excitations costs: the prepared model at its own input size, batch `range(0)`,
// without (`range(1)` 0) and with (1) an `ExcitationScope` open around every forward. Run the
// pairs interleaved (--benchmark_enable_random_interleaving=true --benchmark_repetitions=N),
// so that the machine's drift hits both alike.
void BM_Recording(benchmark::State& state, const char* name) {
  auto model = senet::create_model<float>(name);
  senet::randomize_parameters(*model, 42);
  const senet::Index n = state.range(0), size = model->input_size();
  const std::int64_t macs = model->total_macs(size, n);
  model = senet::prepare(std::move(model));
  const auto x = random_tensor({n, model->in_channels(), size, size});
  senet::ExcitationRecorder recorder;
  std::optional<senet::ExcitationScope> scope;
  if (state.range(1)) scope.emplace(*model, recorder);
  for (auto _ : state) benchmark::DoNotOptimize(model->forward(x).data());
  set_flops(state, double(macs));
}
BENCHMARK_CAPTURE(BM_Recording, seresnet50, "seresnet50")
    ->ArgNames({"batch", "record"})
    ->ArgsProduct({{1}, {0, 1}})
    ->Unit(benchmark::kMillisecond)
    ->MinTime(1.0);
BENCHMARK_CAPTURE(BM_Recording, se_resnet_fashion, "se_resnet_fashion")
    ->ArgNames({"batch", "record"})
    ->ArgsProduct({{1, 64}, {0, 1}})
    ->Unit(benchmark::kMicrosecond)
    ->MinTime(0.5);

}  // namespace

BENCHMARK_MAIN();
