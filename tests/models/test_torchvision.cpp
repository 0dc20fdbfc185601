// torchvision's SE networks (senet/models/mobilenet_v3.hpp): exact sizes, torchvision's parameter
// names, and parity with torchvision.models itself on random-weight checkpoints that torch.save
// wrote (tests/fixtures/make_torchvision_fixtures.py, tests/fixtures/data/torchvision/), loaded
// through senet's .pth reader.
//
// Where the integers come from: the table (torchvision 0.14's models counted by module
// tree, every convolution and linear layer, SE included, one 224x224 image), which
// fixtures.macs_match_pytorch_hooks re-derives layer by layer with forward hooks on torchvision.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <map>
#include <set>
#include <string>

#include "model_cases.hpp"
#include "senet/io/npy.hpp"
#include "senet/io/weights.hpp"
#include "senet/models/mobilenet_v3.hpp"
#include "senet/models/prepared.hpp"
#include "senet/models/zoo.hpp"
#include "test_util.hpp"

namespace {

senet::MobileNetV3Config case_config(const nlohmann::json& c) {
  senet::MobileNetV3Config cfg;
  cfg.name = c.at("case");
  const std::string model = c.at("model");
  cfg.variant = model == "mobilenet_v3_small" ? senet::MobileNetV3Variant::small : senet::MobileNetV3Variant::large;
  cfg.width_mult = c.at("width_mult");
  cfg.num_classes = c.at("num_classes");
  return cfg;
}

std::vector<senet::test::ModelCase> torchvision_cases() { return senet::test::read_cases("torchvision/", "cases.json"); }

TEST(MobileNetV3, ExactSizes) {
  const std::map<std::string, std::pair<std::int64_t, std::int64_t>> expected = {
      {"mobilenet_v3_large", {5'483'032, 216'589'760}},
      {"mobilenet_v3_small", {2'542'856, 56'510'400}},
  };
  for (const auto& [name, counts] : expected) {
    SCOPED_TRACE(name);
    const auto model = senet::create_model<float>(name);
    EXPECT_EQ(senet::count_parameters(*model), counts.first);
    EXPECT_EQ(model->total_macs(224), counts.second);
    EXPECT_EQ(model->output_shape({2, 3, 224, 224}), (senet::Shape{2, 1000}));
    EXPECT_EQ(model->type_name(), "MobileNetV3");
    EXPECT_EQ(senet::model_entry(name).preset, "timm");  // torchvision's: resize 256, crop 224, bilinear
  }
}

TEST(MobileNetV3, TorchvisionNamesAndShapes) {
  using S = senet::Shape;
  std::map<std::string, S> large, small;
  for (const auto& [n, s] : senet::parameter_shapes(*senet::create_model<float>("mobilenet_v3_large"))) large[n] = s;
  for (const auto& [n, s] : senet::parameter_shapes(*senet::create_model<float>("mobilenet_v3_small"))) small[n] = s;
  EXPECT_EQ(large.at("features.0.0.weight"), (S{16, 3, 3, 3}));
  EXPECT_EQ(large.at("features.0.1.running_var"), (S{16}));
  // block 1 does not expand: its depthwise convolution is block.0
  EXPECT_EQ(large.at("features.1.block.0.0.weight"), (S{16, 1, 3, 3}));
  EXPECT_EQ(large.at("features.1.block.1.0.weight"), (S{16, 16, 1, 1}));
  EXPECT_EQ(large.count("features.1.block.2.0.weight"), 0u);
  // block 4 (24 -> 40, 5x5 stride 2, SE): expand, depthwise, SE (72 / 4 = 18 -> 24), project
  EXPECT_EQ(large.at("features.4.block.0.0.weight"), (S{72, 24, 1, 1}));
  EXPECT_EQ(large.at("features.4.block.1.0.weight"), (S{72, 1, 5, 5}));
  EXPECT_EQ(large.at("features.4.block.2.fc1.weight"), (S{24, 72, 1, 1}));
  EXPECT_EQ(large.at("features.4.block.2.fc2.bias"), (S{72}));
  EXPECT_EQ(large.at("features.4.block.3.0.weight"), (S{40, 72, 1, 1}));
  EXPECT_EQ(large.at("features.16.0.weight"), (S{960, 160, 1, 1}));
  EXPECT_EQ(large.at("classifier.0.weight"), (S{1280, 960}));
  EXPECT_EQ(large.at("classifier.3.weight"), (S{1000, 1280}));
  EXPECT_EQ(small.at("features.1.block.1.fc1.weight"), (S{8, 16, 1, 1}));  // 16 / 4 = 4 -> at least 8
  EXPECT_EQ(small.at("features.12.0.weight"), (S{576, 96, 1, 1}));
  EXPECT_EQ(small.at("classifier.0.weight"), (S{1024, 576}));
  std::size_t se_large = 0, se_small = 0;
  for (const auto& [n, s] : large) se_large += n.find("fc1.weight") != std::string::npos;
  for (const auto& [n, s] : small) se_small += n.find("fc1.weight") != std::string::npos;
  EXPECT_EQ(se_large, 8u);
  EXPECT_EQ(se_small, 9u);
  // no convolution has a bias (the linear layers of the classifier have)
  for (const auto& [n, s] : large) {
    if (n.find(".0.bias") != std::string::npos) {
      EXPECT_EQ(n.rfind("classifier", 0), 0u) << n;
    }
  }
}

TEST(MobileNetV3, MakeDivisibleAsTorchvision) {
  // torchvision's _make_divisible, by hand: nearest multiple of 8, at least 8, not 10% below
  EXPECT_EQ(senet::make_divisible(4), 8);
  EXPECT_EQ(senet::make_divisible(18), 24);   // 18 + 4 = 22 -> 16 < 0.9 * 18 = 16.2 -> 24
  EXPECT_EQ(senet::make_divisible(20), 24);   // 24
  EXPECT_EQ(senet::make_divisible(19.9), 16 + 8);  // 23.9 -> 16, 16 < 17.91 -> 24
  EXPECT_EQ(senet::make_divisible(168), 168);
  EXPECT_EQ(senet::make_divisible(240 * 0.25), 64);  // 60 + 4 -> 64
  senet::MobileNetV3Config bad;
  bad.width_mult = 0;
  EXPECT_THROW(senet::MobileNetV3<float>{bad}, senet::Error);
}

template <class T>
class TorchvisionParity : public ::testing::Test {};
TYPED_TEST_SUITE(TorchvisionParity, senet::test::Scalars);

// Loaded from the .pth torch.save wrote, strictly (every key, no more), against torchvision's
// float64 logits.
TYPED_TEST(TorchvisionParity, MatchesTorchvision) {
  using T = TypeParam;
  const auto cases = torchvision_cases();
  ASSERT_EQ(cases.size(), 2u);
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name());
    senet::MobileNetV3<T> model(case_config(c.spec));
    senet::load_weights(model, c.file(".pth"));
    const auto x = senet::read_npy<T>(c.file(".input.npy"));
    const auto expected = senet::read_npy<double>(c.file(".output.npy"));
    ASSERT_EQ(x.shape(), c.spec.at("input_shape").get<senet::Shape>());
    const double err = senet::test::relative_error(model.forward(x), expected);
    EXPECT_LE(err, senet::test::parity_tolerance<T>());
    std::printf("[ parity   ] %-26s %-6s max rel err %.2e\n", c.name().c_str(), sizeof(T) == 8 ? "double" : "float",
                err);
  }
}

