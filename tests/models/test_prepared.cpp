// The fast engine (senet::prepare / PreparedNetwork: BN folded, NCHW16c direct convolutions, fused
// SE, residual and ReLU epilogues) against PyTorch on every model fixture, every SE option and
// position, on each kernel path the CPU has; `prepare` keeping the naive path for what the engine
// does not cover (here a Tanh); the lowered steps of a bottleneck. Sharing one model
// between threads: test_threading.cpp.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "model_cases.hpp"
#include "senet/io/npy.hpp"
#include "senet/io/weights.hpp"
#include "senet/layers/excitation.hpp"
#include "senet/models/prepared.hpp"
#include "senet/models/random_init.hpp"
#include "senet/models/zoo.hpp"
#include "test_util.hpp"

namespace test_prepared {

/// The model `cfg` with seeded random weights, and a second copy of it, prepared.
struct NaiveAndFast {
  std::unique_ptr<senet::Model<float>> naive;
  std::unique_ptr<senet::PreparedNetwork> fast;
};
NaiveAndFast naive_and_fast(const senet::ResNetConfig& cfg, std::uint64_t seed) {
  auto naive = senet::create_model<float>(cfg);
  senet::randomize_parameters(*naive, seed);
  auto copy = senet::create_model<float>(cfg);
  senet::randomize_parameters(*copy, seed);
  return {std::move(naive), std::make_unique<senet::PreparedNetwork>(std::move(copy))};
}

// Each path three times: every 3x3 convolution direct; every stride-1 one as Winograd F(4x4, 3x3)
// and every stride-2 one by phases (F(4x4, 2x2)); every stride-1 one as F(2x2, 3x3).
TEST(Prepared, MatchesPyTorchOnEveryFixtureAndPath) {
  auto cases = senet::test::reduced_model_cases();
  for (auto& c : senet::test::se_variant_cases()) cases.push_back(c);
  std::size_t prepared = 0, kept = 0, winograd_steps = 0, winograd_2x2_steps = 0, stride2_steps = 0;
  constexpr senet::Index kEvery = std::numeric_limits<senet::Index>::max();
  for (const auto path : senet::test::available_paths())
  for (const int winograd : {0, 4, 2}) {
    senet::PrepareOptions options;
    options.kernels = path;
    options.winograd_max_channels = winograd == 4 ? kEvery : 0;
    options.winograd_2x2_max_channels = winograd == 2 ? kEvery : 0;
    options.winograd_stride2_max_channels = winograd == 4 ? kEvery : 0;
    const std::string form = winograd == 0 ? "direct" : winograd == 4 ? "Winograd F(4x4) and stride-2" : "Winograd F(2x2)";
    double worst = 0;
    for (const auto& c : cases) {
      SCOPED_TRACE(c.name() + " / " + senet::to_string(path) + " / " + form);
      const auto cfg = senet::test::case_config(c.spec);
      auto model = senet::create_model<float>(cfg);
      senet::load_weights(*model, c.file(".safetensors"));
      const senet::Model<float>* naive = model.get();
      auto fast = senet::prepare(std::move(model), options);
      const auto* engine = dynamic_cast<const senet::PreparedNetwork*>(fast.get());
      const bool is_prepared = engine != nullptr;
      if (engine) {
        EXPECT_EQ(engine->kernel_path(), path);
        if (!winograd) {
          EXPECT_TRUE(engine->winograd_steps(0, 0).empty());
        }
        EXPECT_EQ(engine->winograd_steps(winograd == 4 ? 2 : 4).size(), 0u) << "only the asked form";
        if (winograd != 4) {
          EXPECT_TRUE(engine->winograd_steps(0, 2).empty()) << "only the asked form";
        }
        winograd_steps += engine->winograd_steps(4).size();
        winograd_2x2_steps += engine->winograd_steps(2).size();
        stride2_steps += engine->winograd_steps(0, 2).size();
      }
      // Every SE option and position, and the grouped convolutions of ResNeXt, run on the engine.
      EXPECT_TRUE(is_prepared);
      if (!is_prepared) {
        EXPECT_EQ(fast.get(), naive) << "an unsupported variant keeps its model";
      }
      (is_prepared ? prepared : kept)++;
      const auto y = fast->forward(senet::read_npy<float>(c.file(".input.npy")));
      const auto expected = senet::read_npy<double>(c.file(".output.npy"));
      ASSERT_EQ(y.shape(), expected.shape());
      const double err = senet::test::relative_error(y, expected);
      EXPECT_LE(err, senet::test::parity_tolerance<float>());
      if (is_prepared) worst = std::max(worst, err);
    }
    std::printf("[ prepared ] %s path, %s 3x3s: max rel err vs PyTorch %.2e\n", senet::to_string(path),
                form.c_str(), worst);
  }
  EXPECT_GE(prepared, 90u);
  EXPECT_EQ(kept, 0u);
  EXPECT_GE(winograd_steps, 30u);  // every ResNet fixture has 3x3 stride-1 convolutions
  EXPECT_EQ(winograd_2x2_steps, winograd_steps);
  EXPECT_GE(stride2_steps, 10u);  // the stride sits on the 3x3 in timm's form
  std::printf("[ prepared ] stride-2 3x3s by phases, over the paths: %zu\n", stride2_steps);
}

// By default Winograd F(4x4) takes the 3x3 stride-1 convolutions of at most 128 channels: in
// SE-ResNet-50 (timm: the stride is on conv2) layer1's three conv2s (64 channels) and layer2's but
// the first (128, stride 2); and F(2x2) those of at most 256: layer3's but the first. The options
// move the lines; 0 turns each off.
TEST(Prepared, WinogradTakesTheThreeByThreesOfTheOptionsWidth) {
  auto prepared = [](senet::Index max_channels, senet::Index max_2x2, int tile) {
    senet::PrepareOptions options;
    if (max_channels >= 0) options.winograd_max_channels = max_channels;
    if (max_2x2 >= 0) options.winograd_2x2_max_channels = max_2x2;
    return senet::PreparedNetwork(senet::create_model<float>("seresnet50"), options).winograd_steps(tile);
  };
  using Names = std::vector<std::string>;
  const Names stages12 = {"layer1.0.conv2", "layer1.1.conv2", "layer1.2.conv2",
                          "layer2.1.conv2", "layer2.2.conv2", "layer2.3.conv2"};
  const Names stage3 = {"layer3.1.conv2", "layer3.2.conv2", "layer3.3.conv2", "layer3.4.conv2", "layer3.5.conv2"};
  Names every = stages12;
  every.insert(every.end(), stage3.begin(), stage3.end());
  EXPECT_EQ(prepared(-1, -1, 4), stages12);
  EXPECT_EQ(prepared(-1, -1, 2), stage3);
  EXPECT_EQ(prepared(-1, -1, 0), every);
  EXPECT_EQ(prepared(128, 0, 0), stages12);
  EXPECT_EQ(prepared(64, 0, 4), Names(stages12.begin(), stages12.begin() + 3));
  EXPECT_EQ(prepared(64, 128, 2), Names(stages12.begin() + 3, stages12.end()));
  EXPECT_EQ(prepared(256, 0, 4), every);
  EXPECT_EQ(prepared(256, 512, 2).size(), 2u);  // layer4.1-2
  EXPECT_EQ(prepared(0, 256, 2), every);
  EXPECT_TRUE(prepared(0, 0, 0).empty());
  // Stride 2 (winograd_stride2_max_channels, 128 by default, 0 on Intel CPUs): layer2.0's conv2
  // (128 channels).
  auto stride2 = [](senet::Index max_channels, senet::ConvPrecision precision) {
    senet::PrepareOptions options;
    if (max_channels >= 0) options.winograd_stride2_max_channels = max_channels;
    options.precision = precision;
    return senet::PreparedNetwork(senet::create_model<float>("seresnet50"), options).winograd_steps(0, 2);
  };
  EXPECT_EQ(senet::PrepareOptions{}.winograd_stride2_max_channels, senet::detail::cpu_is_intel() ? 0 : 128);
  EXPECT_EQ(stride2(-1, senet::ConvPrecision::fp32), senet::detail::cpu_is_intel() ? Names{} : Names{"layer2.0.conv2"});
  EXPECT_EQ(stride2(128, senet::ConvPrecision::fp32), Names{"layer2.0.conv2"});
  EXPECT_EQ(stride2(256, senet::ConvPrecision::fp32), (Names{"layer2.0.conv2", "layer3.0.conv2"}));
  EXPECT_TRUE(stride2(0, senet::ConvPrecision::fp32).empty());
  EXPECT_TRUE(stride2(-1, senet::ConvPrecision::bf16).empty()) << "a bf16 network runs them in bf16, direct";
}

// PrepareOptions::measure_winograd: which convolutions keep Winograd is the machine's to say, so the
// test checks what must hold whatever it says: only eligible convolutions (those the same options
// without measuring take) run as Winograd, each runs the one form it kept (the logits stay within
// PyTorch's tolerance on every fixture), and an excitation observer open around `prepare` sees
// none of its timing forwards.
TEST(Prepared, MeasuredWinogradKeepsOneFormOfTheEligibleConvolutions) {
  struct Counter : senet::ExcitationObserver {
    int calls = 0;
    void on_excitation(const std::string&, senet::Index, senet::Index, senet::Index, const float*,
                       senet::Index) override {
      ++calls;
    }
  };
  auto cases = senet::test::reduced_model_cases();
  std::size_t measured = 0;
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name());
    senet::PrepareOptions options;
    options.winograd_max_channels = std::numeric_limits<senet::Index>::max();
    auto every = senet::create_model<float>(senet::test::case_config(c.spec));
    senet::load_weights(*every, c.file(".safetensors"));
    const auto eligible = senet::PreparedNetwork(std::move(every), options).winograd_steps(0, 0);
    options.measure_winograd = true;
    auto model = senet::create_model<float>(senet::test::case_config(c.spec));
    senet::load_weights(*model, c.file(".safetensors"));
    Counter counter;
    std::unique_ptr<senet::PreparedNetwork> fast;
    {
      senet::ExcitationScope scope(*model, counter);
      fast = std::make_unique<senet::PreparedNetwork>(std::move(model), options);
    }
    EXPECT_EQ(counter.calls, 0);
    for (const auto& name : fast->winograd_steps(0, 0))
      EXPECT_NE(std::find(eligible.begin(), eligible.end(), name), eligible.end()) << name;
    measured += eligible.size();
    const auto y = fast->forward(senet::read_npy<float>(c.file(".input.npy")));
    const auto expected = senet::read_npy<double>(c.file(".output.npy"));
    ASSERT_EQ(y.shape(), expected.shape());
    EXPECT_LE(senet::test::relative_error(y, expected), senet::test::parity_tolerance<float>());
  }
  EXPECT_GE(measured, 10u);  // the fixtures have 3x3 stride-1 convolutions to measure
}

