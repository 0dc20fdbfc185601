#pragma once
// Safetensors files built byte by byte for the reader's tests: a header exactly as given, or one
// made from (name, dtype, shape, raw little-endian bytes) tensors laid out back to back.

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "senet/core/tensor.hpp"
#include "test_util.hpp"

namespace senet::test {

/// One tensor of a hand-built file; `bytes` are its raw little-endian values.
struct RawTensor {
  std::string name, dtype;
  senet::Shape shape;
  std::string bytes;
};

/// A safetensors file: `header` as given (not re-encoded, not padded), then `data`.
inline std::string safetensors_bytes(const std::string& header, const std::string& data) {
  return le(header.size(), 8) + header + data;
}

/// A safetensors file holding `tensors` in order; `pad_header` pads the JSON with spaces to a
/// multiple of 8 bytes, as the Python writer does.
inline std::string safetensors_bytes(const std::vector<RawTensor>& tensors, bool pad_header = false) {
  nlohmann::json header = nlohmann::json::object();
  std::string data;
  for (const RawTensor& t : tensors) {
    header[t.name] = {
        {"dtype", t.dtype}, {"shape", t.shape}, {"data_offsets", {data.size(), data.size() + t.bytes.size()}}};
    data += t.bytes;
  }
  std::string h = header.dump();
  while (pad_header && h.size() % 8) h += ' ';
  return safetensors_bytes(h, data);
}

}  // namespace senet::test
