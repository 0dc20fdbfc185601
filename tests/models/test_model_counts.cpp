// Exact parameter counts and MACs, and the checkpoint names of both the timm and the legacy forms.
//
// Where the integers come from:
// - Parameters of resnet18/34/50/101/152: published by torchvision (the `num_params` of its
//   ImageNet weights' metadata, 11,689,512 ... 60,192,808), checked against the installed
//   torchvision by tests/fixtures/check_macs.py.
// - Parameters of the SE networks: computed, by counting the module trees of timm's and
//   Cadene's definitions (paper-facts §4) and of this project's PyTorch twins
//   (tests/fixtures/torch_models.py, EXPECTED_PARAMS); no source publishes them as integers,
//   only rounded (the paper's 28.1M for SE-ResNet-50, timm's 28.09M). check_macs.py re-counts
//   them on the twins.
// - MACs (one 224x224 image; every convolution and fully connected layer, SE included): computed,
//   not published. senet's own count (`total_macs`, `senet summary`), equal to the fixture
//   script's counter (torch_models.count_macs); the independent cross-check is check_macs.py
//   (ctest fixtures.macs_match_pytorch_hooks), which counts with forward hooks on
//   torchvision.models' resnet18..152 and on the project's twins for the SE networks (SE
//   convolutions included; torchvision has no SE-ResNet), layer by layer against `senet summary`.
// - legacy_senet154 (Cadene's senet154 = timm's legacy_senet154): parameters 115,088,984 and MACs
//   20,688,363,520 are module-tree counts of Cadene's definition (paper-facts §4 and §8; timm
//   prints 115.09M), re-derived by torch_models.py's self-check (EXPECTED_PARAMS / EXPECTED_MACS,
//   its twin built from Cadene's senet.py).
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <variant>

#include "senet/io/preprocess.hpp"
#include "senet/models/zoo.hpp"

