// torchvision's SE networks (senet/models/mobilenet_v3.hpp, regnet.hpp, efficientnet.hpp): exact sizes,
// torchvision's parameter names, and parity with torchvision.models itself on random-weight
// checkpoints that torch.save wrote (tests/fixtures/make_torchvision_fixtures.py,
// tests/fixtures/data/torchvision/), loaded through senet's .pth reader. The SE paper's mobile
// networks (senet/models/mobilenet.hpp, shufflenet.hpp) the same way, against their PyTorch twins
// (tests/fixtures/torch_mobile.py: MobileNet v1, and ShuffleNet v1 as Megvii's official code).
//
// Where the integers come from: torchvision 0.14's models counted by module tree (every
// convolution and linear layer, SE included, one 224x224 image): the table for
// MobileNetV3, and sizes.json, which the fixture generator writes from torchvision's own
// networks, for every published network there; fixtures.macs_match_pytorch_hooks re-derives them
// layer by layer with forward hooks on torchvision.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <memory>
#include <optional>
#include <map>
#include <set>
#include <string>
#include <variant>
#include <vector>

#include "model_cases.hpp"
#include "senet/io/npy.hpp"
#include "senet/io/weights.hpp"
#include "senet/models/efficientnet.hpp"
#include "senet/models/mobilenet.hpp"
#include "senet/models/mobilenet_v3.hpp"
#include "senet/models/prepared.hpp"
#include "senet/models/regnet.hpp"
#include "senet/models/shufflenet.hpp"
#include "senet/models/zoo.hpp"
#include "test_util.hpp"

namespace test_torchvision {

/// The preset of torchvision's published weights for `model` (its `IMAGENET1K_V1` transforms), as
/// tests/fixtures/make_image_fixtures.py read it from torchvision into the image manifest; none for
/// a model without published weights.
std::optional<std::string> torchvision_weights_preset(const std::string& model) {
  std::ifstream in(senet::test::fixture("images/images.json"));
  const nlohmann::json manifest = nlohmann::json::parse(in);
  for (const auto& w : manifest.at("weights_transforms")) {
    std::string name = w.at("weights");  // e.g. "RegNet_Y_400MF_Weights.IMAGENET1K_V1"
    name = name.substr(0, name.find("_Weights"));
    std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::tolower(c); });
    if (name == model) return w.at("preset").get<std::string>();
  }
  return std::nullopt;
}

/// The preset `model` must be registered with: its published weights' (torchvision's networks), or
/// the generic ImageNet "timm" (the SE paper's mobile networks, which have no published weights).
std::string expected_preset(const std::string& model) {
  // the SE paper's MobileNet and ShuffleNet have no published weights
  const senet::ModelConfig& cfg = senet::model_entry(model).config;
  const bool paper_mobile =
      std::holds_alternative<senet::MobileNetConfig>(cfg) || std::holds_alternative<senet::ShuffleNetConfig>(cfg);
  const std::optional<std::string> published = torchvision_weights_preset(model);
  EXPECT_EQ(published.has_value(), !paper_mobile) << model;
  return published.value_or("timm");
}

senet::MobileNetV3Config case_config(const nlohmann::json& c) {
  senet::MobileNetV3Config cfg;
  cfg.name = c.at("case");
  const std::string model = c.at("model");
  cfg.variant = model == "mobilenet_v3_small" ? senet::MobileNetV3Variant::small : senet::MobileNetV3Variant::large;
  cfg.width_mult = c.at("width_mult");
  cfg.num_classes = c.at("num_classes");
  return cfg;
}

/// A case's "regnet" settings: torchvision's BlockParams.from_init_params arguments, stem width.
senet::RegNetConfig regnet_case_config(const nlohmann::json& c) {
  const auto& r = c.at("regnet");
  senet::RegNetConfig cfg;
  cfg.name = c.at("case");
  cfg.depth = r.at("depth");
  cfg.w_0 = r.at("w_0");
  cfg.w_a = r.at("w_a");
  cfg.w_m = r.at("w_m");
  cfg.group_width = r.at("group_width");
  cfg.se_ratio = r.at("se_ratio");
  cfg.stem_width = r.at("stem_width");
  cfg.num_classes = c.at("num_classes");
  return cfg;
}