// The fast engine on every kernel path (depthwise convolutions as lane groups of 1, hard-swish in
// the epilogues, SE after an activation as a scaling pass, the two-layer head), image by image
// and with three images run together on two threads.
TEST(TorchvisionParity, PreparedMatchesTorchvision) {
  for (const auto& c : torchvision_cases()) {
    for (const auto path : senet::test::available_paths()) {
      SCOPED_TRACE(c.name() + " / " + senet::to_string(path));
      std::unique_ptr<senet::Model<float>> model = std::make_unique<senet::MobileNetV3<float>>(case_config(c.spec));
      senet::load_weights(*model, c.file(".pth"));
      senet::PrepareOptions options;
      options.kernels = path;
      std::string why;
      const auto fast = senet::PreparedNetwork::try_prepare(model, options, &why);
      ASSERT_NE(fast, nullptr) << why;
      const auto x = senet::read_npy<float>(c.file(".input.npy"));
      const auto expected = senet::read_npy<double>(c.file(".output.npy"));
      const double err = senet::test::relative_error(fast->forward(x), expected);
      EXPECT_LE(err, senet::test::parity_tolerance<float>());
      std::printf("[ prepared ] %-26s %-8s max rel err %.2e\n", c.name().c_str(), senet::to_string(path), err);
      senet::test::expect_three_images_on_two_threads(*fast, x, expected);
    }
  }
}

}  // namespace
