// Fuzz target: the safetensors reader (senet/io/safetensors.hpp) and strict weight loading
// (senet/io/weights.hpp) on arbitrary file contents.
//
// Properties beyond "no crash": every validated entry's byte range fits the file and matches its
// shape and dtype; reading as float equals reading as double rounded to float; find_non_finite
// counts what read gives; integer tensors are refused; load_weights either fills the model with
// exactly the file's values or throws and leaves the model untouched.

#include <cstddef>
#include <cstdint>
#include <string>

#include "fuzz_util.hpp"
#include "senet/io/safetensors.hpp"
#include "senet/io/weights.hpp"

namespace {

using senet::fuzz::same_value;

/// The model the inputs are loaded into: a learnable [2, 3] weight and a [3] buffer, which the
/// seed corpus names and shapes correctly.
class Tiny : public senet::Module<float> {
 public:
  senet::Tensor<float> weight{2, 3};
  senet::Tensor<float> running_mean{3};

  senet::Tensor<float> forward(const senet::Tensor<float>& x) const override { return x; }
  senet::Shape output_shape(const senet::Shape& input) const override { return input; }
  std::string type_name() const override { return "Tiny"; }

  /// Distinct values that no input can produce by accident (checked after a failed load).
  void fill_sentinel() {
    for (senet::Index i = 0; i < weight.size(); ++i) weight[i] = 1000.0f + static_cast<float>(i);
    for (senet::Index i = 0; i < running_mean.size(); ++i) running_mean[i] = -1000.0f - static_cast<float>(i);
  }
  bool has_sentinel() const {
    for (senet::Index i = 0; i < weight.size(); ++i)
      if (!same_value(weight[i], 1000.0f + static_cast<float>(i))) return false;
    for (senet::Index i = 0; i < running_mean.size(); ++i)
      if (!same_value(running_mean[i], -1000.0f - static_cast<float>(i))) return false;
    return true;
  }

 protected:
  void do_visit_parameters(const senet::ParameterVisitor<float>& visit, const std::string& prefix) override {
    visit(senet::join_name(prefix, "fc.weight"), weight, senet::ParameterKind::learnable);
    visit(senet::join_name(prefix, "bn.running_mean"), running_mean, senet::ParameterKind::buffer);
  }
};

void check_file(const std::string& path, std::size_t size) {
  const auto file = senet::SafetensorsFile::open(path);
  for (const auto& key : file.keys()) {
    const senet::SafetensorsEntry& e = file.entry(key);
    FUZZ_CHECK(e.begin <= e.end && e.end <= size);
    FUZZ_CHECK(e.shape.size() <= senet::kSafetensorsMaxRank);
    if (!file.is_floating(key)) {
      bool refused = false;
      try {
        file.read<float>(key);
      } catch (const senet::Error&) {
        refused = true;
      }
      FUZZ_CHECK(refused);
      continue;
    }
    const senet::Tensor<float> f = file.read<float>(key);
    const senet::Tensor<double> d = file.read<double>(key);
    FUZZ_CHECK(f.shape() == e.shape && d.shape() == e.shape);
    std::uint64_t non_finite = 0;
    for (senet::Index i = 0; i < f.size(); ++i) {
      FUZZ_CHECK(same_value(f[i], static_cast<float>(d[i])));
      non_finite += !std::isfinite(f[i]);
    }
    const senet::NonFiniteValues found = file.find_non_finite<float>(key);
    FUZZ_CHECK(found.count == non_finite);
    FUZZ_CHECK(found.count == 0 || (found.first < static_cast<std::uint64_t>(f.size()) &&
                                    !std::isfinite(f[static_cast<senet::Index>(found.first)])));
  }
}

/// load_weights with and without non-finite values allowed: all or nothing.
void check_load(const std::string& path, bool allow_non_finite) {
  Tiny model;
  model.fill_sentinel();
  senet::LoadWeightsOptions options;
  options.allow_non_finite = allow_non_finite;
  try {
    senet::load_weights(model, path, options);
  } catch (const senet::Error&) {
    FUZZ_CHECK(model.has_sentinel());
    return;
  }
  const auto file = senet::SafetensorsFile::open(path);
  const senet::Tensor<float> w = file.read<float>("fc.weight"), m = file.read<float>("bn.running_mean");
  for (senet::Index i = 0; i < w.size(); ++i) {
    FUZZ_CHECK(same_value(model.weight[i], w[i]));
    FUZZ_CHECK(allow_non_finite || std::isfinite(w[i]));
  }
  for (senet::Index i = 0; i < m.size(); ++i) {
    FUZZ_CHECK(same_value(model.running_mean[i], m[i]));
    FUZZ_CHECK(allow_non_finite || std::isfinite(m[i]));
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static senet::fuzz::ScratchFile scratch(".safetensors");
  const std::string& path = scratch.write(data, size);
  try {
    check_file(path, size);
  } catch (const senet::Error&) {
  }
  check_load(path, false);
  check_load(path, true);
  return 0;
}
