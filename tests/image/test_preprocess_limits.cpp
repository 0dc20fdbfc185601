// Limits of senet/io/preprocess.hpp: PreprocessOptions::max_pixels bounds the resized image and
// the crop before anything is allocated (a tiny crop_pct, a long thin image), and crop_pct values
// whose resize size does not fit an integer are refused without undefined behaviour.

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "senet/io/preprocess.hpp"
#include "test_util.hpp"

namespace senet::test {
namespace test_preprocess_limits {

bool has(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

TEST(PreprocessLimits, ResizeSizeSaturatesInsteadOfOverflowing) {
  PreprocessOptions o;
  o.crop_pct = 1e-300;  // 224 / 1e-300 does not fit an Index
  EXPECT_EQ(o.resize_size(), std::numeric_limits<Index>::max());
  o.crop_pct = std::numeric_limits<double>::quiet_NaN();
  EXPECT_EQ(o.resize_size(), 0);
  o.crop_pct = 0.875;
  EXPECT_EQ(o.resize_size(), 256);
}

TEST(PreprocessLimits, TinyCropPctIsRefusedBeforeResizing) {
  const Image img(4, 4);
  PreprocessOptions o;
  o.crop_pct = 1e-300;
  std::string m = error_of([&] { preprocess<float>(img, o); });
  EXPECT_TRUE(has(m,
                  "preprocess: size 224 / crop_pct 1e-300 resizes the short side to 9223372036854775807 pixels, "
                  "beyond the limit of 89478485 pixels (PreprocessOptions::max_pixels)"))
      << m;
  // 224 / 2^-10 = 229,376: a side under the limit, but the resized square image is not.
  o.crop_pct = 1.0 / 1024;
  m = error_of([&] { preprocess<float>(img, o); });
  EXPECT_TRUE(has(m, "resized to short side 229376 is 229376x229376, beyond the limit of 89478485")) << m;
  o.crop_pct = std::numeric_limits<double>::quiet_NaN();
  EXPECT_TRUE(has(error_of([&] { preprocess<float>(img, o); }), "crop_pct nan must be positive"));
}

TEST(PreprocessLimits, LongThinImageIsRefusedBeforeResizing) {
  // 1 x 4000 pixels: its short side resized to 256 makes 256 x 1,024,000 = 262 million pixels.
  const Image thin(1, 4000);
  const std::string m = error_of([&] { preprocess<float>(thin, PreprocessOptions{}); });
  EXPECT_TRUE(has(m,
                  "preprocess: a 1x4000 image resized to short side 256 is 256x1024000, beyond the limit of "
                  "89478485 pixels"))
      << m;
}

TEST(PreprocessLimits, LimitIsConfigurableAndInclusive) {
  // 10 x 40 resized to short side 20: 20 x 80 = 1600 pixels, then a 20 x 20 crop.
  const Image img(10, 40);
  PreprocessOptions o;
  o.size = 20;
  o.crop_pct = 1.0;
  o.max_pixels = 1600;
  const Tensor<float> x = preprocess<float>(img, o);
  EXPECT_EQ(x.shape(), Shape({1, 3, 20, 20}));
  o.max_pixels = 1599;
  EXPECT_TRUE(has(error_of([&] { preprocess<float>(img, o); }), "is 20x80, beyond the limit of 1599 pixels"));

  // The crop itself counts: 20 x 20 = 400.
  o.max_pixels = 399;
  EXPECT_TRUE(has(error_of([&] { preprocess<float>(img, o); }), "preprocess: a 20x20 crop exceeds the limit of 399"));
  // So does the batch form, before any image is looked at.
  EXPECT_TRUE(has(error_of([&] { preprocess<float>(std::vector<Image>{img}, o); }), "crop exceeds the limit"));
}

TEST(PreprocessLimits, ShortSideTooLargeForTheProductIsAnError) {
  EXPECT_TRUE(has(error_of([] { short_side_size(1, Index{1} << 40, Index{1} << 20); }), "is too large"));
  const auto ok = short_side_size(3, 4, 6);
  EXPECT_EQ(ok[0], 6);
  EXPECT_EQ(ok[1], 8);
}

}  // namespace test_preprocess_limits
}  // namespace senet::test
