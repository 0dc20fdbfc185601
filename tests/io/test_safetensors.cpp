// Tests of senet/io/safetensors.hpp. Expected values come from hand-written IEEE bit patterns
// and hand-built files, never from the code under test.

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <type_traits>
#include <vector>

#include "senet/io/safetensors.hpp"
#include "test_util.hpp"

namespace test_safetensors {

namespace fs = std::filesystem;
using namespace senet::test;

/// A unique .safetensors path in the temp directory, removed when the test ends.
struct TempPath : senet::test::TempPath {
  TempPath() : senet::test::TempPath(".safetensors") {}
};

std::string u16(std::uint16_t v) { return le(v, 2); }
std::string u32(std::uint32_t v) { return le(v, 4); }
std::string u64(std::uint64_t v) { return le(v, 8); }

std::string file_bytes(const std::string& header, const std::string& data) {
  return u64(header.size()) + header + data;
}

/// Header with one tensor "x".
std::string one_tensor_header(const std::string& dtype, const std::string& shape, std::uint64_t begin,
                              std::uint64_t end) {
  return R"({"x":{"dtype":")" + dtype + R"(","shape":)" + shape + R"(,"data_offsets":[)" + std::to_string(begin) + "," +
         std::to_string(end) + "]}}";
}

template <class T>
class SafetensorsTyped : public ::testing::Test {};
TYPED_TEST_SUITE(SafetensorsTyped, Scalars);

TYPED_TEST(SafetensorsTyped, ReadsKnownF16Values) {
  using T = TypeParam;
  TempPath p;
  const std::uint16_t bits[] = {0x3C00, 0xC000, 0x7BFF, 0x0001, 0x03FF, 0x0400, 0x8000, 0x3555, 0x0000};
  std::string data;
  for (std::uint16_t b : bits) data += u16(b);
  write_file(p.str(), file_bytes(one_tensor_header("F16", "[9]", 0, 18), data));

  const auto t = senet::SafetensorsFile::open(p.str()).read<T>("x");
  ASSERT_EQ(t.shape(), senet::Shape({9}));
  EXPECT_EQ(t[0], T(1));
  EXPECT_EQ(t[1], T(-2));
  EXPECT_EQ(t[2], T(65504));                        // largest finite half
  EXPECT_EQ(t[3], T(std::ldexp(1.0, -24)));         // smallest subnormal
  EXPECT_EQ(t[4], T(1023 * std::ldexp(1.0, -24)));  // largest subnormal
  EXPECT_EQ(t[5], T(std::ldexp(1.0, -14)));         // smallest normal
  EXPECT_EQ(t[6], T(0));
  EXPECT_TRUE(std::signbit(t[6]));     // -0 keeps its sign
  EXPECT_EQ(t[7], T(0.333251953125));  // 2^-2 * (1 + 341/1024)
  EXPECT_EQ(t[8], T(0));
  EXPECT_FALSE(std::signbit(t[8]));
}

TYPED_TEST(SafetensorsTyped, ReadsF16InfinitiesAndNaNs) {
  using T = TypeParam;
  TempPath p;
  write_file(p.str(), file_bytes(one_tensor_header("F16", "[2, 2]", 0, 8),
                                 u16(0x7C00) + u16(0xFC00) + u16(0x7E00) + u16(0x7C01)));
  const auto t = senet::SafetensorsFile::open(p.str()).read<T>("x");
  ASSERT_EQ(t.shape(), senet::Shape({2, 2}));
  EXPECT_EQ(t[0], std::numeric_limits<T>::infinity());
  EXPECT_EQ(t[1], -std::numeric_limits<T>::infinity());
  EXPECT_TRUE(std::isnan(t[2]));
  EXPECT_TRUE(std::isnan(t[3]));  // smallest NaN payload must not become infinity
}

TYPED_TEST(SafetensorsTyped, ReadsKnownBF16Values) {
  using T = TypeParam;
  TempPath p;
  const std::uint16_t bits[] = {0x3F80, 0xC000, 0x4049, 0x7F80, 0xFF80, 0x7FC0, 0x0001, 0x8000};
  std::string data;
  for (std::uint16_t b : bits) data += u16(b);
  write_file(p.str(), file_bytes(one_tensor_header("BF16", "[8]", 0, 16), data));
  const auto t = senet::SafetensorsFile::open(p.str()).read<T>("x");
  EXPECT_EQ(t[0], T(1));
  EXPECT_EQ(t[1], T(-2));
  EXPECT_EQ(t[2], T(3.140625));  // 2 * (1 + 73/128)
  EXPECT_EQ(t[3], std::numeric_limits<T>::infinity());
  EXPECT_EQ(t[4], -std::numeric_limits<T>::infinity());
  EXPECT_TRUE(std::isnan(t[5]));
  EXPECT_EQ(t[6], T(std::ldexp(1.0, -133)));  // smallest bf16 subnormal
  EXPECT_EQ(t[7], T(0));
  EXPECT_TRUE(std::signbit(t[7]));
}

TYPED_TEST(SafetensorsTyped, ReadsKnownF32AndF64Values) {
  using T = TypeParam;
  TempPath p;
  // "a": F32 [1.0, -pi (float), 2^-149]; "b": F64 [1.5, -1/3] right after it (not 8-aligned).
  const std::string header = R"({"a":{"dtype":"F32","shape":[3],"data_offsets":[0,12]},)"
                             R"("b":{"dtype":"F64","shape":[2,1],"data_offsets":[12,28]}})";
  const std::string data =
      u32(0x3F800000) + u32(0xC0490FDB) + u32(0x00000001) + u64(0x3FF8000000000000ull) + u64(0xBFD5555555555555ull);
  write_file(p.str(), file_bytes(header, data));
  const auto f = senet::SafetensorsFile::open(p.str());
  const auto a = f.read<T>("a");
  EXPECT_EQ(a[0], T(1));
  EXPECT_EQ(a[1], T(-3.14159274101257324));  // float nearest to pi, exactly
  EXPECT_EQ(a[2], T(std::ldexp(1.0f, -149)));
  const auto b = f.read<T>("b");
  ASSERT_EQ(b.shape(), senet::Shape({2, 1}));
  EXPECT_EQ(b[0], T(1.5));
  EXPECT_EQ(b[1], T(-1.0 / 3.0));
}

TYPED_TEST(SafetensorsTyped, RoundTripKeepsValuesShapesAndMetadata) {
  using T = TypeParam;
  TempPath p;
  senet::Tensor<T> a({2, 3, 4});
  for (senet::Index i = 0; i < a.size(); ++i) a[i] = T(std::sin(0.37 * double(i)) * 1e3);
  a[5] = -std::numeric_limits<T>::infinity();
  a[6] = std::numeric_limits<T>::denorm_min();
  senet::Tensor<T> scalar(senet::Shape{});
  scalar[0] = T(-0.1);
  senet::Tensor<T> empty({0, 3});
  senet::Tensor<T> big({300001});  // crosses the reader's 1 MiB conversion chunk
  for (senet::Index i = 0; i < big.size(); ++i) big[i] = T(i) / T(7);

  senet::write_safetensors<T>(p.str(),
                              {{"zeta.a", &a}, {"alpha.scalar", &scalar}, {"mid.empty", &empty}, {"big", &big}},
                              {{"format", "pt"}, {"note", "round trip"}});

  const auto f = senet::SafetensorsFile::open(p.str());
  EXPECT_EQ(f.keys(), (std::vector<std::string>{"alpha.scalar", "big", "mid.empty", "zeta.a"}));
  EXPECT_EQ(f.metadata(), (std::map<std::string, std::string>{{"format", "pt"}, {"note", "round trip"}}));
  const std::string dtype = std::is_same_v<T, float> ? "F32" : "F64";
  for (const auto& key : f.keys()) {
    EXPECT_EQ(f.entry(key).dtype, dtype) << key;
    EXPECT_TRUE(f.is_floating(key));
  }
  const auto a2 = f.read<T>("zeta.a");
  ASSERT_EQ(a2.shape(), a.shape());
  EXPECT_EQ(std::memcmp(a2.data(), a.data(), a.bytes()), 0);
  const auto s2 = f.read<T>("alpha.scalar");
  EXPECT_EQ(s2.shape(), senet::Shape{});
  EXPECT_EQ(s2[0], T(-0.1));
  const auto e2 = f.read<T>("mid.empty");
  EXPECT_EQ(e2.shape(), senet::Shape({0, 3}));
  EXPECT_EQ(e2.size(), 0);
  const auto b2 = f.read<T>("big");
  ASSERT_EQ(b2.size(), big.size());
  EXPECT_EQ(std::memcmp(b2.data(), big.data(), big.bytes()), 0);
}

TYPED_TEST(SafetensorsTyped, ConvertsAcrossPrecisions) {
  using T = TypeParam;
  using Other = std::conditional_t<std::is_same_v<T, float>, double, float>;
  TempPath p;
  senet::Tensor<Other> x({3});
  x[0] = Other(0.5);
  x[1] = Other(-1024);
  x[2] = Other(0.1);
  senet::write_safetensors<Other>(p.str(), {{"x", &x}});
  const auto y = senet::SafetensorsFile::open(p.str()).read<T>("x");
  EXPECT_EQ(y[0], T(0.5));
  EXPECT_EQ(y[1], T(-1024));
  EXPECT_EQ(y[2], static_cast<T>(Other(0.1)));
}

TEST(Safetensors, WriterProducesSpecBytes) {
  TempPath p;
  senet::Tensor<float> w({2});
  w[0] = 1.0f;
  w[1] = -2.0f;
  senet::Tensor<float> s(senet::Shape{});
  s[0] = 0.5f;
  senet::write_safetensors<float>(p.str(), {{"w", &w}, {"s", &s}});
  const std::string bytes = read_file(p.str());
  ASSERT_GE(bytes.size(), 8u);
  std::uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | static_cast<unsigned char>(bytes[static_cast<std::size_t>(i)]);
  EXPECT_EQ(n % 8, 0u);
  ASSERT_EQ(bytes.size(), 8 + n + 12);
  const std::string header = bytes.substr(8, n);
  EXPECT_EQ(header.find_first_of('\0'), std::string::npos);
  const auto last = header.find_last_not_of(' ');
  EXPECT_EQ(header[last], '}');
  EXPECT_LT(header.size() - last - 1, 8u);  // at most 7 padding spaces
  const auto json = nlohmann::json::parse(header);
  EXPECT_EQ(json, nlohmann::json::parse(R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},
                                            "s":{"dtype":"F32","shape":[],"data_offsets":[8,12]}})"));
  // Data in the given order, little-endian.
  EXPECT_EQ(bytes.substr(8 + n), u32(0x3F800000) + u32(0xC0000000) + u32(0x3F000000));
}

