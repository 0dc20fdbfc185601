// Tests of senet/io/idx.hpp. Files are built byte by byte as the IDX format describes them
// (big-endian dimensions and data); Fashion-MNIST's real files are read in tests/fashion.

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <string>

#include "senet/io/idx.hpp"
#include "test_util.hpp"

namespace test_idx {

using namespace senet::test;

/// `v` as `n` big-endian bytes.
std::string be(std::uint64_t v, int n) {
  std::string s = le(v, n);
  return std::string(s.rbegin(), s.rend());
}

/// An IDX header: magic (two zero bytes, `type`, the rank) and the dimensions.
std::string header(unsigned char type, const std::vector<std::uint32_t>& dims) {
  std::string s{'\0', '\0', static_cast<char>(type), static_cast<char>(dims.size())};
  for (std::uint32_t d : dims) s += be(d, 4);
  return s;
}

std::string f32be(float v) {
  std::uint32_t bits;
  std::memcpy(&bits, &v, 4);
  return be(bits, 4);
}
std::string f64be(double v) {
  std::uint64_t bits;
  std::memcpy(&bits, &v, 8);
  return be(bits, 8);
}

template <class T>
class IdxTyped : public ::testing::Test {};
TYPED_TEST_SUITE(IdxTyped, Scalars);

TYPED_TEST(IdxTyped, ReadsUnsignedBytesInShape) {
  using T = TypeParam;
  TempPath p(".idx");
  write_file(p.str(), header(0x08, {2, 3, 2}) + std::string("\x00\x01\x7f\x80\xfe\xff\x02\x03\x04\x05\x06\x07", 12));
  const senet::Tensor<T> t = senet::read_idx<T>(p.str());
  EXPECT_EQ(t.shape(), (senet::Shape{2, 3, 2}));
  const T expected[] = {0, 1, 127, 128, 254, 255, 2, 3, 4, 5, 6, 7};
  for (senet::Index i = 0; i < t.size(); ++i) EXPECT_EQ(t[i], expected[i]) << i;
}

TYPED_TEST(IdxTyped, ReadsEveryElementTypeBigEndian) {
  using T = TypeParam;
  struct Case {
    unsigned char type;
    std::string data;
    std::vector<double> values;
  };
  const std::vector<Case> cases = {
      {0x09, std::string("\x80\xff\x00\x7f", 4), {-128, -1, 0, 127}},
      {0x0B, be(0x8000, 2) + be(0xFFFE, 2) + be(0x1234, 2) + be(0, 2), {-32768, -2, 0x1234, 0}},
      {0x0C, be(0x80000000u, 4) + be(0xFFFFFFFFu, 4) + be(70000, 4) + be(1, 4), {-2147483648.0, -1, 70000, 1}},
      {0x0D, f32be(1.5f) + f32be(-0.25f) + f32be(3e5f) + f32be(0.0f), {1.5, -0.25, 3e5, 0}},
      {0x0E, f64be(1.5) + f64be(-0.25) + f64be(1e-3) + f64be(2.0), {1.5, -0.25, 1e-3, 2.0}},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(int(c.type));
    TempPath p(".idx");
    write_file(p.str(), header(c.type, {4}) + c.data);
    const senet::Tensor<T> t = senet::read_idx<T>(p.str());
    ASSERT_EQ(t.shape(), (senet::Shape{4}));
    for (senet::Index i = 0; i < 4; ++i) EXPECT_EQ(t[i], static_cast<T>(c.values[static_cast<std::size_t>(i)])) << i;
  }
}

TEST(Idx, EmptyDimensionGivesAnEmptyTensor) {
  TempPath p(".idx");
  write_file(p.str(), header(0x08, {0, 28, 28}));
  EXPECT_EQ(senet::read_idx<float>(p.str()).shape(), (senet::Shape{0, 28, 28}));
}

/// The error reading `bytes` as an IDX file gives; it names the file.
std::string error_for(const std::string& bytes) {
  TempPath p(".idx");
  write_file(p.str(), bytes);
  const std::string m = error_of([&] { senet::read_idx<float>(p.str()); });
  EXPECT_NE(m.find(p.str()), std::string::npos) << m;
  return m;
}

void expect_contains(const std::string& message, const std::string& part) {
  EXPECT_NE(message.find(part), std::string::npos) << "'" << part << "' not in: " << message;
}

TEST(Idx, RejectsMalformedFilesClearly) {
  expect_contains(error_for(""), "0 bytes long, too short for an IDX header");
  expect_contains(error_for(std::string("\x00\x00\x08", 3)), "too short for an IDX header");
  expect_contains(error_for(std::string("\x1f\x8b\x08\x00", 4) + "rest"), "is gzip-compressed; decompress it first");
  expect_contains(error_for("\x93NUMPY"), "not an IDX file (it must start with two zero bytes, starts with 0x93 0x4e)");
  expect_contains(error_for(header(0x0A, {1}) + "x"), "unknown IDX element type 0x0a");
  expect_contains(error_for(header(0x08, {})), "IDX rank is 0");
  expect_contains(error_for(header(0x08, {2, 3}).substr(0, 9)), "too short for the 2 dimensions of its IDX header");
  expect_contains(error_for(header(0x08, {2, 3}) + "12345"),
                  "file is 17 bytes long; the IDX dimensions [2, 3] of 1-byte elements need 18 (truncated?)");
  expect_contains(error_for(header(0x0C, {2}) + std::string(12, '\0')),
                  "file is 20 bytes long; the IDX dimensions [2] of 4-byte elements need 16 (trailing bytes)");
  // Dimensions the file does not hold are refused before anything is allocated, also when their
  // product overflows 64 bits.
  expect_contains(
      error_for(header(0x08, {60000, 28, 28}) + "12345678"),
      "file is 24 bytes long; the IDX dimensions [60000, 28, 28] of 1-byte elements need 47040016 (truncated?)");
  expect_contains(
      error_for(header(0x0E, {0xFFFFFFFFu, 0xFFFFFFFFu, 0xFFFFFFFFu}) + "12345678"),
      "the IDX dimensions [4294967295, 4294967295, 4294967295] describe more than 2^64 bytes (file is 24 bytes long)");
}

TEST(Idx, NamesMissingFilesAndDirectories) {
  expect_contains(error_of([] { senet::read_idx<float>("/no/such/file-idx3-ubyte"); }),
                  "/no/such/file-idx3-ubyte: no such file");
  const std::string dir = std::filesystem::temp_directory_path().string();
  expect_contains(error_of([&] { senet::read_idx<float>(dir); }), "is a directory, not an IDX file");
}

}  // namespace test_idx
