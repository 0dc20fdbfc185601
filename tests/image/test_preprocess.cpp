// senet/io/preprocess.hpp against Pillow 9.4 and torchvision 0.14 (fixtures written by
// tests/fixtures/make_image_fixtures.py). Needs no image decoder: the source pixels are PIL's
// decodes stored as uint8 .npy.

#include "senet/io/preprocess.hpp"

#include <gtest/gtest.h>

#include <array>
#include <cmath>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "image_fixtures.hpp"
#include "senet/io/npy.hpp"

namespace senet::test {
namespace test_preprocess {

Image source(const std::string& file) { return read_rgb_npy(image_fixture(file + ".rgb.npy")); }

/// A deterministic pseudo-random image (no reference: for properties only).
Image noise_image(Index w, Index h, unsigned seed) {
  Image im(w, h);
  unsigned s = seed;
  for (auto& v : im.rgb) {
    s = s * 1664525u + 1013904223u;
    v = static_cast<std::uint8_t>(s >> 24);
  }
  return im;
}

// ---- resize ------------------------------------------------------------------------------------

TEST(Resize, BitIdenticalToPillowBothFilters) {
  int cases = 0;
  for (const auto& c : image_manifest()["resize"]) {
    const Image src = source(c["source"]);
    const Interpolation f = parse_interpolation(c["filter"]);
    const Index w = c["width"], h = c["height"];
    SCOPED_TRACE(std::string(c["filter"]) + " " + std::to_string(src.width) + "x" + std::to_string(src.height) +
                 " -> " + std::to_string(w) + "x" + std::to_string(h));
    const Image expected = read_rgb_npy(image_fixture(c["expected"]));
    const Image got = resize(src, w, h, f);
    ASSERT_EQ(got.width, w);
    ASSERT_EQ(got.height, h);
    EXPECT_TRUE(got == expected) << first_difference(got, expected) << ", max |diff| "
                                 << max_abs_diff(got, expected);
    ++cases;
  }
  EXPECT_GE(cases, 18);
}

TEST(Resize, SameSizeIsIdentity) {
  const Image src = noise_image(31, 17, 1);
  for (Interpolation f : {Interpolation::bilinear, Interpolation::bicubic}) EXPECT_TRUE(resize(src, 31, 17, f) == src);
}

TEST(Resize, OneAxisChangesOnlyThatAxis) {
  // Pillow skips the pass of an unchanged dimension: resizing the width alone filters each row
  // independently, so a vertical-stripe image stays vertical stripes, row for row.
  Image stripes(20, 9);
  for (Index y = 0; y < 9; ++y)
    for (Index x = 0; x < 20; ++x)
      for (Index c = 0; c < 3; ++c) stripes.at(x, y, c) = static_cast<std::uint8_t>((x * 37 + c * 80) % 256);
  for (Interpolation f : {Interpolation::bilinear, Interpolation::bicubic}) {
    const Image r = resize(stripes, 7, 9, f);
    for (Index y = 1; y < 9; ++y)
      for (Index x = 0; x < 7; ++x)
        for (Index c = 0; c < 3; ++c) ASSERT_EQ(r.at(x, y, c), r.at(x, 0, c));
  }
}

TEST(Resize, ConstantImageStaysConstant) {
  // The fixed-point weights of every output sum to 2^22 within a few units, so any scale factor,
  // up or down, keeps a flat colour exactly.
  for (Interpolation f : {Interpolation::bilinear, Interpolation::bicubic})
    for (auto [w, h, ow, oh] : std::vector<std::array<Index, 4>>{
             {1, 1, 9, 4}, {640, 3, 3, 1}, {97, 61, 13, 200}, {5, 500, 1, 7}, {33, 33, 32, 34}})
      for (int v : {0, 1, 127, 254, 255}) {
        Image im(w, h);
        std::fill(im.rgb.begin(), im.rgb.end(), static_cast<std::uint8_t>(v));
        const Image r = resize(im, ow, oh, f);
        for (std::uint8_t p : r.rgb) ASSERT_EQ(p, v) << to_string(f) << " " << w << "x" << h << " -> " << ow << "x" << oh;
      }
}

TEST(Resize, RejectsBadSizes) {
  const Image src = noise_image(4, 3, 2);
  EXPECT_THROW(resize(src, 0, 3, Interpolation::bilinear), Error);
  EXPECT_THROW(resize(src, 4, -1, Interpolation::bicubic), Error);
  EXPECT_THROW(resize(Image(), 4, 4, Interpolation::bilinear), Error);
  Image broken = src;
  broken.rgb.pop_back();
  try {
    resize(broken, 2, 2, Interpolation::bilinear);
    FAIL() << "no exception";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("4x3 needs 36 RGB bytes, has 35"), std::string::npos) << e.what();
  }
  EXPECT_THROW(Image(2, 2, std::vector<std::uint8_t>(11)), Error);
}

// ---- torchvision Resize(int) and CenterCrop ---------------------------------------------------

TEST(ResizeShortSide, SizesAsTorchvision) {
  using A = std::array<Index, 2>;
  EXPECT_EQ(short_side_size(37, 29, 18), (A{22, 18}));   // int(18 * 37 / 29) = int(22.97)
  EXPECT_EQ(short_side_size(29, 37, 18), (A{18, 22}));   // portrait: width is the short side
  EXPECT_EQ(short_side_size(13, 11, 18), (A{21, 18}));   // upscale: int(21.27)
  EXPECT_EQ(short_side_size(50, 50, 7), (A{7, 7}));
  EXPECT_EQ(short_side_size(640, 480, 256), (A{341, 256}));
  EXPECT_EQ(short_side_size(4032, 3024, 256), (A{341, 256}));
  EXPECT_EQ(short_side_size(3, 600, 256), (A{256, 51200}));
  EXPECT_THROW(short_side_size(3, 4, 0), Error);
}

TEST(ResizeShortSide, UnchangedWhenShortSideMatches) {
  const Image src = noise_image(37, 29, 3);
  EXPECT_TRUE(resize_short_side(src, 29, Interpolation::bicubic) == src);
  EXPECT_TRUE(resize_short_side(src, 18, Interpolation::bilinear) == resize(src, 22, 18, Interpolation::bilinear));
}

TEST(CenterCrop, OffsetsRoundHalfToEven) {
  // int(round((extent - crop) / 2.0)) with Python's banker's rounding.
  EXPECT_EQ(center_crop_offset(4, 4), 0);
  EXPECT_EQ(center_crop_offset(5, 4), 0);   // round(0.5) = 0
  EXPECT_EQ(center_crop_offset(6, 4), 1);   // round(1.0) = 1
  EXPECT_EQ(center_crop_offset(7, 4), 2);   // round(1.5) = 2
  EXPECT_EQ(center_crop_offset(9, 4), 2);   // round(2.5) = 2
  EXPECT_EQ(center_crop_offset(11, 4), 4);  // round(3.5) = 4
  EXPECT_EQ(center_crop_offset(13, 4), 4);  // round(4.5) = 4
  EXPECT_EQ(center_crop_offset(257, 224), 16);  // round(16.5) = 16
  EXPECT_EQ(center_crop_offset(259, 224), 18);  // round(17.5) = 18

  const Image src = noise_image(9, 7, 4);
  const Image c = center_crop(src, 4, 4);  // x from 2 (round(2.5)), y from 2 (round(1.5))
  for (Index y = 0; y < 4; ++y)
    for (Index x = 0; x < 4; ++x)
      for (Index ch = 0; ch < 3; ++ch) ASSERT_EQ(c.at(x, y, ch), src.at(x + 2, y + 2, ch));
}

TEST(CenterCrop, PadsWithBlackAsTorchvision) {
  Image src(2, 1);
  std::fill(src.rgb.begin(), src.rgb.end(), std::uint8_t{200});
  const Image c = center_crop(src, 5, 4);  // pad left 1, right 2; top 1, bottom 2
  for (Index y = 0; y < 4; ++y)
    for (Index x = 0; x < 5; ++x) EXPECT_EQ(c.at(x, y, 0), (y == 1 && (x == 1 || x == 2)) ? 200 : 0) << x << "," << y;
}

TEST(CenterCrop, EqualToTorchvision) {
  const Image full = source("rgb.png");
  int cases = 0;
  for (const auto& c : image_manifest()["center_crop"]) {
    const Index sw = c["source_width"], sh = c["source_height"], w = c["width"], h = c["height"];
    Image src(sw, sh);
    for (Index y = 0; y < sh; ++y)
      for (Index x = 0; x < sw; ++x)
        for (Index ch = 0; ch < 3; ++ch) src.at(x, y, ch) = full.at(x, y, ch);
    SCOPED_TRACE(std::to_string(w) + "x" + std::to_string(h));
    const Image expected = read_rgb_npy(image_fixture(c["expected"]));
    const Image got = center_crop(src, w, h);
    EXPECT_TRUE(got == expected) << first_difference(got, expected);
    ++cases;
  }
  EXPECT_GE(cases, 9);
}

// ---- presets and the whole pipeline ------------------------------------------------------------

TEST(Preprocess, Presets) {
  const PreprocessOptions t = preprocess_preset("timm");
  EXPECT_EQ(t.size, 224);
  EXPECT_EQ(t.resize_size(), 256);
  EXPECT_EQ(t.interpolation, Interpolation::bilinear);
  EXPECT_FALSE(t.bgr);
  EXPECT_EQ(t.scale, 255.0f);
  EXPECT_EQ(t.mean[0], static_cast<float>(0.485));
  EXPECT_EQ(t.std[2], static_cast<float>(0.225));
  const PreprocessOptions c = preprocess_preset("caffe");
  EXPECT_TRUE(c.bgr);
  EXPECT_EQ(c.scale, 1.0f);
  EXPECT_EQ(c.mean, (std::array<float, 3>{104, 117, 123}));
  EXPECT_EQ(c.std, (std::array<float, 3>{1, 1, 1}));
  EXPECT_EQ(c.resize_size(), 256);
  try {
    preprocess_preset("imagenet");
    FAIL() << "no exception";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("'imagenet'"), std::string::npos) << e.what();
  }
  EXPECT_THROW(parse_interpolation("nearest"), Error);

