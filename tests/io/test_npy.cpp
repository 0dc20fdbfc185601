// Tests of senet/io/npy.hpp. Files are built byte by byte; expected header lengths of written
// files are those numpy 1.24's `numpy.save` produces for the same arrays.

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <limits>
#include <string>
#include <vector>

#include "senet/io/npy.hpp"
#include "test_util.hpp"

namespace test_npy {

namespace fs = std::filesystem;
using namespace senet::test;

/// A unique .npy path in the temp directory, removed when the test ends.
struct TempPath : senet::test::TempPath {
  TempPath() : senet::test::TempPath(".npy") {}
};

std::string be(std::uint64_t v, int n) {
  std::string s = le(v, n);
  return std::string(s.rbegin(), s.rend());
}
std::string f32le(std::uint32_t bits) { return le(bits, 4); }
std::string f64le(std::uint64_t bits) { return le(bits, 8); }
template <class F>
std::string host_bytes(F value) {
  std::string s(sizeof(F), '\0');
  std::memcpy(s.data(), &value, sizeof(F));
  return s;
}

/// A .npy file of format `major`.0 whose header field is exactly `header` (no padding added).
std::string npy(int major, const std::string& header, const std::string& data) {
  std::string s = std::string("\x93NUMPY", 6) + static_cast<char>(major) + '\0';
  s += le(header.size(), major == 1 ? 2 : 4);
  return s + header + data;
}
/// `dict` padded with spaces and a newline so the data is 64-byte aligned, as numpy writes it.
std::string padded(const std::string& dict, std::size_t prefix = 10) {
  std::string h = dict;
  while ((prefix + h.size() + 1) % 64) h += ' ';
  return h + '\n';
}

template <class T>
class NpyTyped : public ::testing::Test {};
TYPED_TEST_SUITE(NpyTyped, Scalars);

TYPED_TEST(NpyTyped, ReadsLittleEndianF4) {
  using T = TypeParam;
  TempPath p;
  const std::string data = f32le(0x3F800000) + f32le(0xC0000000) + f32le(0x3F000000) + f32le(0x477FE000) +
                           f32le(0x00000001) + f32le(0x80000000);
  write_file(p.str(), npy(1, padded("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }"), data));
  const auto t = senet::read_npy<T>(p.str());
  ASSERT_EQ(t.shape(), senet::Shape({2, 3}));
  EXPECT_EQ(t.at({0, 0}), T(1));
  EXPECT_EQ(t.at({0, 1}), T(-2));
  EXPECT_EQ(t.at({0, 2}), T(0.5));
  EXPECT_EQ(t.at({1, 0}), T(65504));
  EXPECT_EQ(t.at({1, 1}), T(std::ldexp(1.0f, -149)));
  EXPECT_EQ(t.at({1, 2}), T(0));
  EXPECT_TRUE(std::signbit(t.at({1, 2})));
}

TYPED_TEST(NpyTyped, ReadsLittleEndianF8) {
  using T = TypeParam;
  TempPath p;
  const std::string data = f64le(0x3FF8000000000000ull) + f64le(0xBFD5555555555555ull) + f64le(0x7FF0000000000000ull) +
                           f64le(0x7FF8000000000000ull);
  write_file(p.str(), npy(1, padded("{'descr': '<f8', 'fortran_order': False, 'shape': (4,), }"), data));
  const auto t = senet::read_npy<T>(p.str());
  ASSERT_EQ(t.shape(), senet::Shape({4}));
  EXPECT_EQ(t[0], T(1.5));
  EXPECT_EQ(t[1], T(-1.0 / 3.0));
  EXPECT_EQ(t[2], std::numeric_limits<T>::infinity());
  EXPECT_TRUE(std::isnan(t[3]));
}

TYPED_TEST(NpyTyped, ReadsBigEndian) {
  using T = TypeParam;
  TempPath p, q;
  write_file(p.str(), npy(1, padded("{'descr': '>f4', 'fortran_order': False, 'shape': (2,), }"),
                          be(0x3F800000, 4) + be(0xC0000000, 4)));
  const auto a = senet::read_npy<T>(p.str());
  EXPECT_EQ(a[0], T(1));
  EXPECT_EQ(a[1], T(-2));
  write_file(q.str(),
             npy(1, padded("{'descr': '>f8', 'fortran_order': False, 'shape': (1,), }"), be(0x3FF8000000000000ull, 8)));
  EXPECT_EQ(senet::read_npy<T>(q.str())[0], T(1.5));
}

TYPED_TEST(NpyTyped, NativeByteOrderMarkers) {
  using T = TypeParam;
  for (const char* descr : {"=f4", "|f4", "f4"}) {
    TempPath p;
    write_file(p.str(),
               npy(1, padded(std::string("{'descr': '") + descr + "', 'fortran_order': False, 'shape': (2,), }"),
                   host_bytes(0.25f) + host_bytes(-8.0f)));
    const auto t = senet::read_npy<T>(p.str());
    EXPECT_EQ(t[0], T(0.25)) << descr;
    EXPECT_EQ(t[1], T(-8)) << descr;
  }
  TempPath p;
  write_file(p.str(), npy(1, padded("{'descr': '=f8', 'fortran_order': False, 'shape': (1,), }"), host_bytes(0.1)));
  EXPECT_EQ(senet::read_npy<T>(p.str())[0], T(0.1));
}

TYPED_TEST(NpyTyped, ReadsVersions2And3) {
  using T = TypeParam;
  for (int major : {2, 3}) {
    TempPath p;
    write_file(p.str(), npy(major, padded("{'descr': '<f4', 'fortran_order': False, 'shape': (1, 2), }", 12),
                            f32le(0x40400000) + f32le(0xBF800000)));
    const auto t = senet::read_npy<T>(p.str());
    ASSERT_EQ(t.shape(), senet::Shape({1, 2})) << major;
    EXPECT_EQ(t[0], T(3)) << major;
    EXPECT_EQ(t[1], T(-1)) << major;
  }
}

TYPED_TEST(NpyTyped, ZeroDimAndEmptyArrays) {
  using T = TypeParam;
  TempPath p, q;
  write_file(p.str(),
             npy(1, padded("{'descr': '<f8', 'fortran_order': False, 'shape': (), }"), f64le(0xC004000000000000ull)));
  const auto s = senet::read_npy<T>(p.str());
  EXPECT_EQ(s.shape(), senet::Shape{});
  ASSERT_EQ(s.size(), 1);
  EXPECT_EQ(s[0], T(-2.5));

  write_file(q.str(), npy(1, padded("{'descr': '<f4', 'fortran_order': False, 'shape': (0, 3), }"), ""));
  const auto e = senet::read_npy<T>(q.str());
  EXPECT_EQ(e.shape(), senet::Shape({0, 3}));
  EXPECT_EQ(e.size(), 0);
}

TEST(Npy, ToleratesHeaderVariants) {
  // Key order, quotes, spacing, a missing trailing comma, Python 2 longs and u'' strings all
  // occur in files written by other numpy versions and tools.
  const char* headers[] = {
      "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 1), }",
      "{'shape': (2, 1), 'fortran_order': False, 'descr': '<f4'}",
      "{\"descr\": \"<f4\", \"fortran_order\": False, \"shape\": (2, 1)}",
      "{ 'descr' :'<f4','fortran_order':False,'shape':( 2 ,1 , ) }",
      "{'descr': '<f4', 'fortran_order': False, 'shape': (2L, 1L), }",
      "{u'descr': u'<f4', u'fortran_order': False, u'shape': (2, 1), }",
      "{'descr': '<f4', 'fortran_order': False, 'shape': [2, 1], }",
      "{'descr': '<f4',\t'fortran_order': False, 'shape': (2, 1), }   \r\n",
  };
  for (const char* h : headers) {
    TempPath p;
    write_file(p.str(), npy(1, h, f32le(0x3F800000) + f32le(0x40000000)));
    senet::Tensor<float> t;
    EXPECT_NO_THROW(t = senet::read_npy<float>(p.str())) << h;
    EXPECT_EQ(t.shape(), senet::Shape({2, 1})) << h;
    if (t.size() == 2) {
      EXPECT_EQ(t[0], 1.0f) << h;
      EXPECT_EQ(t[1], 2.0f) << h;
    }
  }
}

TEST(Npy, WritesNumpyIdenticalHeaders) {
  struct Case {
    senet::Shape shape;
    std::string dict;
    std::size_t header_length;  // what numpy 1.24 writes for the same array
  };
  const Case cases[] = {
      {{3, 4}, "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }", 118},
      {{5}, "{'descr': '<f4', 'fortran_order': False, 'shape': (5,), }", 118},
      {{}, "{'descr': '<f4', 'fortran_order': False, 'shape': (), }", 118},
      {senet::Shape(20, 1),
       "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, "
       "1), }",
       182},
  };
  for (const Case& c : cases) {
    TempPath p;
    senet::Tensor<float> t(c.shape);
    for (senet::Index i = 0; i < t.size(); ++i) t[i] = float(i) - 0.5f;
    senet::write_npy(p.str(), t);
    const std::string bytes = read_file(p.str());
    const std::string expected_header = c.dict + std::string(c.header_length - c.dict.size() - 1, ' ') + "\n";
    std::string expected = std::string("\x93NUMPY\x01\x00", 8) + le(c.header_length, 2) + expected_header;
    for (senet::Index i = 0; i < t.size(); ++i) {
      std::uint32_t bits;
      std::memcpy(&bits, &t[i], 4);
      expected += f32le(bits);
    }
    EXPECT_EQ(bytes, expected) << senet::to_string(c.shape);
    EXPECT_EQ(bytes.size() % 64, (t.size() * 4) % 64) << "data must start 64-byte aligned";
  }
}

TEST(Npy, WritesF8ForDouble) {
  TempPath p;
  senet::Tensor<double> t({2});
  t[0] = 1.5;
  t[1] = -0.25;
  senet::write_npy(p.str(), t);
  const std::string bytes = read_file(p.str());
  ASSERT_EQ(bytes.size(), 128u + 16u);
  EXPECT_EQ(bytes.substr(10, 16), "{'descr': '<f8',");
  EXPECT_EQ(bytes.substr(128), f64le(0x3FF8000000000000ull) + f64le(0xBFD0000000000000ull));
}

TYPED_TEST(NpyTyped, RoundTrip) {
  using T = TypeParam;
  for (const senet::Shape& shape :
       {senet::Shape{2, 3, 4, 5}, senet::Shape{7}, senet::Shape{}, senet::Shape{0, 2}, senet::Shape{300001}}) {
    TempPath p;
    senet::Tensor<T> t(shape);
    for (senet::Index i = 0; i < t.size(); ++i) t[i] = T(std::cos(double(i)) * 1e-3);
    senet::write_npy(p.str(), t);
    const auto u = senet::read_npy<T>(p.str());
    ASSERT_EQ(u.shape(), shape);
    // memcmp on the null data() of an empty tensor would be undefined.
    if (t.size() != 0) {
      EXPECT_EQ(std::memcmp(u.data(), t.data(), t.bytes()), 0) << senet::to_string(shape);
    }
  }
}

TEST(Npy, WriteErrors) {
  senet::Tensor<float> t({2});
  const std::string bad = (fs::temp_directory_path() / "senet_io_no_such_dir" / "x.npy").string();
  std::string m = error_of([&] { senet::write_npy(bad, t); });
  EXPECT_NE(m.find(bad), std::string::npos) << m;
  TempPath p;
  // A default-constructed tensor is empty, shape [0], and round-trips as such.
  senet::write_npy(p.str(), senet::Tensor<float>());
  EXPECT_EQ(senet::read_npy<float>(p.str()).shape(), (senet::Shape{0}));
}

TEST(Npy, MissingFileAndDirectory) {
  const std::string missing = (fs::temp_directory_path() / "senet_io_surely_missing.npy").string();
  std::string m = error_of([&] { senet::read_npy<float>(missing); });
  EXPECT_NE(m.find(missing), std::string::npos) << m;
  const std::string dir = fs::temp_directory_path().string();
  m = error_of([&] { senet::read_npy<float>(dir); });
  EXPECT_NE(m.find(dir), std::string::npos) << m;
}

// ---- Damaged files: each must throw senet::Error naming the file. ----

struct Damaged {
  const char* name;
  std::string bytes;
  const char* expect;
};
std::ostream& operator<<(std::ostream& os, const Damaged& d) { return os << d.name; }

class NpyDamaged : public ::testing::TestWithParam<Damaged> {};

TEST_P(NpyDamaged, ThrowsErrorNamingFile) {
  TempPath p;
  write_file(p.str(), GetParam().bytes);
  const std::string m = error_of([&] { senet::read_npy<float>(p.str()); });
  EXPECT_NE(m.find(p.str()), std::string::npos) << m;
  EXPECT_NE(m.find(GetParam().expect), std::string::npos) << m;
  // Both instantiations must agree.
  EXPECT_THROW(senet::read_npy<double>(p.str()), senet::Error);
}

std::string with_dict(const std::string& dict, const std::string& data) { return npy(1, padded(dict), data); }
const std::string kTwo = f32le(0) + f32le(0);

INSTANTIATE_TEST_SUITE_P(
    Npy, NpyDamaged,
    ::testing::Values(
        Damaged{"EmptyFile", "", "too short"}, Damaged{"TruncatedPrefix", std::string("\x93NUMPY\x01", 7), "too short"},
        Damaged{"BadMagic", "\x93NUMPZ" + std::string("\x01\x00\x02\x00{}", 6), "magic"},
        Damaged{"NotNpyAtAll", "hello, this is a text file", "magic"},
        Damaged{"Version4", npy(4, "{}", ""), "version 4.0"},
        Damaged{"Version1_1", std::string("\x93NUMPY\x01\x01\x02\x00{}", 12), "version 1.1"},
        Damaged{"V2TruncatedLength", std::string("\x93NUMPY\x02\x00\x02\x00", 10), "header length"},
        Damaged{"HeaderLengthPastEnd", std::string("\x93NUMPY\x01\x00\xff\xff{}", 12), "past the end"},
        Damaged{"HeaderLengthHugeV2", std::string("\x93NUMPY\x02\x00\xff\xff\xff\xff{}", 14), "past the end"},
        Damaged{"TruncatedData", with_dict("{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }", kTwo),
                "needs 12"},
        Damaged{"ExtraData", with_dict("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }", kTwo), "needs 4"},
        Damaged{"EmptyHeader", npy(1, "", ""), "unexpected end"},
        Damaged{"HeaderNotDict", with_dict("('<f4', False, (2,))", kTwo), "not a dict"},
        Damaged{"MissingShape", with_dict("{'descr': '<f4', 'fortran_order': False, }", kTwo), "'shape'"},
        Damaged{"ExtraKey", with_dict("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'x': 1}", kTwo), "'x'"},
        Damaged{"DuplicateKey",
                with_dict("{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", kTwo),
                "duplicate"},
        Damaged{"FortranOrder", with_dict("{'descr': '<f4', 'fortran_order': True, 'shape': (2,), }", kTwo), "Fortran"},
        Damaged{"FortranNotBool", with_dict("{'descr': '<f4', 'fortran_order': 0, 'shape': (2,), }", kTwo),
                "fortran_order"},
        Damaged{"BoolDtype", with_dict("{'descr': '|b1', 'fortran_order': False, 'shape': (8,), }", kTwo), "'|b1'"},
        Damaged{"OddIntegerDtype", with_dict("{'descr': '<i3', 'fortran_order': False, 'shape': (1,), }", kTwo), "'<i3'"},
        Damaged{"HalfDtype", with_dict("{'descr': '<f2', 'fortran_order': False, 'shape': (4,), }", kTwo), "'<f2'"},
        Damaged{"StructuredDtype",
                with_dict("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (2,), }", kTwo), "structured"},
        Damaged{"NegativeExtent", with_dict("{'descr': '<f4', 'fortran_order': False, 'shape': (-2,), }", kTwo),
                "negative"},
        Damaged{"FloatExtent", with_dict("{'descr': '<f4', 'fortran_order': False, 'shape': (2.0,), }", kTwo),
                "not an integer"},
        Damaged{"ShapeNotTuple", with_dict("{'descr': '<f4', 'fortran_order': False, 'shape': (2), }", kTwo),
                "not a tuple"},
        Damaged{"ShapeOverflow",
                with_dict("{'descr': '<f4', 'fortran_order': False, 'shape': (4294967296, 4294967296), }", kTwo),
                "too many"},
        Damaged{"ByteCountOverflow",
                with_dict("{'descr': '<f8', 'fortran_order': False, 'shape': (2305843009213693952,), }", kTwo),
                "too many bytes"},
        Damaged{"IntegerTooLarge",
                with_dict("{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999,), }", kTwo),
                "too large"},
        Damaged{"UnterminatedString", with_dict("{'descr': '<f4, 'fortran_order': False, 'shape': (2,), }", kTwo),
                "not a valid Python literal"},
        Damaged{"UnknownName", with_dict("{'descr': '<f4', 'fortran_order': false, 'shape': (2,), }", kTwo), "'false'"},
        Damaged{"TrailingGarbage", with_dict("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), } x", kTwo),
                "after the header"},
        Damaged{"DeepNesting", with_dict(std::string(5000, '(') + std::string(5000, ')'), kTwo), "too deep"},
        Damaged{"BinaryHeader", npy(1, std::string("{\x00\xff\x01", 4), kTwo), "not a valid Python literal"}),
    [](const ::testing::TestParamInfo<Damaged>& info) { return std::string(info.param.name); });

// Integer arrays (class labels) are read and converted: signed ones sign-extended from their
// width, either byte order (expected values: the bytes written here, by hand).
TEST(Npy, ReadsIntegerDtypes) {
  auto read = [](const std::string& descr, const std::string& shape, const std::string& data) {
    TempPath p;
    write_file(p.str(), with_dict("{'descr': '" + descr + "', 'fortran_order': False, 'shape': " + shape + ", }", data));
    return senet::read_npy<double>(p.str());
  };
  const auto i8 = read("<i8", "(2,)", std::string("\xfd\xff\xff\xff\xff\xff\xff\xff\x05\0\0\0\0\0\0\0", 16));
  ASSERT_EQ(i8.shape(), (senet::Shape{2}));
  EXPECT_EQ(i8[0], -3.0);
  EXPECT_EQ(i8[1], 5.0);
  const auto u1 = read("|u1", "(3,)", std::string("\xff\x00\x07", 3));
  EXPECT_EQ(u1[0], 255.0);
  EXPECT_EQ(u1[2], 7.0);
  const auto be = read(">i2", "(1,)", std::string("\xff\xfe", 2));
  EXPECT_EQ(be[0], -2.0);
  const auto i4 = read("<i4", "(1,)", std::string("\x00\x00\x00\x80", 4));
  EXPECT_EQ(i4[0], -2147483648.0);
}

}  // namespace test_npy
