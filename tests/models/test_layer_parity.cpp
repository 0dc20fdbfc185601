// Every layer against PyTorch: the per-layer cases of tests/fixtures/data/layers.safetensors
// (one file: `CASE.input`, `CASE.output`, the layer's parameters as `CASE.<name>`, and the layer's
// configuration as JSON in the metadata under CASE), in double and in float.
#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>

#include "senet/io/safetensors.hpp"
#include "senet/layers/activation.hpp"
#include "senet/layers/batch_norm2d.hpp"
#include "senet/layers/conv2d.hpp"
#include "senet/layers/linear.hpp"
#include "senet/layers/pooling.hpp"
#include "senet/layers/se_block.hpp"
#include "test_util.hpp"

namespace test_layer_parity {

using nlohmann::json;

/// A hyper-parameter given either as one integer or as [h, w].
std::pair<senet::Index, senet::Index> pair_of(const json& cfg, std::initializer_list<const char*> keys,
                                              senet::Index fallback) {
  for (const char* key : keys) {
    if (!cfg.contains(key)) continue;
    const json& v = cfg.at(key);
    if (v.is_array()) return {v.at(0).get<senet::Index>(), v.at(1).get<senet::Index>()};
    return {v.get<senet::Index>(), v.get<senet::Index>()};
  }
  return {fallback, fallback};
}

senet::Pool2dParams pool_params_of(const json& cfg) {
  senet::Pool2dParams p;
  std::tie(p.kernel_h, p.kernel_w) = pair_of(cfg, {"kernel", "kernel_size"}, 1);
  std::tie(p.stride_h, p.stride_w) = pair_of(cfg, {"stride"}, p.kernel_h);
  if (!cfg.contains("stride") || cfg.at("stride").is_null())
    std::tie(p.stride_h, p.stride_w) = std::pair(p.kernel_h, p.kernel_w);
  std::tie(p.pad_h, p.pad_w) = pair_of(cfg, {"padding"}, 0);
  std::tie(p.dilation_h, p.dilation_w) = pair_of(cfg, {"dilation"}, 1);
  p.ceil_mode = cfg.value("ceil_mode", false);
  p.count_include_pad = cfg.value("count_include_pad", true);
  return p;
}

template <class T>
std::unique_ptr<senet::Module<T>> make_layer(const json& cfg, const senet::SafetensorsFile& file,
                                             const std::string& c) {
  const std::string op = cfg.at("op");
  if (op == "conv2d") {
    senet::Conv2dParams p;
    std::tie(p.kernel_h, p.kernel_w) = pair_of(cfg, {"kernel", "kernel_size"}, 1);
    std::tie(p.stride_h, p.stride_w) = pair_of(cfg, {"stride"}, 1);
    std::tie(p.pad_h, p.pad_w) = pair_of(cfg, {"padding"}, 0);
    std::tie(p.dilation_h, p.dilation_w) = pair_of(cfg, {"dilation"}, 1);
    p.groups = cfg.value("groups", 1);
    return std::make_unique<senet::Conv2d<T>>(cfg.at("in_channels").get<senet::Index>(),
                                              cfg.at("out_channels").get<senet::Index>(), p, cfg.value("bias", false));
  }
  if (op == "batchnorm2d" || op == "batch_norm2d")
    return std::make_unique<senet::BatchNorm2d<T>>(cfg.at("num_features").get<senet::Index>(), cfg.value("eps", 1e-5));
  if (op == "relu") return std::make_unique<senet::ReLU<T>>();
  if (op == "sigmoid") return std::make_unique<senet::Sigmoid<T>>();
  if (op == "tanh") return std::make_unique<senet::Tanh<T>>();
  if (op == "softmax") return std::make_unique<senet::Softmax<T>>();
  if (op == "flatten") return std::make_unique<senet::Flatten<T>>();
  if (op == "maxpool2d" || op == "max_pool2d") return std::make_unique<senet::MaxPool2d<T>>(pool_params_of(cfg));
  if (op == "avgpool2d" || op == "avg_pool2d") return std::make_unique<senet::AvgPool2d<T>>(pool_params_of(cfg));
  if (op == "adaptive_avg_pool2d") {
    const auto [oh, ow] = pair_of(cfg, {"output_size"}, 1);
    return std::make_unique<senet::AdaptiveAvgPool2d<T>>(oh, ow);
  }
  if (op == "global_avg_pool") return std::make_unique<senet::GlobalAvgPool2d<T>>();
  if (op == "global_max_pool") return std::make_unique<senet::GlobalMaxPool2d<T>>();
  if (op == "linear") {
    const auto& w = file.entry(c + ".weight").shape;
    return std::make_unique<senet::Linear<T>>(w.at(1), w.at(0), cfg.value("bias", file.contains(c + ".bias")));
  }
  if (op == "se_block")
    return std::make_unique<senet::SEBlock<T>>(senet::SEBlock<T>::with_hidden(cfg.at("channels"), cfg.at("hidden")));
  ADD_FAILURE() << "unknown op '" << op << "' in case " << c;
  return nullptr;
}

template <class T>
class LayerParity : public ::testing::Test {};
using Scalars = ::testing::Types<float, double>;
TYPED_TEST_SUITE(LayerParity, Scalars);

TYPED_TEST(LayerParity, MatchesPyTorch) {
  using T = TypeParam;
  const auto file = senet::SafetensorsFile::open(senet::test::fixture("layers.safetensors"));
  std::set<std::string> ops;
  int cases = 0;
  double worst = 0;
  for (const auto& [c, text] : file.metadata()) {
    const json cfg = json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (!cfg.is_object() || !cfg.contains("op")) continue;  // other metadata
    SCOPED_TRACE(c + " " + text);
    auto layer = make_layer<T>(cfg, file, c);
    ASSERT_TRUE(layer);
    // Every parameter the layer has must be in the file with its shape, and vice versa.
    std::set<std::string> expected_keys;
    for (const auto& key : file.keys())
      if (key.rfind(c + ".", 0) == 0 && key != c + ".input" && key != c + ".output") expected_keys.insert(key);
    std::set<std::string> visited;
    layer->visit_parameters(
        senet::ParameterVisitor<T>([&](const std::string& name, senet::Tensor<T>& t, senet::ParameterKind) {
          visited.insert(name);
          ASSERT_TRUE(file.contains(name)) << name;
          auto value = file.read<T>(name);
          ASSERT_EQ(value.shape(), t.shape()) << name;
          t = std::move(value);
        }),
        c);
    EXPECT_EQ(visited, expected_keys);
    const auto x = file.read<T>(c + ".input");
    auto expected = file.read<double>(c + ".output");
    // The fixture keeps PyTorch's [N, C, 1, 1] for global pooling; senet's global pools flatten to [N, C].
    if (cfg.value("keepdim", false)) expected.reshape(layer->output_shape(x.shape()));
    EXPECT_EQ(layer->output_shape(x.shape()), expected.shape());
    const auto y = layer->forward(x);
    ASSERT_EQ(y.shape(), expected.shape());
    const double err = senet::test::relative_error(y, expected);
    EXPECT_LE(err, senet::test::parity_tolerance<T>());
    worst = std::max(worst, err);
    ops.insert(cfg.at("op").get<std::string>());
    ++cases;
  }
  std::printf("[ parity   ] %d layer cases over %zu ops (%s): max rel err %.2e\n", cases, ops.size(),
              sizeof(T) == 8 ? "double" : "float", worst);
  EXPECT_GE(ops.size(), 12u);
}

}  // namespace test_layer_parity