  PreprocessOptions o;
  o.crop_pct = 0.95;  // timm seresnet50.a1_in1k
  EXPECT_EQ(o.resize_size(), 235);  // floor(235.79)
  o.size = 288;
  o.crop_pct = 1.0;
  EXPECT_EQ(o.resize_size(), 288);
}

TEST(Preprocess, EqualToTorchvisionBothPresetsBothFilters) {
  int cases = 0;
  double worst = 0;
  for (const auto& c : image_manifest()["preprocess"]) {
    PreprocessOptions o = preprocess_preset(c["preset"]);
    o.size = c["size"];
    o.crop_pct = c["crop_pct"];
    o.interpolation = parse_interpolation(c["interpolation"]);
    ASSERT_EQ(o.resize_size(), c["resize_size"].get<Index>());
    SCOPED_TRACE(std::string(c["expected"]));
    const Tensor<float> expected = read_npy<float>(image_fixture(c["expected"]));
    const Tensor<float> got = preprocess<float>(std::vector<Image>{source(c["source"])}, o);
    ASSERT_EQ(got.shape(), (Shape{1, 3, o.size, o.size}));
    ASSERT_EQ(expected.shape(), (Shape{3, o.size, o.size}));
    double diff = 0;
    Index mismatches = 0;
    for (Index i = 0; i < expected.size(); ++i) {
      diff = std::max(diff, std::abs(double(got[i]) - double(expected[i])));
      mismatches += got[i] != expected[i];
    }
    EXPECT_LE(diff, 1e-6);
    EXPECT_EQ(mismatches, 0) << "max |diff| " << diff;  // the same float32 operations: bit-identical
    worst = std::max(worst, diff);
    ++cases;
  }
  EXPECT_EQ(cases, 26);
  RecordProperty("max_abs_diff", std::to_string(worst));
}

