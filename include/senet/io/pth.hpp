#pragma once
/// \file pth.hpp
/// Reading PyTorch checkpoints (`.pth`, `.pt`, `pytorch_model.bin`) as `torch.save` writes them
/// since PyTorch 1.6: a ZIP archive of stored (uncompressed) entries
///
///     <archive>/data.pkl      the pickled object: here, a state_dict (name -> tensor)
///     <archive>/data/<key>    one entry per storage: its elements, raw, little-endian
///     <archive>/version       the format version ("3"); <archive>/byteorder ("little") since 2.1
///
/// where each tensor of the pickle is a strided view (offset, size, stride) of one storage, named
/// by key through a persistent id; several tensors may view one storage.
///
/// `PthFile` reads the pickle with a restricted interpreter (senet/io/detail/pickle.hpp) that
/// accepts only what a state_dict needs and executes nothing, then validates every tensor against
/// its storage before any tensor data is read. Accepted: tensors of float32, float16, bfloat16
/// and float64 (converted to `float` or `double`), integer and bool tensors (listed, with
/// `is_floating` false, as `num_batches_tracked`), `nn.Parameter`s, `collections.OrderedDict`
/// with torch's `_metadata`, non-contiguous views (materialised), tensors sharing a storage, any
/// saving device (`map_location` is not needed: the bytes are the same). Refused with a
/// `senet::Error` naming the file and the entry, key or opcode: anything else in the pickle
/// (other globals, whole modules, training checkpoints holding more than tensors), compressed,
/// encrypted or damaged archives, tensors outside their storage, and the legacy format of
/// PyTorch before 1.6 (the message says how to convert it).
///
/// Limits (`PthOptions`): `data.pkl` may be at most `max_pickle_bytes` long (16 MiB), hold at
/// most `max_tensors` tensors, storages and names (65,536) and nest containers 16 deep; a tensor
/// has at most 64 dimensions and at most as many elements as its storage (a broadcast view such
/// as `x.expand(...)` of more is refused: save `x.contiguous()`), so that reading a tensor never
/// allocates more than the file's size.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <limits>
#include <map>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "senet/core/error.hpp"
#include "senet/core/tensor.hpp"
#include "senet/io/detail/bytes.hpp"
#include "senet/io/detail/pickle.hpp"
#include "senet/io/detail/zip.hpp"
#include "senet/io/safetensors.hpp"  // the dtype table, conversions and NonFiniteValues, shared

namespace senet {

/// Limits applied by `PthFile::open` (and `load_weights`) to a PyTorch checkpoint.
struct PthOptions {
  /// Largest `data.pkl` accepted, in bytes. SE-ResNet-50's state_dict pickles to 47 KB (384
  /// tensors), SE-ResNet-152's to 142 KB (1,132 tensors); the default, 16 MiB, only stops damaged
  /// or hostile files. Parsing needs at most about 10 bytes of memory per pickle byte (measured:
  /// 150 MB for the costliest 16 MiB pickles we could make).
  std::uint64_t max_pickle_bytes = std::uint64_t{16} << 20;
  /// Most tensors, storages and entries of one dict a checkpoint may hold (the archive may have
  /// 16 entries more).
  std::uint64_t max_tensors = 65536;
  /// Check `data.pkl` against the CRC-32 of the archive's directory: a flipped bit in the pickle
  /// could otherwise change a stride, and so the weights, silently. (Storages are not checked,
  /// as safetensors files carry no checksum at all.) Turned off only to fuzz the pickle reader.
  bool check_crc = true;
};

/// Most dimensions a tensor of a PyTorch checkpoint may have (as safetensors').
inline constexpr std::size_t kPthMaxRank = kSafetensorsMaxRank;

/// One tensor of a PyTorch checkpoint, as validated by `PthFile::open`: a strided view of a
/// storage. Element (i0, i1, ...) is storage element `storage_offset + i0 * strides[0] + ...`.
struct PthEntry {
  /// The storage's dtype in safetensors' names: "F64", "F32", "F16", "BF16", "I64", "I32",
  /// "I16", "I8", "U8" or "BOOL".
  std::string dtype;
  /// Extents, outermost first; `{}` for a scalar (one element).
  Shape shape;
  /// Steps between neighbouring elements along each dimension, in elements (>= 0).
  std::vector<Index> strides;
  /// First element, in elements from the start of the storage.
  Index storage_offset = 0;
  /// The storage's key: its bytes are the archive's entry `<archive>/data/<storage>`.
  std::string storage;

