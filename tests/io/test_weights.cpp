// Tests of senet/io/weights.hpp: strict loading reports every problem at once and leaves the
// model untouched on failure. Input files are built by hand, not with the writer under test.

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <string>
#include <type_traits>
#include <vector>

#include "senet/io/weights.hpp"
#include "safetensors_builder.hpp"
#include "test_util.hpp"

namespace test_weights {

namespace fs = std::filesystem;
using namespace senet::test;

/// A unique .safetensors path in the temp directory, removed when the test ends.
struct TempPath : senet::test::TempPath {
  TempPath() : senet::test::TempPath(".safetensors") {}
};

/// Two tensors named as PyTorch would: a learnable `fc.weight` [3, 4] and a `bn.running_mean`
/// [3] buffer.
template <class T>
class Tiny : public senet::Module<T> {
 public:
  senet::Tensor<T> weight{3, 4};
  senet::Tensor<T> running_mean{3};

 protected:
  void do_visit_parameters(const senet::ParameterVisitor<T>& visit, const std::string& prefix) override {
    visit(senet::join_name(prefix, "fc.weight"), weight, senet::ParameterKind::learnable);
    visit(senet::join_name(prefix, "bn.running_mean"), running_mean, senet::ParameterKind::buffer);
  }

 public:
  senet::Tensor<T> forward(const senet::Tensor<T>& x) const override { return x; }
  senet::Shape output_shape(const senet::Shape& input) const override { return input; }
  std::string type_name() const override { return "Tiny"; }

  /// Distinct values so that any change is visible.
  void fill_sentinel(T base) {
    for (senet::Index i = 0; i < weight.size(); ++i) weight[i] = base + T(i);
    for (senet::Index i = 0; i < running_mean.size(); ++i) running_mean[i] = -base - T(i);
  }
};

/// A parent whose child is visited under the prefix "block".
template <class T>
class Outer : public senet::Module<T> {
 public:
  Tiny<T> block;

 protected:
  void do_visit_parameters(const senet::ParameterVisitor<T>& visit, const std::string& prefix) override {
    block.visit_parameters(visit, senet::join_name(prefix, "block"));
  }