// PrepareOptions::precision bf16, on every path that runs bf16 weights here, with every 3x3
// stride-1 convolution direct, again with every one as Winograd F(2x2, 3x3) in bf16, and again
// as F(4x4, 3x3), which stays FP32 (bf16's rounding does not survive its transforms); no
// Winograd on amx: the logits of every ResNet fixture (SE variants and ResNeXt included) within
// 2e-2 of PyTorch's float64 ones, relative to their scale (bfloat16 keeps 8 bits: ~4e-3 per
// rounding, averaged over long sums). The convolutions that do take bf16 must be packed so: the
// error must also exceed FP32's.
TEST(Prepared, Bf16LogitsWithinTwoPercentOfPyTorch) {
  auto cases = senet::test::reduced_model_cases();
  for (auto& c : senet::test::se_variant_cases()) cases.push_back(c);
  std::size_t paths = 0, winograd_steps = 0, winograd_2x2_steps = 0;
  constexpr senet::Index kEvery = std::numeric_limits<senet::Index>::max();
  for (const auto path : {senet::Conv2dPath::amx, senet::Conv2dPath::avx512, senet::Conv2dPath::portable})
  for (const int tile : {0, 2, 4}) {  // 0: direct
    if (!senet::conv2d_path_supported(path, senet::ConvPrecision::bf16)) continue;
    paths += tile == 0 ? 1 : 0;
    senet::PrepareOptions options;
    options.kernels = path;  // amx: the bf16 convolutions' path, the rest the best FP32 one
    options.precision = senet::ConvPrecision::bf16;
    options.winograd_max_channels = tile == 4 ? kEvery : 0;
    options.winograd_2x2_max_channels = tile == 2 ? kEvery : 0;
    const std::string form = tile == 0 ? "direct" : tile == 2 ? "Winograd F(2x2) in bf16" : "Winograd F(4x4) in FP32";
    double worst = 0, least = 1;
    for (const auto& c : cases) {
      SCOPED_TRACE(c.name() + " / " + senet::to_string(path) + " / " + form);
      auto model = senet::create_model<float>(senet::test::case_config(c.spec));
      senet::load_weights(*model, c.file(".safetensors"));
      std::string why;
      const auto fast = senet::PreparedNetwork::try_prepare(model, options, &why);
      ASSERT_NE(fast, nullptr) << why;
      EXPECT_EQ(fast->precision(), senet::ConvPrecision::bf16);
      if (tile == 0 || path == senet::Conv2dPath::amx) {
        EXPECT_TRUE(fast->winograd_steps().empty());
      } else {
        EXPECT_EQ(fast->winograd_steps(tile == 4 ? 2 : 4).size(), 0u) << "only the asked form";
      }
      winograd_steps += fast->winograd_steps(4).size();
      winograd_2x2_steps += fast->winograd_steps(2).size();
      const auto y = fast->forward(senet::read_npy<float>(c.file(".input.npy")));
      const double err = senet::test::relative_error(y, senet::read_npy<double>(c.file(".output.npy")));
      EXPECT_LE(err, 2e-2);
      worst = std::max(worst, err);
      least = std::min(least, err);
    }
    EXPECT_GT(least, senet::test::parity_tolerance<float>()) << "no convolution ran in bf16?";
    std::printf("[ bf16     ] %s path, %s 3x3s: rel err vs PyTorch %.2e .. %.2e over %zu fixtures\n",
                senet::to_string(path), form.c_str(), least, worst, cases.size());
  }
  EXPECT_GE(paths, 1u);  // portable always
  EXPECT_GE(winograd_2x2_steps, 30u);
  EXPECT_GE(winograd_steps, 30u);
}