  /// Number of elements (`shape_numel(shape)`; validated not to overflow).
  Index numel() const { return shape_numel(shape); }
  /// True when the elements lie in row-major order, back to back (a tensor as `torch.save` writes
  /// most of them; a transposed view or a channels-last weight is not).
  bool is_contiguous() const {
    Index expected = 1;
    for (std::size_t d = shape.size(); d-- > 0;) {
      if (shape[d] == 0) return true;
      if (shape[d] != 1 && strides[d] != expected) return false;
      expected *= shape[d];
    }
    return true;
  }
};

namespace detail {
namespace pth {

inline std::string where(const std::string& path, const std::string& key) {
  return path + ": tensor '" + printable(key) + "': ";
}

/// The message for a file in the format of PyTorch before 1.6: a bare pickle stream.
inline std::string legacy_format_message(const std::string& path) {
  return path +
         ": a PyTorch checkpoint in the legacy format (a pickle stream, as torch.save wrote before "
         "PyTorch 1.6 or with _use_new_zipfile_serialization=False), which senet does not read. Convert it "
         "with PyTorch >= 1.6: torch.save(torch.load(f), g, _use_new_zipfile_serialization=True), or export "
         "safetensors: safetensors.torch.save_file(torch.load(f), g)";
}

/// a * b + c for non-negative values, or false when it does not fit in an Index.
inline bool mul_add(std::uint64_t a, std::uint64_t b, std::uint64_t c, std::uint64_t& out) {
  constexpr auto kMax = static_cast<std::uint64_t>(std::numeric_limits<Index>::max());
  if (b != 0 && a > kMax / b) return false;
  if (a * b > kMax - c) return false;
  out = a * b + c;
  return true;
}

}  // namespace pth
}  // namespace detail

/// A PyTorch checkpoint (`torch.save(model.state_dict(), f)`, PyTorch >= 1.6) opened for reading.
///
/// `open` reads the archive's directory and `data.pkl` and validates every tensor (dtype, shape,
/// strides and extent against its storage, each storage against its entry) without reading any
/// tensor data; `read` then converts one tensor at a time, and a non-contiguous one is gathered
/// into row-major order. Every error is a `senet::Error` naming the file and, where there is
/// one, the tensor, zip entry or pickle opcode. Reads open the file afresh, so one `PthFile` may
/// be read from many threads.
///
/// \code
/// auto f = senet::PthFile::open("seresnet50.pth");
/// for (const auto& key : f.keys()) {
///   if (!f.is_floating(key)) continue;          // e.g. num_batches_tracked (I64)
///   senet::Tensor<float> w = f.read<float>(key);  // w.shape() == f.entry(key).shape
/// }
/// \endcode
class PthFile {
 public:
  /// Opens `path` and validates it; throws `senet::Error` on any damage, anything a state_dict
  /// does not hold, a file in the legacy (pre-1.6) format, and when a limit of `options` is
  /// exceeded (the message names the limit).
  static PthFile open(const std::string& path, const PthOptions& options = {}) {
    namespace zip = detail::zip;
    std::ifstream in;
    const std::uint64_t file_size = detail::open_for_reading(in, path, "a PyTorch checkpoint");
    unsigned char magic[4] = {0, 0, 0, 0};
    in.read(reinterpret_cast<char*>(magic), static_cast<std::streamsize>(std::min<std::uint64_t>(file_size, 4)));
    SENET_CHECK(!(file_size >= 2 && magic[0] == 0x80 && magic[1] <= 5), detail::pth::legacy_format_message(path));
    SENET_CHECK(file_size >= 4 && magic[0] == 'P' && magic[1] == 'K' &&
                    ((magic[2] == 3 && magic[3] == 4) || (magic[2] == 5 && magic[3] == 6)),
                path,
                ": not a zip archive, which a PyTorch checkpoint (torch.save since PyTorch 1.6) is: it does not "
                "start with PK\\x03\\x04");

    PthFile file;
    file.path_ = path;
    const std::vector<zip::Entry> entries =
        zip::read_directory(in, file_size, path, options.max_tensors + 16, "PthOptions::max_tensors");
    SENET_CHECK(!entries.empty(), path, ": the zip archive is empty (not a PyTorch checkpoint)");
    std::map<std::string, const zip::Entry*> by_name;
    for (const zip::Entry& e : entries) by_name.emplace(e.name, &e);

    // torch names every entry `<archive>/...`; the archive name is the file's name without its
    // extension (or "archive"), and PyTorch's own reader takes it from the first entry.
    const std::size_t slash = entries.front().name.find('/');
    SENET_CHECK(slash != std::string::npos && slash > 0, path, ": the first zip entry '",
                detail::printable(entries.front().name),
                "' is not in a folder: not a torch.save archive (expected <archive>/data.pkl)");
    file.archive_ = entries.front().name.substr(0, slash);
    const auto entry_named = [&](const std::string& name) -> const zip::Entry* {
      const auto it = by_name.find(file.archive_ + "/" + name);
      return it == by_name.end() ? nullptr : it->second;
    };

    // Storages are raw little-endian bytes unless `byteorder` says otherwise.
    if (const zip::Entry* order = entry_named("byteorder")) {
      std::string text(static_cast<std::size_t>(std::min<std::uint64_t>(order->size, 16)), '\0');
      SENET_CHECK(zip::read_at(in, order->data_offset, reinterpret_cast<unsigned char*>(text.data()), text.size()),
                  path, ": cannot read '", detail::printable(order->name), "'");
      SENET_CHECK(text != "big", path, ": the storages are big-endian ('", detail::printable(order->name),
                  "' says big); only little-endian checkpoints are read (load and save it again on a little-endian "
                  "machine)");
      SENET_CHECK(text == "little", path, ": '", detail::printable(order->name), "' holds '", detail::printable(text),
                  "', not 'little' or 'big' (damaged archive)");
    }

    // ---- data.pkl: size limit, checksum, then the restricted interpreter.
    const zip::Entry* pickle = entry_named("data.pkl");
    SENET_CHECK(pickle != nullptr, path, ": the archive has no '", detail::printable(file.archive_),
                "/data.pkl' (not a torch.save checkpoint?)");
    const std::string pickle_name = detail::printable(pickle->name);
    SENET_CHECK(pickle->size <= options.max_pickle_bytes, path, ": ", pickle_name, " is ", pickle->size,
                " bytes, over the limit of ", options.max_pickle_bytes,
                " bytes (PthOptions::max_pickle_bytes; damaged or not a state_dict?)");
    std::vector<unsigned char> bytes(static_cast<std::size_t>(pickle->size));
    SENET_CHECK(bytes.empty() || zip::read_at(in, pickle->data_offset, bytes.data(), bytes.size()), path,
                ": cannot read ", pickle_name);
    if (options.check_crc) {
      const std::uint32_t crc = zip::crc32(bytes.data(), bytes.size());
      SENET_CHECK(crc == pickle->crc32, path, ": ", pickle_name, " is damaged (its CRC-32 is ", crc,
                  ", the archive's directory says ", pickle->crc32, ")");
    }
    namespace pk = detail::pickle;
    const pk::StateDict state = pk::parse_state_dict(bytes.data(), bytes.size(), path + ": " + pickle_name,
                                                     {options.max_tensors, "PthOptions::max_tensors"});

    // ---- Each storage against its entry: element count times item size is the entry's size.
    for (const pk::Storage& s : state.storages) {
      const zip::Entry* data = entry_named("data/" + s.key);
      SENET_CHECK(data != nullptr, path, ": storage '", detail::printable(s.key), "' has no entry '",
                  detail::printable(file.archive_), "/data/", detail::printable(s.key), "' in the archive");
      const auto* info = detail::safetensors::find_dtype(s.type->dtype);
      std::uint64_t bytes_needed = 0;
      SENET_CHECK(detail::pth::mul_add(s.numel, info->itemsize, 0, bytes_needed) && bytes_needed == data->size, path,
                  ": storage '", detail::printable(s.key), "' of ", s.numel, " elements (torch.", s.type->name,
                  ") does not match the ", data->size, " bytes of its entry '", detail::printable(data->name), "'");
      file.storages_.emplace(s.key, Storage{data->data_offset, s.numel, info});
    }

    // ---- Each tensor within its storage: offset + sum((size - 1) * stride) < numel, no overflow.
    for (const auto& [name, index] : state.entries) {
      const pk::TensorRecord& t = state.tensors[index];
      const pk::Storage& s = state.storages[t.storage];
      const std::string at = detail::pth::where(path, name);
      SENET_CHECK(t.sizes.size() <= kPthMaxRank, at, "shape has ", t.sizes.size(), " dimensions, more than the ",
                  kPthMaxRank, " allowed");
      constexpr auto kMax = static_cast<std::uint64_t>(std::numeric_limits<Index>::max());
      PthEntry e;
      e.dtype = s.type->dtype;
      e.storage = s.key;
      SENET_CHECK(t.offset <= kMax, at, "storage offset ", t.offset, " is too large");
      e.storage_offset = static_cast<Index>(t.offset);
      std::uint64_t last = t.offset;  // the last element's storage index, for a non-empty tensor
      bool fits = true;
      for (std::size_t d = 0; d < t.sizes.size(); ++d) {
        SENET_CHECK(t.sizes[d] <= kMax && t.strides[d] <= kMax, at, "size ", t.sizes[d], " or stride ", t.strides[d],
                    " is too large");
        e.shape.push_back(static_cast<Index>(t.sizes[d]));
        e.strides.push_back(static_cast<Index>(t.strides[d]));
        if (t.sizes[d] != 0 && fits) fits = detail::pth::mul_add(t.sizes[d] - 1, t.strides[d], last, last);
      }
      Index numel = 0;
      try {
        numel = shape_numel(e.shape);
      } catch (const Error& err) {
        throw Error(at + err.what());
      }
      if (numel == 0) {
        SENET_CHECK(t.offset <= s.numel, at, "storage offset ", t.offset, " is past the end of its storage '",
                    detail::printable(s.key), "' of ", s.numel, " elements");
      } else {
        SENET_CHECK(fits && last < s.numel, at, "shape ", to_string(e.shape), " with strides ", to_string(e.strides),
                    " from storage offset ", t.offset, " reaches past the end of its storage '",
                    detail::printable(s.key), "' of ", s.numel, " elements");
        SENET_CHECK(static_cast<std::uint64_t>(numel) <= s.numel, at, "has ", numel,
                    " elements, more than its storage '", detail::printable(s.key), "' holds (", s.numel,
                    "): a broadcast view (x.expand(...)) is not read; save x.contiguous() instead");
      }
      file.entries_.emplace(name, std::move(e));
    }
    return file;
  }

