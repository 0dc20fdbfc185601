// senet/io/image.hpp (stb_image) against PIL's `Image.open(p).convert("RGB")` (fixtures written by
// tests/fixtures/make_image_fixtures.py), and its errors.

#include "senet/io/image.hpp"

#include <gtest/gtest.h>

#include <cstdio>
#include <string>
#include <vector>

#include "image_fixtures.hpp"
#include "senet/io/npy.hpp"

namespace senet::test {
namespace test_image {

/// JPEG: stb's IDCT, chroma upsampling and colour conversion are not libjpeg-turbo's (PIL's).
/// Measured max |stb - PIL|: 3 for the 4:2:0 and progressive fixtures, 2 for 4:4:4, 1 for grey;
/// also 3 on real photos (matplotlib's grace_hopper.jpg, scikit-learn's china.jpg and
/// flower.jpg), where 96-98% of the values are equal and almost all others differ by 1.
constexpr int kJpegTolerance = 3;

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

TEST(ReadImage, EveryFormatAsPil) {
  int exact = 0, lossy = 0, jpeg_max = 0;
  for (const auto& c : image_manifest()["decode"]) {
    const std::string file = c["file"];
    SCOPED_TRACE(file + " (PIL mode " + std::string(c["pil_mode"]) + ")");
    const Image got = read_image(image_fixture(file));
    const Image expected = read_rgb_npy(image_fixture(c["expected"]));
    ASSERT_EQ(got.width, expected.width);
    ASSERT_EQ(got.height, expected.height);
    ASSERT_EQ(got.rgb.size(), got.bytes());
    if (c["exact"].get<bool>()) {
      EXPECT_TRUE(got == expected) << first_difference(got, expected);
      ++exact;
    } else {
      const int d = max_abs_diff(got, expected);
      EXPECT_LE(d, kJpegTolerance) << first_difference(got, expected);
      std::printf("  %-16s max |stb - PIL| = %d\n", file.c_str(), d);
      jpeg_max = std::max(jpeg_max, d);
      ++lossy;
    }
  }
  EXPECT_GE(exact, 11);  // PNG RGB/L/RGBA/LA/P/16-bit, BMP, PPM, PGM, small.png, portrait.png
  EXPECT_GE(lossy, 4);   // JPEG 4:2:0, 4:4:4, grey, progressive
  RecordProperty("jpeg_max_abs_diff", jpeg_max);
}

TEST(ReadImage, ConversionsToRgb) {
  const Image rgb = read_image(image_fixture("rgb.png"));
  // RGBA: alpha is dropped, not composited onto a background.
  EXPECT_TRUE(read_image(image_fixture("rgba.png")) == rgb);
  // Grey and grey + alpha: the grey value replicated into R, G and B.
  for (const char* f : {"grey.png", "la.png", "grey.pgm", "grey16.png"}) {
    const Image g = read_image(image_fixture(f));
    for (std::size_t i = 0; i < g.rgb.size(); i += 3) {
      ASSERT_EQ(g.rgb[i], g.rgb[i + 1]) << f;
      ASSERT_EQ(g.rgb[i], g.rgb[i + 2]) << f;
    }
  }
  EXPECT_TRUE(read_image(image_fixture("la.png")) == read_image(image_fixture("grey.png")));
  // 16-bit grey: PIL's mode "I" clipped at 255 (the first row holds 250..257).
  const Image g16 = read_image(image_fixture("grey16.png"));
  for (int x = 0; x < 8; ++x) EXPECT_EQ(g16.at(x, 0, 0), std::min(250 + x, 255));
  EXPECT_TRUE(read_image(image_fixture("rgb.bmp")) == rgb);
  EXPECT_TRUE(read_image(image_fixture("rgb.ppm")) == rgb);
}

TEST(DecodeImage, FromMemoryEqualsFromFile) {
  for (const char* f : {"rgb.png", "rgb.jpg", "rgb.bmp", "grey.pgm"}) {
    const std::vector<std::uint8_t> bytes = read_bytes(image_fixture(f));
    EXPECT_TRUE(decode_image(bytes.data(), bytes.size(), f) == read_image(image_fixture(f))) << f;
  }
}

TEST(ReadImage, MissingFileNamesIt) {
  const std::string path = image_fixture("no_such_image.png");
  const std::string m = error_of([&] { read_image(path); });
  EXPECT_TRUE(contains(m, path)) << m;
  EXPECT_TRUE(contains(m, "no such file")) << m;
  const std::string dir = error_of([&] { read_image(image_fixture("")); });
  EXPECT_TRUE(contains(dir, "is a directory")) << dir;
}

TEST(ReadImage, DamagedPngNamesFileAndStbReason) {
  const std::string path = image_fixture("damaged.png");
  const std::string m = error_of([&] { read_image(path); });
  EXPECT_TRUE(contains(m, path + ": cannot decode PNG image: ")) << m;
  EXPECT_GT(m.size(), (path + ": cannot decode PNG image: ").size()) << "stb's reason is missing: " << m;
}

TEST(ReadImage, NotAnImage) {
  const std::string path = image_fixture("not_an_image.txt");
  const std::string m = error_of([&] { read_image(path); });
  EXPECT_TRUE(contains(m, path)) << m;
  EXPECT_TRUE(contains(m, "not a PNG, JPEG, BMP, PPM or PGM file")) << m;
}

TEST(DecodeImage, TruncatedFilesOfEveryFormatThrow) {
  // stb alone would return a BMP, PPM or PGM with its missing rows filled: senet checks sizes.
  for (const char* f : {"rgb.png", "rgb.jpg", "progressive.jpg", "rgb.bmp", "rgb.ppm", "grey.pgm"}) {
    const std::vector<std::uint8_t> bytes = read_bytes(image_fixture(f));
    for (std::size_t n : {bytes.size() * 3 / 4, bytes.size() / 2, std::size_t{40}, std::size_t{3}, std::size_t{1}}) {
      const std::string name = std::string("cut_") + f;
      const std::string m = error_of([&] { decode_image(bytes.data(), n, name); });
      EXPECT_TRUE(contains(m, name + ": ")) << f << " cut to " << n << ": " << m;
    }
    if (std::string(f).find(".png") == std::string::npos) {  // PIL, too, accepts a PNG missing IEND's CRC
      const std::string m = error_of([&] { decode_image(bytes.data(), bytes.size() - 1, f); });
      EXPECT_TRUE(contains(m, f)) << f << " less one byte: " << m;
    }
  }
  const std::vector<std::uint8_t> ppm = read_bytes(image_fixture("rgb.ppm"));
  const std::string m = error_of([&] { decode_image(ppm.data(), ppm.size() - 1, "x.ppm"); });
  EXPECT_EQ(m, "x.ppm: truncated PPM/PGM: 3218 bytes of pixel data, 37x29 needs 3219");
  const std::vector<std::uint8_t> bmp = read_bytes(image_fixture("rgb.bmp"));
  EXPECT_TRUE(contains(error_of([&] { decode_image(bmp.data(), bmp.size() - 1, "x.bmp"); }), "x.bmp: truncated BMP"));
}

TEST(DecodeImage, UnsupportedVariantsThrow) {
  auto decode = [](const std::string& s, const std::string& name) {
    return error_of([&] { decode_image(reinterpret_cast<const std::uint8_t*>(s.data()), s.size(), name); });
  };
  EXPECT_EQ(decode("P3\n1 1\n255\n1 2 3\n", "ascii.ppm"),
            "ascii.ppm: unsupported Netpbm variant P3 (senet reads binary PGM P5 and PPM P6 only)");
  EXPECT_EQ(decode("P5\n1 1\n65535\n\x01\x02", "deep.pgm"),
            "deep.pgm: PPM/PGM maxval 65535 is not supported (senet reads 8-bit files with maxval 255)");
  EXPECT_EQ(decode("P6 # size\n0 1\n255\n", "empty.ppm"), "empty.ppm: PPM/PGM size 0x1 is empty");
  EXPECT_TRUE(contains(decode("GIF89a\x01\x00\x01\x00", "a.gif"), "a.gif: not a PNG, JPEG, BMP, PPM or PGM file"));
  EXPECT_EQ(error_of([] { decode_image(nullptr, 0, "nothing"); }), "nothing: empty file, not an image");
  // A PGM with comments and maxval 255 is fine.
  const Image one = [] {
    const std::string s = "P5\n# comment\n2 # another\n1\n255\n\x07\xF0";
    return decode_image(reinterpret_cast<const std::uint8_t*>(s.data()), s.size(), "ok.pgm");
  }();
  EXPECT_EQ(one.width, 2);
  EXPECT_EQ(one.height, 1);
  EXPECT_EQ(one.rgb, (std::vector<std::uint8_t>{7, 7, 7, 0xF0, 0xF0, 0xF0}));
}

TEST(ReadImage, ThenPreprocessMatchesTorchvisionForLosslessFiles) {
  // The whole user path, file to tensor, on a PNG: equal to PIL + torchvision.
  for (const auto& c : image_manifest()["preprocess"]) {
    PreprocessOptions o = preprocess_preset(c["preset"]);
    o.size = c["size"];
    o.crop_pct = c["crop_pct"];
    o.interpolation = parse_interpolation(c["interpolation"]);
    const Tensor<float> expected = read_npy<float>(image_fixture(c["expected"]));
    const Tensor<float> got = preprocess<float>(read_image(image_fixture(c["source"])), o);
    ASSERT_EQ(got.size(), expected.size());
    for (Index i = 0; i < got.size(); ++i) ASSERT_EQ(got[i], expected[i]) << std::string(c["expected"]) << " at " << i;
  }
}

}  // namespace test_image
}  // namespace senet::test
