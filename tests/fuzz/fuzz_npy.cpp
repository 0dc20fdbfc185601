// Fuzz target: the .npy reader (senet/io/npy.hpp) on arbitrary file contents.
//
// Properties beyond "no crash": reading as float equals reading as double rounded to float, and
// what was read survives write_npy and read_npy unchanged, bit for bit.

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>

#include "fuzz_util.hpp"
#include "senet/io/npy.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static senet::fuzz::ScratchFile input(".npy"), copy(".copy.npy");
  const std::string& path = input.write(data, size);
  senet::Tensor<float> f;
  try {
    f = senet::read_npy<float>(path);
  } catch (const senet::Error&) {
    return 0;
  }
  const senet::Tensor<double> d = senet::read_npy<double>(path);
  FUZZ_CHECK(d.shape() == f.shape());
  for (senet::Index i = 0; i < f.size(); ++i) FUZZ_CHECK(senet::fuzz::same_value(f[i], static_cast<float>(d[i])));

  senet::write_npy(copy.path(), d);
  const senet::Tensor<double> again = senet::read_npy<double>(copy.path());
  FUZZ_CHECK(again.shape() == d.shape());
  FUZZ_CHECK(d.size() == 0 || std::memcmp(again.data(), d.data(), d.bytes()) == 0);
  return 0;
}
