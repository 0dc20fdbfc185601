// The readers' limits and hostile-input defences (senet/io/safetensors.hpp, weights.hpp,
// npy.hpp): the safetensors header size limit and its option, JSON nesting and rank limits,
// NaN and infinite weights refused by default (with file, key, count and first value in the
// message) and accepted on request, names from files escaped in messages, and the .npy
// header's rank and value-count limits. Files are built byte by byte.

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "senet/io/npy.hpp"
#include "senet/io/safetensors.hpp"
#include "senet/io/weights.hpp"
#include "safetensors_builder.hpp"
#include "test_util.hpp"

namespace test_limits {

using namespace senet::test;

bool has(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

std::string f32_bits(std::uint32_t bits) { return le(bits, 4); }
std::string f32(float v) {
  std::uint32_t bits;
  std::memcpy(&bits, &v, 4);
  return le(bits, 4);
}

using Raw = RawTensor;

/// `fc.weight` [2, 2] and `bn.running_mean` [2], as a small model names them.
template <class T>
class Pair : public senet::Module<T> {
 public:
  senet::Tensor<T> weight{2, 2};
  senet::Tensor<T> running_mean{2};
  senet::Tensor<T> forward(const senet::Tensor<T>& x) const override { return x; }
  senet::Shape output_shape(const senet::Shape& input) const override { return input; }
  std::string type_name() const override { return "Pair"; }

 protected:
  void do_visit_parameters(const senet::ParameterVisitor<T>& visit, const std::string& prefix) override {
    visit(senet::join_name(prefix, "fc.weight"), weight, senet::ParameterKind::learnable);
    visit(senet::join_name(prefix, "bn.running_mean"), running_mean, senet::ParameterKind::buffer);
  }
};

// ---- safetensors header size

TEST(SafetensorsLimits, DefaultHeaderLimitIs16MiB) {
  EXPECT_EQ(senet::SafetensorsOptions{}.max_header_bytes, std::uint64_t{16} << 20);
  TempPath p(".safetensors");
  // A length just over the default; the file need not be that long, the length is refused first.
  write_file(p.str(), le((std::uint64_t{16} << 20) + 1, 8) + "{}");
  const std::string m = error_of([&] { senet::SafetensorsFile::open(p.str()); });
  EXPECT_TRUE(has(m, p.str())) << m;
  EXPECT_TRUE(has(m, "header length 16777217 exceeds the limit of 16777216 bytes")) << m;
  EXPECT_TRUE(has(m, "max_header_bytes")) << m;
}

TEST(SafetensorsLimits, HeaderLimitIsConfigurable) {
  TempPath p(".safetensors");
  write_file(p.str(), safetensors_bytes({{"x", "F32", {2}, f32(1) + f32(2)}}));
  const std::uint64_t header =
      senet::detail::load_le(reinterpret_cast<const unsigned char*>(read_file(p.str()).data()), 8);

  senet::SafetensorsOptions tight;
  tight.max_header_bytes = header - 1;
  const std::string m = error_of([&] { senet::SafetensorsFile::open(p.str(), tight); });
  EXPECT_TRUE(has(
      m, "header length " + std::to_string(header) + " exceeds the limit of " + std::to_string(header - 1) + " bytes"))
      << m;

  tight.max_header_bytes = header;  // exactly the limit is accepted
  const auto file = senet::SafetensorsFile::open(p.str(), tight);
  const auto x = file.read<float>("x");
  ASSERT_EQ(x.shape(), senet::Shape({2}));
  EXPECT_EQ(x[1], 2.0f);

  // Through load_weights: the option reaches the reader.
  TempPath q(".safetensors");
  write_file(q.str(), safetensors_bytes({{"fc.weight", "F32", {2, 2}, f32(1) + f32(2) + f32(3) + f32(4)},
                                         {"bn.running_mean", "F32", {2}, f32(5) + f32(6)}}));
  Pair<float> model;
  senet::LoadWeightsOptions options;
  options.file.max_header_bytes = 16;
  EXPECT_TRUE(has(error_of([&] { senet::load_weights(model, q.str(), options); }), "exceeds the limit of 16 bytes"));
  EXPECT_EQ(model.weight[0], 0.0f);
  senet::load_weights(model, q.str());
  EXPECT_EQ(model.weight[3], 4.0f);
}

TEST(SafetensorsLimits, DeeplyNestedJsonIsRefusedWhileParsing) {
  TempPath p(".safetensors");
  // One million nested arrays would build a million JSON values; refused at the fourth level.
  const std::string header = R"({"x":{"dtype":"F32","shape":)" + std::string(1000000, '[') + std::string(1000000, ']') +
                             R"(,"data_offsets":[0,0]}})";
  write_file(p.str(), safetensors_bytes(header, ""));
  const std::string m = error_of([&] { senet::SafetensorsFile::open(p.str()); });
  EXPECT_TRUE(has(m, p.str() + ": header nests JSON more than 3 levels deep")) << m;

  // Three levels (object, entry, shape) is what every valid header has.
  write_file(p.str(), safetensors_bytes(R"({"x":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})", f32(7)));
  EXPECT_EQ(senet::SafetensorsFile::open(p.str()).read<float>("x")[0], 7.0f);
  // Metadata values nested deeper are refused the same way.
  write_file(p.str(), safetensors_bytes(R"({"__metadata__":{"a":{"b":[1]}}})", ""));
  EXPECT_TRUE(has(error_of([&] { senet::SafetensorsFile::open(p.str()); }), "more than 3 levels deep"));
}

TEST(SafetensorsLimits, RankOver64IsRefused) {
  TempPath p(".safetensors");
  std::string shape = "[1";
  for (int i = 1; i < 65; ++i) shape += ",1";
  shape += "]";
  write_file(p.str(),
             safetensors_bytes(R"({"x":{"dtype":"F32","shape":)" + shape + R"(,"data_offsets":[0,4]}})", f32(1)));
  const std::string m = error_of([&] { senet::SafetensorsFile::open(p.str()); });
  EXPECT_TRUE(has(m, "tensor 'x': shape has 65 dimensions, more than the 64 allowed")) << m;

  shape = "[1";
  for (int i = 1; i < 64; ++i) shape += ",1";
  shape += "]";
  write_file(p.str(),
             safetensors_bytes(R"({"x":{"dtype":"F32","shape":)" + shape + R"(,"data_offsets":[0,4]}})", f32(1)));
  EXPECT_EQ(senet::SafetensorsFile::open(p.str()).entry("x").shape.size(), 64u);
}

TEST(SafetensorsLimits, NamesFromTheFileAreEscapedInMessages) {
  TempPath p(".safetensors");
  // A key holding a newline and a terminal escape; the data is short, so the entry is refused.
  write_file(p.str(), safetensors_bytes(R"({"a\nb\u001b[31m":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", ""));
  const std::string m = error_of([&] { senet::SafetensorsFile::open(p.str()); });
  EXPECT_TRUE(has(m, "tensor 'a\\x0ab\\x1b[31m'")) << m;
  EXPECT_FALSE(has(m, "\n")) << m;
  EXPECT_FALSE(has(m, "\x1b")) << m;

  // Long names are cut.
  const std::string long_name(100000, 'k');
  write_file(p.str(),
             safetensors_bytes(R"({")" + long_name + R"(":{"dtype":"X","shape":[],"data_offsets":[0,0]}})", ""));
  const std::string n = error_of([&] { senet::SafetensorsFile::open(p.str()); });
  EXPECT_TRUE(has(n, "unknown dtype")) << n.substr(0, 300);
  EXPECT_LT(n.size(), 1000u);
  EXPECT_TRUE(has(n, "kkk...'")) << n.substr(0, 300);
}

TEST(Printable, EscapesControlCharactersAndCutsAtCharacterBoundaries) {
  using senet::detail::printable;
  EXPECT_EQ(printable("plain.name"), "plain.name");
  EXPECT_EQ(printable(std::string("a\0b", 3)), "a\\x00b");
  EXPECT_EQ(printable("tab\there\x7f"), "tab\\x09here\\x7f");
  EXPECT_EQ(printable("caf\xc3\xa9"), "caf\xc3\xa9");  // UTF-8 kept
  EXPECT_EQ(printable("abcdef", 3), "abc...");
  // Cutting inside a two-byte character backs up to its start.
  EXPECT_EQ(printable("ab\xc3\xa9z", 3), "ab...");
  // Bytes that are not UTF-8 are escaped: a stray continuation, a lone or cut lead byte, overlong
  // forms, surrogates and code points past U+10FFFF; valid 3- and 4-byte characters are kept.
  EXPECT_EQ(printable("a\x93" "b"), "a\\x93b");
  EXPECT_EQ(printable("\xc3"), "\\xc3");
  EXPECT_EQ(printable("\xc3(x"), "\\xc3(x");
  EXPECT_EQ(printable("\xc0\xaf"), "\\xc0\\xaf");
  EXPECT_EQ(printable("\xe0\x80\xaf"), "\\xe0\\x80\\xaf");
  EXPECT_EQ(printable("\xed\xa0\x80"), "\\xed\\xa0\\x80");
  EXPECT_EQ(printable("\xf4\x90\x80\x80"), "\\xf4\\x90\\x80\\x80");
  EXPECT_EQ(printable("\xe2\x82\xac \xf0\x9f\x98\x80"), "\xe2\x82\xac \xf0\x9f\x98\x80");
}

// ---- non-finite weights

template <class T>
class NonFiniteWeights : public ::testing::Test {};
TYPED_TEST_SUITE(NonFiniteWeights, Scalars);

TYPED_TEST(NonFiniteWeights, RefusedByDefaultNamingFileKeysAndFirstValues) {
  using T = TypeParam;
  TempPath p(".safetensors");
  write_file(p.str(), safetensors_bytes(
                          {{"fc.weight", "F32", {2, 2}, f32(1) + f32_bits(0x7FC00000) + f32(3) + f32_bits(0xFF800000)},
                           {"bn.running_mean", "F16", {2}, le(0x3C00, 2) + le(0x7C00, 2)}}));
  Pair<T> model;
  model.weight[0] = T(42);
  const std::string m = error_of([&] { senet::load_weights(model, p.str()); });
  EXPECT_TRUE(has(m, p.str() + ": cannot load weights into the model: 2 tensors hold NaN or infinite values")) << m;
  EXPECT_TRUE(has(m, "allow_non_finite")) << m;
  EXPECT_TRUE(has(m, "non-finite values in fc.weight: 2 of 4 values, the first at element 1 = nan")) << m;
  EXPECT_TRUE(has(m, "non-finite values in bn.running_mean: 1 of 2 values, the first at element 1 = inf")) << m;
  // Nothing was loaded.
  EXPECT_EQ(model.weight[0], T(42));
  EXPECT_EQ(model.weight[2], T(0));
  EXPECT_EQ(model.running_mean[0], T(0));
}

TYPED_TEST(NonFiniteWeights, AcceptedWhenAllowed) {
  using T = TypeParam;
  TempPath p(".safetensors");
  write_file(p.str(), safetensors_bytes(
                          {{"fc.weight", "F32", {2, 2}, f32(1) + f32_bits(0x7FC00000) + f32(3) + f32_bits(0xFF800000)},
                           {"bn.running_mean", "F32", {2}, f32(5) + f32(6)}}));
  Pair<T> model;
  senet::LoadWeightsOptions options;
  options.allow_non_finite = true;
  senet::load_weights(model, p.str(), options);
  EXPECT_EQ(model.weight[0], T(1));
  EXPECT_TRUE(std::isnan(model.weight[1]));
  EXPECT_EQ(model.weight[3], -std::numeric_limits<T>::infinity());
  EXPECT_EQ(model.running_mean[1], T(6));
}

TEST(NonFiniteWeights, ADoubleTooLargeForFloatIsInfiniteInAFloatModel) {
  TempPath p(".safetensors");
  const auto f64 = [](double v) {
    std::uint64_t bits;
    std::memcpy(&bits, &v, 8);
    return le(bits, 8);
  };
  write_file(p.str(), safetensors_bytes({{"fc.weight", "F64", {2, 2}, f64(1) + f64(2) + f64(1e300) + f64(4)},
                                         {"bn.running_mean", "F64", {2}, f64(0) + f64(0)}}));
  Pair<float> f;
  const std::string m = error_of([&] { senet::load_weights(f, p.str()); });
  EXPECT_TRUE(has(m, "1 tensor holds NaN or infinite values")) << m;
  EXPECT_TRUE(has(m, "fc.weight: 1 of 4 values, the first at element 2 = inf")) << m;
  Pair<double> d;  // finite in double
  senet::load_weights(d, p.str());
  EXPECT_EQ(d.weight[2], 1e300);
}

TEST(NonFiniteWeights, FindNonFiniteCountsAcrossChunks) {
  // 600,000 floats: three chunks of the 1 MiB read buffer; NaN in the second and third.
  TempPath p(".safetensors");
  std::string data(600000 * 4, '\0');
  std::memcpy(&data[4 * 300000], "\x00\x00\xc0\x7f", 4);
  std::memcpy(&data[4 * 599999], "\x00\x00\x80\xff", 4);
  write_file(p.str(), safetensors_bytes({{"x", "F32", {600000}, data}, {"i", "I32", {1}, le(5, 4)}}));
  const auto file = senet::SafetensorsFile::open(p.str());
  const senet::NonFiniteValues found = file.find_non_finite<float>("x");
  EXPECT_EQ(found.count, 2u);
  EXPECT_EQ(found.first, 300000u);
  EXPECT_TRUE(std::isnan(found.first_value));
  EXPECT_TRUE(has(error_of([&] { file.find_non_finite<float>("i"); }), "integer type"));
}

// ---- .npy

std::string npy_bytes(const std::string& header, const std::string& data) {
  return std::string("\x93NUMPY\x01\x00", 8) + le(header.size(), 2) + header + data;
}

TEST(NpyLimits, RankOver64IsRefused) {
  TempPath p(".npy");
  std::string shape = "(1";
  for (int i = 1; i < 65; ++i) shape += ", 1";
  shape += ")";
  write_file(p.str(), npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': " + shape + ", }\n", f32(1)));
  const std::string m = error_of([&] { senet::read_npy<float>(p.str()); });
  EXPECT_TRUE(has(m, p.str() + ": .npy 'shape' has 65 dimensions, more than the 64 allowed")) << m;
}

TEST(NpyLimits, HeaderWithTooManyValuesIsRefused) {
  // A 10 KB header of 5,000 extents would parse into half a megabyte of values per 10 KB; the
  // parser stops at 1,024 values whatever the header length.
  TempPath p(".npy");
  std::string shape = "[1";
  for (int i = 1; i < 5000; ++i) shape += ",1";
  shape += "]";
  write_file(p.str(), npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': " + shape + "}\n", f32(1)));
  const std::string m = error_of([&] { senet::read_npy<float>(p.str()); });
  EXPECT_TRUE(has(m, "more than 1024 values")) << m;
}

TEST(NpyLimits, NamesFromTheHeaderAreEscapedInMessages) {
  TempPath p(".npy");
  write_file(p.str(), npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), 'a\\nb': 1}\n", f32(1)));
  EXPECT_TRUE(has(error_of([&] { senet::read_npy<float>(p.str()); }), "unexpected key 'a\\x0ab'"));
  write_file(p.str(), npy_bytes("{'descr': '\x1b[0m', 'fortran_order': False, 'shape': (1,)}\n", f32(1)));
  const std::string m = error_of([&] { senet::read_npy<float>(p.str()); });
  EXPECT_TRUE(has(m, "unsupported .npy dtype '\\x1b[0m'")) << m;
}

}  // namespace test_limits
