#pragma once
/// \file zip.hpp
/// A minimal reader of ZIP archives (PKWARE APPNOTE 6.3) for PyTorch checkpoints: the central
/// directory (with its zip64 forms) and the byte range of each entry, nothing more. Only stored
/// (uncompressed) entries are accepted, which is all `torch.save` writes; compressed, encrypted
/// or multi-disk archives, and entries that lie outside the file, overlap each other or the
/// central directory, are refused with a `senet::Error` naming the file and the entry.
///
/// The reader never trusts a size before checking it against the file: the central directory is
/// read entry by entry (never all at once), names are capped at `kMaxNameBytes`, and the entry
/// count at the caller's limit, so a damaged or hostile archive costs at most a few bytes of
/// memory per entry it really holds.

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <fstream>
#include <limits>
#include <set>
#include <string>
#include <vector>

#include "senet/core/error.hpp"
#include "senet/io/detail/bytes.hpp"

namespace senet::detail::zip {

/// Longest entry name accepted. torch writes `<archive>/data/<key>`; 1 KiB leaves room for any
/// archive name and keeps a hostile directory's names small.
inline constexpr std::size_t kMaxNameBytes = 1024;

/// One entry of the central directory, as validated by `read_directory`.
struct Entry {
  std::string name;
  std::uint64_t header_offset = 0;  ///< the local file header
  std::uint64_t data_offset = 0;    ///< first byte of the stored data
  std::uint64_t size = 0;           ///< bytes of data (stored: compressed == uncompressed)
  std::uint32_t crc32 = 0;          ///< CRC-32 of the data, from the central directory
};

/// CRC-32 (ISO-HDLC, as ZIP and zlib use: reflected 0xEDB88320, initial and final XOR ~0) of
/// `n` bytes at `p`, continuing from `crc` (0 to start).
inline std::uint32_t crc32(const unsigned char* p, std::size_t n, std::uint32_t crc = 0) {
  static const std::array<std::uint32_t, 256> table = [] {
    std::array<std::uint32_t, 256> t{};
    for (std::uint32_t i = 0; i < 256; ++i) {
      std::uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = (c & 1u) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
      t[i] = c;
    }
    return t;
  }();
  crc = ~crc;
  for (std::size_t i = 0; i < n; ++i) crc = table[(crc ^ p[i]) & 0xFFu] ^ (crc >> 8);
  return ~crc;
}

inline constexpr std::uint32_t kLocalHeader = 0x04034b50;     // "PK\3\4"
inline constexpr std::uint32_t kCentralHeader = 0x02014b50;   // "PK\1\2"
inline constexpr std::uint32_t kEndOfDirectory = 0x06054b50;  // "PK\5\6"
inline constexpr std::uint32_t kZip64End = 0x06064b50;        // "PK\6\6"
inline constexpr std::uint32_t kZip64Locator = 0x07064b50;    // "PK\6\7"

/// Reads exactly `n` bytes at `offset` of `in` into `out`; false when the file is shorter.
inline bool read_at(std::ifstream& in, std::uint64_t offset, unsigned char* out, std::size_t n) {
  in.clear();
  in.seekg(static_cast<std::streamoff>(offset));
  if (!in) return false;
  in.read(reinterpret_cast<char*>(out), static_cast<std::streamsize>(n));
  return static_cast<bool>(in);
}

/// Compression method numbers (APPNOTE 4.4.5) as words, for the message that refuses them.
inline const char* method_name(std::uint16_t method) {
  // clang-format off
  switch (method) {
    case 8: return "deflate";
    case 9: return "deflate64";
    case 12: return "bzip2";
    case 14: return "lzma";
    case 93: return "zstd";
    case 95: return "xz";
    case 99: return "AES encryption";
    default: return "unknown";
  }
  // clang-format on
}

/// Reads and validates the central directory of the ZIP archive `in` (`file_size` bytes, named
/// `path` in messages) and each entry's local header. Every entry must be stored, unencrypted,
/// on disk 0, named uniquely (at most `kMaxNameBytes`), and its header and data must lie before
/// the central directory without overlapping another entry's. At most `max_entries` entries
/// (`limit_name` names that limit in the message). Returns the entries in directory order.
inline std::vector<Entry> read_directory(std::ifstream& in, std::uint64_t file_size, const std::string& path,
                                         std::uint64_t max_entries, const char* limit_name) {
  // ---- End of central directory record: 22 bytes plus a comment of up to 65535, at the end.
  constexpr std::uint64_t kEndBytes = 22, kLocatorBytes = 20, kZip64EndBytes = 56;
  SENET_CHECK(file_size >= kEndBytes, path, ": file is ", file_size,
              " bytes long, too short for a zip archive (truncated?)");
  const std::uint64_t tail_size = std::min<std::uint64_t>(file_size, kEndBytes + 0xFFFF);
  std::vector<unsigned char> tail(static_cast<std::size_t>(tail_size));
  SENET_CHECK(read_at(in, file_size - tail_size, tail.data(), tail.size()), path, ": cannot read the end of the file");
  std::uint64_t end_pos = 0;  // within tail
  bool found = false;
  for (std::uint64_t pos = tail_size - kEndBytes + 1; pos-- > 0;) {
    const unsigned char* p = tail.data() + pos;
    // The record's comment must run exactly to the end of the file: a signature inside the
    // comment or the data is not the record.
    if (load_le(p, 4) == kEndOfDirectory && pos + kEndBytes + load_le(p + 20, 2) == tail_size) {
      end_pos = pos;
      found = true;
      break;
    }
  }
  SENET_CHECK(found, path,
              ": no end of central directory record (a truncated or damaged zip archive: the central directory, "
              "which lists the entries, is at the end of the file)");
  const unsigned char* end = tail.data() + end_pos;
  const std::uint64_t end_offset = file_size - tail_size + end_pos;  // in the file

  std::uint64_t disk = load_le(end + 4, 2), directory_disk = load_le(end + 6, 2);
  std::uint64_t disk_entries = load_le(end + 8, 2), entries = load_le(end + 10, 2);
  std::uint64_t directory_size = load_le(end + 12, 4), directory_offset = load_le(end + 16, 4);
  std::uint64_t directory_limit = end_offset;  // the directory ends before the records that follow it

  // ---- zip64: a locator right before the record points at the zip64 end record, whose 64-bit
  // counts and offsets replace the saturated 16- and 32-bit ones (torch writes both, always).
  unsigned char locator[kLocatorBytes];
  if (end_offset >= kLocatorBytes && read_at(in, end_offset - kLocatorBytes, locator, kLocatorBytes) &&
      load_le(locator, 4) == kZip64Locator) {
    const std::uint64_t zip64_offset = load_le(locator + 8, 8);
    SENET_CHECK(load_le(locator + 4, 4) == 0 && load_le(locator + 16, 4) <= 1, path,
                ": the archive spans several disks (not supported)");
    SENET_CHECK(
        zip64_offset <= end_offset - kLocatorBytes && end_offset - kLocatorBytes - zip64_offset >= kZip64EndBytes, path,
        ": the zip64 end of central directory record at offset ", zip64_offset, " does not fit before its locator at ",
        end_offset - kLocatorBytes, " (damaged archive)");
    unsigned char z[kZip64EndBytes];
    SENET_CHECK(read_at(in, zip64_offset, z, kZip64EndBytes) && load_le(z, 4) == kZip64End, path,
                ": no zip64 end of central directory record at offset ", zip64_offset, " (damaged archive)");
    const std::uint64_t record_size = load_le(z + 4, 8);
    SENET_CHECK(record_size >= kZip64EndBytes - 12 && record_size <= end_offset - kLocatorBytes - zip64_offset - 12,
                path, ": the zip64 end of central directory record has a bad size, ", record_size);
    const auto replace = [&](std::uint64_t& value, std::uint64_t saturated, std::uint64_t wide, const char* what) {
      SENET_CHECK(value == saturated || value == wide, path, ": the end of central directory records disagree on ",
                  what, " (", value, " and ", wide, "; damaged archive)");
      value = wide;
    };
    replace(disk, 0xFFFF, load_le(z + 16, 4), "the disk number");
    replace(directory_disk, 0xFFFF, load_le(z + 20, 4), "the directory's disk");
    replace(disk_entries, 0xFFFF, load_le(z + 24, 8), "the entry count on this disk");
    replace(entries, 0xFFFF, load_le(z + 32, 8), "the entry count");
    replace(directory_size, 0xFFFFFFFF, load_le(z + 40, 8), "the directory size");
    replace(directory_offset, 0xFFFFFFFF, load_le(z + 48, 8), "the directory offset");
    directory_limit = zip64_offset;
  }
  SENET_CHECK(disk == 0 && directory_disk == 0 && disk_entries == entries, path,
              ": the archive spans several disks (not supported)");
  SENET_CHECK(entries <= max_entries, path, ": the archive has ", entries, " entries, more than the limit of ",
              max_entries, " (", limit_name, "; damaged or not a PyTorch checkpoint?)");
  SENET_CHECK(directory_offset <= directory_limit && directory_size <= directory_limit - directory_offset, path,
              ": the central directory (offset ", directory_offset, ", ", directory_size,
              " bytes) runs past the end records at offset ", directory_limit, " (truncated or damaged archive)");
  constexpr std::uint64_t kCentralBytes = 46;
  SENET_CHECK(entries <= directory_size / kCentralBytes, path, ": a central directory of ", directory_size,
              " bytes cannot hold ", entries, " entries (damaged archive)");

  // ---- The central directory, one entry at a time.
  std::vector<Entry> out;
  out.reserve(static_cast<std::size_t>(entries));
  std::set<std::string> names;
  std::uint64_t pos = directory_offset;
  const std::uint64_t directory_end = directory_offset + directory_size;
  for (std::uint64_t i = 0; i < entries; ++i) {
    unsigned char h[kCentralBytes];
    SENET_CHECK(directory_end - pos >= kCentralBytes && read_at(in, pos, h, kCentralBytes), path,
                ": central directory entry ", i, " at offset ", pos, " runs past the directory (damaged archive)");
    SENET_CHECK(load_le(h, 4) == kCentralHeader, path, ": central directory entry ", i, " at offset ", pos,
                " has a bad signature (damaged central directory)");
    const auto flags = static_cast<std::uint16_t>(load_le(h + 8, 2));
    const auto method = static_cast<std::uint16_t>(load_le(h + 10, 2));
    Entry e;
    e.crc32 = static_cast<std::uint32_t>(load_le(h + 16, 4));
    std::uint64_t compressed = load_le(h + 20, 4), size = load_le(h + 24, 4);
    const std::uint64_t name_len = load_le(h + 28, 2), extra_len = load_le(h + 30, 2), comment_len = load_le(h + 32, 2);
    std::uint64_t start_disk = load_le(h + 34, 2);
    e.header_offset = load_le(h + 42, 4);
    SENET_CHECK(directory_end - pos - kCentralBytes >= name_len + extra_len + comment_len, path,
                ": central directory entry ", i, " at offset ", pos, " runs past the directory (damaged archive)");
    SENET_CHECK(name_len > 0 && name_len <= kMaxNameBytes, path, ": central directory entry ", i, " has a name of ",
                name_len, " bytes (expected 1 to ", kMaxNameBytes, ")");
    e.name.resize(static_cast<std::size_t>(name_len));
    std::vector<unsigned char> extra(static_cast<std::size_t>(extra_len));
    SENET_CHECK(read_at(in, pos + kCentralBytes, reinterpret_cast<unsigned char*>(e.name.data()), e.name.size()) &&
                    (extra.empty() || read_at(in, pos + kCentralBytes + name_len, extra.data(), extra.size())),
                path, ": cannot read central directory entry ", i);
    const std::string at = cat(path, ": zip entry '", printable(e.name), "': ");
    SENET_CHECK(!(flags & 0x0001u) && !(flags & 0x0040u), at, "is encrypted (not supported)");
    SENET_CHECK(method == 0, at, "is compressed (method ", method, ", ", method_name(method),
                "); only stored entries are read, which is what torch.save writes (was the archive re-zipped?)");

    // The zip64 extended information field holds, in this order, whichever of the four
    // values are saturated in the fixed part.
    const bool need64 =
        size == 0xFFFFFFFF || compressed == 0xFFFFFFFF || e.header_offset == 0xFFFFFFFF || start_disk == 0xFFFF;
    bool have64 = false;
    for (std::size_t x = 0; x + 4 <= extra.size();) {
      const std::uint64_t id = load_le(extra.data() + x, 2), len = load_le(extra.data() + x + 2, 2);
      SENET_CHECK(len <= extra.size() - x - 4, at, "its extra field runs past its end (damaged central directory)");
      if (id == 0x0001 && need64 && !have64) {
        have64 = true;
        const unsigned char* f = extra.data() + x + 4;
        std::uint64_t left = len;
        const auto take = [&](std::uint64_t& value, std::uint64_t saturated, std::size_t bytes) {
          if (value != saturated) return;
          SENET_CHECK(left >= bytes, at, "its zip64 extra field is too short (damaged central directory)");
          value = load_le(f, bytes);
          f += bytes;
          left -= bytes;
        };
        take(size, 0xFFFFFFFF, 8);
        take(compressed, 0xFFFFFFFF, 8);
        take(e.header_offset, 0xFFFFFFFF, 8);
        take(start_disk, 0xFFFF, 4);
      }
      x += 4 + static_cast<std::size_t>(len);
    }
    SENET_CHECK(!need64 || have64, at,
                "has saturated sizes or offset but no zip64 extra field (damaged central directory)");
    SENET_CHECK(start_disk == 0, at, "starts on disk ", start_disk, " (multi-disk archives are not supported)");
    SENET_CHECK(compressed == size, at, "is stored but its compressed size ", compressed, " differs from its size ",
                size, " (damaged central directory)");
    e.size = size;
    SENET_CHECK(names.insert(e.name).second, at, "is named twice in the central directory");

    // ---- Its local header: the data starts after the local (not the central) name and extra
    // field, whose lengths differ (torch pads the local extra field to align the data).
    constexpr std::uint64_t kLocalBytes = 30;
    SENET_CHECK(e.header_offset <= directory_offset && directory_offset - e.header_offset >= kLocalBytes, at,
                "its local header at offset ", e.header_offset, " is not before the central directory at ",
                directory_offset, " (damaged archive)");
    unsigned char l[kLocalBytes];
    SENET_CHECK(read_at(in, e.header_offset, l, kLocalBytes) && load_le(l, 4) == kLocalHeader, at,
                "no local file header at offset ", e.header_offset, " (damaged archive)");
    const std::uint64_t local_name = load_le(l + 26, 2), local_extra = load_le(l + 28, 2);
    SENET_CHECK(local_name == name_len, at, "its local header names a different file (damaged archive)");
    std::string name(static_cast<std::size_t>(local_name), '\0');
    SENET_CHECK(
        read_at(in, e.header_offset + kLocalBytes, reinterpret_cast<unsigned char*>(name.data()), name.size()) &&
            name == e.name,
        at, "its local header names a different file (damaged archive)");
    e.data_offset = e.header_offset + kLocalBytes + local_name + local_extra;
    SENET_CHECK(e.data_offset <= directory_offset && e.size <= directory_offset - e.data_offset, at, "its ", e.size,
                " bytes of data at offset ", e.data_offset, " run past the start of the central directory at ",
                directory_offset, " (truncated or damaged archive)");
    out.push_back(std::move(e));
    pos += kCentralBytes + name_len + extra_len + comment_len;
  }

  // ---- No two entries share bytes (an archive that reuses data is crafted, never written by torch).
  std::vector<const Entry*> by_offset;
  by_offset.reserve(out.size());
  for (const Entry& e : out) by_offset.push_back(&e);
  std::sort(by_offset.begin(), by_offset.end(),
            [](const Entry* a, const Entry* b) { return a->header_offset < b->header_offset; });
  for (std::size_t i = 1; i < by_offset.size(); ++i) {
    const Entry& a = *by_offset[i - 1];
    const Entry& b = *by_offset[i];
    SENET_CHECK(a.data_offset + a.size <= b.header_offset, path, ": zip entries '", printable(a.name), "' and '",
                printable(b.name), "' overlap (bytes ", a.header_offset, "..", a.data_offset + a.size, " and from ",
                b.header_offset, "; damaged or crafted archive)");
  }
  return out;
}

}  // namespace senet::detail::zip
