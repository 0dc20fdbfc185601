// Fuzz target: image decoding (senet/io/image.hpp, stb_image) on arbitrary bytes, then the
// pre-processing of what was decoded.
//
// The pixel limit is 2^20 here (the default, PIL's 89 million, would let a 100-byte JPEG make
// stb decode 89 million pixels of nothing, which is allowed but slow). Properties beyond "no
// crash": a decoded image is non-empty, within the limit and holds width x height x 3 bytes; the
// same bytes with a limit one pixel below the image's size are refused with a message naming the
// limit; pre-processing the image gives finite values of the requested shape, or refuses a
// resized image over its limit.

#include <cstddef>
#include <cstdint>
#include <string>

#include "fuzz_util.hpp"
#include "senet/io/image.hpp"
#include "senet/io/preprocess.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  senet::ImageOptions options;
  options.max_pixels = std::uint64_t{1} << 20;
  senet::Image image;
  try {
    image = senet::decode_image(data, size, "fuzz", options);
  } catch (const senet::Error&) {
    return 0;
  }
  FUZZ_CHECK(image.width > 0 && image.height > 0);
  const auto pixels = static_cast<std::uint64_t>(image.width) * static_cast<std::uint64_t>(image.height);
  FUZZ_CHECK(pixels <= options.max_pixels);
  FUZZ_CHECK(image.rgb.size() == pixels * 3);

  senet::ImageOptions smaller;
  smaller.max_pixels = pixels - 1;
  std::string refused;
  try {
    senet::decode_image(data, size, "fuzz", smaller);
  } catch (const senet::Error& e) {
    refused = e.what();
  }
  FUZZ_CHECK(refused.find("exceeds the limit") != std::string::npos);

  // Pre-processing refuses (only) a resized image over its own pixel limit: a long, thin image
  // whose short side grows to 14 pixels.
  senet::PreprocessOptions pp;
  pp.size = 12;
  pp.max_pixels = std::uint64_t{1} << 22;
  pp.interpolation = size % 2 ? senet::Interpolation::bicubic : senet::Interpolation::bilinear;
  const auto resized = senet::short_side_size(image.width, image.height, pp.resize_size());
  if (static_cast<std::uint64_t>(resized[0]) * static_cast<std::uint64_t>(resized[1]) > pp.max_pixels) {
    refused.clear();
    try {
      senet::preprocess<float>(image, pp);
    } catch (const senet::Error& e) {
      refused = e.what();
    }
    FUZZ_CHECK(refused.find("max_pixels") != std::string::npos);
    return 0;
  }
  const senet::Tensor<float> x = senet::preprocess<float>(image, pp);
  FUZZ_CHECK(x.shape() == senet::Shape({1, 3, 12, 12}));
  for (senet::Index i = 0; i < x.size(); ++i) FUZZ_CHECK(std::isfinite(x[i]));
  return 0;
}