TEST(Safetensors, WriterUsesF64ForDouble) {
  TempPath p;
  senet::Tensor<double> x({1});
  x[0] = 1.5;
  senet::write_safetensors<double>(p.str(), {{"x", &x}});
  const std::string bytes = read_file(p.str());
  EXPECT_EQ(bytes.substr(bytes.size() - 8), u64(0x3FF8000000000000ull));
  EXPECT_EQ(senet::SafetensorsFile::open(p.str()).entry("x").dtype, "F64");
}

TEST(Safetensors, EntriesAndIntegerTensors) {
  TempPath p;
  const std::string header = R"({"__metadata__":{"format":"pt"},)"
                             R"("bn.num_batches_tracked":{"dtype":"I64","shape":[],"data_offsets":[0,8]},)"
                             R"("mask":{"dtype":"BOOL","shape":[2],"data_offsets":[8,10]},)"
                             R"("w":{"dtype":"F32","shape":[1,2],"data_offsets":[10,18]}}   )";
  write_file(p.str(), file_bytes(header, u64(7) + std::string("\x01\x00", 2) + u32(0x40400000) + u32(0x40800000)));
  const auto f = senet::SafetensorsFile::open(p.str());
  EXPECT_EQ(f.keys(), (std::vector<std::string>{"bn.num_batches_tracked", "mask", "w"}));
  EXPECT_TRUE(f.contains("w"));
  EXPECT_FALSE(f.contains("__metadata__"));
  EXPECT_FALSE(f.contains("nope"));
  EXPECT_FALSE(f.is_floating("bn.num_batches_tracked"));
  EXPECT_FALSE(f.is_floating("mask"));
  EXPECT_TRUE(f.is_floating("w"));
  const auto& e = f.entry("w");
  EXPECT_EQ(e.dtype, "F32");
  EXPECT_EQ(e.shape, senet::Shape({1, 2}));
  EXPECT_EQ(e.begin, 10u);
  EXPECT_EQ(e.end, 18u);
  EXPECT_EQ(e.numel(), 2);
  EXPECT_EQ(e.nbytes(), 8u);
  EXPECT_EQ(f.metadata().at("format"), "pt");

  const auto w = f.read<float>("w");  // data not aligned to its itemsize: still read byte-wise
  EXPECT_EQ(w[0], 3.0f);
  EXPECT_EQ(w[1], 4.0f);

  const std::string m = error_of([&] { f.read<float>("bn.num_batches_tracked"); });
  EXPECT_NE(m.find(p.str()), std::string::npos) << m;
  EXPECT_NE(m.find("bn.num_batches_tracked"), std::string::npos) << m;
  EXPECT_NE(m.find("I64"), std::string::npos) << m;
  const std::string m2 = error_of([&] { f.read<double>("mask"); });
  EXPECT_NE(m2.find("BOOL"), std::string::npos) << m2;
  const std::string m3 = error_of([&] { f.entry("nope"); });
  EXPECT_NE(m3.find(p.str()), std::string::npos) << m3;
  EXPECT_NE(m3.find("nope"), std::string::npos) << m3;
  EXPECT_NE(error_of([&] { f.read<float>("nope"); }).find("nope"), std::string::npos);
}