 public:
  senet::Tensor<T> forward(const senet::Tensor<T>& x) const override { return x; }
  senet::Shape output_shape(const senet::Shape& input) const override { return input; }
  std::string type_name() const override { return "Outer"; }
};

std::string f32(std::initializer_list<float> values) {
  std::string s;
  for (float v : values) {
    std::uint32_t bits;
    std::memcpy(&bits, &v, 4);
    s += le(bits, 4);
  }
  return s;
}
std::string f32_iota(int n, float start) {
  std::string s;
  for (int i = 0; i < n; ++i) s += f32({start + float(i)});
  return s;
}

using Raw = RawTensor;

/// Builds a safetensors file by hand from raw little-endian bytes.
void write_raw(const std::string& path, const std::vector<Raw>& tensors) {
  write_file(path, safetensors_bytes(tensors, /*pad_header=*/true));
}

template <class T>
void expect_same(const Tiny<T>& a, const Tiny<T>& b) {
  ASSERT_EQ(a.weight.shape(), b.weight.shape());
  ASSERT_EQ(a.running_mean.shape(), b.running_mean.shape());
  EXPECT_EQ(std::memcmp(a.weight.data(), b.weight.data(), a.weight.bytes()), 0);
  EXPECT_EQ(std::memcmp(a.running_mean.data(), b.running_mean.data(), a.running_mean.bytes()), 0);
}

bool has(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

template <class T>
class WeightsTyped : public ::testing::Test {};
TYPED_TEST_SUITE(WeightsTyped, Scalars);

TYPED_TEST(WeightsTyped, LoadCopiesValuesAndIgnoresIntegerEntries) {
  using T = TypeParam;
  TempPath p;
  write_raw(p.str(), {{"fc.weight", "F32", {3, 4}, f32_iota(12, 0.5f)},
                      {"bn.num_batches_tracked", "I64", {}, le(1234, 8)},
                      {"bn.running_mean", "F32", {3}, f32({-1.0f, 0.0f, 2.25f})}});
  Tiny<T> model;
  model.fill_sentinel(T(100));
  senet::load_weights(model, p.str());
  for (int i = 0; i < 12; ++i) EXPECT_EQ(model.weight[i], T(0.5 + i)) << i;
  EXPECT_EQ(model.weight.at({2, 3}), T(11.5));
  EXPECT_EQ(model.running_mean[0], T(-1));
  EXPECT_EQ(model.running_mean[1], T(0));
  EXPECT_EQ(model.running_mean[2], T(2.25));
}

TYPED_TEST(WeightsTyped, ReportsEveryProblemInOneErrorAndLeavesModelUntouched) {
  using T = TypeParam;
  TempPath p;
  write_raw(p.str(), {{"fc.weight", "F32", {4, 3}, f32_iota(12, 0)},          // mis-shaped
                      {"fc.bias", "F32", {3}, f32_iota(3, 0)},                // unexpected
                      {"head.weight", "BF16", {2, 2}, std::string(8, '\0')},  // unexpected
                      {"bn.num_batches_tracked", "I64", {}, le(7, 8)}});      // ignored
                                                                              // bn.running_mean missing
  Tiny<T> model, before;
  model.fill_sentinel(T(3));
  before.fill_sentinel(T(3));
  int thrown = 0;
  std::string m;
  try {
    senet::load_weights(model, p.str());
  } catch (const senet::Error& e) {
    ++thrown;
    m = e.what();
  }
  ASSERT_EQ(thrown, 1);
  EXPECT_EQ(m.rfind(p.str(), 0), 0u) << "message must start with the path: " << m;
  EXPECT_TRUE(has(m, "bn.running_mean (expected [3])")) << m;
  EXPECT_TRUE(has(m, "fc.bias [3]")) << m;
  EXPECT_TRUE(has(m, "head.weight [2, 2]")) << m;
  EXPECT_TRUE(has(m, "fc.weight: expected [3, 4], got [4, 3]")) << m;
  EXPECT_FALSE(has(m, "num_batches_tracked")) << m;
  expect_same(model, before);
}

TEST(Weights, EachKindOfProblemAlone) {
  Tiny<float> model;
  {
    TempPath p;
    write_raw(p.str(), {{"fc.weight", "F32", {3, 4}, f32_iota(12, 0)}});
    const std::string m = error_of([&] { senet::load_weights(model, p.str()); });
    EXPECT_TRUE(has(m, "missing")) << m;
    EXPECT_TRUE(has(m, "bn.running_mean")) << m;
    EXPECT_FALSE(has(m, "fc.weight")) << m;
  }
  {
    TempPath p;
    write_raw(p.str(), {{"fc.weight", "F32", {3, 4}, f32_iota(12, 0)},
                        {"bn.running_mean", "F32", {3}, f32_iota(3, 0)},
                        {"bn.running_var", "F64", {3}, std::string(24, '\0')}});
    const std::string m = error_of([&] { senet::load_weights(model, p.str()); });
    EXPECT_TRUE(has(m, "unexpected")) << m;
    EXPECT_TRUE(has(m, "bn.running_var [3]")) << m;
    EXPECT_FALSE(has(m, "missing")) << m;
  }
  {
    TempPath p;
    write_raw(p.str(), {{"fc.weight", "F32", {12}, f32_iota(12, 0)}, {"bn.running_mean", "F32", {3}, f32_iota(3, 0)}});
    const std::string m = error_of([&] { senet::load_weights(model, p.str()); });
    EXPECT_TRUE(has(m, "fc.weight: expected [3, 4], got [12]")) << m;
  }
  {
    TempPath p;  // same element count, different rank: still a mismatch
    write_raw(p.str(),
              {{"fc.weight", "F32", {3, 4}, f32_iota(12, 0)}, {"bn.running_mean", "F32", {1, 3}, f32_iota(3, 0)}});
    const std::string m = error_of([&] { senet::load_weights(model, p.str()); });
    EXPECT_TRUE(has(m, "bn.running_mean: expected [3], got [1, 3]")) << m;
  }
}

TEST(Weights, IntegerEntryForAParameterIsReported) {
  TempPath p;
  write_raw(p.str(),
            {{"fc.weight", "I32", {3, 4}, std::string(48, '\0')}, {"bn.running_mean", "F32", {3}, f32_iota(3, 0)}});
  Tiny<float> model;
  const std::string m = error_of([&] { senet::load_weights(model, p.str()); });
  EXPECT_TRUE(has(m, "fc.weight")) << m;
  EXPECT_TRUE(has(m, "I32")) << m;
}

TYPED_TEST(WeightsTyped, ConvertsHalfPrecisionAndDouble) {
  using T = TypeParam;
  TempPath p;
  std::string halves;
  for (int i = 0; i < 12; ++i) halves += le(i % 2 ? 0x3C00 : 0xC000, 2);  // 1.0 and -2.0 in F16
  write_raw(p.str(), {{"fc.weight", "F16", {3, 4}, halves},
                      {"bn.running_mean", "BF16", {3}, le(0x3F80, 2) + le(0x4049, 2) + le(0xFF80, 2)}});
  Tiny<T> model;
  senet::LoadWeightsOptions allow;  // the BF16 -inf below is refused by default
  allow.allow_non_finite = true;
  senet::load_weights(model, p.str(), allow);
  for (int i = 0; i < 12; ++i) EXPECT_EQ(model.weight[i], T(i % 2 ? 1 : -2)) << i;
  EXPECT_EQ(model.running_mean[0], T(1));
  EXPECT_EQ(model.running_mean[1], T(3.140625));
  EXPECT_EQ(model.running_mean[2], -std::numeric_limits<T>::infinity());

  TempPath q;
  write_raw(q.str(), {{"fc.weight", "F64", {3, 4}, std::string(96, '\0')},
                      {"bn.running_mean", "F64", {3}, le(0x3FF8000000000000ull, 8) + std::string(16, '\0')}});
  senet::load_weights(model, q.str());
  EXPECT_EQ(model.weight[5], T(0));
  EXPECT_EQ(model.running_mean[0], T(1.5));
}

TYPED_TEST(WeightsTyped, SaveThenLoadRoundTrips) {
  using T = TypeParam;
  TempPath p;
  Tiny<T> a, b;
  a.fill_sentinel(T(0.125));
  a.weight[7] = T(-1e-30);
  senet::save_weights(a, p.str(), {{"format", "pt"}});

  const auto f = senet::SafetensorsFile::open(p.str());
  EXPECT_EQ(f.keys(), (std::vector<std::string>{"bn.running_mean", "fc.weight"}));
  EXPECT_EQ(f.entry("fc.weight").dtype, (std::is_same_v<T, float> ? "F32" : "F64"));
  EXPECT_EQ(f.entry("fc.weight").shape, senet::Shape({3, 4}));
  EXPECT_EQ(f.entry("bn.running_mean").shape, senet::Shape({3}));
  EXPECT_EQ(f.metadata().at("format"), "pt");

  senet::load_weights(b, p.str());
  expect_same(a, b);
}

TEST(Weights, PrefixedNamesOfNestedModules) {
  TempPath p;
  Outer<float> a, b;
  a.block.fill_sentinel(9.0f);
  senet::save_weights(a, p.str());
  EXPECT_TRUE(senet::SafetensorsFile::open(p.str()).contains("block.fc.weight"));
  senet::load_weights(b, p.str());
  expect_same(a.block, b.block);

  // A checkpoint of the bare block does not fit the parent: every name is reported.
  TempPath q;
  senet::save_weights(a.block, q.str());
  const std::string m = error_of([&] { senet::load_weights(b, q.str()); });
  EXPECT_TRUE(has(m, "block.fc.weight")) << m;
  EXPECT_TRUE(has(m, "block.bn.running_mean")) << m;
  EXPECT_TRUE(has(m, "fc.weight [3, 4]")) << m;
  EXPECT_TRUE(has(m, "bn.running_mean [3]")) << m;
}

TEST(Weights, DamagedOrMissingFileLeavesModelUntouched) {
  Tiny<float> model, before;
  model.fill_sentinel(5.0f);
  before.fill_sentinel(5.0f);
  TempPath p;
  {
    std::ofstream out(p.str(), std::ios::binary);
    out << "this is not a safetensors file";
  }
  std::string m = error_of([&] { senet::load_weights(model, p.str()); });
  EXPECT_EQ(m.rfind(p.str(), 0), 0u) << m;
  expect_same(model, before);

  const std::string missing = (fs::temp_directory_path() / "senet_io_surely_missing_weights.safetensors").string();
  m = error_of([&] { senet::load_weights(model, missing); });
  EXPECT_EQ(m.rfind(missing, 0), 0u) << m;
  expect_same(model, before);
}

TEST(Weights, SaveToUnwritablePathThrows) {
  Tiny<double> model;
  const std::string bad = (fs::temp_directory_path() / "senet_io_no_such_dir" / "w.safetensors").string();
  const std::string m = error_of([&] { senet::save_weights(model, bad); });
  EXPECT_TRUE(has(m, bad)) << m;
}

}  // namespace test_weights