// Full-width stages (64..2048 channels, every channel block full) on a small image, against the
// naive model, which the PyTorch tests vouch for.
TEST(Prepared, FullWidthSeresnet50MatchesTheNaiveModel) {
  for (const char* name : {"seresnet50", "legacy_seresnet50", "resnet18"}) {
    SCOPED_TRACE(name);
    const auto [model, fast] = naive_and_fast(senet::model_config(name), 5);
    senet::Tensor<float> x({2, 3, 64, 80});
    for (senet::Index i = 0; i < x.size(); ++i) x[i] = float(std::sin(0.37 * double(i)));
    const auto expected = model->forward(x);
    const auto y = fast->forward(x);
    EXPECT_LE(senet::test::relative_error(y, expected), 1e-4);
    EXPECT_EQ(fast->output_shape(x.shape()), y.shape());
  }
}

senet::Tensor<float> wavy_input(senet::Shape shape, double phase) {
  senet::Tensor<float> x(std::move(shape));
  for (senet::Index i = 0; i < x.size(); ++i) x[i] = float(std::sin(0.37 * double(i) + phase));
  return x;
}

// The workspace is planned per input shape: changing batch and size between calls (and back)
// gives what a freshly prepared model gives, and what the naive model gives.
TEST(Prepared, InputShapeChangesBetweenCalls) {
  const auto [naive, fast] = naive_and_fast(senet::model_config("seresnet50"), 9);
  const senet::Shape shapes[] = {{1, 3, 64, 64}, {3, 3, 96, 80}, {1, 3, 64, 64}, {2, 3, 33, 47}, {3, 3, 96, 80}};
  for (const auto& shape : shapes) {
    SCOPED_TRACE(senet::to_string(shape));
    const auto x = wavy_input(shape, double(shape[2]));
    EXPECT_LE(senet::test::relative_error(fast->forward(x), naive->forward(x)), 1e-4);
  }
}

