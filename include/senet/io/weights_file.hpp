#pragma once
/// \file weights_file.hpp
/// A checkpoint in either format senet reads, chosen by its content: safetensors
/// (senet/io/safetensors.hpp) or a PyTorch `torch.save` file (senet/io/pth.hpp). `load_weights`
/// and the `senet` tool read weights through this, so both formats meet one strict loader.

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <fstream>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "senet/core/tensor.hpp"
#include "senet/io/pth.hpp"
#include "senet/io/safetensors.hpp"

namespace senet {

/// The file formats of `WeightsFile`.
enum class WeightsFormat {
  safetensors,  ///< `.safetensors` (SafetensorsFile)
  pth,          ///< `torch.save` since PyTorch 1.6: `.pth`, `.pt`, `pytorch_model.bin` (PthFile)
};

/// The format of the checkpoint at `path`, from its first bytes: a zip archive (`PK\x03\x04`, or
/// an empty one) is `pth`; an 8-byte length followed by `{` is `safetensors`; a pickle stream
/// (`\x80`: the legacy torch.save format, which `PthFile` refuses with the way to convert it) is
/// `pth`. Anything else (a damaged file) goes by its extension, `.pth`, `.pt` and `.bin` being
/// `pth`, so that the error comes from the reader the user meant; otherwise, and when the file
/// cannot be read, `safetensors` (whose reader then says what is wrong).
inline WeightsFormat detect_weights_format(const std::string& path) {
  unsigned char head[9] = {};
  std::ifstream in(path, std::ios::binary);
  in.read(reinterpret_cast<char*>(head), sizeof head);
  const std::streamsize got = in ? static_cast<std::streamsize>(sizeof head) : in.gcount();
  if (got >= 4 && head[0] == 'P' && head[1] == 'K' &&
      ((head[2] == 3 && head[3] == 4) || (head[2] == 5 && head[3] == 6)))
    return WeightsFormat::pth;
  // Before the pickle's 0x80: a safetensors header of 128, 384, ... bytes starts with it too.
  if (got >= 9 && head[8] == '{') return WeightsFormat::safetensors;
  if (got >= 2 && head[0] == 0x80 && head[1] <= 5) return WeightsFormat::pth;
  const std::size_t dot = path.find_last_of("./");
  std::string ext = dot != std::string::npos && path[dot] == '.' ? path.substr(dot) : std::string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return char(std::tolower(c)); });
  if (ext == ".pth" || ext == ".pt" || ext == ".bin") return WeightsFormat::pth;
  return WeightsFormat::safetensors;
}

/// A checkpoint opened for reading, safetensors or PyTorch, with one interface: the tensors'
/// names, dtypes (safetensors' names: "F32", "I64", ...) and shapes, and reads converted to
/// `float` or `double`. `open` validates the whole file as the format's reader does; see
/// `SafetensorsFile` and `PthFile` for what each accepts and refuses.
///
/// \code
/// auto f = senet::WeightsFile::open("seresnet50.pth");   // or .safetensors
/// if (f.contains("fc.weight")) classes = f.shape("fc.weight")[0];
/// \endcode
class WeightsFile {
 public:
  /// Opens `path` in the format `detect_weights_format` finds, with that reader's limits.
  static WeightsFile open(const std::string& path, const SafetensorsOptions& safetensors = {},
                          const PthOptions& pth = {}) {
    if (detect_weights_format(path) == WeightsFormat::pth) return WeightsFile(PthFile::open(path, pth));
    return WeightsFile(SafetensorsFile::open(path, safetensors));
  }

  WeightsFormat format() const noexcept {
    return std::holds_alternative<PthFile>(file_) ? WeightsFormat::pth : WeightsFormat::safetensors;
  }
  /// The reader, when the file is in its format (else nullptr).
  const SafetensorsFile* safetensors() const noexcept { return std::get_if<SafetensorsFile>(&file_); }
  const PthFile* pth() const noexcept { return std::get_if<PthFile>(&file_); }

  const std::string& path() const noexcept {
    return std::visit([](const auto& f) -> const std::string& { return f.path(); }, file_);
  }
  /// Tensor names, sorted.
  std::vector<std::string> keys() const {
    return std::visit([](const auto& f) { return f.keys(); }, file_);
  }
  bool contains(const std::string& key) const {
    return std::visit([&](const auto& f) { return f.contains(key); }, file_);
  }
  /// The shape of tensor `key`; throws `senet::Error` if there is none.
  const Shape& shape(const std::string& key) const {
    return std::visit([&](const auto& f) -> const Shape& { return f.entry(key).shape; }, file_);
  }
  /// The dtype of tensor `key` as safetensors names it ("F32", "BF16", "I64", ...).
  const std::string& dtype(const std::string& key) const {
    return std::visit([&](const auto& f) -> const std::string& { return f.entry(key).dtype; }, file_);
  }
  /// True for F64, F32, F16 and BF16 tensors (those `read` can convert).
  bool is_floating(const std::string& key) const {
    return std::visit([&](const auto& f) { return f.is_floating(key); }, file_);
  }

  /// Tensor `key` converted to `T`, in row-major order with its shape.
  template <class T>
  Tensor<T> read(const std::string& key) const {
    return std::visit([&](const auto& f) { return f.template read<T>(key); }, file_);
  }
  /// Reads tensor `key` into `out`, which must already have its shape.
  template <class T>
  void read_into(const std::string& key, Tensor<T>& out) const {
    std::visit([&](const auto& f) { f.read_into(key, out); }, file_);
  }
  /// The NaN and infinite values of tensor `key` as read into a `Tensor<T>`.
  template <class T>
  NonFiniteValues find_non_finite(const std::string& key) const {
    return std::visit([&](const auto& f) { return f.template find_non_finite<T>(key); }, file_);
  }

 private:
  explicit WeightsFile(SafetensorsFile f) : file_(std::move(f)) {}
  explicit WeightsFile(PthFile f) : file_(std::move(f)) {}

  std::variant<SafetensorsFile, PthFile> file_;
};

}  // namespace senet
