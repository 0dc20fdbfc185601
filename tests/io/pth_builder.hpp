#pragma once
// PyTorch checkpoints built byte by byte for the reader's tests (test_pth.cpp, the fuzz seeds):
// ZIP archives laid out as torch.save lays them out (stored entries, zip64 end records), with
// every field reachable for damage, and pickles written opcode by opcode.

#include <cstdint>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "test_util.hpp"

namespace senet::test {

/// CRC-32 (ISO-HDLC) computed bit by bit, independently of the reader's table-driven one.
inline std::uint32_t crc32_bitwise(const std::string& bytes) {
  std::uint32_t crc = 0xFFFFFFFFu;
  for (unsigned char c : bytes) {
    crc ^= c;
    for (int k = 0; k < 8; ++k) crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
  }
  return ~crc;
}

/// One entry of a hand-built archive.
struct ZipEntry {
  ZipEntry(std::string name_, std::string data_, std::uint16_t method_ = 0, std::uint16_t flags_ = 0x0800,
           bool zip64_extra_ = false, std::string local_name_ = "")
      : name(std::move(name_)),
        data(std::move(data_)),
        method(method_),
        flags(flags_),
        zip64_extra(zip64_extra_),
        local_name(std::move(local_name_)) {}
  std::string name;
  std::string data;
  std::uint16_t method;    // 0 stored, 8 deflate (the data is not compressed; only the field says so)
  std::uint16_t flags;     // 0x0800: UTF-8 names, as torch writes; bit 0: encrypted
  bool zip64_extra;        // sizes and offset saturated in the central directory, given in a zip64 field
  std::string local_name;  // the name in the local header, when it should differ
};

/// A hand-built archive and where its parts are.
struct Zip {
  std::string bytes;
  std::vector<std::uint64_t> local_offsets;    // each entry's local header
  std::vector<std::uint64_t> central_offsets;  // each entry's central directory header
  std::uint64_t directory_offset = 0, directory_size = 0;
  std::uint64_t zip64_end_offset = 0;  // when written
  std::uint64_t end_offset = 0;        // the end of central directory record
};

/// A ZIP archive of `entries` in order: local header (padded to 64-byte aligned data, as torch
/// does), data; the central directory; with `zip64_end` the zip64 end record and its locator, as
/// torch always writes; the end record with `comment`.
inline Zip zip_bytes(const std::vector<ZipEntry>& entries, bool zip64_end = true, const std::string& comment = "") {
  Zip z;
  std::string& b = z.bytes;
  for (const ZipEntry& e : entries) {
    z.local_offsets.push_back(b.size());
    const std::string& local_name = e.local_name.empty() ? e.name : e.local_name;
    const std::size_t fixed = 30 + local_name.size() + 4;  // plus the padding field's header
    const std::size_t pad = (64 - (b.size() + fixed) % 64) % 64;
    b += le(0x04034b50, 4) + le(20, 2) + le(e.flags, 2) + le(e.method, 2) + le(0, 4);
    b += le(crc32_bitwise(e.data), 4) + le(e.data.size(), 4) + le(e.data.size(), 4);
    b += le(local_name.size(), 2) + le(4 + pad, 2) + local_name;
    b += le(0x4246, 2) + le(pad, 2) + std::string(pad, 'Z');  // torch's "FB" padding field
    b += e.data;
  }
  z.directory_offset = b.size();
  for (std::size_t i = 0; i < entries.size(); ++i) {
    const ZipEntry& e = entries[i];
    z.central_offsets.push_back(b.size());
    const std::uint64_t size = e.zip64_extra ? 0xFFFFFFFFu : e.data.size();
    const std::uint64_t offset = e.zip64_extra ? 0xFFFFFFFFu : z.local_offsets[i];
    const std::string extra =
        e.zip64_extra ? le(1, 2) + le(24, 2) + le(e.data.size(), 8) + le(e.data.size(), 8) + le(z.local_offsets[i], 8)
                      : std::string();
    b += le(0x02014b50, 4) + le(0x031e, 2) + le(20, 2) + le(e.flags, 2) + le(e.method, 2) + le(0, 4);
    b += le(crc32_bitwise(e.data), 4) + le(size, 4) + le(size, 4);
    b += le(e.name.size(), 2) + le(extra.size(), 2) + le(0, 2) + le(0, 2) + le(0, 2) + le(0, 4) + le(offset, 4);
    b += e.name + extra;
  }
  z.directory_size = b.size() - z.directory_offset;
  if (zip64_end) {
    z.zip64_end_offset = b.size();
    b += le(0x06064b50, 4) + le(44, 8) + le(0x031e, 2) + le(45, 2) + le(0, 4) + le(0, 4);
    b += le(entries.size(), 8) + le(entries.size(), 8) + le(z.directory_size, 8) + le(z.directory_offset, 8);
    b += le(0x07064b50, 4) + le(0, 4) + le(z.zip64_end_offset, 8) + le(1, 4);
  }
  z.end_offset = b.size();
  b += le(0x06054b50, 4) + le(0, 2) + le(0, 2) + le(entries.size(), 2) + le(entries.size(), 2);
  b += le(z.directory_size, 4) + le(z.directory_offset, 4) + le(comment.size(), 2) + comment;
  return z;
}

/// Overwrites `n` little-endian bytes of `bytes` at `offset` with `value`.
inline void poke(std::string& bytes, std::uint64_t offset, std::uint64_t value, int n) {
  bytes.replace(static_cast<std::size_t>(offset), static_cast<std::size_t>(n), le(value, n));
}

/// A pickle written opcode by opcode (protocol 2 unless said otherwise).
class Pickle {
 public:
  std::string bytes;