// A batch that splits evenly over the threads runs image by image (stem included, one image per
// thread at a time); others run layer by layer. Both agree with the naive model at 1, 2 and 3
// threads, for an ImageNet stem (conv + pool) and a small one (conv only).
TEST(Prepared, BatchesRunImageByImageOrLayerByLayerAlike) {
  const int saved = senet::num_threads();
  for (const char* name : {"seresnet50", "se_resnet_digits"}) {
    const senet::ResNetConfig cfg = senet::model_config(name);
    SCOPED_TRACE(cfg.name);
    const auto [naive, fast] = naive_and_fast(cfg, 11);
    const senet::Index size = cfg.stem == senet::StemType::imagenet ? 48 : 8;
    for (int threads : {1, 2, 3}) {
      senet::set_num_threads(threads);
      for (senet::Index batch : {senet::Index(2 * threads), senet::Index(5)}) {
        SCOPED_TRACE(std::to_string(threads) + " threads, batch " + std::to_string(batch));
        const auto x = wavy_input({batch, cfg.in_channels, size, size + 8}, double(batch + threads));
        EXPECT_LE(senet::test::relative_error(fast->forward(x), naive->forward(x)), 1e-4);
      }
    }
  }
  senet::set_num_threads(saved);
}

TEST(Prepared, RejectsWrongInputs) {
  const senet::PreparedNetwork fast(senet::create_model<float>("seresnet18", 10));
  EXPECT_THROW(fast.forward(senet::Tensor<float>({1, 4, 32, 32})), senet::Error);
  EXPECT_THROW(fast.forward(senet::Tensor<float>({3, 32, 32})), senet::Error);
}

