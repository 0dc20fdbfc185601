// `senet classify` end to end against PyTorch: a real photograph (scikit-learn's china.jpg,
// stored losslessly), torchvision's pre-processing for both presets, and the full-size
// random-weight seresnet50. The references are written at test time by
// tests/fixtures/classify_reference.py into $SENET_CLASSIFY_DIR; without python3-torch (or
// torchvision, scikit-learn) the generator skips and so does this test.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <numeric>

#include "senet/io/npy.hpp"
#include "test_util.hpp"

namespace {

TEST(ClassifyParity, TopFiveMatchesPyTorch) {
  const char* dir = std::getenv("SENET_CLASSIFY_DIR");
  const char* weights_dir = std::getenv("SENET_FULL_PARITY_DIR");
  if (!dir || !weights_dir) GTEST_SKIP() << "SENET_CLASSIFY_DIR / SENET_FULL_PARITY_DIR not set (run through ctest)";
  const std::string base = std::string(dir) + "/photo";
  if (!std::filesystem::exists(base + ".timm.probs.npy"))
    GTEST_SKIP() << "no PyTorch reference at " << base << ".* (python3-torch or torchvision missing?)";
  for (const std::string preset : {"timm", "caffe"}) {
    SCOPED_TRACE(preset);
    const std::string out = base + "." + preset + ".senet.json";
    const std::string cmd = std::string(SENET_CLI) + " classify --model seresnet50 --weights " + weights_dir +
                            "/seresnet50.safetensors --preset " + preset + " --top 5 --json " + base + ".png > " + out;
    const int raw = std::system(cmd.c_str());
    ASSERT_TRUE(WIFEXITED(raw) && WEXITSTATUS(raw) == 0) << cmd;
    const auto got = nlohmann::json::parse(senet::test::read_file(out)).at(0).at("top");
    const auto ref = senet::read_npy<float>(base + "." + preset + ".probs.npy");
    std::vector<int> order(1000);
    std::iota(order.begin(), order.end(), 0);
    std::partial_sort(order.begin(), order.begin() + 5, order.end(), [&](int a, int b) { return ref[a] > ref[b]; });
    ASSERT_EQ(got.size(), 5u);
    double worst = 0;
    for (std::size_t i = 0; i < 5; ++i) {
      EXPECT_EQ(got[i].at("index").get<int>(), order[i]) << "rank " << i;
      worst = std::max(worst, std::abs(got[i].at("prob").get<double>() - double(ref[order[i]])) / double(ref[order[0]]));
    }
    std::printf("[ parity   ] classify %s: top-5 %d %d %d %d %d, max |p - p_torch| / p_top1 = %.2e\n", preset.c_str(),
                order[0], order[1], order[2], order[3], order[4], worst);
    EXPECT_LE(worst, 1e-4);
  }
}

}  // namespace