/// A case's "efficientnet" settings: _efficientnet_conf's width_mult and depth_mult.
senet::EfficientNetConfig efficientnet_case_config(const nlohmann::json& c) {
  senet::EfficientNetConfig cfg;
  cfg.name = c.at("case");
  cfg.width_mult = c.at("width_mult");
  cfg.depth_mult = c.at("depth_mult");
  cfg.num_classes = c.at("num_classes");
  return cfg;
}

/// A mobile case ("mobilenet", "se_mobilenet", "shufflenet", "se_shufflenet"): the twin's settings.
senet::ModelConfig mobile_case_config(const nlohmann::json& c) {
  const std::string model = c.at("model");
  const bool se = model.rfind("se_", 0) == 0;
  if (model == "shufflenet" || model == "se_shufflenet") {
    senet::ShuffleNetConfig cfg{c.at("case"), se};
    cfg.groups = c.at("groups");
    cfg.stage_out_channels = c.at("stage_out_channels").get<std::vector<senet::Index>>();
    cfg.stage_repeats = c.at("stage_repeats").get<std::vector<senet::Index>>();
    cfg.num_classes = c.at("num_classes");
    return cfg;
  }
  senet::MobileNetConfig cfg{c.at("case"), se};
  cfg.width_mult = c.at("width_mult");
  cfg.num_classes = c.at("num_classes");
  return cfg;
}