// What lowering makes of SE-ResNet-50's first bottleneck: BN folded, ReLUs, the SE, the residual
// add and the last ReLU fused into conv steps; the shortcut runs first, so that conv3's epilogue
// can add it. Every SE position of the paper lowers too, each SE one step or part of one.
TEST(Prepared, LowersABottleneckToFourConvSteps) {
  const senet::PreparedNetwork fast(senet::create_model<float>("seresnet50"));
  const auto steps = fast.step_names();
  const std::vector<std::string> first = {"conv conv1", "max_pool maxpool", "conv layer1.0.downsample.0",
                                          "conv layer1.0.conv1", "conv layer1.0.conv2", "conv layer1.0.conv3",
                                          "conv layer1.1.conv1"};
  ASSERT_GE(steps.size(), first.size());
  EXPECT_EQ(std::vector<std::string>(steps.begin(), steps.begin() + long(first.size())), first);
  EXPECT_EQ(steps.back(), "global_pool global_pool");
  EXPECT_EQ(steps.size(), 2u + 16u * 3u + 4u + 1u);  // stem, pool, 16 blocks, 4 projections, head
}

// An SE whose squeeze is a mean over a 1x1 convolution's output takes its gates from the
// convolution's input, its first fully connected layer folded into the convolution:
// `F (W m + b) + c` = `(F W) m + (F b + c)`. Expected: the left side summed in double from the
// convolution's own (BatchNorm-scaled) weights, on random weights and means.
TEST(Prepared, SEFirstLayerFoldsIntoTheConvolutionBeforeIt) {
  const senet::Index C = 24, K = 40, H = 6;
  std::mt19937 rng(11);
  senet::Conv2d<float> conv(C, K, senet::conv_params(1, 1, 0), /*bias=*/true);
  senet::randomize_parameters(conv, 3);
  senet::detail::EngineConv engine_conv(conv);
  std::vector<float> bn_scale(K), bn_shift(K);
  senet::test::fill_uniform(bn_scale.data(), K, rng, 0.5f, 2.0f);
  senet::test::fill_uniform(bn_shift.data(), K, rng);
  engine_conv.fold(bn_scale, bn_shift);
  senet::Tensor<float> fc({H, K}), fc_bias({H}), mean({C});
  senet::test::fill_uniform(fc, rng);
  senet::test::fill_uniform(fc_bias, rng);
  senet::test::fill_uniform(mean, rng);
  std::vector<float> folded_bias;
  const senet::Tensor<float> folded = engine_conv.fold_into(fc, fc_bias.data(), folded_bias);
  ASSERT_EQ(folded.shape(), (senet::Shape{H, C}));
  ASSERT_EQ(folded_bias.size(), std::size_t(H));
  senet::Tensor<double> expected({H}), got({H});
  for (senet::Index h = 0; h < H; ++h) {
    double z = fc_bias[h], y = folded_bias[std::size_t(h)];
    for (senet::Index k = 0; k < K; ++k) {
      // the convolution's output channel k at the mean: (w . m) * bn_scale + (b * bn_scale + bn_shift)
      double out = (double((*conv.bias())[k]) * bn_scale[std::size_t(k)] + bn_shift[std::size_t(k)]);
      for (senet::Index i = 0; i < C; ++i) out += double(conv.weight()[k * C + i]) * bn_scale[std::size_t(k)] * mean[i];
      z += double(fc[h * K + k]) * out;
    }
    for (senet::Index i = 0; i < C; ++i) y += double(folded[h * C + i]) * mean[i];
    expected[h] = z;
    got[h] = y;
  }
  EXPECT_LE(senet::test::relative_error(got, expected), 1e-6);
}

