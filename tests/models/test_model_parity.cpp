// Reduced-width SE-ResNets (timm and legacy, basic and bottleneck) against PyTorch logits from
// tests/fixtures/make_fixtures.py, in double and in float.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "senet/io/npy.hpp"
#include "senet/io/weights.hpp"
#include "senet/models/zoo.hpp"
#include "test_util.hpp"

namespace {

senet::ResNetConfig config_of(const nlohmann::json& c) {
  const std::string family = c.at("family");
  senet::ResNetConfig cfg;
  cfg.name = c.at("case");
  cfg.block = c.at("block") == "basic" ? senet::BlockType::basic : senet::BlockType::bottleneck;
  cfg.layers = c.at("layers").get<std::vector<senet::Index>>();
  cfg.style = family == "legacy_seresnet" ? senet::ResNetStyle::legacy : senet::ResNetStyle::timm;
  cfg.se = family != "resnet";
  cfg.se_options.reduction = c.value("se_reduction", 16);
  cfg.se_options.rounding =
      cfg.style == senet::ResNetStyle::legacy ? senet::SERounding::floor : senet::SERounding::divisible8;
  cfg.width = c.at("width");
  cfg.num_classes = c.at("num_classes");
  return cfg;
}

nlohmann::json cases() {
  std::ifstream in(senet::test::fixture("models.json"));
  EXPECT_TRUE(in.good()) << "missing " << senet::test::fixture("models.json");
  return in.good() ? nlohmann::json::parse(in) : nlohmann::json::array();
}

template <class T>
class ModelParity : public ::testing::Test {};
using Scalars = ::testing::Types<float, double>;
TYPED_TEST_SUITE(ModelParity, Scalars);

TYPED_TEST(ModelParity, MatchesPyTorch) {
  using T = TypeParam;
  const auto all = cases();
  ASSERT_GE(all.size(), 5u);
  for (const auto& c : all) {
    const std::string name = c.at("case");
    SCOPED_TRACE(name);
    senet::ResNet<T> model(config_of(c));
    senet::load_weights(model, senet::test::fixture(name + ".safetensors"));
    const auto x = senet::read_npy<T>(senet::test::fixture(name + ".input.npy"));
    const auto expected = senet::read_npy<double>(senet::test::fixture(name + ".output.npy"));
    const auto y = model.forward(x);
    ASSERT_EQ(y.shape(), expected.shape());
    const double err = senet::test::relative_error(y, expected);
    EXPECT_LE(err, senet::test::parity_tolerance<T>());
    std::printf("[ parity   ] %-36s %-6s max rel err %.2e\n", name.c_str(), sizeof(T) == 8 ? "double" : "float", err);
  }
}

}  // namespace
