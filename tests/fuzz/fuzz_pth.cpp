// Fuzz target: the PyTorch checkpoint reader (senet/io/pth.hpp: the ZIP directory, the restricted
// pickle interpreter, the tensors' validation and strided reads) and strict weight loading from
// it (senet/io/weights.hpp through WeightsFile) on arbitrary file contents.
//
// Properties beyond "no crash": every validated tensor has as many strides as dimensions, at most
// 64 of them, non-negative, and a dtype of the table; reading as float equals reading as double
// rounded to float; find_non_finite counts what read gives; integer tensors are refused; the CRC
// check only ever refuses more (a file accepted with it is accepted without it, the same);
// load_weights either fills the model with exactly the file's values or throws and leaves the
// model untouched. The CRC check is off for most of this, so that mutations of data.pkl reach the
// interpreter instead of stopping at its checksum.

#include <cstddef>
#include <cstdint>
#include <string>

#include "fuzz_util.hpp"
#include "senet/io/pth.hpp"
#include "senet/io/weights.hpp"
#include "senet/io/weights_file.hpp"

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

senet::PthOptions without_crc() {
  senet::PthOptions o;
  o.check_crc = false;
  return o;
}

void check_file(const std::string& path, std::size_t size) {
  const auto file = senet::PthFile::open(path, without_crc());
  for (const auto& key : file.keys()) {
    const senet::PthEntry& e = file.entry(key);
    FUZZ_CHECK(e.shape.size() == e.strides.size() && e.shape.size() <= senet::kPthMaxRank);
    FUZZ_CHECK(e.storage_offset >= 0);
    for (std::size_t d = 0; d < e.shape.size(); ++d) FUZZ_CHECK(e.shape[d] >= 0 && e.strides[d] >= 0);
    FUZZ_CHECK(senet::detail::safetensors::find_dtype(e.dtype) != nullptr);
    // No tensor has more elements than the file has bytes: nothing makes senet allocate more.
    FUZZ_CHECK(static_cast<std::uint64_t>(e.numel()) <= size);
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
  // With the checksum checked: refused, or the same tensors.
  try {
    const auto checked = senet::PthFile::open(path);
    FUZZ_CHECK(checked.keys() == file.keys());
  } catch (const senet::Error&) {
  }
}

/// load_weights with and without non-finite values allowed: all or nothing.
void check_load(const std::string& path, bool allow_non_finite) {
  Tiny model;
  model.fill_sentinel();
  senet::LoadWeightsOptions options;
  options.allow_non_finite = allow_non_finite;
  options.pth = without_crc();
  try {
    senet::load_weights(model, path, options);
  } catch (const senet::Error&) {
    FUZZ_CHECK(model.has_sentinel());
    return;
  }
  const auto file = senet::WeightsFile::open(path, options.file, options.pth);
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
  static senet::fuzz::ScratchFile scratch(".pth");
  const std::string& path = scratch.write(data, size);
  try {
    check_file(path, size);
  } catch (const senet::Error&) {
  }
  check_load(path, false);
  check_load(path, true);
  return 0;
}
