// Limits and hostile input of senet/io/image.hpp: the pixel limit (default PIL's, configurable,
// checked from the header before decoding, so decompression bombs cost nothing) and the guard
// against JPEG Huffman tables that overflow stb_image 2.27's arrays.

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "image_fixtures.hpp"
#include "senet/io/image.hpp"

namespace senet::test {
namespace test_image_limits {

bool has(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

std::string be32(std::uint32_t v) {
  return {static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8), static_cast<char>(v)};
}

/// A PNG chunk; stb does not check CRCs, so the CRC is left zero.
std::string chunk(const char* type, const std::string& data) { return be32(data.size()) + type + data + be32(0); }

/// A 48-byte PNG declaring a `width x height` RGB image, with a few bytes of zlib data.
std::vector<std::uint8_t> png_declaring(std::uint32_t width, std::uint32_t height) {
  std::string ihdr = be32(width) + be32(height) + std::string("\x08\x02\x00\x00\x00", 5);
  std::string bytes = std::string("\x89PNG\r\n\x1a\n", 8) + chunk("IHDR", ihdr) +
                      chunk("IDAT", std::string("\x78\x9c\x63\x00\x00\x00\x01\x00\x01", 9)) + chunk("IEND", "");
  return {bytes.begin(), bytes.end()};
}

Image decode(const std::vector<std::uint8_t>& bytes, std::uint64_t max_pixels, const std::string& name = "x") {
  ImageOptions options;
  options.max_pixels = max_pixels;
  return decode_image(bytes.data(), bytes.size(), name, options);
}

TEST(ImageLimits, DefaultIsPilsLimit) {
  EXPECT_EQ(ImageOptions{}.max_pixels, 89478485u);
  EXPECT_EQ(kDefaultMaxPixels, 89478485u);
  EXPECT_EQ(PreprocessOptions{}.max_pixels, kDefaultMaxPixels);
}

TEST(ImageLimits, PngBombIsRefusedFromItsHeader) {
  // 10000 x 10000 = 100 million pixels in 57 bytes: over the default limit, refused before stb
  // allocates the 300 MB it would decode into.
  const auto bomb = png_declaring(10000, 10000);
  const std::string m = error_of([&] { decode_image(bomb.data(), bomb.size(), "bomb.png"); });
  EXPECT_EQ(m,
            "bomb.png: PNG image of 10000x10000 = 100000000 pixels exceeds the limit of 89478485 pixels "
            "(ImageOptions::max_pixels; a decompression bomb?)");
  // Just under the limit (9459 x 9459 = 89,472,681) the header passes and decoding fails on the
  // missing data instead.
  const auto big = png_declaring(9459, 9459);
  const std::string n = error_of([&] { decode_image(big.data(), big.size(), "big.png"); });
  EXPECT_TRUE(has(n, "big.png: cannot decode PNG image")) << n;
}

TEST(ImageLimits, JpegBombIsRefusedFromItsHeader) {
  auto jpeg = read_bytes(image_fixture("rgb.jpg"));
  std::size_t sof = 0;
  for (std::size_t i = 2; i + 1 < jpeg.size() && !sof; ++i)
    if (jpeg[i] == 0xFF && (jpeg[i + 1] == 0xC0 || jpeg[i + 1] == 0xC2)) sof = i;
  ASSERT_NE(sof, 0u);
  for (std::size_t k : {5, 6, 7, 8}) jpeg[sof + k] = k % 2 ? 0x4E : 0x20;  // height, width = 0x4E20 = 20000
  const std::string m = error_of([&] { decode(jpeg, kDefaultMaxPixels, "bomb.jpg"); });
  EXPECT_TRUE(has(m, "bomb.jpg: JPEG image of 20000x20000 = 400000000 pixels exceeds the limit of 89478485")) << m;
}

TEST(ImageLimits, LimitIsConfigurableAndInclusiveForEveryFormat) {
  for (const char* file :
       {"rgb.png", "grey16.png", "palette.png", "rgb.jpg", "progressive.jpg", "rgb.bmp", "rgb.ppm", "grey.pgm"}) {
    SCOPED_TRACE(file);
    const auto bytes = read_bytes(image_fixture(file));
    const Image full = decode(bytes, kDefaultMaxPixels, file);
    const auto pixels = static_cast<std::uint64_t>(full.width * full.height);
    EXPECT_TRUE(decode(bytes, pixels, file) == full);
    const std::string m = error_of([&] { decode(bytes, pixels - 1, file); });
    EXPECT_TRUE(has(m, std::string(file) + ": ")) << m;
    EXPECT_TRUE(has(m, std::to_string(full.width) + "x" + std::to_string(full.height) + " = " + std::to_string(pixels) +
                           " pixels exceeds the limit of " + std::to_string(pixels - 1) + " pixels"))
        << m;
  }
  // read_image passes the options on.
  ImageOptions one;
  one.max_pixels = 1;
  EXPECT_TRUE(has(error_of([&] { read_image(image_fixture("rgb.png"), one); }), "exceeds the limit of 1 pixels"));
}

TEST(ImageLimits, JpegHuffmanTableOverflowingStbIsRefused) {
  // A DHT table whose 16 code counts sum past 256 makes stb 2.27 write past its tables (a heap
  // overflow, found by tests/fuzz/fuzz_image.cpp). The fixture's first DHT, counts raised.
  auto jpeg = read_bytes(image_fixture("rgb.jpg"));
  std::size_t dht = 0;
  for (std::size_t i = 2; i + 1 < jpeg.size() && !dht; ++i)
    if (jpeg[i] == 0xFF && jpeg[i + 1] == 0xC4) dht = i;
  ASSERT_NE(dht, 0u);
  const std::size_t counts = dht + 5;  // marker, length, class/id
  for (std::size_t k = 0; k < 16; ++k) jpeg[counts + k] = 0x20;
  const std::string m = error_of([&] { decode(jpeg, kDefaultMaxPixels, "dht.jpg"); });
  EXPECT_EQ(m, "dht.jpg: damaged JPEG: a Huffman table declares 512 codes, more than 256");

  // Every table of every JPEG fixture has at most 256 codes: they all decode.
  for (const char* file : {"rgb.jpg", "grey.jpg", "progressive.jpg", "rgb444.jpg"}) {
    const auto bytes = read_bytes(image_fixture(file));
    EXPECT_GT(decode(bytes, kDefaultMaxPixels, file).width, 0) << file;
  }
}

TEST(ImageLimits, PngIdatLongerThanTheFileIsRefusedBeforeStbAllocatesIt) {
  // stb allocates an IDAT chunk's declared length (rounded up to a power of two) before reading
  // it: 60 bytes declaring 1.4 GB made it ask for 2 GB (found by fuzzing).
  std::string ihdr = be32(8) + be32(6) + std::string("\x08\x02\x00\x00\x00", 5);
  std::string bytes =
      std::string("\x89PNG\r\n\x1a\n", 8) + chunk("IHDR", ihdr) + be32(0x540C1770) + "IDAT" + std::string(16, '\x78');
  const std::vector<std::uint8_t> png(bytes.begin(), bytes.end());
  EXPECT_EQ(error_of([&] { decode(png, kDefaultMaxPixels, "idat.png"); }),
            "idat.png: cannot decode PNG image: truncated: an IDAT chunk of 1410078576 bytes runs past the end of "
            "the data (16 bytes left)");
}

/// A zlib stream inflating to `n` zero bytes (n >= 1) in few bytes: one fixed-Huffman block
/// (RFC 1951), a literal 0, matches of length 258 at distance 1, literals for the rest. stb does
/// not check the Adler-32 checksum, so it is left zero.
std::string zlib_zeros(std::size_t n) {
  std::string out("\x78\x01", 2);
  std::uint32_t buffer = 0;
  int bits = 0;
  const auto put = [&](std::uint32_t value, int count) {  // LSB first
    buffer |= value << bits;
    bits += count;
    for (; bits >= 8; bits -= 8, buffer >>= 8) out += static_cast<char>(buffer & 0xFF);
  };
  const auto code = [&](std::uint32_t c, int count) {  // Huffman codes go most significant bit first
    for (int i = count - 1; i >= 0; --i) put((c >> i) & 1, 1);
  };
  put(1, 1);  // BFINAL
  put(1, 2);  // BTYPE 01: fixed Huffman codes
  std::size_t done = 1;
  code(0x30, 8);  // literal 0
  for (; done + 258 <= n; done += 258) {
    code(0xC5, 8);  // length code 285: 258
    code(0, 5);     // distance code 0: 1
  }
  for (; done < n; ++done) code(0x30, 8);
  code(0, 7);  // end of block
  put(0, 7);
  return out + std::string(4, '\0');
}

TEST(ImageLimits, PngZlibBombIsRefusedBeforeStbInflatesIt) {
  // A 1x1 PNG whose 26 KB of compressed data inflate to 4 MB: stb would inflate all of it. The
  // bound is twice the image's filtered rows (2 x 4 bytes) plus 1 MiB.
  std::string ihdr = be32(1) + be32(1) + std::string("\x08\x02\x00\x00\x00", 5);
  const std::string idat = zlib_zeros(std::size_t{4} << 20);
  std::string bytes =
      std::string("\x89PNG\r\n\x1a\n", 8) + chunk("IHDR", ihdr) + chunk("IDAT", idat) + chunk("IEND", "");
  const std::vector<std::uint8_t> png(bytes.begin(), bytes.end());
  EXPECT_LT(png.size(), 30000u);
  EXPECT_EQ(error_of([&] { decode(png, kDefaultMaxPixels, "bomb.png"); }),
            "bomb.png: PNG image of 1x1: its " + std::to_string(idat.size()) +
                " bytes of compressed data inflate to more than 1048584 bytes, where the image needs 4 (a "
                "decompression bomb?)");

  // The same stream cut to what the image needs (a filter byte and 3 zeros): one black pixel.
  const std::string small = zlib_zeros(4);
  bytes = std::string("\x89PNG\r\n\x1a\n", 8) + chunk("IHDR", ihdr) + chunk("IDAT", small) + chunk("IEND", "");
  const Image black = decode(std::vector<std::uint8_t>(bytes.begin(), bytes.end()), kDefaultMaxPixels, "ok.png");
  EXPECT_TRUE(black == Image(1, 1));
}

/// Offset of the first `0xFF marker` segment of `jpeg` (0 when there is none).
std::size_t find_marker(const std::vector<std::uint8_t>& jpeg, std::uint8_t marker) {
  for (std::size_t i = 2; i + 1 < jpeg.size(); ++i)
    if (jpeg[i] == 0xFF && jpeg[i + 1] == marker) return i;
  return 0;
}

TEST(ImageLimits, JpegScanUsingAnUndefinedHuffmanTableIsRefused) {
  // stb 2.27 decodes with whatever its uninitialised table memory holds: reads out of bounds or
  // an assertion failure (an abort, found by fuzzing). Renumbering the fixture's first DHT table
  // (DC 0) to DC 3 leaves the scans' DC table 0 undefined.
  auto jpeg = read_bytes(image_fixture("rgb.jpg"));
  const std::size_t dht = find_marker(jpeg, 0xC4);
  ASSERT_NE(dht, 0u);
  ASSERT_EQ(jpeg[dht + 4], 0x00);  // class 0 (DC), table 0
  jpeg[dht + 4] = 0x03;
  EXPECT_EQ(error_of([&] { decode(jpeg, kDefaultMaxPixels, "dc.jpg"); }),
            "dc.jpg: damaged JPEG: a scan uses DC Huffman table 0, which no DHT segment defines");

  // The same in a progressive file: its DC scans need the DC tables, its AC scans the AC ones.
  auto prog = read_bytes(image_fixture("progressive.jpg"));
  std::size_t ac = 0;
  for (std::size_t i = 2; i + 4 < prog.size() && !ac; ++i)
    if (prog[i] == 0xFF && prog[i + 1] == 0xC4 && prog[i + 4] == 0x10) ac = i;  // class 1 (AC), table 0
  ASSERT_NE(ac, 0u);
  prog[ac + 4] = 0x13;
  EXPECT_EQ(error_of([&] { decode(prog, kDefaultMaxPixels, "ac.jpg"); }),
            "ac.jpg: damaged JPEG: a scan uses AC Huffman table 0, which no DHT segment defines");
}

TEST(ImageLimits, JpegComponentWithAnUndefinedQuantisationTableIsRefused) {
  auto jpeg = read_bytes(image_fixture("rgb.jpg"));
  const std::size_t dqt = find_marker(jpeg, 0xDB);
  ASSERT_NE(dqt, 0u);
  ASSERT_EQ(jpeg[dqt + 4], 0x00);  // 8-bit table 0
  jpeg[dqt + 4] = 0x03;
  EXPECT_EQ(error_of([&] { decode(jpeg, kDefaultMaxPixels, "dqt.jpg"); }),
            "dqt.jpg: damaged JPEG: component 1 uses quantisation table 0, which no DQT segment defines");
}

}  // namespace test_image_limits
}  // namespace senet::test