// The presets that stand for torchvision's published weights have their transforms' numbers, which
// the fixture generator read from torchvision itself (`<Weights>.IMAGENET1K_V1.transforms()`); the
// pipeline of that transform class is the "torchvision" cases above.
TEST(Preprocess, TorchvisionWeightsPresetsAreTheirTransforms) {
  int cases = 0;
  for (const auto& w : image_manifest()["weights_transforms"]) {
    SCOPED_TRACE(std::string(w["weights"]));
    const PreprocessOptions o = preprocess_preset(w["preset"]);
    EXPECT_EQ(o.size, w["crop_size"].get<Index>());
    EXPECT_EQ(o.resize_size(), w["resize_size"].get<Index>());
    EXPECT_EQ(to_string(o.interpolation), w["interpolation"].get<std::string>());
    for (int c = 0; c < 3; ++c) {
      EXPECT_EQ(o.mean[c], static_cast<float>(w["mean"][c].get<double>()));
      EXPECT_EQ(o.std[c], static_cast<float>(w["std"][c].get<double>()));
    }
    EXPECT_FALSE(o.bgr || o.grayscale);
    EXPECT_EQ(o.scale, 255.0f);
    ++cases;
  }
  EXPECT_EQ(cases, 6);
}

TEST(Preprocess, BatchAndDoubleAgreeWithSingleImages) {
  PreprocessOptions o = preprocess_preset("timm");
  o.size = 16;
  o.interpolation = Interpolation::bicubic;
  const std::vector<Image> images{source("rgb.png"), source("small.png"), source("portrait.png")};
  const Tensor<float> batch = preprocess<float>(images, o);
  ASSERT_EQ(batch.shape(), (Shape{3, 3, 16, 16}));
  const Tensor<double> batch64 = preprocess<double>(images, o);
  for (std::size_t n = 0; n < images.size(); ++n) {
    std::vector<float> one(3 * 16 * 16);
    preprocess_into(images[n], o, one.data());
    for (std::size_t i = 0; i < one.size(); ++i) {
      ASSERT_EQ(batch[static_cast<Index>(n * one.size() + i)], one[i]);
      ASSERT_EQ(batch64[static_cast<Index>(n * one.size() + i)], static_cast<double>(one[i]));
    }
  }
  const Tensor<float> single = preprocess<float>(images[1], o);
  ASSERT_EQ(single.shape(), (Shape{1, 3, 16, 16}));
  for (Index i = 0; i < single.size(); ++i) ASSERT_EQ(single[i], batch[3 * 16 * 16 + i]);
  EXPECT_EQ(preprocess<float>(std::vector<Image>{}, o).shape(), (Shape{0, 3, 16, 16}));
}

