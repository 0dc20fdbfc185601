// Peak resident memory of `senet run` on the full-size seresnet50 (weights written at test time by
// tests/fixtures/make_full_parity.py): at most 1.5x the bytes of its float32 weights, measured by
// the kernel (getrusage of the finished child), and the logits still match PyTorch's.
#include <gtest/gtest.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "senet/io/npy.hpp"
#include "senet/io/safetensors.hpp"
#include "test_util.hpp"

extern char** environ;

namespace {

// Runs `args` and returns the child's peak resident set in bytes (-1 if it did not exit with 0).
long long run_peak_rss(std::vector<std::string> args) {
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = 0;
  if (posix_spawn(&pid, argv[0], nullptr, nullptr, argv.data(), environ) != 0) return -1;
  int status = 0;
  rusage usage{};
  if (wait4(pid, &status, 0, &usage) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0) return -1;
  return static_cast<long long>(usage.ru_maxrss) * 1024;  // Linux reports kilobytes
}

TEST(RunMemory, Seresnet50PeaksBelowOneAndAHalfTimesItsWeights) {
  const char* dir = std::getenv("SENET_FULL_PARITY_DIR");
  if (!dir) GTEST_SKIP() << "SENET_FULL_PARITY_DIR not set (run through ctest)";
  const std::string base = std::string(dir) + "/seresnet50";
  if (!std::filesystem::exists(base + ".safetensors"))
    GTEST_SKIP() << "no weights at " << base << ".safetensors (python3-torch missing?)";
  const senet::SafetensorsFile file = senet::SafetensorsFile::open(base + ".safetensors");
  long long weight_bytes = 0;
  for (const auto& key : file.keys()) weight_bytes += file.entry(key).nbytes();
  const std::string out = ::testing::TempDir() + "senet_run_memory.npy";
  const long long peak = run_peak_rss({SENET_CLI, "run", "--model", "seresnet50", "--weights", base + ".safetensors",
                                       "--input", base + ".input.npy", "--output", out});
  ASSERT_GT(peak, 0) << "senet run failed";
  RecordProperty("peak_rss_bytes", std::to_string(peak));
  RecordProperty("weight_bytes", std::to_string(weight_bytes));
  std::printf("senet run: peak RSS %.1f MB, weights %.1f MB, ratio %.3f\n", peak / 1e6, weight_bytes / 1e6,
              double(peak) / double(weight_bytes));
  EXPECT_LE(double(peak), 1.5 * double(weight_bytes));
  EXPECT_LE(senet::test::relative_error(senet::read_npy<float>(out), senet::read_npy<float>(base + ".output.npy")),
            1e-5);
}

}  // namespace
