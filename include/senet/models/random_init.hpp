#pragma once
/// \file random_init.hpp
/// Seeded random parameters for benchmarks and tests that need a plausible network without a
/// checkpoint. Not a training initialiser: it only keeps activations finite and O(1)-ish.

#include <cmath>
#include <cstdint>
#include <random>
#include <string>

#include "senet/layers/module.hpp"

namespace senet {

/// Fills every parameter of `module` from a generator seeded with `seed` (same seed, same
/// weights): conv/FC weights normal with std sqrt(1 / fan_in), BN scales in [0.2, 0.5], biases and
/// running means normal with std 0.05, running variances in [0.5, 1.5].
template <class T>
void randomize_parameters(Module<T>& module, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  auto ends_with = [](const std::string& s, const char* suffix) {
    const std::string t(suffix);
    return s.size() >= t.size() && s.compare(s.size() - t.size(), t.size(), t) == 0;
  };
  module.visit_parameters(ParameterVisitor<T>([&](const std::string& name, Tensor<T>& t, ParameterKind) {
    if (ends_with(name, "running_var")) {
      std::uniform_real_distribution<double> d(0.5, 1.5);
      for (T& v : t) v = T(d(rng));
    } else if (t.rank() >= 2) {
      const double fan_in = double(t.size() / t.dim(0));
      std::normal_distribution<double> d(0.0, std::sqrt(1.0 / fan_in));
      for (T& v : t) v = T(d(rng));
    } else if (ends_with(name, "weight")) {
      std::uniform_real_distribution<double> d(0.2, 0.5);
      for (T& v : t) v = T(d(rng));
    } else {
      std::normal_distribution<double> d(0.0, 0.05);
      for (T& v : t) v = T(d(rng));
    }
  }));
}

}  // namespace senet
