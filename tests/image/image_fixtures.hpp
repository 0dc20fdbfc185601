#pragma once
// Helpers of the image tests: the fixture manifest (tests/fixtures/data/images/images.json, written
// by tests/fixtures/make_image_fixtures.py) and uint8 .npy arrays ('|u1', which senet::read_npy,
// a float reader, does not take).

#include <gtest/gtest.h>

#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "senet/io/preprocess.hpp"
#include "test_util.hpp"

namespace senet::test {

/// Path of a file under tests/fixtures/data/images.
inline std::string image_fixture(const std::string& name) { return fixture("images/" + name); }

inline std::vector<std::uint8_t> read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot open " + path);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

inline const nlohmann::json& image_manifest() {
  static const nlohmann::json manifest = [] {
    std::ifstream in(image_fixture("images.json"));
    if (!in) throw std::runtime_error("cannot open " + image_fixture("images.json"));
    return nlohmann::json::parse(in);
  }();
  return manifest;
}

/// A C-order uint8 .npy array: its shape and bytes.
struct U8Array {
  std::vector<Index> shape;
  std::vector<std::uint8_t> data;
};

/// Reads a version 1.0 .npy of dtype '|u1' (what np.save writes for uint8), C order.
inline U8Array read_u8_npy(const std::string& path) {
  const std::vector<std::uint8_t> b = read_bytes(path);
  if (b.size() < 10 || b[0] != 0x93 || std::string(b.begin() + 1, b.begin() + 6) != "NUMPY" || b[6] != 1)
    throw std::runtime_error(path + ": not a version 1.0 .npy file");
  const std::size_t header_len = b[8] | (std::size_t{b[9]} << 8);
  const std::string header(b.begin() + 10, b.begin() + 10 + static_cast<std::ptrdiff_t>(header_len));
  if (header.find("'descr': '|u1'") == std::string::npos || header.find("'fortran_order': False") == std::string::npos)
    throw std::runtime_error(path + ": expected a C-order uint8 array, header " + header);
  const std::size_t open = header.find('(', header.find("'shape'")), close = header.find(')', open);
  U8Array a;
  std::stringstream dims(header.substr(open + 1, close - open - 1));
  std::size_t n = 1;
  for (std::string d; std::getline(dims, d, ',');) {
    if (d.find_first_not_of(' ') == std::string::npos) continue;
    a.shape.push_back(std::stoll(d));
    n *= static_cast<std::size_t>(a.shape.back());
  }
  if (b.size() != 10 + header_len + n) throw std::runtime_error(path + ": data size does not match the shape");
  a.data.assign(b.begin() + 10 + static_cast<std::ptrdiff_t>(header_len), b.end());
  return a;
}

/// An [H, W, 3] uint8 .npy as a senet::Image.
inline Image read_rgb_npy(const std::string& path) {
  U8Array a = read_u8_npy(path);
  if (a.shape.size() != 3 || a.shape[2] != 3) throw std::runtime_error(path + ": not an [H, W, 3] array");
  return Image(a.shape[1], a.shape[0], std::move(a.data));
}

/// Largest |a - b| over the pixels; asserts the sizes match (returns 256 when they do not).
inline int max_abs_diff(const Image& a, const Image& b) {
  EXPECT_EQ(a.width, b.width);
  EXPECT_EQ(a.height, b.height);
  if (a.width != b.width || a.height != b.height || a.rgb.size() != b.rgb.size()) return 256;
  int m = 0;
  for (std::size_t i = 0; i < a.rgb.size(); ++i) m = std::max(m, std::abs(int(a.rgb[i]) - int(b.rgb[i])));
  return m;
}

/// "first difference at (x, y, c): 12 vs 13" or "" when equal, for failure messages.
inline std::string first_difference(const Image& a, const Image& b) {
  if (a.width != b.width || a.height != b.height) return "sizes differ";
  for (std::size_t i = 0; i < a.rgb.size(); ++i)
    if (a.rgb[i] != b.rgb[i]) {
      const std::size_t pixel = i / 3;
      std::ostringstream os;
      os << "first difference at (x " << pixel % a.width << ", y " << pixel / a.width << ", c " << i % 3
         << "): " << int(a.rgb[i]) << " vs " << int(b.rgb[i]);
      return os.str();
    }
  return "";
}

}  // namespace senet::test
