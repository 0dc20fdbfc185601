// Tests of senet/io/pth.hpp (with detail/zip.hpp and detail/pickle.hpp) and of PyTorch
// checkpoints through load_weights and WeightsFile. Two sources of files:
//  * files torch.save itself wrote (tests/fixtures/make_pth_fixtures.py, committed under
//    tests/fixtures/data/pth), whose every element is checked against the same tensors written
//    contiguously to a safetensors file by the same script;
//  * archives and pickles built byte by byte (pth_builder.hpp), for the layouts torch writes
//    rarely and for every kind of damage, each of which must be a senet::Error naming the file.

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "pth_builder.hpp"
#include "safetensors_builder.hpp"
#include "senet/io/pth.hpp"
#include "senet/io/weights.hpp"
#include "senet/io/weights_file.hpp"
#include "test_util.hpp"

namespace test_pth {

namespace fs = std::filesystem;
using namespace senet::test;

bool has(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

std::string pth_fixture(const std::string& name) { return fixture("pth/" + name); }

/// A unique .pth path in the temp directory, removed when the test ends.
struct TempPth : TempPath {
  TempPth() : TempPath(".pth") {}
};

/// `fc.weight` [2, 3] and `bn.running_mean` [3], as a small model names them.
template <class T>
class Pair : public senet::Module<T> {
 public:
  senet::Tensor<T> weight{2, 3};
  senet::Tensor<T> running_mean{3};
  senet::Tensor<T> forward(const senet::Tensor<T>& x) const override { return x; }
  senet::Shape output_shape(const senet::Shape& input) const override { return input; }
  std::string type_name() const override { return "Pair"; }

 protected:
  void do_visit_parameters(const senet::ParameterVisitor<T>& visit, const std::string& prefix) override {
    visit(senet::join_name(prefix, "fc.weight"), weight, senet::ParameterKind::learnable);
    visit(senet::join_name(prefix, "bn.running_mean"), running_mean, senet::ParameterKind::buffer);
  }
};

/// A state_dict of Pair: fc.weight = 1..6 (transposed in storage: a [3, 2] matrix viewed with
/// strides (1, 2)), bn.running_mean = 7, 8, 9 in a second storage at offset 1, and an I64
/// num_batches_tracked.
std::vector<TensorSpec> pair_specs() {
  return {{"fc.weight", "FloatStorage", "0", 6, 0, {2, 3}, {1, 2}},
          {"bn.running_mean", "FloatStorage", "1", 4, 1, {3}, {1}},
          {"bn.num_batches_tracked", "LongStorage", "2", 1, 0, {}, {}}};
}
std::vector<std::pair<std::string, std::string>> pair_storages() {
  return {{"0", f32_bytes({1, 4, 2, 5, 3, 6})}, {"1", f32_bytes({-1, 7, 8, 9})}, {"2", le(42, 8)}};
}
Zip pair_zip() { return pth_bytes(state_dict_pickle(pair_specs()), pair_storages()); }

// ---- Files torch wrote: every element against the expected safetensors.

template <class T>
class TorchWritten : public ::testing::Test {};
TYPED_TEST_SUITE(TorchWritten, Scalars);

TYPED_TEST(TorchWritten, EveryTensorEqualsTheExpectedValues) {
  using T = TypeParam;
  const auto expected = senet::SafetensorsFile::open(pth_fixture("tensors.safetensors"));
  for (const char* name : {"tensors.pth", "tensors_protocol4.pth"}) {
    SCOPED_TRACE(name);
    const auto file = senet::PthFile::open(pth_fixture(name));
    ASSERT_EQ(file.keys(), expected.keys());
    std::size_t floating = 0;
    for (const std::string& key : file.keys()) {
      SCOPED_TRACE(key);
      const senet::PthEntry& e = file.entry(key);
      EXPECT_EQ(e.shape, expected.entry(key).shape);
      EXPECT_EQ(e.dtype, key == "bf16.vector" ? "BF16" : expected.entry(key).dtype);  // expected holds BF16 as F32
      ASSERT_EQ(file.is_floating(key), expected.is_floating(key));
      if (!file.is_floating(key)) {
        const std::string m = error_of([&] { file.template read<T>(key); });
        EXPECT_TRUE(has(m, file.path() + ": tensor '" + key + "': dtype " + e.dtype + " is an integer type")) << m;
        continue;
      }
      ++floating;
      const senet::Tensor<T> got = file.template read<T>(key);
      const senet::Tensor<T> want = expected.template read<T>(key);
      ASSERT_EQ(got.shape(), want.shape());
      // Bit for bit: both convert the same stored value (and -0 keeps its sign).
      if (got.size() > 0) {
        EXPECT_EQ(std::memcmp(got.data(), want.data(), got.bytes()), 0);
      }
      EXPECT_EQ(file.template find_non_finite<T>(key).count, 0u);
    }
    EXPECT_EQ(floating, 15u);
  }
}

TEST(TorchWritten, LayoutsAsTorchSavedThem) {
  const auto file = senet::PthFile::open(pth_fixture("tensors.pth"));
  EXPECT_EQ(file.archive_name(), "tensors");  // torch names the folder after the file
  const auto& t = file.entry("transposed");
  EXPECT_EQ(t.shape, (senet::Shape{4, 3}));
  EXPECT_EQ(t.strides, (std::vector<senet::Index>{1, 4}));
  EXPECT_FALSE(t.is_contiguous());
  EXPECT_EQ(file.entry("channels_last").strides, (std::vector<senet::Index>{12, 1, 6, 3}));
  EXPECT_FALSE(file.entry("channels_last").is_contiguous());
  EXPECT_TRUE(file.entry("f32.matrix").is_contiguous());
  EXPECT_TRUE(file.entry("scalar").is_contiguous());
  EXPECT_EQ(file.entry("scalar").shape, senet::Shape{});
  EXPECT_EQ(file.entry("empty").shape, (senet::Shape{0, 3}));
  // Views of one storage, at their offsets and strides.
  const std::string base = file.entry("shared.base").storage;
  for (const auto& [key, offset] : std::map<std::string, senet::Index>{{"shared.base", 0},
                                                                       {"shared.head", 0},
                                                                       {"shared.tail", 4},
                                                                       {"shared.strided", 1},
                                                                       {"shared.broadcast", 7}}) {
    EXPECT_EQ(file.entry(key).storage, base) << key;
    EXPECT_EQ(file.entry(key).storage_offset, offset) << key;
  }
  EXPECT_EQ(file.entry("shared.strided").strides, (std::vector<senet::Index>{3}));
  EXPECT_EQ(file.entry("shared.broadcast").strides, (std::vector<senet::Index>{0}));
  EXPECT_NE(file.entry("f32.matrix").storage, base);
  // Integer buffers are listed, not floating.
  EXPECT_EQ(file.entry("num_batches_tracked").dtype, "I64");
  EXPECT_EQ(file.entry("int32.buffer").dtype, "I32");
  EXPECT_EQ(file.entry("bool.mask").dtype, "BOOL");
  EXPECT_FALSE(file.is_floating("num_batches_tracked"));
  // Views agree with their base element by element.
  const auto b = file.read<float>("shared.base");
  const auto strided = file.read<float>("shared.strided");
  for (senet::Index i = 0; i < 3; ++i) EXPECT_EQ(strided[i], b[1 + 3 * i]);
  const auto tail = file.read<float>("shared.tail");
  for (senet::Index i = 0; i < 6; ++i) EXPECT_EQ(tail[i], b[4 + i]);
  EXPECT_EQ(file.read<float>("shared.broadcast")[2], b[7]);
  const std::string m = error_of([&] { file.entry("nope"); });
  EXPECT_TRUE(has(m, file.path() + ": no tensor named 'nope'")) << m;
}

TEST(TorchWritten, WeightsFileChoosesTheReaderByContent) {
  EXPECT_EQ(senet::detect_weights_format(pth_fixture("tensors.pth")), senet::WeightsFormat::pth);
  EXPECT_EQ(senet::detect_weights_format(pth_fixture("legacy.pth")), senet::WeightsFormat::pth);
  EXPECT_EQ(senet::detect_weights_format(pth_fixture("tensors.safetensors")), senet::WeightsFormat::safetensors);
  // By content, whatever the name says.
  TempPath renamed(".safetensors");
  fs::copy_file(pth_fixture("tensors.pth"), renamed.str(), fs::copy_options::overwrite_existing);
  const auto f = senet::WeightsFile::open(renamed.str());
  EXPECT_EQ(f.format(), senet::WeightsFormat::pth);
  ASSERT_NE(f.pth(), nullptr);
  EXPECT_EQ(f.safetensors(), nullptr);
  EXPECT_EQ(f.shape("transposed"), (senet::Shape{4, 3}));
  EXPECT_EQ(f.dtype("f16.vector"), "F16");
  EXPECT_EQ(f.read<double>("transposed")[1],
            senet::PthFile::open(pth_fixture("tensors.pth")).read<double>("transposed")[1]);
  TempPth misnamed;
  fs::copy_file(pth_fixture("tensors.safetensors"), misnamed.str(), fs::copy_options::overwrite_existing);
  EXPECT_EQ(senet::WeightsFile::open(misnamed.str()).format(), senet::WeightsFormat::safetensors);
  // A safetensors header of 128 + 256 k bytes starts with 0x80, as a pickle does: still safetensors.
  for (const std::size_t length : {128, 384, 1408}) {
    std::string header = R"({"x":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})";
    header.resize(length, ' ');
    write_file(misnamed.str(), safetensors_bytes(header, f32_bytes({2.5f})));
    EXPECT_EQ(senet::detect_weights_format(misnamed.str()), senet::WeightsFormat::safetensors) << length;
    EXPECT_EQ(senet::WeightsFile::open(misnamed.str()).read<float>("x")[0], 2.5f) << length;
  }
  // Neither: the extension picks the reader whose message the user needs.
  TempPth garbage;
  write_file(garbage.str(), "not a checkpoint at all");
  EXPECT_EQ(senet::detect_weights_format(garbage.str()), senet::WeightsFormat::pth);
  EXPECT_TRUE(has(error_of([&] { senet::WeightsFile::open(garbage.str()); }), "not a zip archive"));
  TempPath other(".safetensors");
  write_file(other.str(), "not a checkpoint at all");
  EXPECT_EQ(senet::detect_weights_format(other.str()), senet::WeightsFormat::safetensors);
  EXPECT_EQ(senet::detect_weights_format("/nonexistent/w.safetensors"), senet::WeightsFormat::safetensors);
  EXPECT_TRUE(
      has(error_of([&] { senet::WeightsFile::open("/nonexistent/w.pth"); }), "/nonexistent/w.pth: no such file"));
}

TEST(TorchWritten, RefusedFilesSayWhy) {
  const std::string legacy = pth_fixture("legacy.pth");
  std::string m = error_of([&] { senet::PthFile::open(legacy); });
  EXPECT_TRUE(has(m, legacy + ": a PyTorch checkpoint in the legacy format")) << m;
  EXPECT_TRUE(has(m, "torch.save(torch.load(f), g, _use_new_zipfile_serialization=True)")) << m;
  EXPECT_TRUE(has(m, "safetensors")) << m;
  Pair<float> model;
  EXPECT_EQ(error_of([&] { senet::load_weights(model, legacy); }), m);

  m = error_of([&] { senet::PthFile::open(pth_fixture("expanded.pth")); });
  EXPECT_TRUE(has(m, pth_fixture("expanded.pth") + ": tensor 'x': has 4 elements, more than its storage '0' holds (1)"))
      << m;
  EXPECT_TRUE(has(m, "x.contiguous()")) << m;

  m = error_of([&] { senet::PthFile::open(pth_fixture("module.pth")); });
  EXPECT_TRUE(has(m, pth_fixture("module.pth") + ": module/data.pkl at byte ")) << m;
  EXPECT_TRUE(has(m, "global 'torch.nn.modules.container.Sequential' is not allowed")) << m;
  EXPECT_TRUE(has(m, "model.state_dict()")) << m;

  m = error_of([&] { senet::PthFile::open(pth_fixture("checkpoint.pth")); });
  EXPECT_TRUE(has(m, "entry 'epoch' of the dict is an integer, not a tensor")) << m;
  EXPECT_TRUE(has(m, "checkpoint['state_dict']")) << m;
}

// ---- load_weights: the same strict matching, whichever the format.

template <class T>
class PthWeights : public ::testing::Test {};
TYPED_TEST_SUITE(PthWeights, Scalars);

TYPED_TEST(PthWeights, LoadsNonContiguousAndOffsetTensorsAndSkipsIntegers) {
  using T = TypeParam;
  TempPth p;
  write_file(p.str(), pair_zip().bytes);
  Pair<T> model;
  senet::load_weights(model, p.str());
  for (senet::Index i = 0; i < 6; ++i) EXPECT_EQ(model.weight[i], T(i + 1)) << i;
  for (senet::Index i = 0; i < 3; ++i) EXPECT_EQ(model.running_mean[i], T(7 + i)) << i;
}

TEST(PthWeights, ProblemsAreReportedAsForSafetensors) {
  // The same tensors in both formats, loaded into a model they do not fit: the same message
  // but for the file's name.
  Pair<float> model;
  const std::string from_pth = error_of([&] { senet::load_weights(model, pth_fixture("tensors.pth")); });
  const std::string from_st = error_of([&] { senet::load_weights(model, pth_fixture("tensors.safetensors")); });
  ASSERT_TRUE(has(from_pth, pth_fixture("tensors.pth") + ": cannot load weights into the model: 17 problems"))
      << from_pth;
  EXPECT_TRUE(has(from_pth, "missing key: fc.weight (expected [2, 3])")) << from_pth;
  EXPECT_TRUE(has(from_pth, "unexpected key: channels_last [4, 3, 2, 2]")) << from_pth;
  EXPECT_EQ(from_pth.substr(pth_fixture("tensors.pth").size()),
            from_st.substr(pth_fixture("tensors.safetensors").size()));

  // Mis-shaped and integer entries.
  TempPth p;
  auto specs = pair_specs();
  specs[0].sizes = {3, 2};
  specs[0].strides = {2, 1};
  specs[1].storage_type = "IntStorage";
  specs[1].key = "3";
  write_file(p.str(), pth_bytes(state_dict_pickle(specs),
                                {{"0", f32_bytes({1, 2, 3, 4, 5, 6})}, {"3", le(0, 16)}, {"2", le(1, 8)}})
                          .bytes);
  model.weight[0] = 5;
  const std::string m = error_of([&] { senet::load_weights(model, p.str()); });
  EXPECT_TRUE(has(m, p.str() + ": cannot load weights into the model: 2 problems")) << m;
  EXPECT_TRUE(has(m, "mis-shaped key: fc.weight: expected [2, 3], got [3, 2]")) << m;
  EXPECT_TRUE(has(m, "wrong dtype: bn.running_mean: dtype I32 is not floating point (expected [3])")) << m;
  EXPECT_EQ(model.weight[0], 5.0f);  // untouched
}

TEST(PthWeights, NonFiniteValuesAreFoundInRowMajorOrder) {
  // fc.weight is stored transposed: storage [a, d, b, e, c, f] holds row-major
  // [[a, b, c], [d, e, f]], so the NaN at storage element 1 is element 3, the inf element 5.
  TempPth p;
  const float nan = std::nanf(""), inf = INFINITY;
  write_file(p.str(),
             pth_bytes(state_dict_pickle(pair_specs()),
                       {{"0", f32_bytes({1, nan, 2, 5, 3, inf})}, {"1", f32_bytes({0, 7, 8, 9})}, {"2", le(1, 8)}})
                 .bytes);
  const auto f = senet::PthFile::open(p.str());
  const senet::NonFiniteValues found = f.find_non_finite<float>("fc.weight");
  EXPECT_EQ(found.count, 2u);
  EXPECT_EQ(found.first, 3u);
  EXPECT_TRUE(std::isnan(found.first_value));
  Pair<float> model;
  const std::string m = error_of([&] { senet::load_weights(model, p.str()); });
  EXPECT_TRUE(has(m, "non-finite values in fc.weight: 2 of 6 values, the first at element 3 = nan")) << m;
  senet::LoadWeightsOptions allow;
  allow.allow_non_finite = true;
  senet::load_weights(model, p.str(), allow);
  EXPECT_TRUE(std::isnan(model.weight[3]));
  EXPECT_EQ(model.weight[5], inf);
}

// ---- Hand-built archives: layouts torch writes rarely.

TEST(PthLayouts, PermutedViewWithOffsetAndStrideZeroInThreeDimensions) {
  // x[i, j, k] = storage[5 + 7*i + 0*j + 2*k] for a [2, 3, 3] view of 20 elements.
  std::vector<float> storage(20);
  for (int i = 0; i < 20; ++i) storage[static_cast<std::size_t>(i)] = float(100 + i);
  TempPth p;
  write_file(p.str(), pth_bytes(state_dict_pickle({{"x", "FloatStorage", "k", 20, 5, {2, 3, 3}, {7, 0, 2}}}),
                                {{"k", f32_bytes(storage)}})
                          .bytes);
  const auto x = senet::PthFile::open(p.str()).read<double>("x");
  ASSERT_EQ(x.shape(), (senet::Shape{2, 3, 3}));
  for (int i = 0; i < 2; ++i)
    for (int j = 0; j < 3; ++j)
      for (int k = 0; k < 3; ++k) EXPECT_EQ(x[(i * 3 + j) * 3 + k], 105 + 7 * i + 2 * k) << i << j << k;
}

TEST(PthLayouts, ParametersDevicesHalfAndDoubleStorages) {
  TempPth p;
  std::vector<TensorSpec> specs{{"w", "HalfStorage", "0", 2, 0, {2}, {1}, "cuda:0", true},
                                {"b", "BFloat16Storage", "1", 1, 0, {1}, {1}, "cuda:1"},
                                {"d", "DoubleStorage", "2", 2, 1, {1}, {1}, "mps"}};
  write_file(p.str(), pth_bytes(state_dict_pickle(specs), {{"0", le(0x3C00, 2) + le(0xC000, 2)},
                                                           {"1", le(0x4049, 2)},
                                                           {"2", le(0, 8) + le(0x3FF8000000000000ull, 8)}})
                          .bytes);
  const auto f = senet::PthFile::open(p.str());
  const auto w = f.read<float>("w");
  EXPECT_EQ(w[0], 1.0f);
  EXPECT_EQ(w[1], -2.0f);
  EXPECT_EQ(f.read<float>("b")[0], 3.140625f);
  EXPECT_EQ(f.read<double>("d")[0], 1.5);
}

TEST(PthLayouts, Zip64FieldsCommentAndByteorderAreRead) {
  TempPth p;
  std::vector<ZipEntry> entries{
      {"a/data.pkl", state_dict_pickle({{"x", "FloatStorage", "0", 2, 0, {2}, {1}}}), 0, 0x0800, true},
      {"a/byteorder", "little"},
      {"a/data/0", f32_bytes({2.5f, -1.0f}), 0, 0x0800, true}};
  write_file(p.str(), zip_bytes(entries, true, "a comment with PK\x05\x06 inside").bytes);
  const auto x = senet::PthFile::open(p.str()).read<float>("x");
  EXPECT_EQ(x[0], 2.5f);
  EXPECT_EQ(x[1], -1.0f);
  // Without the zip64 end records (a plain zip) as well.
  write_file(p.str(), zip_bytes(entries, false).bytes);
  EXPECT_EQ(senet::PthFile::open(p.str()).read<float>("x")[1], -1.0f);
}

TEST(PthLayouts, TensorsMayShareOneStorageAndOneNameMayNotRepeat) {
  TempPth p;
  write_file(p.str(), pth_bytes(state_dict_pickle({{"a", "FloatStorage", "0", 3, 0, {3}, {1}},
                                                   {"b", "FloatStorage", "0", 3, 2, {1}, {1}}}),
                                {{"0", f32_bytes({1, 2, 3})}})
                          .bytes);
  const auto f = senet::PthFile::open(p.str());
  EXPECT_EQ(f.read<float>("b")[0], 3.0f);
  EXPECT_EQ(f.read<float>("a")[2], 3.0f);
}

TEST(PthLayouts, ReadAfterTruncationThrows) {
  TempPth p;
  write_file(p.str(), pair_zip().bytes);
  const auto f = senet::PthFile::open(p.str());
  fs::resize_file(p.str(), 300);
  const std::string m = error_of([&] { f.read<float>("bn.running_mean"); });
  EXPECT_TRUE(has(m, p.str() + ": tensor 'bn.running_mean': ")) << m;
}

TEST(PthLayouts, NothingInTheFileIsRun) {
  // os.system('touch MARKER') as torch.load would run it: refused at the GLOBAL, and the marker
  // never appears.
  TempPath marker(".marker");
  TempPth p;
  Pickle evil;
  evil.proto().global("os", "system").mark().str("touch " + marker.str()).tuple().reduce().stop();
  write_file(p.str(), pth_bytes(evil.bytes, {}).bytes);
  const std::string m = error_of([&] { senet::PthFile::open(p.str()); });
  EXPECT_TRUE(has(m, p.str() + ": archive/data.pkl at byte 2: global 'os.system' is not allowed")) << m;
  EXPECT_TRUE(has(m, "nothing in the file is run")) << m;
  EXPECT_FALSE(fs::exists(marker.str()));
  Pair<float> model;
  EXPECT_EQ(error_of([&] { senet::load_weights(model, p.str()); }), m);
}

TEST(PthLayouts, CrcCheckCanBeTurnedOff) {
  Zip z = pair_zip();
  poke(z.bytes, z.central_offsets[0] + 16, 0x12345678, 4);  // data.pkl's CRC in the directory
  TempPth p;
  write_file(p.str(), z.bytes);
  const std::string m = error_of([&] { senet::PthFile::open(p.str()); });
  EXPECT_TRUE(has(m, p.str() + ": archive/data.pkl is damaged (its CRC-32 is ")) << m;
  EXPECT_TRUE(has(m, "the archive's directory says 305419896")) << m;
  senet::PthOptions options;
  options.check_crc = false;
  EXPECT_EQ(senet::PthFile::open(p.str(), options).read<float>("fc.weight")[1], 2.0f);
}

TEST(PthLayouts, Crc32KnownValues) {
  using senet::detail::zip::crc32;
  const std::string check = "123456789";
  EXPECT_EQ(crc32(reinterpret_cast<const unsigned char*>(check.data()), check.size()), 0xCBF43926u);
  EXPECT_EQ(crc32_bitwise(check), 0xCBF43926u);
  EXPECT_EQ(crc32(nullptr, 0), 0u);
  // Continued over two pieces as over one.
  const auto* p = reinterpret_cast<const unsigned char*>(check.data());
  EXPECT_EQ(crc32(p + 4, 5, crc32(p, 4)), 0xCBF43926u);
}

// ---- Limits

TEST(PthLimits, PickleSizeLimit) {
  EXPECT_EQ(senet::PthOptions{}.max_pickle_bytes, std::uint64_t{16} << 20);
  const std::string pickle = state_dict_pickle(pair_specs());
  TempPth p;
  write_file(p.str(), pth_bytes(pickle, pair_storages()).bytes);
  senet::PthOptions tight;
  tight.max_pickle_bytes = pickle.size() - 1;
  const std::string m = error_of([&] { senet::PthFile::open(p.str(), tight); });
  EXPECT_TRUE(has(m, p.str() + ": archive/data.pkl is " + std::to_string(pickle.size()) + " bytes, over the limit of " +
                         std::to_string(pickle.size() - 1) + " bytes (PthOptions::max_pickle_bytes"))
      << m;
  tight.max_pickle_bytes = pickle.size();
  EXPECT_NO_THROW(senet::PthFile::open(p.str(), tight));
  // Through load_weights.
  Pair<float> model;
  senet::LoadWeightsOptions options;
  options.pth.max_pickle_bytes = 10;
  EXPECT_TRUE(has(error_of([&] { senet::load_weights(model, p.str(), options); }), "over the limit of 10 bytes"));
}

TEST(PthLimits, TensorCountLimit) {
  TempPth p;
  write_file(p.str(), pair_zip().bytes);
  senet::PthOptions tight;
  tight.max_tensors = 2;
  const std::string m = error_of([&] { senet::PthFile::open(p.str(), tight); });
  // The third storage comes before the third tensor.
  EXPECT_TRUE(has(m, "more than 2 storages (PthOptions::max_tensors)")) << m;
  tight.max_tensors = 3;
  EXPECT_EQ(senet::PthFile::open(p.str(), tight).keys().size(), 3u);
  // So are the names: three of one tensor.
  Pickle names;
  names.proto().empty_dict().mark().str("a");
  push_tensor(names, {"t", "FloatStorage", "0", 1, 0, {1}, {1}}).put(0);
  names.str("b").get(0).str("c").get(0).setitems().stop();
  write_file(p.str(), pth_bytes(names.bytes, {{"0", f32_bytes({1})}}).bytes);
  EXPECT_EQ(senet::PthFile::open(p.str()).keys(), (std::vector<std::string>{"a", "b", "c"}));
  tight.max_tensors = 2;
  EXPECT_TRUE(has(error_of([&] { senet::PthFile::open(p.str(), tight); }),
                  "a dict of more than 2 entries (PthOptions::max_tensors)"));
  // The archive's entry count is bounded by the same limit (plus 16).
  tight.max_tensors = 0;
  std::vector<ZipEntry> many;
  for (int i = 0; i < 17; ++i) many.push_back({"a/" + std::to_string(i), "x"});
  write_file(p.str(), zip_bytes(many).bytes);
  EXPECT_TRUE(has(error_of([&] { senet::PthFile::open(p.str(), tight); }),
                  "the archive has 17 entries, more than the limit of 16 (PthOptions::max_tensors"));
}

TEST(PthLimits, NestingStackAndCycles) {
  TempPth p;
  // 17 nested tuples.
  Pickle deep;
  deep.proto();
  for (int i = 0; i < 17; ++i) deep.mark();
  for (int i = 0; i < 17; ++i) deep.tuple();
  deep.stop();
  write_file(p.str(), pth_bytes(deep.bytes, {}).bytes);
  EXPECT_TRUE(has(error_of([&] { senet::PthFile::open(p.str()); }), "containers nest more than 16 deep"));
  // A dict put into itself through the memo, again and again: stopped by the same limit.
  Pickle cycle;
  cycle.proto().empty_dict().put(0);
  for (int i = 0; i < 20; ++i) cycle.str("k").get(0).setitem();
  cycle.stop();
  write_file(p.str(), pth_bytes(cycle.bytes, {}).bytes);
  EXPECT_TRUE(has(error_of([&] { senet::PthFile::open(p.str()); }), "containers nest more than 16 deep"));
  // More values than the stack holds.
  Pickle wide;
  wide.proto().raw(std::string((std::size_t{1} << 20) + 1, 'N')).stop();
  write_file(p.str(), pth_bytes(wide.bytes, {}).bytes);
  EXPECT_TRUE(has(error_of([&] { senet::PthFile::open(p.str()); }), "more than 1048576 values on the pickle stack"));
}

TEST(PthLimits, RankOver64IsRefused) {
  TempPth p;
  const std::vector<std::int64_t> ones(65, 1);
  write_file(
      p.str(),
      pth_bytes(state_dict_pickle({{"x", "FloatStorage", "0", 1, 0, ones, ones}}), {{"0", f32_bytes({1})}}).bytes);
  EXPECT_TRUE(has(error_of([&] { senet::PthFile::open(p.str()); }),
                  "the tensor's size has 65 dimensions, more than the 64 allowed"));
  const std::vector<std::int64_t> ones64(64, 1);
  write_file(
      p.str(),
      pth_bytes(state_dict_pickle({{"x", "FloatStorage", "0", 1, 0, ones64, ones64}}), {{"0", f32_bytes({1})}}).bytes);
  EXPECT_EQ(senet::PthFile::open(p.str()).entry("x").shape.size(), 64u);
}

TEST(PthLimits, NamesFromTheFileAreEscapedInMessages) {
  TempPth p;
  write_file(p.str(), pth_bytes(state_dict_pickle({{"a\nb\x1b[31m", "FloatStorage", "0", 1, 0, {2}, {1}}}),
                                {{"0", f32_bytes({1})}})
                          .bytes);
  const std::string m = error_of([&] { senet::PthFile::open(p.str()); });
  EXPECT_TRUE(has(m, "tensor 'a\\x0ab\\x1b[31m'")) << m;
  EXPECT_FALSE(has(m, "\n")) << m;
  EXPECT_FALSE(has(m, "\x1b")) << m;
  // Bytes that are not UTF-8, in a tensor's name and in an archive's.
  write_file(p.str(), pth_bytes(state_dict_pickle({{"w\x93", "FloatStorage", "0", 1, 0, {2}, {1}}}),
                                {{"0", f32_bytes({1})}}, "arch\xff")
                          .bytes);
  const std::string n = error_of([&] { senet::PthFile::open(p.str()); });
  EXPECT_TRUE(has(n, "tensor 'w\\x93'")) << n;
  write_file(p.str(), zip_bytes({{"arch\xff/data.pk", "x"}}).bytes);
  const std::string o = error_of([&] { senet::PthFile::open(p.str()); });
  EXPECT_TRUE(has(o, "no 'arch\\xff/data.pkl'")) << o;
}

// ---- Damaged files: each a senet::Error naming the file and what is wrong.

struct Damaged {
  const char* name;
  std::string bytes;
  const char* expect;
};

std::ostream& operator<<(std::ostream& os, const Damaged& d) { return os << d.name; }

class PthDamaged : public ::testing::TestWithParam<Damaged> {};

TEST_P(PthDamaged, ThrowsErrorNamingFile) {
  TempPth p;
  write_file(p.str(), GetParam().bytes);
  const std::string m = error_of([&] { senet::PthFile::open(p.str()); });
  EXPECT_EQ(m.rfind(p.str() + ": ", 0), 0u) << m;
  EXPECT_TRUE(has(m, GetParam().expect)) << m;
  // load_weights reports the same (the format is recognised by content or by the extension).
  Pair<float> model;
  model.weight[0] = 17;
  EXPECT_EQ(error_of([&] { senet::load_weights(model, p.str()); }), m);
  EXPECT_EQ(model.weight[0], 17.0f);
}

/// `pair_zip()` changed by `edit`.
template <class Edit>
std::string edited(Edit edit) {
  Zip z = pair_zip();
  edit(z);
  return z.bytes;
}

/// A pair archive whose pickle is `pickle` (storages as pair_zip's).
std::string with_pickle(const std::string& pickle) { return pth_bytes(pickle, pair_storages()).bytes; }

/// The pair's pickle with `from` replaced by `to` (once).
std::string pickle_with(const std::string& from, const std::string& to) {
  std::string s = state_dict_pickle(pair_specs());
  const auto at = s.find(from);
  if (at == std::string::npos) ADD_FAILURE() << "no '" << from << "' in the pickle";
  return with_pickle(s.replace(at, from.size(), to));
}

/// A one-tensor state_dict "x" over storage "0" of `storage` float32 values.
std::string one_tensor(const TensorSpec& spec, std::size_t storage_floats) {
  return pth_bytes(state_dict_pickle({spec}), {{spec.key, f32_bytes(std::vector<float>(storage_floats, 1.0f))}}).bytes;
}

Pickle proto() {
  Pickle p;
  p.proto();
  return p;
}

const std::string kPair = pair_zip().bytes;

INSTANTIATE_TEST_SUITE_P(
    Pth, PthDamaged,
    ::testing::Values(
        // ---- the container
        Damaged{"EmptyFile", "", "not a zip archive"}, Damaged{"NotAZip", "PK is not enough", "not a zip archive"},
        Damaged{"LegacyPickle", std::string("\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19", 14),
                "legacy format"},
        Damaged{"TruncatedToHalf", kPair.substr(0, kPair.size() / 2), "no end of central directory record"},
        Damaged{"TruncatedByOneByte", kPair.substr(0, kPair.size() - 1), "no end of central directory record"},
        Damaged{"TruncatedToTwentyBytes", kPair.substr(0, 20), "too short for a zip archive"},
        Damaged{"EmptyArchive", zip_bytes({}, false).bytes, "the zip archive is empty"},
        Damaged{"BadCentralSignature", edited([](Zip& z) { poke(z.bytes, z.central_offsets[1], 0x12345678, 4); }),
                "central directory entry 1 at offset"},
        Damaged{"DirectoryPastTheEnd", edited([](Zip& z) {
                  poke(z.bytes, z.zip64_end_offset + 48, z.bytes.size(), 8);
                  poke(z.bytes, z.end_offset + 16, 0xFFFFFFFF, 4);
                }),
                "runs past the end records"},
        Damaged{"EndRecordsDisagree", edited([](Zip& z) { poke(z.bytes, z.end_offset + 16, 7, 4); }),
                "the end of central directory records disagree on the directory offset"},
        Damaged{"MoreEntriesThanTheDirectoryHolds", edited([](Zip& z) {
                  poke(z.bytes, z.zip64_end_offset + 24, 60000, 8);
                  poke(z.bytes, z.zip64_end_offset + 32, 60000, 8);
                  poke(z.bytes, z.end_offset + 8, 0xFFFF, 2);
                  poke(z.bytes, z.end_offset + 10, 0xFFFF, 2);
                }),
                "cannot hold 60000 entries"},
        Damaged{"Zip64RecordMissing", edited([](Zip& z) { poke(z.bytes, z.zip64_end_offset, 0, 4); }),
                "no zip64 end of central directory record"},
        Damaged{"MultiDisk", edited([](Zip& z) { poke(z.bytes, z.zip64_end_offset + 16, 1, 4); }),
                "disagree on the disk number"},
        Damaged{"LocalHeaderPastTheDirectory",
                edited([](Zip& z) { poke(z.bytes, z.central_offsets[2] + 42, z.directory_offset + 4, 4); }),
                "its local header at offset"},
        Damaged{"NoLocalHeader", edited([](Zip& z) { poke(z.bytes, z.local_offsets[1], 0, 4); }),
                "zip entry 'archive/data/0': no local file header"},
        Damaged{"DataPastTheDirectory", edited([](Zip& z) {
                  poke(z.bytes, z.central_offsets[3] + 20, 1000000, 4);
                  poke(z.bytes, z.central_offsets[3] + 24, 1000000, 4);
                }),
                "'archive/data/2': its 1000000 bytes of data at offset"},
        Damaged{"CompressedEntry", zip_bytes({{"archive/data.pkl", "x", 8}}).bytes,
                "zip entry 'archive/data.pkl': is compressed (method 8, deflate)"},
        Damaged{"EncryptedEntry", zip_bytes({{"archive/data.pkl", "x", 0, 0x0801}}).bytes, "is encrypted"},
        Damaged{"SizesDiffer", edited([](Zip& z) { poke(z.bytes, z.central_offsets[0] + 20, 3, 4); }),
                "compressed size 3 differs from its size"},
        Damaged{"DuplicateName", zip_bytes({{"archive/data.pkl", "x"}, {"archive/data.pkl", "y"}}).bytes,
                "is named twice"},
        Damaged{"LocalNameDiffers", zip_bytes({{"archive/data.pkl", "x", 0, 0x0800, false, "archive/data.pkX"}}).bytes,
                "its local header names a different file"},
        Damaged{"OverlappingEntries",  // archive/data/0's data grown over archive/data/1's header
                edited([](Zip& z) {
                  poke(z.bytes, z.central_offsets[1] + 20, 64, 4);
                  poke(z.bytes, z.central_offsets[1] + 24, 64, 4);
                }),
                "zip entries 'archive/data/0' and 'archive/data/1' overlap"},
        Damaged{"SaturatedWithoutZip64Field",
                edited([](Zip& z) { poke(z.bytes, z.central_offsets[1] + 24, 0xFFFFFFFF, 4); }),
                "no zip64 extra field"},
        Damaged{"NotInAFolder", zip_bytes({{"data.pkl", "x"}}).bytes, "is not in a folder"},
        Damaged{"NoDataPkl", zip_bytes({{"archive/other", "x"}}).bytes, "the archive has no 'archive/data.pkl'"},
        Damaged{"BigEndian",
                pth_bytes(state_dict_pickle(pair_specs()), pair_storages(), "archive", {{"archive/byteorder", "big"}})
                    .bytes,
                "big-endian"},
        Damaged{"ByteorderGarbage",
                pth_bytes(state_dict_pickle(pair_specs()), pair_storages(), "archive", {{"archive/byteorder", "mid"}})
                    .bytes,
                "holds 'mid', not 'little' or 'big'"},
        Damaged{"PickleCrc", edited([](Zip& z) { z.bytes[z.local_offsets[1] - 5] ^= 1; }), "CRC-32"},
        // ---- storages and extents
        Damaged{"StorageEntryMissing", pth_bytes(state_dict_pickle(pair_specs()), {}).bytes,
                "storage '0' has no entry 'archive/data/0' in the archive"},
        Damaged{"StorageSizeMismatch",
                pth_bytes(state_dict_pickle(pair_specs()),
                          {{"0", f32_bytes({1, 2, 3, 4, 5})}, {"1", f32_bytes({1, 2, 3, 4})}, {"2", le(1, 8)}})
                    .bytes,
                "storage '0' of 6 elements (torch.FloatStorage) does not match the 20 bytes of its entry"},
        Damaged{"OffsetPastStorage", one_tensor({"x", "FloatStorage", "0", 4, 2, {3}, {1}}, 4),
                "tensor 'x': shape [3] with strides [1] from storage offset 2 reaches past the end of its storage '0' "
                "of 4 elements"},
        Damaged{"StridePastStorage", one_tensor({"x", "FloatStorage", "0", 4, 0, {2, 2}, {3, 1}}, 4),
                "reaches past the end"},
        Damaged{"StrideOverflow", one_tensor({"x", "FloatStorage", "0", 4, 0, {3}, {INT64_MAX}}, 4),
                "reaches past the end"},
        Damaged{"EmptyTensorOffsetPastStorage", one_tensor({"x", "FloatStorage", "0", 4, 5, {0}, {1}}, 4),
                "storage offset 5 is past the end"},
        Damaged{"ShapeOverflow", one_tensor({"x", "FloatStorage", "0", 4, 0, {INT64_MAX, 4}, {0, 0}}, 4),
                "has too many elements"},
        Damaged{
            "StorageBytesOverflow",
            pth_bytes(state_dict_pickle({{"x", "DoubleStorage", "0", INT64_MAX / 4, 0, {1}, {1}}}), {{"0", "12345678"}})
                .bytes,
            "does not match the 8 bytes"},
        // ---- the pickle
        Damaged{"ForbiddenGlobal",
                with_pickle(proto().global("os", "system").mark().str("echo").tuple().reduce().stop().bytes),
                "archive/data.pkl at byte 2: global 'os.system' is not allowed"},
        Damaged{"ForbiddenStackGlobal",
                with_pickle(
                    Pickle().proto(4).op(0x8c).op(8).raw("builtins").op(0x8c).op(4).raw("eval").op(0x93).stop().bytes),
                "global 'builtins.eval' is not allowed"},
        Damaged{"TorchScriptGlobal", with_pickle(proto().global("__torch__", "Net").stop().bytes), "TorchScript"},
        Damaged{"QuantizedTensor", with_pickle(proto().global("torch._utils", "_rebuild_qtensor").stop().bytes),
                "quantized"},
        Damaged{"ComplexStorage", with_pickle(proto().global("torch", "ComplexFloatStorage").stop().bytes),
                "tensors of this dtype are not read"},
        Damaged{"BadOpcode", with_pickle(proto().op(0xff).bytes), "at byte 2: byte 0xff is not a pickle opcode"},
        Damaged{"InstOpcode", with_pickle(proto().raw("i").bytes), "opcode INST (0x69) is not accepted"},
        Damaged{"FloatOpcode", with_pickle(proto().raw("G").bytes), "opcode BINFLOAT"},
        Damaged{"NoStop", with_pickle(proto().empty_dict().bytes), "without a STOP opcode"},
        Damaged{"EmptyPickle", with_pickle(""), "without a STOP opcode"},
        Damaged{"TruncatedString",
                with_pickle(proto()
                                .raw(std::string("X\x10\x00\x00\x00"
                                                 "abc",
                                                 8))
                                .bytes),
                "runs past the end"},
        Damaged{"TruncatedArgument", with_pickle(proto().raw("J\x01").bytes), "ends inside an opcode's argument"},
        Damaged{"ProtocolOne", with_pickle(Pickle().proto(1).stop().bytes), "pickle protocol 1 is not supported"},
        Damaged{"ProtocolSix", with_pickle(Pickle().proto(6).stop().bytes), "pickle protocol 6 is not supported"},
        Damaged{"StackUnderflow", with_pickle(proto().stop().bytes), "STOP needs a value on the stack"},
        Damaged{"PopAcrossMark", with_pickle(proto().empty_dict().mark().stop().bytes), "needs a value"},
        Damaged{"MemoNeverStored", with_pickle(proto().get(3).stop().bytes),
                "memo entry 3 is read but was never stored"},
        Damaged{"MemoIndexHuge", with_pickle(proto().none().raw("r\xff\xff\xff\x7f").stop().bytes),
                "memo index 2147483647 is beyond the 1048576 accepted"},
        Damaged{"TupleWithoutMark", with_pickle(proto().none().tuple().bytes), "TUPLE without a MARK"},
        Damaged{"TopLevelNotADict", with_pickle(proto().none().stop().bytes), "the pickled object is None, not a dict"},
        Damaged{"EntryNotATensor", with_pickle(proto().empty_dict().str("x").integer(3).setitem().stop().bytes),
                "entry 'x' of the dict is an integer, not a tensor"},
        Damaged{"KeyNotAString", with_pickle(proto().empty_dict().integer(1).integer(3).setitem().stop().bytes),
                "a dict key is an integer, not a string"},
        Damaged{"SetitemOnATuple", with_pickle(proto().empty_tuple().str("x").none().setitem().bytes),
                "SETITEM on a tuple, not a dict"},
        Damaged{"OddSetitems", with_pickle(proto().empty_dict().mark().str("x").setitems().bytes),
                "SETITEMS with an odd number"},
        Damaged{"DuplicateKey",
                pth_bytes(state_dict_pickle({{"x", "FloatStorage", "0", 1, 0, {1}, {1}},
                                             {"x", "FloatStorage", "0", 1, 0, {1}, {1}}}),
                          {{"0", f32_bytes({1})}})
                    .bytes,
                "the dict names tensor 'x' more than once"},
        Damaged{"LongTooWide", with_pickle(proto().op(0x8a).op(9).raw(std::string(9, '\x01')).bytes),
                "an integer of 9 bytes is wider than 64 bits"},
        Damaged{"NegativeOffset", pickle_with(std::string("K\x01", 2) + "(K\x03t", "J\xff\xff\xff\xff(K\x03t"),
                "the storage offset is an integer, not a non-negative integer"},
        Damaged{"StorageDescribedTwice",
                pth_bytes(state_dict_pickle({{"a", "FloatStorage", "0", 2, 0, {1}, {1}},
                                             {"b", "FloatStorage", "0", 3, 0, {1}, {1}}}),
                          {{"0", f32_bytes({1, 2})}})
                    .bytes,
                "storage '0' is named as 2 FloatStorage elements and as 3 FloatStorage elements"},
        Damaged{"PersistentIdNotAStorage", with_pickle(proto().str("x").persid().stop().bytes),
                "a persistent id that is not ('storage', type, key, location, numel)"},
        Damaged{"PersistentIdWrongType",
                with_pickle(proto()
                                .mark()
                                .str("storage")
                                .global("collections", "OrderedDict")
                                .str("0")
                                .str("cpu")
                                .integer(1)
                                .tuple()
                                .persid()
                                .stop()
                                .bytes),
                "storage type is not a torch.<Type>Storage class"},
        Damaged{"StorageTypeCalled", with_pickle(proto().global("torch", "FloatStorage").empty_tuple().reduce().bytes),
                "torch.FloatStorage is called, which a state_dict never does"},
        Damaged{"OrderedDictWithArguments",
                with_pickle(proto().global("collections", "OrderedDict").mark().none().tuple().reduce().bytes),
                "collections.OrderedDict called with arguments"},
        Damaged{"ReduceOfAString", with_pickle(proto().str("f").empty_tuple().reduce().bytes),
                "REDUCE calls a string, not a known class"},
        Damaged{"RebuildWithFiveArguments",
                with_pickle(proto()
                                .global("torch._utils", "_rebuild_tensor_v2")
                                .mark()
                                .none()
                                .none()
                                .none()
                                .none()
                                .none()
                                .tuple()
                                .reduce()
                                .bytes),
                "called with 5 arguments (expected 6 or 7)"},
        Damaged{"RankMismatch", pickle_with(std::string("(K\x01K\x02t", 6), std::string("(K\x01t", 4)),
                "the tensor's size has 2 dimensions and its stride 1"},
        Damaged{"BackwardHooks",
                pickle_with(std::string("\x89\x63", 2),
                            std::string("\x89}X\x01\x00\x00\x00kNs\x63", 11)),  // a non-empty dict of hooks
                "the tensor has backward hooks"},
        Damaged{"BuildOfAnotherAttribute", pickle_with("_metadata", "_evil_att"),
                "BUILD sets the attribute '_evil_att' of an OrderedDict"},
        Damaged{"BuildOnAPlainDict", with_pickle(proto().empty_dict().empty_dict().build().stop().bytes),
                "BUILD on a dict (only an OrderedDict's _metadata is read)"}),
    [](const ::testing::TestParamInfo<Damaged>& info) { return std::string(info.param.name); });

}  // namespace test_pth