TEST(Safetensors, EmptyHeaderObjectIsValid) {
  TempPath p;
  write_file(p.str(), file_bytes("{}      ", ""));
  const auto f = senet::SafetensorsFile::open(p.str());
  EXPECT_TRUE(f.keys().empty());
  EXPECT_TRUE(f.metadata().empty());
}

TEST(Safetensors, ReadAfterTruncationThrows) {
  TempPath p;
  write_file(p.str(), file_bytes(one_tensor_header("F32", "[4]", 0, 16), std::string(16, '\0')));
  const auto f = senet::SafetensorsFile::open(p.str());
  fs::resize_file(p.str(), fs::file_size(p.str()) - 4);
  const std::string m = error_of([&] { f.read<float>("x"); });
  EXPECT_NE(m.find(p.str()), std::string::npos) << m;
  EXPECT_NE(m.find("'x'"), std::string::npos) << m;
}

TEST(Safetensors, MissingFileAndDirectory) {
  const std::string missing = (fs::temp_directory_path() / "senet_io_surely_missing_file.safetensors").string();
  std::string m = error_of([&] { senet::SafetensorsFile::open(missing); });
  EXPECT_NE(m.find(missing), std::string::npos) << m;
  const std::string dir = fs::temp_directory_path().string();
  m = error_of([&] { senet::SafetensorsFile::open(dir); });
  EXPECT_NE(m.find(dir), std::string::npos) << m;
}