TEST(Preprocess, CaffeIsBgrMinusMeans) {
  Image im(1, 1);
  im.rgb = {10, 20, 250};  // R, G, B
  PreprocessOptions o = preprocess_preset("caffe");
  o.size = 1;
  o.crop_pct = 1.0;
  const Tensor<float> x = preprocess<float>(im, o);
  EXPECT_EQ(x[0], 250.0f - 104.0f);  // B
  EXPECT_EQ(x[1], 20.0f - 117.0f);   // G
  EXPECT_EQ(x[2], 10.0f - 123.0f);   // R
}

// Pillow 9.4's Image.new("RGB", (1, 1), c).convert("L").getpixel((0, 0)) for each colour c.
TEST(Preprocess, GrayscaleIsPillowsLuma) {
  PreprocessOptions o;
  o.grayscale = true;
  o.size = 1;
  o.crop_pct = 1.0;
  o.scale = 1.0f;
  o.mean = {0, 0, 0};
  o.std = {1, 1, 1};
  const std::vector<std::pair<std::array<std::uint8_t, 3>, float>> cases = {
      {{255, 0, 0}, 76}, {{0, 255, 0}, 150}, {{0, 0, 255}, 29}, {{10, 200, 77}, 129},
      {{128, 128, 128}, 128}, {{255, 255, 255}, 255}, {{0, 0, 0}, 0}};
  for (const auto& [rgb, luma] : cases) {
    Image im(1, 1);
    im.rgb = {rgb[0], rgb[1], rgb[2]};
    const Tensor<float> x = preprocess<float>(im, o);
    ASSERT_EQ(x.shape(), (Shape{1, 1, 1, 1}));
    EXPECT_EQ(x[0], luma) << int(rgb[0]) << " " << int(rgb[1]) << " " << int(rgb[2]);
  }
  o.bgr = true;  // ignored for grey output
  Image im(1, 1);
  im.rgb = {10, 200, 77};
  EXPECT_EQ(preprocess<float>(im, o)[0], 129.0f);
}

