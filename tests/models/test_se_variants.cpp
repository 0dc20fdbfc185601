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

#include "model_cases.hpp"
#include "senet/io/npy.hpp"
#include "senet/io/weights.hpp"
#include "senet/models/zoo.hpp"
#include "test_util.hpp"

namespace test_se_variants {

template <class T>
class SEVariantParity : public ::testing::Test {};
TYPED_TEST_SUITE(SEVariantParity, senet::test::Scalars);

TYPED_TEST(SEVariantParity, EveryOptionAndPositionMatchesPyTorch) {
  using T = TypeParam;
  std::size_t checked = 0;
  // one case; a failed assertion ends that case only
  auto check = [&](const senet::test::ModelCase& c) {
    const std::string name = c.name();
    SCOPED_TRACE(name);
    auto model = senet::create_model<T>(senet::test::case_config(c.spec));
    // strict: every key present, none extra, every shape right -- the SE names, widths (which
    // follow the position) and the absence of fc biases when bias is off.
    ASSERT_NO_THROW(senet::load_weights(*model, c.file(".safetensors")));
    const auto x = senet::read_npy<T>(c.file(".input.npy"));
    const auto expected = senet::read_npy<double>(c.file(".output.npy"));
    ASSERT_EQ(x.shape(), c.spec.at("input_shape").get<senet::Shape>());
    const auto y = model->forward(x);
    ASSERT_EQ(y.shape(), expected.shape());
    const double err = senet::test::relative_error(y, expected);
    EXPECT_LE(err, senet::test::parity_tolerance<T>());
    std::printf("[ se-var   ] %-36s %-6s max rel err %.2e\n", name.c_str(), sizeof(T) == 8 ? "double" : "float", err);
    ++checked;
  };
  for (const auto& c : senet::test::se_variant_cases()) check(c);
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

}  // namespace test_se_variants