TEST(Safetensors, WriterErrors) {
  senet::Tensor<float> x({2});
  senet::Tensor<float> defaulted;
  const std::string bad_dir = (fs::temp_directory_path() / "senet_io_no_such_dir" / "w.safetensors").string();
  std::string m = error_of([&] { senet::write_safetensors<float>(bad_dir, {{"x", &x}}); });
  EXPECT_NE(m.find(bad_dir), std::string::npos) << m;

  TempPath p;
  m = error_of([&] { senet::write_safetensors<float>(p.str(), {{"x", &x}, {"x", &x}}); });
  EXPECT_NE(m.find("'x'"), std::string::npos) << m;
  m = error_of([&] { senet::write_safetensors<float>(p.str(), {{"x", nullptr}}); });
  EXPECT_NE(m.find(p.str()), std::string::npos) << m;
  m = error_of([&] { senet::write_safetensors<float>(p.str(), {{"__metadata__", &x}}); });
  EXPECT_NE(m.find("__metadata__"), std::string::npos) << m;
  // A default-constructed tensor is empty, shape [0], and round-trips as such.
  senet::write_safetensors<float>(p.str(), {{"d", &defaulted}});
  EXPECT_EQ(senet::SafetensorsFile::open(p.str()).read<float>("d").shape(), (senet::Shape{0}));
}

// ---- Damaged files: each must throw senet::Error naming the file (and what is wrong). ----

struct Damaged {
  const char* name;
  std::string bytes;
  const char* expect;  // a substring the message must contain besides the path
};

std::ostream& operator<<(std::ostream& os, const Damaged& d) { return os << d.name; }

class SafetensorsDamaged : public ::testing::TestWithParam<Damaged> {};

TEST_P(SafetensorsDamaged, ThrowsErrorNamingFile) {
  TempPath p;
  write_file(p.str(), GetParam().bytes);
  const std::string m = error_of([&] { senet::SafetensorsFile::open(p.str()); });
  EXPECT_NE(m.find(p.str()), std::string::npos) << m;
  EXPECT_NE(m.find(GetParam().expect), std::string::npos) << m;
}

const std::string kF32x2 = u32(0) + u32(0);