namespace test_model_counts {

TEST(ModelCounts, ParameterCounts) {
  const std::map<std::string, std::int64_t> expected = {
      {"resnet50", 25'557'032},
      {"resnet101", 44'549'160},
      {"resnet152", 60'192'808},
      {"seresnet18", 11'779'624},
      {"seresnet34", 21'960'416},
      {"seresnet50", 28'088'024},
      {"seresnet101", 49'326'872},
      {"seresnet152", 66'821'848},
      {"legacy_seresnet18", 11'778'592},
      {"legacy_seresnet34", 21'958'868},
      {"legacy_seresnet50", 28'088'024},
      {"legacy_seresnet101", 49'326'872},
      {"legacy_seresnet152", 66'821'848},
      // torchvision's resnet18 / resnet34 (11.69M / 21.80M in its model table)
      {"resnet18", 11'689'512},
      {"resnet34", 21'797'672},
      // ResNeXt: torchvision publishes resnext50_32x4d's (25.03M, `num_params`); the SE forms are
      // module-tree counts of timm's and Cadene's definitions (paper-facts §8), the same in both.
      {"resnext50_32x4d", 25'028'904},
      {"seresnext50_32x4d", 27'559'896},
      {"seresnext101_32x4d", 48'955'416},
      {"legacy_seresnext50_32x4d", 27'559'896},
      {"legacy_seresnext101_32x4d", 48'955'416},
      // paper-facts §4 / §8, module-tree count of Cadene's senet154 (see the top of this file)
      {"legacy_senet154", 115'088'984}};
  for (const auto& [name, params] : expected) {
    auto model = senet::create_model<float>(name);
    EXPECT_EQ(count_parameters(*model), params) << name;
  }
}

// Computed counts (see the top of this file), the same integers as check_macs.py's hooks find.
TEST(ModelCounts, Macs) {
  const std::map<std::string, std::int64_t> expected = {
      {"resnet18", 1'814'073'344},
      {"resnet34", 3'663'761'408},
      {"resnet50", 4'089'184'256},
      {"resnet101", 7'801'405'440},
      {"resnet152", 11'513'626'624},
      {"seresnet18", 1'814'161'408},
      {"seresnet34", 3'663'920'128},
      {"seresnet50", 4'091'699'200},
      {"seresnet101", 7'806'148'608},
      {"seresnet152", 11'520'204'800},
      {"legacy_seresnet18", 1'814'160'384},
      {"legacy_seresnet34", 3'663'918'592},
      // The Caffe topology (stride on the first 1x1): the paper's 3.87 GMACs for SE-ResNet-50.
      {"legacy_seresnet50", 3'860'488'192},
      {"legacy_seresnet101", 7'574'937'600},
      {"legacy_seresnet152", 11'288'993'792},
      // paper-facts §8; Cadene's SE-ResNeXt strides the 3x3 as timm does, so the two agree.
      {"resnext50_32x4d", 4'230'479'872},
      {"seresnext50_32x4d", 4'232'994'816},
      {"seresnext101_32x4d", 7'974'739'968},
      {"legacy_seresnext50_32x4d", 4'232'994'816},
      {"legacy_seresnext101_32x4d", 7'974'739'968},
      // paper-facts §8: the deep stem, the 64-group 3x3s and the 3x3 stride-2 projections
      {"legacy_senet154", 20'688'363'520}};
  for (const auto& [name, macs] : expected) EXPECT_EQ(senet::create_model<float>(name)->total_macs(224), macs) << name;
  // MACs scale with the batch.
  EXPECT_EQ(senet::create_model<float>("resnet50")->total_macs(224, 3), 3 * 4'089'184'256LL);
}

TEST(ModelCounts, EveryRegisteredNameBuilds) {
  // ..., [se_]mobilenet, [se_]shufflenet, mobilenet_v3_*, regnet_y_400mf / _800mf, efficientnet_b0 / _b1
  EXPECT_EQ(senet::model_names().size(), 36u);
  for (const auto& name : senet::model_names()) {
    EXPECT_EQ(senet::create_model<double>(name, 7)->num_classes(), 7);
    // Its preset exists, and its class names, when it has them, name each of its classes.
    const senet::ModelEntry& e = senet::model_entry(name);
    EXPECT_NO_THROW(senet::preprocess_preset(e.preset)) << name;
    if (!e.labels.empty()) {
      EXPECT_EQ(e.labels.size(),
                static_cast<std::size_t>(std::visit([](const auto& c) { return c.num_classes; }, e.config)))
          << name;
    }
  }
  EXPECT_THROW(senet::create_model<float>("seresnet51"), senet::Error);
}

std::map<std::string, senet::Shape> shapes_of(const std::string& name) {
  std::map<std::string, senet::Shape> out;
  for (auto& [key, shape] : senet::parameter_shapes(*senet::create_model<float>(name))) out[key] = shape;
  return out;
}

TEST(ModelCounts, TimmNames) {
  const auto s = shapes_of("seresnet50");
  EXPECT_EQ(s.at("conv1.weight"), (senet::Shape{64, 3, 7, 7}));
  EXPECT_EQ(s.at("bn1.running_var"), (senet::Shape{64}));
  EXPECT_EQ(s.at("layer1.0.se.fc1.weight"), (senet::Shape{16, 256, 1, 1}));
  EXPECT_EQ(s.at("layer4.2.se.fc2.bias"), (senet::Shape{2048}));
  EXPECT_EQ(s.at("layer2.0.downsample.0.weight"), (senet::Shape{512, 256, 1, 1}));
  EXPECT_EQ(s.at("layer2.0.downsample.1.running_mean"), (senet::Shape{512}));
  EXPECT_EQ(s.at("fc.weight"), (senet::Shape{1000, 2048}));
  EXPECT_EQ(s.count("layer1.1.downsample.0.weight"), 0u);
  // timm rounds SE widths up to a multiple of 8: 64 / 16 = 4 becomes 8.
  EXPECT_EQ(shapes_of("seresnet18").at("layer1.0.se.fc1.weight"), (senet::Shape{8, 64, 1, 1}));
}

TEST(ModelCounts, LegacyNames) {
  const auto s = shapes_of("legacy_seresnet50");
  EXPECT_EQ(s.at("layer0.conv1.weight"), (senet::Shape{64, 3, 7, 7}));
  EXPECT_EQ(s.at("layer0.bn1.weight"), (senet::Shape{64}));
  EXPECT_EQ(s.at("layer3.5.se_module.fc1.weight"), (senet::Shape{64, 1024, 1, 1}));
  EXPECT_EQ(s.at("last_linear.bias"), (senet::Shape{1000}));
  EXPECT_EQ(s.count("fc.weight"), 0u);
  // Caffe keeps C // 16: 64 / 16 = 4.
  EXPECT_EQ(shapes_of("legacy_seresnet18").at("layer1.0.se_module.fc1.weight"), (senet::Shape{4, 64, 1, 1}));
}

// Cadene's senet154 names (timm's legacy_senet154 keeps them): the deep stem layer0.conv1..3, the
// first 1x1 to planes * 2, the 64-group 3x3 to planes * 4 (2 input channels per group in layer1),
// projections 1x1 in layer1 and 3x3 from layer2 on, se_module, last_linear.
TEST(ModelCounts, SENet154Names) {
  const auto s = shapes_of("legacy_senet154");
  EXPECT_EQ(s.at("layer0.conv1.weight"), (senet::Shape{64, 3, 3, 3}));
  EXPECT_EQ(s.at("layer0.conv2.weight"), (senet::Shape{64, 64, 3, 3}));
  EXPECT_EQ(s.at("layer0.conv3.weight"), (senet::Shape{128, 64, 3, 3}));
  EXPECT_EQ(s.at("layer0.bn3.running_mean"), (senet::Shape{128}));
  EXPECT_EQ(s.at("layer1.0.conv1.weight"), (senet::Shape{128, 128, 1, 1}));
  EXPECT_EQ(s.at("layer1.0.conv2.weight"), (senet::Shape{256, 2, 3, 3}));
  EXPECT_EQ(s.at("layer1.0.conv3.weight"), (senet::Shape{256, 256, 1, 1}));
  EXPECT_EQ(s.at("layer1.0.downsample.0.weight"), (senet::Shape{256, 128, 1, 1}));
  EXPECT_EQ(s.at("layer1.0.se_module.fc1.weight"), (senet::Shape{16, 256, 1, 1}));
  EXPECT_EQ(s.at("layer2.0.downsample.0.weight"), (senet::Shape{512, 256, 3, 3}));
  EXPECT_EQ(s.at("layer3.35.conv2.weight"), (senet::Shape{1024, 8, 3, 3}));
  EXPECT_EQ(s.at("layer4.0.downsample.0.weight"), (senet::Shape{2048, 1024, 3, 3}));
  EXPECT_EQ(s.at("layer4.2.se_module.fc2.weight"), (senet::Shape{2048, 128, 1, 1}));
  EXPECT_EQ(s.at("last_linear.weight"), (senet::Shape{1000, 2048}));
  EXPECT_EQ(s.count("layer1.1.downsample.0.weight"), 0u);
  EXPECT_EQ(s.count("layer3.36.conv1.weight"), 0u);
  const auto rows = senet::create_model<float>("legacy_senet154")->summary(224);
  ASSERT_GE(rows.size(), 7u);
  EXPECT_EQ(rows[6].name, "layer0.pool");  // conv1, bn1, conv2, bn2, conv3, bn3 (ReLUs have no row), pool
  EXPECT_EQ(rows[6].output_shape, (senet::Shape{1, 128, 56, 56}));
  EXPECT_EQ(senet::model_entry("legacy_senet154").preset, "timm");
}

TEST(ModelCounts, SummaryShapes) {
  const auto rows = senet::create_model<float>("legacy_seresnet50")->summary(224);
  ASSERT_FALSE(rows.empty());
  EXPECT_EQ(rows.front().name, "layer0.conv1");
  EXPECT_EQ(rows.front().output_shape, (senet::Shape{1, 64, 112, 112}));
  EXPECT_EQ(rows[2].name, "layer0.pool");  // Cadene's senet.py: layer0 = (conv1, bn1, relu1, pool)
  EXPECT_EQ(rows[2].output_shape, (senet::Shape{1, 64, 56, 56}));  // ceil mode: (112 - 3) / 2 rounded up + 1
  EXPECT_EQ(rows.back().name, "last_linear");
  EXPECT_EQ(rows.back().output_shape, (senet::Shape{1, 1000}));
}

}  // namespace test_model_counts

namespace test_model_counts {

// The README's design-space example, as written there.
TEST(ModelCounts, ReadmeDesignSpaceExample) {
  senet::ResNetConfig cfg = senet::model_config("legacy_seresnet50");
  cfg.se_options.reduction = 8;  // SEOptions: reduction, rounding, squeeze, gate, bias
  cfg.se_options.squeeze = senet::SESqueeze::max;
  cfg.se_position = senet::SEPosition::identity;    // standard, pre, post, identity, after3x3
  cfg.se_stages = std::vector<senet::Index>{2, 3};  // timm's layer2 and layer3
  auto model = senet::create_model<float>(cfg);     // load_weights() then expects that variant's keys
  // By hand: ResNet-50's 25,557,032 plus, per SE block on C = 512 (4 blocks) and 1024 (6 blocks)
  // channels with C / 8 hidden: 2 * C * C / 8 weights + C / 8 + C biases.
  const std::int64_t se512 = 2 * 512 * 64 + 64 + 512, se1024 = 2 * 1024 * 128 + 128 + 1024;
  EXPECT_EQ(count_parameters(*model), 25'557'032 + 4 * se512 + 6 * se1024);
  const auto shapes = senet::parameter_shapes(*model);
  const auto has = [&](const std::string& key) {
    return std::any_of(shapes.begin(), shapes.end(), [&](const auto& p) { return p.first == key; });
  };
  EXPECT_TRUE(has("layer2.0.se_module.fc1.weight"));
  EXPECT_FALSE(has("layer1.0.se_module.fc1.weight"));
  EXPECT_FALSE(has("layer4.0.se_module.fc1.weight"));
}

}  // namespace test_model_counts
