#pragma once
// Helpers shared by the tests: fixture paths and a scale-relative error.

#include <algorithm>
#include <cmath>
#include <string>

#include "senet/core/tensor.hpp"

namespace senet::test {

/// Path of a committed fixture under tests/fixtures/data.
inline std::string fixture(const std::string& name) { return std::string(SENET_FIXTURE_DIR) + "/" + name; }

/// max |a - b| / max |b|: the error relative to the reference output's scale.
template <class T, class U>
double relative_error(const Tensor<T>& a, const Tensor<U>& b) {
  double diff = 0, scale = 0;
  for (Index i = 0; i < b.size(); ++i) {
    diff = std::max(diff, std::abs(double(a[i]) - double(b[i])));
    scale = std::max(scale, std::abs(double(b[i])));
  }
  return diff / std::max(scale, 1e-30);
}

/// Tolerance of a PyTorch comparison for scalar T (the bar: 1e-5 double, 1e-4 float).
template <class T>
constexpr double parity_tolerance() {
  return sizeof(T) == sizeof(double) ? 1e-5 : 1e-4;
}

}  // namespace senet::test
