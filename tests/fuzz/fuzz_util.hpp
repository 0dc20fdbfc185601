#pragma once
// Shared by the fuzz targets (tests/fuzz/fuzz_*.cpp): a per-process scratch file for the readers
// that take a path, bit-exact comparisons, and FUZZ_CHECK, which aborts when a property fails.
// Under libFuzzer an abort is a crash with a reproducer; in the replay tests it fails the test.
//
// Contract of every target: any `senet::Error` is an expected rejection of bad input; anything
// else (another exception, a crash, a sanitizer report, a failed FUZZ_CHECK, a huge allocation,
// a hang) is a bug in senet.

#include <unistd.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>

#define FUZZ_CHECK(condition)                                                                    \
  do {                                                                                           \
    if (!(condition)) {                                                                          \
      std::fprintf(stderr, "%s:%d: fuzz property failed: %s\n", __FILE__, __LINE__, #condition); \
      std::abort();                                                                              \
    }                                                                                            \
  } while (false)

namespace senet::fuzz {

/// A file in /dev/shm (or the temp directory) owned by this process (unique name, removed at exit), rewritten
/// with each input: the readers under test take paths.
class ScratchFile {
 public:
  explicit ScratchFile(const char* suffix) {
    // Memory-backed where there is one: thousands of rewrites a second.
    std::error_code ec;
    const std::string dir = std::filesystem::is_directory("/dev/shm", ec) && ::access("/dev/shm", W_OK) == 0
                                ? std::string("/dev/shm")
                                : std::filesystem::temp_directory_path().string();
    path_ = dir + "/senet_fuzz_" + std::to_string(::getpid()) + "_" + std::to_string(counter()++) + suffix;
  }
  ~ScratchFile() { std::remove(path_.c_str()); }
  ScratchFile(const ScratchFile&) = delete;
  ScratchFile& operator=(const ScratchFile&) = delete;

  /// Replaces the file's contents with `size` bytes at `data`; returns its path.
  const std::string& write(const std::uint8_t* data, std::size_t size) {
    std::FILE* f = std::fopen(path_.c_str(), "wb");
    FUZZ_CHECK(f != nullptr);
    FUZZ_CHECK(size == 0 || std::fwrite(data, 1, size, f) == size);
    FUZZ_CHECK(std::fclose(f) == 0);
    return path_;
  }
  const std::string& path() const { return path_; }

 private:
  static int& counter() {
    static int n = 0;
    return n;
  }
  std::string path_;
};

/// True when `a` and `b` are the same value, NaN equal to NaN (payloads may differ after a
/// conversion) and -0 different from +0.
template <class T>
bool same_value(T a, T b) {
  if (std::isnan(a) || std::isnan(b)) return std::isnan(a) && std::isnan(b);
  return a == b && std::signbit(a) == std::signbit(b);
}

}  // namespace senet::fuzz
