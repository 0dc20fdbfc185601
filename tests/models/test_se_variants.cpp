// The SE design space of the paper as runtime options (reduction, rounding, squeeze, gate, bias,
// position, stages) against PyTorch: tiny SE-ResNets of both forms and both block types from
// tests/fixtures/make_se_variants.py, in float and double; and the paper's exact
// legacy_seresnet50 parameter counts for its reduction-ratio, bias-free and per-stage ablations.
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "senet/io/npy.hpp"
#include "senet/io/weights.hpp"
#include "senet/models/zoo.hpp"
#include "test_util.hpp"

namespace {

template <class E>
E parse_enum(const nlohmann::json& j, const char* what, const std::map<std::string, E>& names) {
  const std::string s = j.get<std::string>();
  const auto it = names.find(s);
  if (it == names.end()) throw std::runtime_error(std::string("cases.json: unknown ") + what + " '" + s + "'");
  return it->second;
}

/// The senet configuration of one cases.json entry.
senet::ResNetConfig config_of(const nlohmann::json& c) {
  const std::string family = c.at("family");
  if (family != "seresnet" && family != "legacy_seresnet") throw std::runtime_error("unknown family " + family);
  const auto& se = c.at("se");
  senet::ResNetConfig cfg;
  cfg.name = c.at("case");
  cfg.style = family == "legacy_seresnet" ? senet::ResNetStyle::legacy : senet::ResNetStyle::timm;
  cfg.block = parse_enum<senet::BlockType>(
      c.at("block"), "block", {{"basic", senet::BlockType::basic}, {"bottleneck", senet::BlockType::bottleneck}});
  cfg.layers = c.at("layers").get<std::vector<senet::Index>>();
  cfg.width = c.at("width");
  cfg.num_classes = c.at("num_classes");
  cfg.se = true;
  cfg.se_options.reduction = se.at("reduction");
  cfg.se_options.rounding = parse_enum<senet::SERounding>(
      se.at("rounding"), "rounding",
      {{"floor", senet::SERounding::floor}, {"divisible8", senet::SERounding::divisible8}});
  cfg.se_options.squeeze = parse_enum<senet::SESqueeze>(
      se.at("squeeze"), "squeeze",
      {{"avg", senet::SESqueeze::avg}, {"max", senet::SESqueeze::max}, {"avgmax", senet::SESqueeze::avgmax}});
  cfg.se_options.gate = parse_enum<senet::SEGate>(se.at("gate"), "gate",
                                                  {{"sigmoid", senet::SEGate::sigmoid},
                                                   {"tanh", senet::SEGate::tanh},
                                                   {"relu", senet::SEGate::relu},
                                                   {"hard_sigmoid", senet::SEGate::hard_sigmoid}});
  cfg.se_options.bias = se.at("bias").get<bool>();
  cfg.se_position = parse_enum<senet::SEPosition>(se.at("position"), "position",
                                                  {{"standard", senet::SEPosition::standard},
                                                   {"pre", senet::SEPosition::pre},
                                                   {"post", senet::SEPosition::post},
                                                   {"identity", senet::SEPosition::identity},
                                                   {"after3x3", senet::SEPosition::after3x3}});
  if (!se.at("stages").is_null()) cfg.se_stages = se.at("stages").get<std::vector<senet::Index>>();
  return cfg;
}

std::string variant_fixture(const std::string& name) { return senet::test::fixture("se_variants/" + name); }

nlohmann::json cases() {
  std::ifstream in(variant_fixture("cases.json"));
  EXPECT_TRUE(in.good()) << "missing " << variant_fixture("cases.json") << " (run tests/fixtures/make_se_variants.py)";
  return in.good() ? nlohmann::json::parse(in) : nlohmann::json::array();
}

template <class T>
class SEVariantParity : public ::testing::Test {};
TYPED_TEST_SUITE(SEVariantParity, senet::test::Scalars);

TYPED_TEST(SEVariantParity, EveryOptionAndPositionMatchesPyTorch) {
  using T = TypeParam;
  std::size_t checked = 0;
  // one case; a failed assertion ends that case only
  auto check = [&](const nlohmann::json& c) {
    const std::string name = c.at("case");
    SCOPED_TRACE(name);
    auto model = senet::create_model<T>(config_of(c));
    // strict: every key present, none extra, every shape right -- the SE names, widths (which
    // follow the position) and the absence of fc biases when bias is off.
    ASSERT_NO_THROW(senet::load_weights(*model, variant_fixture(name + ".safetensors")));
    const auto x = senet::read_npy<T>(variant_fixture(name + ".input.npy"));
    const auto expected = senet::read_npy<double>(variant_fixture(name + ".output.npy"));
    ASSERT_EQ(x.shape(), c.at("input_shape").get<senet::Shape>());
    const auto y = model->forward(x);
    ASSERT_EQ(y.shape(), expected.shape());
    const double err = senet::test::relative_error(y, expected);
    EXPECT_LE(err, senet::test::parity_tolerance<T>());
    std::printf("[ se-var   ] %-36s %-6s max rel err %.2e\n", name.c_str(), sizeof(T) == 8 ? "double" : "float", err);
    ++checked;
  };
  for (const auto& c : cases()) check(c);
  senet::test::expect_cases_above(checked, 19);
}

// The paper's SE-ResNet-50 ablations as exact parameter counts of the Caffe topology
// (legacy_seresnet50: C // r widths, biases unless said otherwise), paper-facts §2.
TEST(SEVariantCounts, PaperLegacySeresnet50DesignSpace) {
  const auto base = senet::model_config("legacy_seresnet50");
  auto with = [&](auto&& edit) {
    senet::ResNetConfig cfg = base;
    edit(cfg);
    return count_parameters(*senet::create_model<float>(cfg));
  };
  const std::map<senet::Index, std::int64_t> by_ratio = {
      {2, 45'699'240}, {4, 35'635'688}, {8, 30'603'912}, {16, 28'088'024}, {32, 26'830'080}};
  for (const auto& [r, params] : by_ratio)
    EXPECT_EQ(with([r = r](senet::ResNetConfig& c) { c.se_options.reduction = r; }), params) << "r = " << r;
  EXPECT_EQ(with([](senet::ResNetConfig& c) { c.se_options.bias = false; }), 28'071'976) << "bias-free r = 16";
  const std::map<senet::Index, std::int64_t> by_stage = {
      {1, 25'582'424}, {2, 25'690'280}, {3, 26'349'992}, {4, 27'136'424}};
  for (const auto& [stage, params] : by_stage)
    EXPECT_EQ(with([stage = stage](senet::ResNetConfig& c) { c.se_stages = std::vector<senet::Index>{stage}; }), params)
        << "SE in stage " << stage << " only";
}

}  // namespace