INSTANTIATE_TEST_SUITE_P(
    Safetensors, SafetensorsDamaged,
    ::testing::Values(
        Damaged{"EmptyFile", "", "too short"}, Damaged{"TruncatedLength", std::string("\x10\x00\x00", 3), "too short"},
        Damaged{"HeaderLongerThanFile", u64(100) + "{}", "header length 100"},
        Damaged{"TruncatedHeader", file_bytes(one_tensor_header("F32", "[2]", 0, 8), kF32x2).substr(0, 20),
                "header length"},
        Damaged{"HeaderLengthHuge", u64(std::uint64_t{1} << 63) + "{}", "header length 9223372036854775808"},
        Damaged{"HeaderLengthAllOnes", u64(~std::uint64_t{0}) + "{}", "header length"},
        Damaged{"HeaderOver100MB", u64(100'000'001) + "{}", "limit"},
        Damaged{"NonJsonHeader", file_bytes("{not json", ""), "not valid JSON"},
        Damaged{"BinaryGarbageHeader", file_bytes(std::string("\xff\xfe\x00\x01", 4), ""), "not valid JSON"},
        Damaged{"EmptyHeader", file_bytes("", ""), "not valid JSON"},
        Damaged{"HeaderNotObject", file_bytes("[1, 2]", ""), "not an object"},
        Damaged{"HeaderIsString", file_bytes("\"x\"", ""), "not an object"},
        Damaged{"EntryNotObject", file_bytes(R"({"x": 3})", ""), "'x'"},
        Damaged{"UnknownDtype", file_bytes(one_tensor_header("Q4", "[2]", 0, 8), kF32x2), "unknown dtype \"Q4\""},
        Damaged{"DtypeNotString", file_bytes(R"({"x":{"dtype":4,"shape":[2],"data_offsets":[0,8]}})", kF32x2), "'x'"},
        Damaged{"MissingDtype", file_bytes(R"({"x":{"shape":[2],"data_offsets":[0,8]}})", kF32x2), "dtype"},
        Damaged{"MissingShape", file_bytes(R"({"x":{"dtype":"F32","data_offsets":[0,8]}})", kF32x2), "shape"},
        Damaged{"MissingOffsets", file_bytes(R"({"x":{"dtype":"F32","shape":[2]}})", kF32x2), "data_offsets"},
        Damaged{"ShapeNotArray", file_bytes(one_tensor_header("F32", "2", 0, 8), kF32x2), "'x'"},
        Damaged{"NegativeExtent", file_bytes(one_tensor_header("F32", "[-1, 2]", 0, 8), kF32x2), "'x'"},
        Damaged{"FractionalExtent", file_bytes(one_tensor_header("F32", "[2.5]", 0, 8), kF32x2), "'x'"},
        Damaged{"ExtentBeyondInt64", file_bytes(one_tensor_header("F32", "[9223372036854775808]", 0, 8), kF32x2),
                "too large"},
        Damaged{"ShapeProductOverflows", file_bytes(one_tensor_header("F32", "[4294967296, 4294967296]", 0, 8), kF32x2),
                "too many"},
        Damaged{"ByteCountOverflows", file_bytes(one_tensor_header("F64", "[2305843009213693952]", 0, 8), kF32x2),
                "too many bytes"},
        Damaged{"OffsetsPastEnd", file_bytes(one_tensor_header("F32", "[2]", 0, 8), u32(0)), "past the end"},
        Damaged{"OffsetsFarPastEnd",
                file_bytes(one_tensor_header("F32", "[2]", 18446744073709551600ull, 18446744073709551608ull), kF32x2),
                "past the end"},
        Damaged{"BeginAfterEnd", file_bytes(one_tensor_header("F32", "[0]", 8, 0), kF32x2), "begin > end"},
        Damaged{"SizeDoesNotMatchShape", file_bytes(one_tensor_header("F32", "[2]", 0, 4), kF32x2), "needs 8"},
        Damaged{"SizeDoesNotMatchDtype", file_bytes(one_tensor_header("F64", "[2]", 0, 8), kF32x2), "needs 16"},
        Damaged{"OffsetsNotPair", file_bytes(R"({"x":{"dtype":"F32","shape":[2],"data_offsets":[8]}})", kF32x2),
                "data_offsets"},
        Damaged{"NegativeOffset", file_bytes(R"({"x":{"dtype":"F32","shape":[2],"data_offsets":[-8,0]}})", kF32x2),
                "data_offsets"},
        Damaged{"MetadataNotString", file_bytes(R"({"__metadata__":{"format":1}})", ""), "__metadata__"},
        Damaged{"MetadataNotObject", file_bytes(R"({"__metadata__":["a"]})", ""), "__metadata__"},
        Damaged{"DuplicateKey",
                file_bytes(R"({"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                           R"("x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})",
                           kF32x2),
                "more than once"}),
    [](const ::testing::TestParamInfo<Damaged>& info) { return std::string(info.param.name); });

}  // namespace test_safetensors