  /// The path given to `open`.
  const std::string& path() const noexcept { return path_; }
  /// The folder every entry of the archive is in (`torch.save` uses the file's name).
  const std::string& archive_name() const noexcept { return archive_; }

  /// Tensor names, sorted.
  std::vector<std::string> keys() const {
    std::vector<std::string> out;
    out.reserve(entries_.size());
    for (const auto& kv : entries_) out.push_back(kv.first);
    return out;
  }

  bool contains(const std::string& key) const { return entries_.count(key) != 0; }

  /// The validated entry of `key`; throws `senet::Error` if there is no such tensor.
  const PthEntry& entry(const std::string& key) const {
    const auto it = entries_.find(key);
    SENET_CHECK(it != entries_.end(), path_, ": no tensor named '", detail::printable(key), "'");
    return it->second;
  }

  /// True for float64, float32, float16 and bfloat16 tensors (those `read` can convert).
  bool is_floating(const std::string& key) const { return detail::safetensors::find_dtype(entry(key).dtype)->floating; }

  /// Reads tensor `key` in row-major order, converting it to `T` (float or double). Only the
  /// bytes of its storage it spans are read. Throws `senet::Error` if the key is missing, its
  /// dtype is not floating point, or the file changed since `open`.
  template <class T>
  Tensor<T> read(const std::string& key) const {
    Tensor<T> out(entry(key).shape, uninitialized);
    read_into(key, out);
    return out;
  }

