// The shipped se_resnet_digits checkpoint (examples/digits/train.py, PyTorch, trained on
// scikit-learn's load_digits() samples 0..1436) run by senet on the held-out samples 1437..1796:
// the accuracy against the true labels, and the logits against PyTorch's
// (examples/digits/make_heldout.py writes tests/fixtures/data/digits_heldout*.npy).
#include <gtest/gtest.h>

#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "senet/io/npy.hpp"
#include "senet/io/weights.hpp"
#include "senet/models/zoo.hpp"
#include "test_util.hpp"

#ifndef SENET_DIGITS_WEIGHTS
#error "SENET_DIGITS_WEIGHTS must name examples/digits/se_resnet_digits.safetensors"
#endif

namespace {

constexpr senet::Index kHeldOut = 360;  // load_digits() has 1797 samples; 1437 train
constexpr senet::Index kClasses = 10;
constexpr double kMinAccuracy = 0.97;

/// Index of the largest of the `kClasses` logits of row `n`.
template <class T>
senet::Index argmax_row(const senet::Tensor<T>& logits, senet::Index n) {
  senet::Index best = 0;
  for (senet::Index c = 1; c < kClasses; ++c)
    if (logits[n * kClasses + c] > logits[n * kClasses + best]) best = c;
  return best;
}

/// Fraction of rows whose arg-max logit is the label.
template <class T>
double accuracy(const senet::Tensor<T>& logits, const senet::Tensor<float>& labels) {
  senet::Index correct = 0;
  for (senet::Index n = 0; n < labels.size(); ++n)
    correct += argmax_row(logits, n) == static_cast<senet::Index>(labels[n]);
  return double(correct) / double(labels.size());
}

/// senet's logits of the committed checkpoint on the held-out images, computed once.
template <class T>
const senet::Tensor<T>& senet_logits() {
  static const senet::Tensor<T> logits = [] {
    auto model = senet::create_model<T>("se_resnet_digits");
    senet::load_weights(*model, SENET_DIGITS_WEIGHTS);  // strict: every key and shape
    return model->forward(senet::read_npy<T>(senet::test::fixture("digits_heldout.npy")));
  }();
  return logits;
}

const senet::Tensor<float>& labels() {
  static const auto y = senet::read_npy<float>(senet::test::fixture("digits_heldout_labels.npy"));
  return y;
}

TEST(Digits, HeldOutSetAsExpected) {
  const auto x = senet::read_npy<float>(senet::test::fixture("digits_heldout.npy"));
  EXPECT_EQ(x.shape(), (senet::Shape{kHeldOut, 1, 8, 8}));
  ASSERT_EQ(labels().shape(), (senet::Shape{kHeldOut}));
  for (senet::Index i = 0; i < x.size(); ++i) ASSERT_TRUE(x[i] >= 0.0f && x[i] <= 1.0f) << "pixel " << i;
  for (senet::Index n = 0; n < kHeldOut; ++n) {
    const float y = labels()[n];
    ASSERT_TRUE(y >= 0 && y < kClasses && y == float(static_cast<int>(y))) << "label " << n << " = " << y;
  }
}

TEST(Digits, ModelIsTheRegisteredOne) {
  auto model = senet::create_model<float>("se_resnet_digits");
  EXPECT_EQ(model->in_channels(), 1);
  EXPECT_EQ(model->num_classes(), kClasses);
  EXPECT_EQ(model->input_size(), 8);
}

TEST(Digits, HeldOutAccuracy) {
  const auto& logits = senet_logits<float>();
  ASSERT_EQ(logits.shape(), (senet::Shape{kHeldOut, kClasses}));
  ASSERT_EQ(labels().size(), kHeldOut);
  const double acc = accuracy(logits, labels());
  std::printf("[ digits   ] senet se_resnet_digits held-out accuracy %.4f (%d/%d)\n", acc,
              static_cast<int>(acc * kHeldOut + 0.5), static_cast<int>(kHeldOut));
  RecordProperty("accuracy", std::to_string(acc));
  EXPECT_GE(acc, kMinAccuracy);
}

TEST(Digits, HeldOutAccuracyInDouble) {
  const auto& logits = senet_logits<double>();
  ASSERT_EQ(logits.shape(), (senet::Shape{kHeldOut, kClasses}));
  EXPECT_GE(accuracy(logits, labels()), kMinAccuracy);
}

TEST(Digits, LogitsMatchPyTorch) {
  const auto expected = senet::read_npy<float>(senet::test::fixture("digits_heldout_logits.npy"));
  const auto& logits = senet_logits<float>();
  ASSERT_EQ(logits.shape(), expected.shape());
  const double err = senet::test::relative_error(logits, expected);
  std::printf("[ parity   ] se_resnet_digits held-out logits, float: max rel err %.2e\n", err);
  EXPECT_LE(err, senet::test::parity_tolerance<float>());
  // PyTorch's smallest top-1 margin on this set is ~0.09 against logits up to ~5, so logits within
  // 1e-4 make the same predictions.
  senet::Index differ = 0;
  for (senet::Index n = 0; n < kHeldOut; ++n) differ += argmax_row(logits, n) != argmax_row(expected, n);
  EXPECT_EQ(differ, 0) << "predictions that differ from PyTorch's";
  EXPECT_DOUBLE_EQ(accuracy(logits, labels()), accuracy(expected, labels()));
}

// The same checkpoint as PyTorch saves it, torch.save(model.state_dict()) of its PyTorch twin
// (tests/fixtures/make_pth_fixtures.py): the same parameters bit for bit, so the same logits.
template <class T>
class DigitsPth : public ::testing::Test {};
TYPED_TEST_SUITE(DigitsPth, senet::test::Scalars);

TYPED_TEST(DigitsPth, TorchSavedStateDictLoadsTheSameWeights) {
  using T = TypeParam;
  auto from_pth = senet::create_model<T>("se_resnet_digits");
  senet::load_weights(*from_pth, senet::test::fixture("pth/digits.pth"));  // strict, as for safetensors
  auto from_safetensors = senet::create_model<T>("se_resnet_digits");
  senet::load_weights(*from_safetensors, SENET_DIGITS_WEIGHTS);
  std::vector<const senet::Tensor<T>*> a, b;
  from_pth->visit_parameters(
      [&](const std::string&, const senet::Tensor<T>& t, senet::ParameterKind) { a.push_back(&t); });
  from_safetensors->visit_parameters(
      [&](const std::string&, const senet::Tensor<T>& t, senet::ParameterKind) { b.push_back(&t); });
  ASSERT_EQ(a.size(), b.size());
  ASSERT_EQ(a.size(), 59u);  // the 68 tensors of the state_dict but its 9 num_batches_tracked
  for (std::size_t i = 0; i < a.size(); ++i) {
    ASSERT_EQ(a[i]->shape(), b[i]->shape());
    EXPECT_EQ(std::memcmp(a[i]->data(), b[i]->data(), a[i]->bytes()), 0) << "parameter " << i;
  }
  const auto logits = from_pth->forward(senet::read_npy<T>(senet::test::fixture("digits_heldout.npy")));
  const auto& expected = senet_logits<T>();
  ASSERT_EQ(logits.shape(), expected.shape());
  EXPECT_EQ(std::memcmp(logits.data(), expected.data(), logits.bytes()), 0);
}

TEST(Digits, DoubleLogitsMatchPyTorch) {
  const auto expected = senet::read_npy<float>(senet::test::fixture("digits_heldout_logits.npy"));
  const double err = senet::test::relative_error(senet_logits<double>(), expected);
  EXPECT_LE(err, senet::test::parity_tolerance<float>());  // the reference itself is float32
}

}  // namespace
