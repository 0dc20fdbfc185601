// The shipped Fashion-MNIST checkpoints (examples/fashion/train.py, PyTorch, trained on the 60,000
// training images) run by senet on all 10,000 test images, read from the IDX files of Debian's
// dataset-fashion-mnist (decompressed into the build tree by the ctest fixture fashion.test_set):
// the registry entries, the "fashion" preset against the training normalisation, accuracy on the
// naive and the prepared engine, and the logits against PyTorch's (examples/fashion/
// make_reference.py writes tests/fixtures/data/fashion_*_logits.npy).
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "senet/io/idx.hpp"
#include "senet/io/npy.hpp"
#include "senet/io/preprocess.hpp"
#include "senet/io/weights.hpp"
#include "senet/models/prepared.hpp"
#include "senet/models/zoo.hpp"
#include "test_util.hpp"

#if !defined(SENET_FASHION_WEIGHTS_DIR) || !defined(SENET_FASHION_IDX_DIR)
#error "SENET_FASHION_WEIGHTS_DIR (examples/fashion) and SENET_FASHION_IDX_DIR (the IDX files) must be defined"
#endif

namespace {

constexpr senet::Index kTest = 10000;
constexpr senet::Index kClasses = 10;
constexpr senet::Index kSide = 28;
constexpr double kMinAccuracy = 0.91;
const char* const kModels[] = {"se_resnet_fashion", "resnet_fashion"};

std::string weights_of(const std::string& model) {
  return std::string(SENET_FASHION_WEIGHTS_DIR) + "/" + model + ".safetensors";
}

/// The test images as the IDX file holds them: [10000, 28, 28], 0..255.
const senet::Tensor<float>& raw_images() {
  static const auto x = senet::read_idx<float>(std::string(SENET_FASHION_IDX_DIR) + "/t10k-images-idx3-ubyte");
  return x;
}

const senet::Tensor<float>& labels() {
  static const auto y = senet::read_idx<float>(std::string(SENET_FASHION_IDX_DIR) + "/t10k-labels-idx1-ubyte");
  return y;
}

/// The test images normalised as the "fashion" preset and the training script do:
/// (pixel / 255 - mean) / std in float32, [10000, 1, 28, 28].
const senet::Tensor<float>& images() {
  static const senet::Tensor<float> x = [] {
    const senet::PreprocessOptions pp = senet::preprocess_preset("fashion");
    const auto& raw = raw_images();
    senet::Tensor<float> out({raw.shape()[0], 1, kSide, kSide});
    for (senet::Index i = 0; i < raw.size(); ++i) out[i] = (raw[i] / pp.scale - pp.mean[0]) / pp.std[0];
    return out;
  }();
  return x;
}

/// Index of the largest of the `kClasses` logits of row `n`.
senet::Index argmax_row(const senet::Tensor<float>& logits, senet::Index n) {
  senet::Index best = 0;
  for (senet::Index c = 1; c < kClasses; ++c)
    if (logits[n * kClasses + c] > logits[n * kClasses + best]) best = c;
  return best;
}

/// Fraction of the first `labels().size()` rows whose arg-max logit is the label.
double accuracy(const senet::Tensor<float>& logits) {
  senet::Index correct = 0;
  for (senet::Index n = 0; n < labels().size(); ++n)
    correct += argmax_row(logits, n) == static_cast<senet::Index>(labels()[n]);
  return double(correct) / double(labels().size());
}

/// `model`'s logits on the first `count` test images, 500 images a forward pass: [count, 10].
senet::Tensor<float> logits_of(const senet::Model<float>& model, senet::Index count) {
  constexpr senet::Index kBatch = 500;
  const senet::Index per_image = kSide * kSide;
  senet::Tensor<float> out({count, kClasses});
  for (senet::Index first = 0; first < count; first += kBatch) {
    const senet::Index n = std::min(kBatch, count - first);
    senet::Tensor<float> batch({n, 1, kSide, kSide});
    std::copy(images().data() + first * per_image, images().data() + (first + n) * per_image, batch.data());
    const senet::Tensor<float> logits = model.forward(batch);
    std::copy(logits.data(), logits.data() + logits.size(), out.data() + first * kClasses);
  }
  return out;
}

/// The registered model `name` with its shipped weights (strict: every key and shape).
std::unique_ptr<senet::Model<float>> load(const std::string& name) {
  auto model = senet::create_model<float>(name);
  senet::load_weights(*model, weights_of(name));
  return model;
}

/// The same, on the prepared engine (BN folded, NCHW16c kernels).
std::unique_ptr<senet::Model<float>> load_prepared(const std::string& name) {
  auto fast = senet::prepare(load(name));
  EXPECT_NE(dynamic_cast<senet::PreparedNetwork*>(fast.get()), nullptr) << name << " did not lower to the engine";
  return fast;
}

TEST(Fashion, TestSetAsExpected) {
  ASSERT_EQ(raw_images().shape(), (senet::Shape{kTest, kSide, kSide}));
  ASSERT_EQ(labels().shape(), (senet::Shape{kTest}));
  for (senet::Index i = 0; i < raw_images().size(); ++i) {
    const float v = raw_images()[i];
    ASSERT_TRUE(v >= 0 && v <= 255 && v == float(int(v))) << "pixel " << i << " = " << v;
  }
  std::array<int, kClasses> per_class{};
  for (senet::Index n = 0; n < kTest; ++n) {
    const float y = labels()[n];
    ASSERT_TRUE(y >= 0 && y < kClasses && y == float(int(y))) << "label " << n << " = " << y;
    ++per_class[static_cast<std::size_t>(y)];
  }
  for (int c = 0; c < kClasses; ++c) EXPECT_EQ(per_class[static_cast<std::size_t>(c)], 1000) << "class " << c;
}

TEST(Fashion, RegistryEntries) {
  for (const char* name : kModels) {
    SCOPED_TRACE(name);
    const senet::ModelEntry& e = senet::model_entry(name);
    EXPECT_EQ(e.preset, "fashion");
    ASSERT_EQ(e.labels.size(), 10u);
    EXPECT_STREQ(e.labels[0], "T-shirt/top");
    EXPECT_STREQ(e.labels[6], "Shirt");
    EXPECT_STREQ(e.labels[9], "Ankle boot");
    const senet::ResNetConfig cfg = senet::model_config(name);
    EXPECT_EQ(cfg.se, std::string(name) == "se_resnet_fashion");
    EXPECT_EQ(cfg.stem, senet::StemType::small);
    EXPECT_EQ(cfg.layers, (std::vector<senet::Index>{2, 2, 2}));
    auto model = senet::create_model<float>(name);
    EXPECT_EQ(model->in_channels(), 1);
    EXPECT_EQ(model->num_classes(), kClasses);
    EXPECT_EQ(model->input_size(), kSide);
  }
  // torch_models.build_fashion's counts (its self-check prints them).
  EXPECT_EQ(count_parameters(*senet::create_model<float>("se_resnet_fashion")), 180'626);
  EXPECT_EQ(count_parameters(*senet::create_model<float>("resnet_fashion")), 174'970);
  EXPECT_TRUE(senet::model_entry("se_resnet_digits").labels.empty());
  EXPECT_EQ(senet::model_entry("seresnet50").labels.size(), 1000u);
}

// A grey 28x28 PNG of a test image, through the "fashion" preset (what `senet classify` does),
// gives exactly the tensor the model was trained and is tested on.
TEST(Fashion, PresetEqualsTheTrainingNormalisation) {
  const senet::PreprocessOptions pp = senet::preprocess_preset("fashion");
  EXPECT_TRUE(pp.grayscale);
  EXPECT_EQ(pp.size, kSide);
  EXPECT_EQ(pp.resize_size(), kSide);
  EXPECT_EQ(pp.mean[0], static_cast<float>(0.2860));
  EXPECT_EQ(pp.std[0], static_cast<float>(0.3530));
  constexpr senet::Index kImages = 32;
  std::vector<senet::Image> pictures;
  for (senet::Index n = 0; n < kImages; ++n) {
    senet::Image im(kSide, kSide);
    for (senet::Index i = 0; i < kSide * kSide; ++i)
      for (senet::Index c = 0; c < 3; ++c)
        im.rgb[static_cast<std::size_t>(i * 3 + c)] = static_cast<std::uint8_t>(raw_images()[n * kSide * kSide + i]);
    pictures.push_back(im);
  }
  const senet::Tensor<float> x = senet::preprocess<float>(pictures, pp);
  ASSERT_EQ(x.shape(), (senet::Shape{kImages, 1, kSide, kSide}));
  for (senet::Index i = 0; i < x.size(); ++i) ASSERT_EQ(x[i], images()[i]) << "value " << i;
}

// ctest runs each TEST in its own process: the naive and the prepared engine's accuracies are
// separate tests, and their logits agree with PyTorch's (LogitsMatchPyTorch).
TEST(Fashion, TestAccuracy) {
  for (const char* name : kModels) {
    const senet::Tensor<float> logits = logits_of(*load(name), kTest);
    ASSERT_EQ(logits.shape(), (senet::Shape{kTest, kClasses}));
    const double acc = accuracy(logits);
    std::printf("[ fashion  ] senet %s test accuracy %.4f (%d/%d), naive engine\n", name, acc,
                static_cast<int>(acc * kTest + 0.5), static_cast<int>(kTest));
    RecordProperty(std::string(name) + "_accuracy", std::to_string(acc));
    EXPECT_GE(acc, kMinAccuracy) << name;
  }
}

TEST(Fashion, TestAccuracyPrepared) {
  for (const char* name : kModels) {
    const senet::Tensor<float> logits = logits_of(*load_prepared(name), kTest);
    const double acc = accuracy(logits);
    std::printf("[ fashion  ] senet %s test accuracy %.4f (%d/%d), prepared engine\n", name, acc,
                static_cast<int>(acc * kTest + 0.5), static_cast<int>(kTest));
    RecordProperty(std::string(name) + "_accuracy", std::to_string(acc));
    EXPECT_GE(acc, kMinAccuracy) << name;
  }
}

TEST(Fashion, LogitsMatchPyTorch) {
  for (const char* name : kModels) {
    SCOPED_TRACE(name);
    const auto expected = senet::read_npy<float>(senet::test::fixture(std::string("fashion_") + name + "_logits.npy"));
    ASSERT_EQ(expected.rank(), 2);
    ASSERT_EQ(expected.shape()[1], kClasses);
    const senet::Index n = expected.shape()[0];
    const senet::Tensor<float> naive = logits_of(*load(name), n);
    const senet::Tensor<float> fast = logits_of(*load_prepared(name), n);
    const double err_naive = senet::test::relative_error(naive, expected);
    const double err_fast = senet::test::relative_error(fast, expected);
    std::printf("[ parity   ] %s, first %d test images: max rel err %.2e naive, %.2e prepared\n", name,
                static_cast<int>(n), err_naive, err_fast);
    EXPECT_LE(err_naive, senet::test::parity_tolerance<float>());
    EXPECT_LE(err_fast, senet::test::parity_tolerance<float>());
  }
}

}  // namespace
