#pragma once
// Helpers shared by the tests: fixture paths, the typed-test scalar list, tolerances and error
// measures, op window parameters, random tensors, and the temporary files, raw bytes and error
// messages of the file-format tests. Standard headers and senet's core only: every test includes it.

#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <random>
#include <string>
#include <type_traits>

#include "senet/core/error.hpp"
#include "senet/core/tensor.hpp"

namespace senet::test {

/// The scalar types every typed test runs over: `TYPED_TEST_SUITE(Suite, senet::test::Scalars)`.
using Scalars = ::testing::Types<float, double>;

/// Path of a committed fixture under tests/fixtures/data.
inline std::string fixture(const std::string& name) { return std::string(SENET_FIXTURE_DIR) + "/" + name; }

// ---- Tolerances and errors ----

namespace detail {
/// Sets `diff` to max |a - b| and `scale` to max |b|; false when they cannot be measured: shapes
/// that differ, or a NaN or infinity on either side.
template <class T, class U>
bool max_differences(const Tensor<T>& a, const Tensor<U>& b, double& diff, double& scale) {
  if (a.shape() != b.shape()) return false;
  diff = scale = 0;
  for (Index i = 0; i < b.size(); ++i) {
    const double x = double(a[i]), y = double(b[i]);
    if (!std::isfinite(x) || !std::isfinite(y)) return false;
    diff = std::max(diff, std::abs(x - y));
    scale = std::max(scale, std::abs(y));
  }
  return true;
}
}  // namespace detail

/// max |a - b| / max |b|: the error relative to the reference output's scale. A comparison that
/// cannot be measured is infinitely wrong: shapes that differ, or a NaN or infinity on either side,
/// give +infinity, so that `EXPECT_LE(relative_error(a, b), tol)` fails on them.
template <class T, class U>
double relative_error(const Tensor<T>& a, const Tensor<U>& b) {
  double diff, scale;
  if (!detail::max_differences(a, b, diff, scale)) return std::numeric_limits<double>::infinity();
  return diff / std::max(scale, 1e-30);
}

/// max |a - b|, for values of a known scale (SE gates); +infinity where relative_error is.
template <class T, class U>
double max_abs_error(const Tensor<T>& a, const Tensor<U>& b) {
  double diff, scale;
  return detail::max_differences(a, b, diff, scale) ? diff : std::numeric_limits<double>::infinity();
}

/// Tolerance of a PyTorch comparison for scalar T: 1e-4 relative in float; 1e-10 in double, where
/// both sides compute in float64 (one float32 step inside the double path would cost ~1e-7).
template <class T>
constexpr double parity_tolerance() {
  return sizeof(T) == sizeof(double) ? 1e-10 : 1e-4;
}

/// `for_float` when T is float, `for_double` when it is double: a per-precision constant.
template <class T>
constexpr T per_scalar(float for_float, double for_double) {
  return std::is_same_v<T, float> ? T(for_float) : T(for_double);
}

/// Tolerance of a kernel against a reference computed in the test (same inputs, a different
/// summation order), scaled by the caller to the output's magnitude where that is not ~1.
template <class T>
constexpr T reference_tolerance() {
  return per_scalar<T>(1e-5f, 1e-12);
}

/// Records how many cases a sweep checked (a property in the XML report) and expects more
/// than `minimum`, so that a sweep that silently skips its cases fails.
inline void expect_cases_above(std::size_t cases, std::size_t minimum) {
  ::testing::Test::RecordProperty("cases", static_cast<int>(cases));
  EXPECT_GT(cases, minimum);
}

// ---- Parameters ----

/// `Params` (Conv2dParams, Pool2dParams) with the window fields they share set, the rest default.
template <class Params>
Params window_params(Index kh, Index kw, Index sh, Index sw, Index ph, Index pw, Index dh, Index dw) {
  Params p;
  p.kernel_h = kh;
  p.kernel_w = kw;
  p.stride_h = sh;
  p.stride_w = sw;
  p.pad_h = ph;
  p.pad_w = pw;
  p.dilation_h = dh;
  p.dilation_w = dw;
  return p;
}

// ---- Random data ----

/// Fills `p[0..n)` with values drawn uniformly from [lo, hi).
template <class T>
void fill_uniform(T* p, Index n, std::mt19937& rng, T lo = T(-1), T hi = T(1)) {
  std::uniform_real_distribution<T> dist(lo, hi);
  for (Index i = 0; i < n; ++i) p[i] = dist(rng);
}

/// Fills every element of `t` with values drawn uniformly from [lo, hi).
template <class T>
void fill_uniform(Tensor<T>& t, std::mt19937& rng, T lo = T(-1), T hi = T(1)) {
  fill_uniform(t.data(), t.size(), rng, lo, hi);
}

// ---- Files and errors ----

/// A unique path in the temp directory, named after the running test and ending in `suffix`;
/// the file is removed when the TempPath goes out of scope.
class TempPath {
 public:
  explicit TempPath(const std::string& suffix) {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    std::string name = std::string("senet_io_") + info->test_suite_name() + "_" + info->name();
    for (char& c : name)
      if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
    path_ = (std::filesystem::temp_directory_path() / (name + "_" + std::to_string(std::random_device{}()) + suffix))
                .string();
  }
  ~TempPath() {
    std::error_code ec;
    std::filesystem::remove(path_, ec);
  }
  TempPath(const TempPath&) = delete;
  TempPath& operator=(const TempPath&) = delete;
  const std::string& str() const { return path_; }

 private:
  std::string path_;
};

/// The low `n` bytes of `v`, least significant first, as file formats store integers.
inline std::string le(std::uint64_t v, int n) {
  std::string s;
  for (int i = 0; i < n; ++i, v >>= 8) s += static_cast<char>(v & 0xFF);
  return s;
}

/// Writes `bytes` to `path`, replacing the file; fails the test if that does not work.
inline void write_file(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  ASSERT_TRUE(out.good());
}

/// The bytes of the file at `path` (empty if it cannot be read).
inline std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

/// The message of the senet::Error `f` throws; any other exception propagates and fails the test.
template <class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const senet::Error& e) {
    return e.what();
  }
  ADD_FAILURE() << "expected a senet::Error";
  return "";
}

}  // namespace senet::test
