// The comparisons every parity test relies on must fail on what they cannot measure: NaN, infinity
// and tensors of different shapes. Expected values are arithmetic by hand.
#include <limits>

#include "test_util.hpp"

namespace {

using senet::Tensor;
using senet::test::relative_error;

Tensor<float> tensor(std::initializer_list<float> values, senet::Shape shape) {
  Tensor<float> t(shape);
  std::copy(values.begin(), values.end(), t.data());
  return t;
}

TEST(RelativeError, IsTheLargestDifferenceOverTheReferenceScale) {
  const Tensor<float> ref = tensor({1, -4, 2}, {3});
  EXPECT_DOUBLE_EQ(relative_error(ref, ref), 0.0);
  // |1.5 - 1| = 0.5 is the largest difference, max |ref| = 4.
  EXPECT_DOUBLE_EQ(relative_error(tensor({1.5f, -4, 2.25f}, {3}), ref), 0.5 / 4);
}

TEST(RelativeError, NaNOnEitherSideFails) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const Tensor<float> ref = tensor({1, 2, 3}, {3});
  EXPECT_GT(relative_error(tensor({1, nan, 3}, {3}), ref), 1.0);
  EXPECT_GT(relative_error(ref, tensor({nan, 2, 3}, {3})), 1.0);
  // A NaN as the largest element must not hide behind std::max either.
  EXPECT_FALSE(relative_error(tensor({1, 2, nan}, {3}), ref) <= senet::test::parity_tolerance<float>());
}

TEST(RelativeError, InfinityOnEitherSideFails) {
  const float inf = std::numeric_limits<float>::infinity();
  const Tensor<float> ref = tensor({1, 2, 3}, {3});
  EXPECT_FALSE(relative_error(tensor({1, inf, 3}, {3}), ref) <= 1e30);
  // inf - inf would be NaN, and inf / inf NaN: equal infinities still fail.
  EXPECT_FALSE(relative_error(tensor({-inf, 2, 3}, {3}), tensor({-inf, 2, 3}, {3})) <= 1e30);
}

TEST(RelativeError, ShapeMismatchFails) {
  const Tensor<float> ref = tensor({1, 2, 3, 4}, {4});
  EXPECT_FALSE(relative_error(tensor({1, 2, 3}, {3}), ref) <= 1e30);              // fewer elements
  EXPECT_FALSE(relative_error(tensor({1, 2, 3, 4, 5}, {5}), ref) <= 1e30);        // more elements
  EXPECT_FALSE(relative_error(tensor({1, 2, 3, 4}, {2, 2}), ref) <= 1e30);        // same size, other shape
  EXPECT_FALSE(relative_error(Tensor<float>(), ref) <= 1e30);                      // empty
}

TEST(RelativeError, DoubleToleranceCatchesAFloatStep) {
  // A double path that rounds through float once is ~6e-8 off: the double tolerance rejects it.
  Tensor<double> ref({1}), a({1});
  ref[0] = 0.1;
  a[0] = double(float(0.1));
  EXPECT_GT(relative_error(a, ref), senet::test::parity_tolerance<double>());
  EXPECT_LE(relative_error(a, ref), senet::test::parity_tolerance<float>());
}

TEST(MaxAbsError, IsTheLargestDifferenceAndFailsAsRelativeErrorDoes) {
  using senet::test::max_abs_error;
  const float nan = std::numeric_limits<float>::quiet_NaN(), inf = std::numeric_limits<float>::infinity();
  const Tensor<float> ref = tensor({0.5f, -4, 2}, {3});
  // |0.75 - 0.5| = 0.25, whatever the reference's scale
  EXPECT_DOUBLE_EQ(max_abs_error(tensor({0.75f, -4, 2.125f}, {3}), ref), 0.25);
  EXPECT_FALSE(max_abs_error(tensor({0.5f, nan, 2}, {3}), ref) <= 1e30);
  EXPECT_FALSE(max_abs_error(ref, tensor({0.5f, -4, inf}, {3})) <= 1e30);
  EXPECT_FALSE(max_abs_error(tensor({0.5f, -4}, {2}), ref) <= 1e30);
  EXPECT_FALSE(max_abs_error(tensor({0.5f, -4, 2}, {1, 3}), ref) <= 1e30);
}

}  // namespace