TEST(Preprocess, GreyPresets) {
  const PreprocessOptions f = preprocess_preset("fashion");
  EXPECT_TRUE(f.grayscale);
  EXPECT_EQ(f.channels(), 1);
  EXPECT_EQ(f.size, 28);
  EXPECT_EQ(f.resize_size(), 28);
  EXPECT_EQ(f.scale, 255.0f);
  EXPECT_EQ(f.mean[0], static_cast<float>(0.2860));
  EXPECT_EQ(f.std[0], static_cast<float>(0.3530));
  const PreprocessOptions d = preprocess_preset("digits");
  EXPECT_TRUE(d.grayscale);
  EXPECT_EQ(d.size, 8);
  EXPECT_EQ(d.resize_size(), 8);
  EXPECT_EQ(d.mean[0], 0.0f);
  EXPECT_EQ(d.std[0], 1.0f);
  EXPECT_EQ(preprocess_preset("timm").channels(), 3);

  // A 28x28 grey picture passes unchanged: (v / 255 - 0.2860) / 0.3530 in float32; a larger one
  // is resized (short side 28) and centre-cropped.
  Image im(28, 28);
  for (std::size_t i = 0; i < im.rgb.size(); ++i) im.rgb[i] = static_cast<std::uint8_t>((i / 3) % 256);
  const Tensor<float> x = preprocess<float>(std::vector<Image>{im, noise_image(56, 40, 3)}, f);
  ASSERT_EQ(x.shape(), (Shape{2, 1, 28, 28}));
  for (Index i = 0; i < 28 * 28; ++i)
    ASSERT_EQ(x[i], (static_cast<float>(i % 256) / 255.0f - static_cast<float>(0.2860)) / static_cast<float>(0.3530));

  // Every registered model's preset exists, and the list names them all.
  for (const std::string& name : preprocess_preset_names()) EXPECT_NO_THROW(preprocess_preset(name)) << name;
  const std::string m = error_of([] { preprocess_preset("mnist"); });
  EXPECT_NE(m.find("known: 'timm', 'torchvision', 'efficientnet_b0', 'efficientnet_b1', 'caffe', 'bninception', "
                   "'digits', 'fashion'"),
            std::string::npos)
      << m;
}

TEST(Preprocess, RejectsBadOptions) {
  const Image im = noise_image(8, 8, 5);
  PreprocessOptions o;
  o.size = 0;
  EXPECT_THROW(preprocess<float>(im, o), Error);
  o = PreprocessOptions{};
  o.size = 4;
  o.crop_pct = 0;
  EXPECT_THROW(preprocess<float>(im, o), Error);
  o.crop_pct = 1;
  o.std[1] = 0;
  EXPECT_THROW(preprocess<float>(im, o), Error);
  EXPECT_THROW(preprocess<float>(Image(), PreprocessOptions{}), Error);
}

}  // namespace test_preprocess
}  // namespace senet::test