  /// Reads tensor `key` into `out`, which must already have its shape (no allocation of the
  /// result: what `load_weights` uses to fill a model in place).
  template <class T>
  void read_into(const std::string& key, Tensor<T>& out) const {
    static_assert(std::is_floating_point_v<T>, "PthFile::read<T>: T must be float or double");
    const PthEntry& e = entry(key);
    SENET_CHECK(out.shape() == e.shape, detail::pth::where(path_, key), "shape ", to_string(e.shape),
                " does not fit a tensor of ", to_string(out.shape()));
    T* dst = out.data();
    read_chunks(key, [&](detail::safetensors::Dtype dtype, const unsigned char* src, std::size_t done,
                         std::size_t count) { detail::safetensors::convert(dtype, src, dst + done, count); });
  }

  /// Counts the NaN and infinite values of tensor `key` as read into a `Tensor<T>` and finds the
  /// first (in row-major order), without keeping the tensor. Throws as `read` does.
  template <class T>
  NonFiniteValues find_non_finite(const std::string& key) const {
    static_assert(std::is_floating_point_v<T>, "PthFile::find_non_finite<T>: T must be float or double");
    NonFiniteValues found;
    read_chunks(key,
                [&](detail::safetensors::Dtype dtype, const unsigned char* src, std::size_t done, std::size_t count) {
                  detail::safetensors::count_non_finite<T>(
                      dtype, static_cast<std::size_t>(storage_of(key).dtype->itemsize), src, done, count, found);
                });
    return found;
  }

