// Reduced-width SE-ResNets (timm and legacy, basic and bottleneck) against PyTorch logits from
// tests/fixtures/make_fixtures.py, in double and in float.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "model_cases.hpp"
#include "senet/io/npy.hpp"
#include "senet/io/weights.hpp"
#include "senet/models/zoo.hpp"
#include "test_util.hpp"

namespace test_model_parity {

template <class T>
class ModelParity : public ::testing::Test {};
using Scalars = ::testing::Types<float, double>;
TYPED_TEST_SUITE(ModelParity, Scalars);

TYPED_TEST(ModelParity, MatchesPyTorch) {
  using T = TypeParam;
  const auto all = senet::test::reduced_model_cases();
  ASSERT_GE(all.size(), 5u);
  for (const auto& c : all) {
    const std::string name = c.name();
    SCOPED_TRACE(name);
    senet::ResNet<T> model(senet::test::case_config(c.spec));
    senet::load_weights(model, c.file(".safetensors"));
    const auto x = senet::read_npy<T>(c.file(".input.npy"));
    const auto expected = senet::read_npy<double>(c.file(".output.npy"));
    const auto y = model.forward(x);
    ASSERT_EQ(y.shape(), expected.shape());
    const double err = senet::test::relative_error(y, expected);
    EXPECT_LE(err, senet::test::parity_tolerance<T>());
    std::printf("[ parity   ] %-36s %-6s max rel err %.2e\n", name.c_str(), sizeof(T) == 8 ? "double" : "float", err);
  }
}

}  // namespace test_model_parity
