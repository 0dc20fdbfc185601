// Excitation recording (senet/layers/excitation.hpp) against PyTorch: on every model fixture
// (reduced SE-ResNets and SE-ResNeXts in timm's and Caffe's forms, SENet-154's form, every SE
// option and position, SE-BN-Inception, and the networks without SE), `record_excitations` reports
// the gates PyTorch computes, for the same SE blocks under the same paths in the same order, on the
// reference path in float and double and on the prepared engine on each kernel path. The expected
// gates come from PyTorch forward hooks on every SE module of the twins, keyed by the module's name
// in named_modules() (tests/fixtures/make_excitation_fixtures.py, tests/fixtures/data/excitations/).
// Also: scopes that close and nest, block names, and the README's example.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <type_traits>
#include <vector>

#include "model_cases.hpp"
#include "senet/io/npy.hpp"
#include "senet/io/safetensors.hpp"
#include "senet/io/weights.hpp"
#include "senet/layers/excitation.hpp"
#include "senet/layers/se_block.hpp"
#include "senet/layers/sequential.hpp"
#include "senet/models/prepared.hpp"
#include "senet/models/zoo.hpp"
#include "test_util.hpp"

namespace test_excitations {

using senet::Index;
using senet::Tensor;
using senet::test::ModelCase;
using Blocks = std::vector<senet::ExcitationRecorder::Block>;

// The bounds are absolute: gates lie in (0, 1) for sigmoid, up to ~2.3 for the SE variants' ReLU
// gates. In double, see beyond_float_rounding.
constexpr double kDoubleTolerance = 1e-10;

bool is_inception(const ModelCase& c) { return c.dir == "inception/"; }

/// In float: every case, SE-BN-Inception's included (its fixture's BN calibration keeps PyTorch's
/// own float32 gates within 4.2e-6 of its float64 ones: make_inception_fixtures.py).
constexpr double kFloatTolerance = 1e-5;
/// The prepared engine: its Winograd 3x3s (transforms that scale by up to 8 and 1/24) round a
/// little more than a direct convolution (measured: up to 1.04e-5 on SE-BN-Inception, portable path).
constexpr double kPreparedTolerance = 2e-5;

/// A case of excitations/cases.json: the model fixture it was recorded on, and PyTorch's gates
/// `[N, C]` of each SE block, in the order the forward ran them.
struct ExcitationCase {
  ModelCase model;
  std::vector<std::string> paths;
  std::vector<Tensor<double>> gates;
};

std::vector<ExcitationCase> excitation_cases() {
  std::map<std::string, ModelCase> models;  // by folder + case name
  for (const auto& list :
       {senet::test::reduced_model_cases(), senet::test::se_variant_cases(), senet::test::inception_cases()})
    for (const auto& c : list) models.emplace(c.dir + c.name(), c);
  std::vector<ExcitationCase> cases;
  for (const auto& e : senet::test::read_cases("excitations/", "cases.json")) {
    const auto it = models.find(e.spec.at("fixtures").get<std::string>() + e.name());
    if (it == models.end()) {
      ADD_FAILURE() << e.name() << ": no such model fixture";
      continue;
    }
    ExcitationCase c{it->second, e.spec.at("blocks").get<std::vector<std::string>>(), {}};
    const auto file = senet::SafetensorsFile::open(e.file(".safetensors"));
    EXPECT_EQ(file.keys().size(), c.paths.size()) << e.name();
    for (const auto& path : c.paths) c.gates.push_back(file.read<double>(path));
    cases.push_back(std::move(c));
  }
  EXPECT_GE(cases.size(), 30u);
  return cases;
}

/// The fixture's model in scalar T, with its PyTorch weights.
template <class T>
std::unique_ptr<senet::Model<T>> load_model(const ModelCase& c) {
  auto model = is_inception(c) ? senet::create_model<T>(senet::test::inception_config(c.spec))
                               : senet::create_model<T>(senet::test::case_config(c.spec));
  senet::load_weights(*model, c.file(".safetensors"));
  return model;
}

/// The largest `measure(recorded gates, PyTorch's)` over the SE blocks, once the recorded paths
/// are PyTorch's module names in PyTorch's order (+infinity when they are not).
template <class Measure>
double worst_block(const Blocks& got, const ExcitationCase& want, Measure measure) {
  std::vector<std::string> paths;
  for (const auto& b : got) paths.push_back(b.path);
  EXPECT_EQ(paths, want.paths) << "SE paths in network order";
  if (paths != want.paths) return std::numeric_limits<double>::infinity();
  double worst = 0;
  for (std::size_t i = 0; i < got.size(); ++i) {
    EXPECT_EQ(got[i].gates.shape(), want.gates[i].shape()) << paths[i];
    worst = std::max(worst, measure(got[i].gates, want.gates[i]));
  }
  return worst;
}

const auto abs_error = [](const Tensor<float>& got, const Tensor<double>& want) {
  return senet::test::max_abs_error(got, want);
};

/// Excitations reach observers in float for every scalar type (excitation.hpp): a double model's
/// gate g within `tol` of PyTorch's t arrives as float(g), which rounding (monotone) puts between
/// float(t - tol) and float(t + tol). Returns how far `got` lies outside those intervals: 0 when
/// every gate is inside, +infinity where max_abs_error is.
double beyond_float_rounding(const Tensor<float>& got, const Tensor<double>& want, double tol) {
  if (got.shape() != want.shape()) return std::numeric_limits<double>::infinity();
  Tensor<double> nearest(want.shape());  // each interval's point closest to the recorded gate
  for (Index i = 0; i < want.size(); ++i)
    nearest[i] = std::isfinite(want[i])
                     ? std::clamp(double(got[i]), double(float(want[i] - tol)), double(float(want[i] + tol)))
                     : want[i];
  return senet::test::max_abs_error(got, nearest);
}

/// `t` [N, ...] with its image 0 appended as image N.
template <class T>
Tensor<T> with_first_repeated(const Tensor<T>& t) {
  senet::Shape shape = t.shape();
  ++shape[0];
  Tensor<T> out(shape);
  std::copy(t.begin(), t.end(), out.begin());
  std::copy(t.begin(), t.begin() + t.size() / t.dim(0), out.begin() + t.size());
  return out;
}

template <class T>
class ExcitationParity : public ::testing::Test {};
TYPED_TEST_SUITE(ExcitationParity, senet::test::Scalars);

TYPED_TEST(ExcitationParity, ReferencePathMatchesPyTorch) {
  using T = TypeParam;
  std::size_t blocks = 0;
  double worst[2] = {0, 0};  // residual networks, Inception
  for (const auto& c : excitation_cases()) {
    SCOPED_TRACE(c.model.dir + c.model.name());
    const auto model = load_model<T>(c.model);
    const auto got = senet::record_excitations(*model, senet::read_npy<T>(c.model.file(".input.npy")));
    const double err = worst_block(got, c, abs_error);
    if constexpr (std::is_same_v<T, float>) {
      EXPECT_LE(err, kFloatTolerance);
    } else {
      EXPECT_EQ(worst_block(got, c,
                            [](const Tensor<float>& g, const Tensor<double>& w) {
                              return beyond_float_rounding(g, w, kDoubleTolerance);
                            }),
                0.0);
    }
    worst[is_inception(c.model)] = std::max(worst[is_inception(c.model)], err);
    blocks += got.size();
  }
  senet::test::expect_cases_above(blocks, 100);
  std::printf("[ excite   ] reference %-6s %zu SE blocks: max |gate - PyTorch| %.2e (Inception %.2e)\n",
              std::is_same_v<T, float> ? "float" : "double", blocks, worst[0], worst[1]);
}

// A batch of 2 on 2 threads runs image by image, each thread reporting its own image, which must
// land in that image's row; a batch of 3 runs layer by layer, the batch in one report (the third
// image repeats the first).
TEST(Excitations, PreparedEngineMatchesPyTorchOnEveryPath) {
  const auto cases = excitation_cases();
  const int saved = senet::num_threads();
  senet::set_num_threads(2);
  for (const auto path : senet::test::available_paths()) {
    senet::PrepareOptions options;
    options.kernels = path;
    double worst[2] = {0, 0};  // residual networks, Inception
    for (const auto& c : cases) {
      SCOPED_TRACE(c.model.dir + c.model.name() + " / " + senet::to_string(path));
      const auto fast = senet::prepare(load_model<float>(c.model), options);
      if (!dynamic_cast<const senet::PreparedNetwork*>(fast.get())) {
        ADD_FAILURE() << "not prepared";
        continue;
      }
      const auto x = senet::read_npy<float>(c.model.file(".input.npy"));
      EXPECT_EQ(x.dim(0), 2);
      const double by_image = worst_block(senet::record_excitations(*fast, x), c, abs_error);
      ExcitationCase c3 = c;
      for (auto& g : c3.gates) g = with_first_repeated(g);
      const double by_layer = worst_block(senet::record_excitations(*fast, with_first_repeated(x)), c3, abs_error);
      EXPECT_LE(by_image, kPreparedTolerance) << "image by image";
      EXPECT_LE(by_layer, kPreparedTolerance) << "layer by layer";
      double& w = worst[is_inception(c.model)];
      w = std::max({w, by_image, by_layer});
    }
    std::printf("[ excite   ] prepared  %-8s max |gate - PyTorch| %.2e (Inception %.2e)\n", senet::to_string(path),
                worst[0], worst[1]);
  }
  senet::set_num_threads(saved);
}

// The fixtures' resnet_bottleneck, resnext_bottleneck and bn_inception_w16 record nothing above
// (PyTorch's hooks found no SE module in them); so does a full-size ResNet-50, on both paths.
TEST(Excitations, ModelWithoutSERecordsNothing) {
  auto model = senet::create_model<float>("resnet50", 10);
  const Tensor<float> x({1, 3, 32, 32});
  EXPECT_TRUE(senet::record_excitations(*model, x).empty());
  const auto fast = senet::prepare(std::move(model));
  EXPECT_TRUE(senet::record_excitations(*fast, x).empty());
}

TEST(Excitations, BlockNameDropsTheSEName) {
  EXPECT_EQ(senet::excitation_block_name("layer1.0.se"), "layer1.0");
  EXPECT_EQ(senet::excitation_block_name("layer1.0.se_module"), "layer1.0");
  EXPECT_EQ(senet::excitation_block_name("inception_3a_se"), "inception_3a");
  EXPECT_EQ(senet::excitation_block_name("layer1.0"), "layer1.0");
  EXPECT_EQ(senet::excitation_block_name("se"), "se");
}

std::vector<std::string> paths_of(const senet::ExcitationRecorder& recorder) {
  std::vector<std::string> paths;
  for (const auto& b : recorder.blocks()) paths.push_back(b.path);
  return paths;
}

// A scope reports while it is open and nothing once closed; an inner scope is in force until it
// closes, then the outer one reports again; a scope reports only the model it was opened on.
TEST(Excitations, ScopesCloseAndNest) {
  senet::Sequential<float> net, other;
  net.add("se1", senet::SEBlock<float>(4, 2));
  net.add("se2", senet::SEBlock<float>(4, 2));
  other.add("se", senet::SEBlock<float>(4, 2));
  const Tensor<float> x({2, 4, 3, 3});
  const std::vector<std::string> both = {"se1", "se2"};
  senet::ExcitationRecorder outer, inner;
  {
    senet::ExcitationScope scope(net, outer);
    net.forward(x);
    EXPECT_EQ(paths_of(outer), both);
    outer.clear();
    {
      senet::ExcitationScope nested(net, inner);
      net.forward(x);
    }
    EXPECT_EQ(paths_of(inner), both);
    EXPECT_TRUE(paths_of(outer).empty()) << "the inner scope was in force";
    inner.clear();
    net.forward(x);
    EXPECT_EQ(paths_of(outer), both) << "the outer scope is in force again";
    EXPECT_TRUE(paths_of(inner).empty());
    outer.clear();
    {
      senet::ExcitationScope elsewhere(other, inner);
      net.forward(x);
    }
    EXPECT_TRUE(paths_of(inner).empty()) << "net is not the model of the inner scope";
    EXPECT_TRUE(paths_of(outer).empty());
  }
  net.forward(x);
  EXPECT_TRUE(paths_of(outer).empty()) << "closed";
}

// The README's example ("Recording excitations", without its weights file, printing to a string)
// on both paths: SE-ResNet-50's 16 SE blocks, [N, C] each; nothing once the scope has closed.
TEST(Excitations, ReadmeExample) {
  std::string expected;
  const int stage_blocks[] = {3, 4, 6, 3};
  for (int s = 0; s < 4; ++s)
    for (int b = 0; b < stage_blocks[s]; ++b)
      expected +=
          "layer" + std::to_string(s + 1) + "." + std::to_string(b) + ".se [1, " + std::to_string(256 << s) + "]\n";
  for (const bool prepared : {false, true}) {
    SCOPED_TRACE(prepared ? "prepared" : "reference");
    auto model = senet::create_model<float>("seresnet50");
    if (prepared) model = senet::prepare(std::move(model));
    const Tensor<float> images({1, 3, 32, 32});
    std::ostringstream out;

    senet::ExcitationRecorder recorder;
    {
      senet::ExcitationScope scope(*model, recorder);  // this thread's forwards report to `recorder`
      model->forward(images);
    }
    for (const auto& block : recorder.blocks())  // network order: layer1.0.se [N, 256], ...
      out << block.path << " " << senet::to_string(block.gates.shape()) << "\n";

    EXPECT_EQ(out.str(), expected);
    recorder.clear();
    model->forward(images);
    EXPECT_TRUE(recorder.blocks().empty());
    EXPECT_EQ(senet::record_excitations(*model, images).size(), 16u);
  }
}

}  // namespace test_excitations