  Pickle& op(unsigned char c) { return raw(std::string(1, static_cast<char>(c))); }
  Pickle& raw(const std::string& s) {
    bytes += s;
    return *this;
  }
  Pickle& proto(int v = 2) { return op(0x80).op(static_cast<unsigned char>(v)); }
  Pickle& global(const std::string& module, const std::string& name) {
    return op('c').raw(module + "\n" + name + "\n");
  }
  Pickle& mark() { return op('('); }
  Pickle& str(const std::string& s) { return op('X').raw(le(s.size(), 4) + s); }
  Pickle& integer(std::int64_t v) {
    if (v >= 0 && v < 256) return op('K').op(static_cast<unsigned char>(v));
    if (v >= INT32_MIN && v <= INT32_MAX) return op('J').raw(le(static_cast<std::uint32_t>(v), 4));
    return op(0x8a).op(8).raw(le(static_cast<std::uint64_t>(v), 8));
  }
  Pickle& boolean(bool v) { return op(v ? 0x88 : 0x89); }
  Pickle& none() { return op('N'); }
  Pickle& tuple() { return op('t'); }
  Pickle& empty_tuple() { return op(')'); }
  Pickle& empty_dict() { return op('}'); }
  Pickle& setitem() { return op('s'); }
  Pickle& setitems() { return op('u'); }
  Pickle& reduce() { return op('R'); }
  Pickle& build() { return op('b'); }
  Pickle& persid() { return op('Q'); }
  Pickle& put(unsigned char i) { return op('q').op(i); }
  Pickle& get(unsigned char i) { return op('h').op(i); }
  Pickle& stop() { return op('.'); }
  Pickle& tuple_of(const std::vector<std::int64_t>& values) {
    mark();
    for (std::int64_t v : values) integer(v);
    return tuple();
  }
  Pickle& ordered_dict() { return global("collections", "OrderedDict").empty_tuple().reduce(); }
};

/// One tensor of a hand-built state_dict: a view of storage `key` of `numel` elements of
/// `torch.<storage_type>`.
struct TensorSpec {
  TensorSpec(std::string name_, std::string storage_type_, std::string key_, std::int64_t numel_, std::int64_t offset_,
             std::vector<std::int64_t> sizes_, std::vector<std::int64_t> strides_, std::string location_ = "cpu",
             bool parameter_ = false)
      : name(std::move(name_)),
        storage_type(std::move(storage_type_)),
        key(std::move(key_)),
        numel(numel_),
        offset(offset_),
        sizes(std::move(sizes_)),
        strides(std::move(strides_)),
        location(std::move(location_)),
        parameter(parameter_) {}
  std::string name;
  std::string storage_type;
  std::string key;
  std::int64_t numel;
  std::int64_t offset;
  std::vector<std::int64_t> sizes, strides;
  std::string location;
  bool parameter;  // wrapped in _rebuild_parameter, as torch saves an nn.Parameter
};

/// The ops that push one tensor, as torch.save's pickler writes them (without its memo).
inline Pickle& push_tensor(Pickle& p, const TensorSpec& t) {
  if (t.parameter) p.global("torch._utils", "_rebuild_parameter").mark();
  p.global("torch._utils", "_rebuild_tensor_v2").mark();
  p.mark().str("storage").global("torch", t.storage_type).str(t.key).str(t.location).integer(t.numel).tuple().persid();
  p.integer(t.offset).tuple_of(t.sizes).tuple_of(t.strides).boolean(false).ordered_dict().tuple().reduce();
  if (t.parameter) p.boolean(true).ordered_dict().tuple().reduce();
  return p;
}

/// The pickle of an OrderedDict of `tensors` with torch's `_metadata`, as torch.save writes a
/// state_dict at protocol 2.
inline std::string state_dict_pickle(const std::vector<TensorSpec>& tensors) {
  Pickle p;
  p.proto().ordered_dict().mark();
  for (const TensorSpec& t : tensors) push_tensor(p.str(t.name), t);
  p.setitems();
  p.empty_dict().str("_metadata").ordered_dict().str("").empty_dict().str("version").integer(1).setitem().setitem();
  p.setitem().build().stop();
  return p.bytes;
}

/// A torch.save archive named `archive`: data.pkl, then each storage (key, bytes) as
/// data/<key>, then version, plus `extra` entries at the end.
inline Zip pth_bytes(const std::string& pickle, const std::vector<std::pair<std::string, std::string>>& storages,
                     const std::string& archive = "archive", std::vector<ZipEntry> extra = {}) {
  std::vector<ZipEntry> entries{{archive + "/data.pkl", pickle}};
  for (const auto& [key, data] : storages) entries.push_back({archive + "/data/" + key, data});
  entries.push_back({archive + "/version", "3\n"});
  for (ZipEntry& e : extra) entries.push_back(std::move(e));
  return zip_bytes(entries);
}

/// `values` as float32 little-endian bytes.
inline std::string f32_bytes(const std::vector<float>& values) {
  std::string s;
  for (float v : values) {
    std::uint32_t bits;
    std::memcpy(&bits, &v, 4);
    s += le(bits, 4);
  }
  return s;
}

}  // namespace senet::test