/// The network of a case, with zero weights.
template <class T>
std::unique_ptr<senet::Model<T>> case_model(const nlohmann::json& c) {
  const std::string model = c.at("model");
  if (model == "mobilenet" || model == "se_mobilenet" || model == "shufflenet" || model == "se_shufflenet")
    return senet::create_model<T>(mobile_case_config(c));
  if (c.at("model") == "regnet") return std::make_unique<senet::RegNet<T>>(regnet_case_config(c));
  if (c.at("model") == "efficientnet") return std::make_unique<senet::EfficientNet<T>>(efficientnet_case_config(c));
  return std::make_unique<senet::MobileNetV3<T>>(case_config(c));
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
    EXPECT_EQ(senet::model_entry(name).preset, expected_preset(name));
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

// Every published network of sizes.json (torchvision's own counts): parameters, MACs at 224 and at
// the size it is published at (the registry's input_size).
TEST(TorchvisionSizes, MatchTorchvision) {
  std::ifstream in(senet::test::fixture("torchvision/sizes.json"));
  ASSERT_TRUE(in.good()) << "missing torchvision/sizes.json (make_torchvision_fixtures.py)";
  const auto sizes = nlohmann::json::parse(in);
  EXPECT_GE(sizes.size(), 10u);
  for (const auto& [name, s] : sizes.items()) {
    SCOPED_TRACE(name);
    const auto model = senet::create_model<float>(name);
    const senet::Index size = s.at("input_size");
    EXPECT_EQ(model->input_size(), size);
    EXPECT_EQ(senet::count_parameters(*model), s.at("params").get<std::int64_t>());
    EXPECT_EQ(model->total_macs(224), s.at("macs_224").get<std::int64_t>());
    EXPECT_EQ(model->total_macs(size), s.at("macs_input_size").get<std::int64_t>());
    EXPECT_EQ(model->output_shape({2, 3, size, size}), (senet::Shape{2, 1000}));
    EXPECT_EQ(senet::model_entry(name).preset, expected_preset(name));
  }
}

TEST(RegNet, StagesAsTorchvision) {
  // BlockParams.from_init_params(...).depths / .widths / .group_widths, printed by torchvision
  const auto stages = [](const std::string& name) {
    std::vector<std::array<senet::Index, 3>> out;
    for (const auto& s : senet::regnet_stages(std::get<senet::RegNetConfig>(senet::model_config_of(name))))
      out.push_back({s.depth, s.width, s.group_width});
    return out;
  };
  using V = std::vector<std::array<senet::Index, 3>>;
  EXPECT_EQ(stages("regnet_y_400mf"), (V{{1, 48, 8}, {3, 104, 8}, {6, 208, 8}, {6, 440, 8}}));
  EXPECT_EQ(stages("regnet_y_800mf"), (V{{1, 64, 16}, {3, 144, 16}, {8, 320, 16}, {2, 784, 16}}));
  // the reduced d6 case: quantised 8, 16, 40, 88; group width 16 capped at 8, 40 -> 48, 88 -> 96
  senet::RegNetConfig d6;
  d6.depth = 6;
  d6.w_0 = 8;
  d6.w_a = 12;
  d6.w_m = 2.2;
  d6.group_width = 16;
  std::vector<std::array<senet::Index, 3>> got;
  for (const auto& s : senet::regnet_stages(d6)) got.push_back({s.depth, s.width, s.group_width});
  EXPECT_EQ(got, (V{{1, 8, 8}, {1, 16, 16}, {3, 48, 16}, {1, 96, 16}}));
  senet::RegNetConfig bad;
  bad.w_0 = 12;  // not a multiple of 8: torchvision's "Invalid RegNet settings"
  EXPECT_THROW(senet::RegNet<float>{bad}, senet::Error);
  bad.w_0 = 48;
  bad.w_m = 1.0;
  EXPECT_THROW(senet::RegNet<float>{bad}, senet::Error);
}

TEST(RegNet, TorchvisionNamesAndShapes) {
  using S = senet::Shape;
  std::map<std::string, S> p;
  const auto model = senet::create_model<float>("regnet_y_400mf");
  EXPECT_EQ(model->type_name(), "RegNet");
  for (const auto& [n, s] : senet::parameter_shapes(*model)) p[n] = s;
  EXPECT_EQ(p.at("stem.0.weight"), (S{32, 3, 3, 3}));
  EXPECT_EQ(p.at("stem.1.running_mean"), (S{32}));
  const std::string b10 = "trunk_output.block1.block1-0.";
  EXPECT_EQ(p.at(b10 + "proj.0.weight"), (S{48, 32, 1, 1}));
  EXPECT_EQ(p.at(b10 + "proj.1.weight"), (S{48}));
  EXPECT_EQ(p.at(b10 + "f.a.0.weight"), (S{48, 32, 1, 1}));
  EXPECT_EQ(p.at(b10 + "f.b.0.weight"), (S{48, 8, 3, 3}));  // 6 groups of 8
  EXPECT_EQ(p.at(b10 + "f.se.fc1.weight"), (S{8, 48, 1, 1}));  // round(0.25 * 32): the block's input
  EXPECT_EQ(p.at(b10 + "f.se.fc1.bias"), (S{8}));
  EXPECT_EQ(p.at(b10 + "f.se.fc2.weight"), (S{48, 8, 1, 1}));
  EXPECT_EQ(p.at(b10 + "f.c.0.weight"), (S{48, 48, 1, 1}));
  EXPECT_EQ(p.at(b10 + "f.c.1.running_var"), (S{48}));
  // the second block of stage 2 keeps width and size: no proj; SE round(0.25 * 104) = 26
  const std::string b21 = "trunk_output.block2.block2-1.";
  EXPECT_EQ(p.count(b21 + "proj.0.weight"), 0u);
  EXPECT_EQ(p.at(b21 + "f.se.fc1.weight"), (S{26, 104, 1, 1}));
  EXPECT_EQ(p.at("trunk_output.block2.block2-0.f.se.fc1.weight"), (S{12, 104, 1, 1}));  // round(0.25 * 48)
  EXPECT_EQ(p.at("trunk_output.block4.block4-5.f.b.0.weight"), (S{440, 8, 3, 3}));
  EXPECT_EQ(p.count("trunk_output.block4.block4-6.f.a.0.weight"), 0u);
  EXPECT_EQ(p.at("fc.weight"), (S{1000, 440}));
  EXPECT_EQ(p.at("fc.bias"), (S{1000}));
  std::size_t se = 0, biases = 0;
  for (const auto& [n, s] : p) {
    se += n.find("se.fc1.weight") != std::string::npos;
    biases += n.size() > 5 && n.compare(n.size() - 5, 5, ".bias") == 0 && n.find(".1.bias") == std::string::npos;
  }
  EXPECT_EQ(se, 16u);
  EXPECT_EQ(biases, 2u * 16 + 1);  // fc1 / fc2 of each SE, and fc: no convolution has one
  const auto p800 = senet::parameter_shapes(*senet::create_model<float>("regnet_y_800mf"));
  std::map<std::string, S> q(p800.begin(), p800.end());
  EXPECT_EQ(q.at("trunk_output.block3.block3-7.f.b.0.weight"), (S{320, 16, 3, 3}));
  EXPECT_EQ(q.at("trunk_output.block4.block4-0.f.se.fc1.weight"), (S{80, 784, 1, 1}));  // 0.25 * 320
  EXPECT_EQ(q.at("fc.weight"), (S{1000, 784}));
}

TEST(EfficientNet, TorchvisionNamesAndShapes) {
  using S = senet::Shape;
  std::map<std::string, S> p, b1;
  const auto model = senet::create_model<float>("efficientnet_b0");
  EXPECT_EQ(model->type_name(), "EfficientNet");
  for (const auto& [n, s] : senet::parameter_shapes(*model)) p[n] = s;
  for (const auto& [n, s] : senet::parameter_shapes(*senet::create_model<float>("efficientnet_b1"))) b1[n] = s;
  EXPECT_EQ(p.at("features.0.0.weight"), (S{32, 3, 3, 3}));
  EXPECT_EQ(p.at("features.0.1.running_var"), (S{32}));
  // stage 1 does not expand: depthwise block.0, SE block.1 (32 // 4 = 8 hidden), project block.2
  EXPECT_EQ(p.at("features.1.0.block.0.0.weight"), (S{32, 1, 3, 3}));
  EXPECT_EQ(p.at("features.1.0.block.1.fc1.weight"), (S{8, 32, 1, 1}));
  EXPECT_EQ(p.at("features.1.0.block.1.fc2.bias"), (S{32}));
  EXPECT_EQ(p.at("features.1.0.block.2.0.weight"), (S{16, 32, 1, 1}));
  // stage 2 block 0 (16 -> 24, expand 6: 96): SE hidden from the block's input, 16 // 4 = 4
  EXPECT_EQ(p.at("features.2.0.block.0.0.weight"), (S{96, 16, 1, 1}));
  EXPECT_EQ(p.at("features.2.0.block.1.0.weight"), (S{96, 1, 3, 3}));
  EXPECT_EQ(p.at("features.2.0.block.2.fc1.weight"), (S{4, 96, 1, 1}));
  EXPECT_EQ(p.at("features.2.0.block.3.0.weight"), (S{24, 96, 1, 1}));
  EXPECT_EQ(p.at("features.2.1.block.2.fc1.weight"), (S{6, 144, 1, 1}));  // 24 // 4
  EXPECT_EQ(p.at("features.6.3.block.1.0.weight"), (S{1152, 1, 5, 5}));
  EXPECT_EQ(p.count("features.6.4.block.0.0.weight"), 0u);
  EXPECT_EQ(p.at("features.7.0.block.3.0.weight"), (S{320, 1152, 1, 1}));
  EXPECT_EQ(p.at("features.8.0.weight"), (S{1280, 320, 1, 1}));
  EXPECT_EQ(p.at("classifier.1.weight"), (S{1000, 1280}));
  EXPECT_EQ(p.at("classifier.1.bias"), (S{1000}));
  std::size_t se = 0, se_b1 = 0;
  for (const auto& [n, s] : p) se += n.find("fc1.weight") != std::string::npos;
  for (const auto& [n, s] : b1) se_b1 += n.find("fc1.weight") != std::string::npos;
  EXPECT_EQ(se, 16u);
  EXPECT_EQ(se_b1, 23u);  // ceil(n * 1.1): 2, 3, 3, 4, 4, 5, 2
  EXPECT_EQ(b1.count("features.1.1.block.2.0.weight"), 1u);  // stage 1 has two blocks in b1; the second adds
  EXPECT_EQ(b1.count("features.6.4.block.0.0.weight"), 1u);
  EXPECT_EQ(b1.count("features.7.1.block.0.0.weight"), 1u);
  senet::EfficientNetConfig bad;
  bad.depth_mult = 0;
  EXPECT_THROW(senet::EfficientNet<float>{bad}, senet::Error);
}

// The SE of EfficientNet has SiLU inside: the naive block by hand, on a 1x1 input.
TEST(EfficientNet, ExcitationHasSiluInside) {
  senet::SEOptions o;
  o.activation = senet::Activation::silu;
  auto se = senet::SEBlock<double>::with_hidden(2, 1, o);
  se.visit_parameters([](const std::string& n, senet::Tensor<double>& t, senet::ParameterKind) {
    if (n == "fc1.weight") t[0] = 1.0, t[1] = -2.0;  // [1, 2, 1, 1]
    if (n == "fc1.bias") t[0] = -0.5;
    if (n == "fc2.weight") t[0] = 1.5, t[1] = -1.0;  // [2, 1, 1, 1]
    if (n == "fc2.bias") t[0] = 0.25, t[1] = 0.0;
  });
  senet::Tensor<double> x({1, 2, 1, 1});
  x[0] = 0.3;
  x[1] = -0.7;
  const auto y = se.forward(x);
  const double h = 0.3 - 2.0 * -0.7 - 0.5, a = h / (1.0 + std::exp(-h));  // SiLU, not ReLU
  const auto sigmoid = [](double v) { return 1.0 / (1.0 + std::exp(-v)); };
  EXPECT_NEAR(y[0], 0.3 * sigmoid(1.5 * a + 0.25), 1e-15);
  EXPECT_NEAR(y[1], -0.7 * sigmoid(-1.0 * a), 1e-15);
}

// The SE paper's Table 3 sizes (paper-facts §3) beside ours, within the margins: params
// 3% and MACs 3% for the MobileNets, params 6% and MACs 5% for the ShuffleNets. The exact
// integers are the twins' (sizes.json, TorchvisionSizes above; check_macs.py layer by layer).
TEST(PaperMobileNets, SizesNearTable3) {
  struct Row {
    const char* name;
    std::int64_t params, macs;         // ours, at 224
    double paper_params, paper_macs;   // Table 3
    double params_margin, macs_margin;
    const char* type;
  };
  for (const Row& r : {Row{"mobilenet", 4'231'976, 568'740'352, 4.2e6, 569e6, 0.03, 0.03, "MobileNet"},
                       Row{"se_mobilenet", 4'718'044, 569'220'096, 4.7e6, 572e6, 0.03, 0.03, "MobileNet"},
                       Row{"shufflenet", 1'864'728, 137'460'672, 1.8e6, 140e6, 0.06, 0.05, "ShuffleNet"},
                       Row{"se_shufflenet", 2'483'533, 138'071'088, 2.4e6, 142e6, 0.06, 0.05, "ShuffleNet"}}) {
    SCOPED_TRACE(r.name);
    const auto model = senet::create_model<float>(r.name);
    EXPECT_EQ(model->type_name(), r.type);
    EXPECT_EQ(senet::count_parameters(*model), r.params);
    EXPECT_EQ(model->total_macs(224), r.macs);
    EXPECT_LE(std::abs(double(r.params) / r.paper_params - 1), r.params_margin);
    EXPECT_LE(std::abs(double(r.macs) / r.paper_macs - 1), r.macs_margin);
    EXPECT_EQ(model->output_shape({2, 3, 224, 224}), (senet::Shape{2, 1000}));
  }
}

TEST(PaperMobileNets, MobileNetNamesAndShapes) {
  using S = senet::Shape;
  std::map<std::string, S> p, se;
  for (const auto& [n, s] : senet::parameter_shapes(*senet::create_model<float>("mobilenet"))) p[n] = s;
  for (const auto& [n, s] : senet::parameter_shapes(*senet::create_model<float>("se_mobilenet"))) se[n] = s;
  EXPECT_EQ(p.at("features.0.0.weight"), (S{32, 3, 3, 3}));
  EXPECT_EQ(p.at("features.0.1.running_var"), (S{32}));
  EXPECT_EQ(p.at("features.1.dw.0.weight"), (S{32, 1, 3, 3}));
  EXPECT_EQ(p.at("features.1.pw.0.weight"), (S{64, 32, 1, 1}));
  EXPECT_EQ(p.at("features.2.dw.0.weight"), (S{64, 1, 3, 3}));
  EXPECT_EQ(p.at("features.13.pw.1.weight"), (S{1024}));
  EXPECT_EQ(p.at("classifier.weight"), (S{1000, 1024}));
  EXPECT_EQ(p.at("classifier.bias"), (S{1000}));
  EXPECT_EQ(p.count("features.14.dw.0.weight"), 0u);
  EXPECT_EQ(se.at("features.1.se.fc1.weight"), (S{4, 64, 1, 1}));  // 64 // 16
  EXPECT_EQ(se.at("features.1.se.fc2.bias"), (S{64}));
  EXPECT_EQ(se.at("features.13.se.fc1.weight"), (S{64, 1024, 1, 1}));
  std::size_t blocks_with_se = 0, extra = 0;
  for (const auto& [n, s] : se) {
    blocks_with_se += n.find("se.fc1.weight") != std::string::npos;
    extra += p.count(n) == 0;
  }
  EXPECT_EQ(blocks_with_se, 13u);
  EXPECT_EQ(extra, 4u * 13);  // only the SE blocks' fc1 / fc2 weights and biases are new
  senet::MobileNetConfig bad;
  bad.width_mult = 0;
  EXPECT_THROW(senet::MobileNet<float>{bad}, senet::Error);
}

// The official ShuffleNet-Series names (ShuffleNetV1/network.py, blocks.py), so that its 1.0x
// g = 3 checkpoint's keys fit; the first unit's 1x1 is not grouped; stride-2 units give out - in.
TEST(PaperMobileNets, ShuffleNetOfficialNamesAndShapes) {
  using S = senet::Shape;
  std::map<std::string, S> p, se;
  for (const auto& [n, s] : senet::parameter_shapes(*senet::create_model<float>("shufflenet"))) p[n] = s;
  for (const auto& [n, s] : senet::parameter_shapes(*senet::create_model<float>("se_shufflenet"))) se[n] = s;
  EXPECT_EQ(p.at("first_conv.0.weight"), (S{24, 3, 3, 3}));
  EXPECT_EQ(p.at("first_conv.1.running_mean"), (S{24}));
  EXPECT_EQ(p.at("features.0.branch_main_1.0.weight"), (S{60, 24, 1, 1}));  // groups 1 in the first unit
  EXPECT_EQ(p.at("features.0.branch_main_1.3.weight"), (S{60, 1, 3, 3}));
  EXPECT_EQ(p.at("features.0.branch_main_1.4.running_var"), (S{60}));
  EXPECT_EQ(p.at("features.0.branch_main_2.0.weight"), (S{216, 20, 1, 1}));  // 240 - 24, 3 groups
  EXPECT_EQ(p.at("features.1.branch_main_1.0.weight"), (S{60, 80, 1, 1}));
  EXPECT_EQ(p.at("features.1.branch_main_2.1.weight"), (S{240}));
  EXPECT_EQ(p.at("features.4.branch_main_1.0.weight"), (S{120, 80, 1, 1}));
  EXPECT_EQ(p.at("features.4.branch_main_2.0.weight"), (S{240, 40, 1, 1}));   // 480 - 240
  EXPECT_EQ(p.at("features.12.branch_main_2.0.weight"), (S{480, 80, 1, 1}));  // 960 - 480
  EXPECT_EQ(p.at("features.15.branch_main_2.0.weight"), (S{960, 80, 1, 1}));
  EXPECT_EQ(p.count("features.16.branch_main_1.0.weight"), 0u);
  EXPECT_EQ(p.at("classifier.0.weight"), (S{1000, 960}));
  EXPECT_EQ(p.count("classifier.0.bias"), 0u);
  EXPECT_EQ(se.at("features.0.se.fc1.weight"), (S{13, 216, 1, 1}));  // 216 // 16
  EXPECT_EQ(se.at("features.15.se.fc2.weight"), (S{960, 60, 1, 1}));
  std::size_t units_with_se = 0;
  for (const auto& [n, s] : se) units_with_se += n.find("se.fc1.weight") != std::string::npos;
  EXPECT_EQ(units_with_se, 16u);
  senet::ShuffleNetConfig bad;
  bad.groups = 7;  // 60 / 7
  EXPECT_THROW(senet::ShuffleNet<float>{bad}, senet::Error);
  bad.groups = 3;
  bad.stage_repeats = {4, 8};
  EXPECT_THROW(senet::ShuffleNet<float>{bad}, senet::Error);
}

// How the fast engine lowers the full-size networks: a gathering step per channel shuffle; in
// SE-ShuffleNet the SE, the add or the ReLU of every unit in its last convolution's epilogue (no
// scaling pass); in SE-MobileNet each SE after the pointwise ReLU as one scaling pass; the
// stride-2 units' concatenations as two copies each (written in place where the plan allows).
TEST(PaperMobileNets, PreparedSteps) {
  const auto steps = [](const std::string& name) {
    std::unique_ptr<senet::Model<float>> model = senet::create_model<float>(name);
    std::string why;
    const auto fast = senet::PreparedNetwork::try_prepare(model, {}, &why);
    EXPECT_NE(fast, nullptr) << name << ": " << why;
    std::map<std::string, int> kinds;
    if (fast)
      for (const auto& s : fast->step_names()) ++kinds[s.substr(0, s.find(' '))];
    return std::make_pair(kinds, fast ? fast->step_names() : std::vector<std::string>{});
  };
  const auto [shuffle, shuffle_names] = steps("se_shufflenet");
  EXPECT_EQ(shuffle.at("shuffle"), 16);
  EXPECT_EQ(shuffle.count("scale"), 0u);
  EXPECT_EQ(shuffle.at("conv"), 1 + 3 * 16);
  EXPECT_EQ(shuffle.at("concat_copy"), 2 * 3);
  EXPECT_EQ(shuffle.at("avg_pool"), 3);
  EXPECT_NE(std::find(shuffle_names.begin(), shuffle_names.end(), "shuffle features.0.channel_shuffle"),
            shuffle_names.end());
  const auto [mobile, mobile_names] = steps("se_mobilenet");
  EXPECT_EQ(mobile.at("conv"), 1 + 2 * 13);
  EXPECT_EQ(mobile.at("scale"), 13);
  EXPECT_EQ(mobile.count("shuffle"), 0u);
  EXPECT_EQ(steps("shufflenet").first.at("shuffle"), 16);
}

template <class T>
class TorchvisionParity : public ::testing::Test {};
TYPED_TEST_SUITE(TorchvisionParity, senet::test::Scalars);

// Loaded from the .pth torch.save wrote, strictly (every key, no more), against torchvision's
// float64 logits.
TYPED_TEST(TorchvisionParity, MatchesTorchvision) {
  using T = TypeParam;
  const auto cases = torchvision_cases();
  ASSERT_EQ(cases.size(), 10u);
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name());
    const auto model = case_model<T>(c.spec);
    senet::load_weights(*model, c.file(".pth"));
    const auto x = senet::read_npy<T>(c.file(".input.npy"));
    const auto expected = senet::read_npy<double>(c.file(".output.npy"));
    ASSERT_EQ(x.shape(), c.spec.at("input_shape").get<senet::Shape>());
    const double err = senet::test::relative_error(model->forward(x), expected);
    EXPECT_LE(err, senet::test::parity_tolerance<T>());
    std::printf("[ parity   ] %-26s %-6s max rel err %.2e\n", c.name().c_str(), sizeof(T) == 8 ? "double" : "float",
                err);
  }
}

// The fast engine on every kernel path (depthwise convolutions as lane groups of 1, RegNet's groups
// of 8 and 16, ShuffleNet's of 20, 40, 72, 80 and 160 and its channel shuffle, hard-swish and SiLU
// in the epilogues, SE after an activation as a scaling pass, concatenation at channel offset 24
// after a 3x3 average pool, the two-layer head, a head without bias), image by image and with
// three images run together on two threads.
TEST(TorchvisionParity, PreparedMatchesTorchvision) {
  for (const auto& c : torchvision_cases()) {
    for (const auto path : senet::test::available_paths()) {
      SCOPED_TRACE(c.name() + " / " + senet::to_string(path));
      std::unique_ptr<senet::Model<float>> model = case_model<float>(c.spec);
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

}  // namespace test_torchvision
