// Full-size seresnet50, legacy_seresnet50, seresnext50_32x4d and se_bn_inception (one model per
// family; random weights, randomised BN statistics) against PyTorch, naive and prepared, and
// torchvision's mobilenet_v3_large, regnet_y_400mf and efficientnet_b0 against torchvision itself, and
// the SE paper's se_mobilenet and se_shufflenet against their twins (torch_mobile.py). The data (~110 MB a model) is
// generated at test time by tests/fixtures/make_full_parity.py (make_torchvision_fixtures.py
// --full) into $SENET_FULL_PARITY_DIR; without python3-torch the generator skips and so do these tests.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>

#include "senet/io/npy.hpp"
#include "senet/io/weights.hpp"
#include "senet/models/prepared.hpp"
#include "senet/models/zoo.hpp"
#include "test_util.hpp"

namespace {

/// `weights`: the file's extension (torchvision's models come as torch.save wrote them); `engine`:
/// whether `prepare` lowers the model (else it keeps the reference path, checked all the same).
void check_full_parity(const std::string& name, const std::string& weights = ".safetensors", bool engine = true) {
  const char* dir = std::getenv("SENET_FULL_PARITY_DIR");
  if (!dir) GTEST_SKIP() << "SENET_FULL_PARITY_DIR is not set (run through ctest)";
  const std::string base = std::string(dir) + "/" + name;
  if (!std::filesystem::exists(base + ".output.npy"))
    GTEST_SKIP() << "no PyTorch reference at " << base << ".* (python3-torch missing? see scripts/test.sh)";
  auto model = senet::create_model<float>(name);
  senet::load_weights(*model, base + weights);
  const auto x = senet::read_npy<float>(base + ".input.npy");
  const auto expected = senet::read_npy<double>(base + ".output.npy");
  const auto y = model->forward(x);
  ASSERT_EQ(y.shape(), expected.shape());
  const double err = senet::test::relative_error(y, expected);
  std::printf("[ parity   ] %s float32 224x224, reference path: max |senet - torch| / max |torch| = %.2e\n",
              name.c_str(), err);
  EXPECT_LE(err, senet::test::parity_tolerance<float>());
  // The prepared engine (BatchNorm folded, NCHW16c kernels, fused SE) on the same weights.
  const auto fast = senet::prepare(std::move(model));
  EXPECT_EQ(dynamic_cast<const senet::PreparedNetwork*>(fast.get()) != nullptr, engine);
  const double fast_err = senet::test::relative_error(fast->forward(x), expected);
  std::printf("[ parity   ] %s float32 224x224, prepared engine: max |senet - torch| / max |torch| = %.2e\n",
              name.c_str(), fast_err);
  EXPECT_LE(fast_err, senet::test::parity_tolerance<float>());
}

TEST(FullParity, Seresnet50) { check_full_parity("seresnet50"); }
TEST(FullParity, LegacySeresnet50) { check_full_parity("legacy_seresnet50"); }
TEST(FullParity, Seresnext50) { check_full_parity("seresnext50_32x4d"); }
TEST(FullParity, SeBnInception) { check_full_parity("se_bn_inception"); }
TEST(FullParity, MobilenetV3Large) { check_full_parity("mobilenet_v3_large", ".pth"); }
TEST(FullParity, RegnetY400mf) { check_full_parity("regnet_y_400mf", ".pth"); }
TEST(FullParity, EfficientnetB0) { check_full_parity("efficientnet_b0", ".pth"); }
TEST(FullParity, SeMobilenet) { check_full_parity("se_mobilenet", ".pth"); }
TEST(FullParity, SeShufflenet) { check_full_parity("se_shufflenet", ".pth"); }

}  // namespace