// forward_profiled: the same logits as forward, and a time for every step and for the head (the
// concatenation copies written in place are the only steps that may take none: none here).
TEST(Prepared, ProfiledForwardTimesEveryStep) {
  auto model = senet::create_model<float>("seresnet18");
  senet::randomize_parameters(*model, 7);
  const senet::PreparedNetwork fast(std::move(model));
  const senet::Tensor<float> x = wavy_input({2, 3, 64, 64}, 0.3);
  std::vector<double> seconds;
  const auto profiled = fast.forward_profiled(x, seconds);
  ASSERT_EQ(seconds.size(), fast.step_names().size() + 1);
  for (std::size_t i = 0; i < seconds.size(); ++i)
    EXPECT_GT(seconds[i], 0.0) << (i < fast.step_names().size() ? fast.step_names()[i] : "head");
  const auto once = seconds;
  fast.forward_profiled(x, seconds);  // adds
  for (std::size_t i = 0; i < seconds.size(); ++i) EXPECT_GT(seconds[i], once[i]);
  const auto plain = fast.forward(x);
  ASSERT_EQ(profiled.shape(), plain.shape());
  for (senet::Index i = 0; i < plain.size(); ++i) ASSERT_EQ(profiled[i], plain[i]) << i;
}

/// A network whose second layer (a Tanh) has no fast step.
std::unique_ptr<senet::Model<float>> tanh_network() {
  auto net = std::make_unique<senet::Network<float>>(senet::NetworkInfo{"tanh_net", 3, 10, 32});
  net->layers().add("conv", senet::Conv2d<float>(3, 16, senet::conv_params(3, 1, 1)));
  net->layers().add("act", senet::Tanh<float>());
  net->layers().add("pool", senet::GlobalAvgPool2d<float>());
  net->layers().add("fc", senet::Linear<float>(16, 10));
  return net;
}

TEST(Prepared, ExplainsWhatItCannotRun) {
  auto model = tanh_network();
  std::string why;
  EXPECT_EQ(senet::PreparedNetwork::try_prepare(model, {}, &why), nullptr);
  ASSERT_NE(model, nullptr) << "the model is given back";
  EXPECT_NE(why.find("act (Tanh) has no fast step"), std::string::npos) << why;
  const auto kept = senet::prepare(tanh_network());
  EXPECT_EQ(kept->type_name(), "Network") << "prepare keeps the naive model";
  const std::string message = senet::test::error_of([&] { senet::PreparedNetwork fast(tanh_network()); });
  EXPECT_NE(message.find("tanh_net: the fast engine cannot run this model"), std::string::npos) << message;
}

}  // namespace test_prepared