 private:
  struct Storage {
    std::uint64_t data_offset = 0;  // in the file
    std::uint64_t numel = 0;
    const detail::safetensors::DtypeInfo* dtype = nullptr;
  };

  PthFile() = default;

  const Storage& storage_of(const std::string& key) const { return storages_.at(entry(key).storage); }

  /// Streams the elements of floating-point tensor `key`, in row-major order, to
  /// `chunk(dtype, src, done, count)` at most 1 MiB at a time (`count` elements starting at
  /// element `done`). A contiguous tensor is read straight from the file; any other is read as
  /// the span of its storage it covers (at most the storage) and gathered.
  template <class Chunk>
  void read_chunks(const std::string& key, Chunk&& chunk) const {
    const PthEntry& e = entry(key);
    const Storage& s = storage_of(key);
    const std::string at = detail::pth::where(path_, key);
    SENET_CHECK(s.dtype->floating, at, "dtype ", e.dtype,
                " is an integer type and cannot be read as a floating-point tensor");
    const auto n = static_cast<std::size_t>(e.numel());
    if (n == 0) return;
    const auto itemsize = static_cast<std::size_t>(s.dtype->itemsize);
    std::ifstream in(path_, std::ios::binary);
    SENET_CHECK(static_cast<bool>(in), at, "cannot reopen the file for reading");
    const auto first = static_cast<std::uint64_t>(e.storage_offset);
    in.seekg(static_cast<std::streamoff>(s.data_offset + first * itemsize));
    SENET_CHECK(static_cast<bool>(in), at, "cannot seek to byte ", s.data_offset + first * itemsize);
    constexpr const char* kChanged = "file ends before the tensor's data does (was it changed after it was opened?)";
    if (e.is_contiguous()) {
      const bool complete =
          detail::read_chunks(in, n, itemsize, [&](const unsigned char* src, std::size_t done, std::size_t count) {
            chunk(s.dtype->dtype, src, done, count);
          });
      SENET_CHECK(complete, at, kChanged);
      return;
    }
    // The span [first, last] of the storage, validated by open() to lie within it.
    std::uint64_t last = first;
    for (std::size_t d = 0; d < e.shape.size(); ++d)
      last += static_cast<std::uint64_t>(e.shape[d] - 1) * static_cast<std::uint64_t>(e.strides[d]);
    std::vector<unsigned char> span(static_cast<std::size_t>(last - first + 1) * itemsize);
    in.read(reinterpret_cast<char*>(span.data()), static_cast<std::streamsize>(span.size()));
    SENET_CHECK(static_cast<bool>(in), at, kChanged);
    // Gathered in row-major order by an odometer over the indices.
    const std::size_t rank = e.shape.size();
    std::vector<Index> index(rank, 0);
    std::uint64_t pos = 0;  // storage element of the current index, relative to `first`
    const std::size_t per_chunk = std::max<std::size_t>(1, (std::size_t{1} << 20) / itemsize);
    std::vector<unsigned char> gathered(std::min(per_chunk, n) * itemsize);
    for (std::size_t done = 0; done < n;) {
      const std::size_t count = std::min(per_chunk, n - done);
      for (std::size_t i = 0; i < count; ++i) {
        std::memcpy(gathered.data() + i * itemsize, span.data() + pos * itemsize, itemsize);
        for (std::size_t d = rank; d-- > 0;) {
          pos += static_cast<std::uint64_t>(e.strides[d]);
          if (++index[d] < e.shape[d]) break;
          pos -= static_cast<std::uint64_t>(e.strides[d]) * static_cast<std::uint64_t>(e.shape[d]);
          index[d] = 0;
        }
      }
      chunk(s.dtype->dtype, static_cast<const unsigned char*>(gathered.data()), done, count);
      done += count;
    }
  }

  std::string path_;
  std::string archive_;
  std::map<std::string, PthEntry> entries_;
  std::map<std::string, Storage> storages_;  // by key
};

}  // namespace senet
