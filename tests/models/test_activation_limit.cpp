// The activation limit (Model::set_activation_limit): an input whose activations would need more
// memory than the limit is refused with a senet::Error naming the model, the input and both
// figures, before anything is allocated; the model keeps working on smaller inputs afterwards.
// Expected sizes: arithmetic by hand on SE-ResNet-50's layer shapes.
#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "senet/models/prepared.hpp"
#include "senet/models/random_init.hpp"
#include "senet/models/zoo.hpp"
#include "test_util.hpp"

namespace test_activation_limit {

using senet::Index;
using senet::Tensor;

TEST(ActivationLimit, NaiveEstimateIsSixTimesTheLargestActivation) {
  const auto model = senet::create_model<float>("seresnet50");
  // The largest activation of SE-ResNet-50 at 224x224 is the stem convolution's 64 x 112 x 112
  // (layer1's 256 x 56 x 56 is the same count): 802,816 floats per image.
  EXPECT_EQ(model->activation_bytes({2, 3, 224, 224}), std::uint64_t(6) * 2 * 802816 * sizeof(float));
  EXPECT_EQ(senet::create_model<double>("seresnet50")->activation_bytes({1, 3, 224, 224}),
            std::uint64_t(6) * 802816 * sizeof(double));
  EXPECT_EQ(model->activation_limit(), senet::Model<float>::kDefaultActivationLimit);
}

TEST(ActivationLimit, RefusesLargeInputsOnBothPaths) {
  auto model = senet::create_model<float>("seresnet18", 10);
  senet::randomize_parameters(*model, 3);
  const Tensor<float> small({1, 3, 32, 32});
  const Tensor<float> large({1, 3, 96, 96});
  const std::uint64_t limit = model->activation_bytes(small.shape()) * 2;
  ASSERT_GT(model->activation_bytes(large.shape()), limit);  // 9x the pixels
  model->set_activation_limit(limit);
  const std::string message = senet::test::error_of([&] { model->forward(large); });
  EXPECT_NE(message.find("seresnet18"), std::string::npos) << message;
  EXPECT_NE(message.find("[1, 3, 96, 96]"), std::string::npos) << message;
  EXPECT_NE(message.find("over the limit"), std::string::npos) << message;
  EXPECT_EQ(model->forward(small).shape(), (senet::Shape{1, 10}));

  // prepare keeps the limit; the engine checks its planned arena, exactly what it would allocate
  // (far less than the naive estimate).
  const auto fast = senet::prepare(std::move(model));
  ASSERT_NE(dynamic_cast<const senet::PreparedNetwork*>(fast.get()), nullptr);
  EXPECT_EQ(fast->activation_limit(), limit);
  EXPECT_LT(fast->activation_bytes(large.shape()), limit);
  fast->set_activation_limit(2 * fast->activation_bytes(small.shape()));
  EXPECT_GT(fast->activation_bytes(large.shape()), fast->activation_limit());
  const std::string fast_message = senet::test::error_of([&] { fast->forward(large); });
  EXPECT_NE(fast_message.find("over the limit"), std::string::npos) << fast_message;
  // The refused call left no half-made plan: the same workspace serves the next inputs.
  const Tensor<float> y1 = fast->forward(small);
  EXPECT_THROW(fast->forward(large), senet::Error);
  const Tensor<float> y2 = fast->forward(small);
  EXPECT_EQ(senet::test::relative_error(y1, y2), 0.0);
}

TEST(ActivationLimit, HugeImagesAreRefusedByDefault) {
  // 3 x 40000 x 40000 floats are 19 GB of input alone; the network would need ~6x that per layer.
  // The shape is checked without ever allocating it.
  const auto model = senet::create_model<float>("seresnet50");
  EXPECT_GT(model->activation_bytes({1, 3, 40000, 40000}), senet::Model<float>::kDefaultActivationLimit);
  const auto fast = senet::prepare(senet::create_model<float>("seresnet50"));
  EXPECT_GT(fast->activation_bytes({1, 3, 40000, 40000}), senet::Model<float>::kDefaultActivationLimit);
  // A limit of 0 refuses everything; the largest value accepts everything the machine can hold.
  auto tiny = senet::create_model<float>("se_resnet_digits");
  tiny->set_activation_limit(0);
  EXPECT_THROW(tiny->forward(Tensor<float>({1, 1, 8, 8})), senet::Error);
  tiny->set_activation_limit(~std::uint64_t(0));
  EXPECT_EQ(tiny->forward(Tensor<float>({1, 1, 8, 8})).shape(), (senet::Shape{1, 10}));
}

}  // namespace test_activation_limit
