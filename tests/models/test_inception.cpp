// The BN-Inception family (senet/models/inception.hpp): exact sizes, Cadene's parameter names,
// and float64 / float32 parity with the PyTorch twin (tests/fixtures/torch_inception.py) on the
// reduced-width fixtures of tests/fixtures/make_inception_fixtures.py
// (tests/fixtures/data/inception/cases.json).
//
// Where the integers come from: paper-facts §8 (module-tree counts of Cadene's bninception.py and
// of the SENet authors' SE-BN-Inception); torch_inception.py's self-check re-derives the same
// parameters and MACs (every conv and linear, SE included, one 224x224 image) with
// torch_models.count_params / count_macs.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "model_cases.hpp"
#include "senet/io/npy.hpp"
#include "senet/io/weights.hpp"
#include "senet/models/inception.hpp"
#include "senet/models/prepared.hpp"
#include "senet/models/random_init.hpp"
#include "senet/models/zoo.hpp"
#include "test_util.hpp"

namespace test_inception {

senet::InceptionConfig full_config(const std::string& name) {
  senet::InceptionConfig cfg;
  cfg.name = name;
  cfg.se = name == "se_bn_inception";
  return cfg;
}

std::map<std::string, senet::Shape> shapes_of(const senet::Module<float>& m) {
  std::map<std::string, senet::Shape> out;
  for (const auto& [name, shape] : senet::parameter_shapes(m)) {
    EXPECT_TRUE(out.emplace(name, shape).second) << "duplicate parameter name " << name;
  }
  return out;
}

TEST(Inception, ExactSizes) {
  const std::map<std::string, std::pair<std::int64_t, std::int64_t>> expected = {
      {"bn_inception", {11'295'240, 2'032'600'064}},
      {"se_bn_inception", {11'931'622, 2'033'239'424}},
  };
  for (const auto& [name, counts] : expected) {
    SCOPED_TRACE(name);
    const senet::BNInception<float> model(full_config(name));
    EXPECT_EQ(senet::count_parameters(model), counts.first);
    EXPECT_EQ(model.total_macs(224), counts.second);
    EXPECT_EQ(model.output_shape({2, 3, 224, 224}), (senet::Shape{2, 1000}));
    EXPECT_EQ(model.type_name(), "BNInception");
    EXPECT_EQ(model.name(), name);
    EXPECT_EQ(model.config().se, name == "se_bn_inception");
  }
}

TEST(Inception, CaffeNamesAndShapes) {
  const senet::BNInception<float> plain(full_config("bn_inception"));
  const senet::BNInception<float> se(full_config("se_bn_inception"));
  const auto p = shapes_of(plain), s = shapes_of(se);
  using S = senet::Shape;
  for (const auto* m : {&p, &s}) {
    EXPECT_EQ(m->at("conv1_7x7_s2.weight"), (S{64, 3, 7, 7}));
    EXPECT_EQ(m->at("conv1_7x7_s2_bn.running_var"), (S{64}));
    EXPECT_EQ(m->at("conv2_3x3_reduce.weight"), (S{64, 64, 1, 1}));
    EXPECT_EQ(m->at("conv2_3x3.weight"), (S{192, 64, 3, 3}));
    EXPECT_EQ(m->at("inception_3a_1x1.weight"), (S{64, 192, 1, 1}));
    EXPECT_EQ(m->at("inception_3a_double_3x3_reduce_bn.running_mean"), (S{64}));
    EXPECT_EQ(m->at("inception_3a_pool_proj.weight"), (S{32, 192, 1, 1}));
    EXPECT_EQ(m->at("inception_3c_3x3.weight"), (S{160, 128, 3, 3}));
    EXPECT_EQ(m->at("inception_4a_1x1.weight"), (S{224, 576, 1, 1}));
    EXPECT_EQ(m->at("inception_4e_double_3x3_2.weight"), (S{256, 256, 3, 3}));
    EXPECT_EQ(m->at("inception_5a_1x1.weight"), (S{352, 1056, 1, 1}));
    EXPECT_EQ(m->at("inception_5b_pool_proj_bn.weight"), (S{128}));
    EXPECT_EQ(m->at("last_linear.weight"), (S{1000, 1024}));
    EXPECT_EQ(m->at("last_linear.bias"), (S{1000}));
    // the reduction modules have neither a 1x1 nor a pool projection
    for (const auto& [name, shape] : *m)
      for (const char* absent : {"inception_3c_1x1", "inception_3c_pool_proj", "inception_4e_1x1",
                                 "inception_4e_pool_proj"})
        EXPECT_NE(name.rfind(absent, 0), 0u) << name;
  }
  // Cadene's convolutions have biases, SE-BN-Inception's do not; only the latter has SE blocks
  EXPECT_EQ(p.at("conv1_7x7_s2.bias"), (S{64}));
  EXPECT_EQ(p.at("inception_4d_double_3x3_1.bias"), (S{192}));
  EXPECT_EQ(s.count("conv1_7x7_s2.bias"), 0u);
  EXPECT_EQ(s.count("inception_4d_double_3x3_1.bias"), 0u);
  const std::vector<std::pair<std::string, senet::Index>> se_widths = {
      {"3a", 256}, {"3b", 320}, {"3c", 576}, {"4a", 576},  {"4b", 576},
      {"4c", 608}, {"4d", 608}, {"4e", 1056}, {"5a", 1024}, {"5b", 1024}};
  for (const auto& [m, c] : se_widths) {
    const std::string se_name = "inception_" + m + "_se.";
    EXPECT_EQ(s.at(se_name + "fc1.weight"), (S{c / 16, c, 1, 1})) << m;
    EXPECT_EQ(s.at(se_name + "fc1.bias"), (S{c / 16})) << m;
    EXPECT_EQ(s.at(se_name + "fc2.weight"), (S{c, c / 16, 1, 1})) << m;
    EXPECT_EQ(s.at(se_name + "fc2.bias"), (S{c})) << m;
    EXPECT_EQ(p.count(se_name + "fc1.weight"), 0u);
  }
  EXPECT_EQ(s.at("inception_4e_se.fc1.weight")[0], 66);  // 1056 // 16, floor
  // 10 modules: bn_inception's tensors plus 4 per SE block, minus the 69 conv biases
  EXPECT_EQ(s.size(), p.size() + 4 * 10 - 69);
  // the pools are children under Caffe's names too
  EXPECT_NE(senet::find_module<senet::MaxPool2d<float>>(plain, "inception_3c_pool"), nullptr);
  EXPECT_NE(senet::find_module<senet::AvgPool2d<float>>(plain, "inception_3a_pool"), nullptr);
  EXPECT_NE(senet::find_module<senet::MaxPool2d<float>>(plain, "inception_5b_pool"), nullptr);
  EXPECT_NE(senet::find_module<senet::ReLU<float>>(plain, "inception_4a_relu_double_3x3_2"), nullptr);
  EXPECT_NE(senet::find_module<senet::SEBlock<float>>(se, "inception_5b_se"), nullptr);
}

TEST(Inception, ReducedWidthAndInvalidConfigs) {
  senet::InceptionConfig cfg = full_config("se_bn_inception");
  cfg.width_divisor = 16;
  cfg.num_classes = 10;
  cfg.se_options.reduction = 4;
  const senet::BNInception<float> model(cfg);
  const auto s = shapes_of(model);
  EXPECT_EQ(s.at("inception_3b_se.fc1.weight"), (senet::Shape{5, 20, 1, 1}));  // 320 / 16 = 20, 20 // 4
  EXPECT_EQ(s.at("last_linear.weight"), (senet::Shape{10, 64}));
  EXPECT_EQ(model.output_shape({1, 3, 96, 63}), (senet::Shape{1, 10}));
  // odd maps at a reduction module: its strided conv and its pool disagree in size
  EXPECT_THROW(model.output_shape({1, 3, 48, 48}), senet::Error);
  for (senet::Index bad : {0, 3, 64}) {
    cfg.width_divisor = bad;
    EXPECT_THROW(senet::BNInception<float>{cfg}, senet::Error) << bad;
  }
}

// The fast engine runs both (concatenations, average pooling counting the padding, SE after the
// concatenation) on every kernel path this CPU has, against PyTorch's float64 output, image by
// image and with images run together. The reduced widths put branches off 16-channel blocks, so
// their concatenations copy; at full size (below, and the full-size parity against PyTorch) the
// branches write into the concatenation in place.
TEST(Inception, PreparedMatchesPyTorchOnEveryPath) {
  const auto cases = senet::test::inception_cases();
  ASSERT_EQ(cases.size(), 2u);
  for (const auto path : senet::test::available_paths()) {
    for (const auto& c : cases) {
      SCOPED_TRACE(c.name() + " / " + senet::to_string(path));
      const std::string base = c.file("");
      auto model = std::make_unique<senet::BNInception<float>>(senet::test::inception_config(c.spec));
      senet::load_weights(*model, base + ".safetensors");
      senet::PrepareOptions options;
      options.kernels = path;
      const auto fast = senet::prepare(std::move(model), options);
      ASSERT_NE(dynamic_cast<const senet::PreparedNetwork*>(fast.get()), nullptr);
      const auto x = senet::read_npy<float>(base + ".input.npy");
      const auto expected = senet::read_npy<double>(base + ".output.npy");
      const double err = senet::test::relative_error(fast->forward(x), expected);
      EXPECT_LE(err, senet::test::parity_tolerance<float>());
      std::printf("[ prepared ] %-24s %-8s max rel err %.2e\n", c.name().c_str(), senet::to_string(path), err);
      senet::test::expect_three_images_on_two_threads(*fast, x, expected);
    }
  }
}

// Registered, with their preset, and prepared at full size (the naive model is the oracle).
TEST(Inception, RegisteredAndPreparedAtFullSize) {
  for (const char* name : {"bn_inception", "se_bn_inception"}) {
    SCOPED_TRACE(name);
    EXPECT_EQ(senet::model_entry(name).preset, "bninception");
    auto naive = senet::create_model<float>(name, 10);
    auto copy = senet::create_model<float>(name, 10);
    senet::randomize_parameters(*naive, 3);
    senet::randomize_parameters(*copy, 3);
    const auto fast = senet::prepare(std::move(copy));
    ASSERT_NE(dynamic_cast<const senet::PreparedNetwork*>(fast.get()), nullptr);
    senet::Tensor<float> x({2, 3, 96, 96});
    for (senet::Index i = 0; i < x.size(); ++i) x[i] = float((i * 37) % 101) / 50.0f - 1.0f;
    EXPECT_LE(senet::test::relative_error(fast->forward(x), naive->forward(x)), 1e-4);
    EXPECT_EQ(fast->summary(224).size(), naive->summary(224).size());
  }
}

template <class T>
class InceptionParity : public ::testing::Test {};
TYPED_TEST_SUITE(InceptionParity, senet::test::Scalars);

TYPED_TEST(InceptionParity, MatchesPyTorch) {
  using T = TypeParam;
  const auto cases = senet::test::inception_cases();
  ASSERT_EQ(cases.size(), 2u);
  std::set<std::string> models;
  for (const auto& c : cases) {
    const std::string name = c.name();
    SCOPED_TRACE(name);
    const std::string model_name = c.spec.at("model");
    models.insert(model_name);
    ASSERT_TRUE(model_name == "bn_inception" || model_name == "se_bn_inception") << model_name;
    senet::BNInception<T> model(senet::test::inception_config(c.spec));
    senet::load_weights(model, c.file(".safetensors"));  // every key, no more: the names match
    const auto x = senet::read_npy<T>(c.file(".input.npy"));
    const auto expected = senet::read_npy<double>(c.file(".output.npy"));
    ASSERT_EQ(x.shape(), c.spec.at("input_shape").get<senet::Shape>());
    const auto y = model.forward(x);
    ASSERT_EQ(y.shape(), expected.shape());
    const double err = senet::test::relative_error(y, expected);
    EXPECT_LE(err, senet::test::parity_tolerance<T>());
    std::printf("[ parity   ] %-36s %-6s max rel err %.2e\n", name.c_str(), sizeof(T) == 8 ? "double" : "float", err);
  }
  EXPECT_EQ(models, (std::set<std::string>{"bn_inception", "se_bn_inception"}));
}

}  // namespace test_inception
