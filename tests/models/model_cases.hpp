#pragma once
// The PyTorch model fixtures as senet configurations: tests/fixtures/data/models.json (reduced
// SE-ResNets, make_fixtures.py), tests/fixtures/data/se_variants/cases.json (every SE option
// and position, make_se_variants.py) and tests/fixtures/data/inception/cases.json (reduced
// BN-Inception and SE-BN-Inception, make_inception_fixtures.py). Each case has CASE.safetensors,
// CASE.input.npy and CASE.output.npy (float64 PyTorch logits) beside its list. Also the kernel
// paths the prepared-engine tests run.

#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <vector>

#include "senet/models/inception.hpp"
#include "senet/models/model.hpp"
#include "senet/models/resnet.hpp"
#include "senet/ops/nchw16c.hpp"
#include "test_util.hpp"

namespace senet::test {

struct ModelCase {
  nlohmann::json spec;
  std::string dir;  ///< fixture sub-directory ("", "se_variants/", "inception/", ...)
  std::string name() const { return spec.at("case"); }
  std::string file(const std::string& suffix) const { return fixture(dir + name() + suffix); }
};

template <class E>
E parse_enum(const nlohmann::json& j, const char* what, const std::map<std::string, E>& names) {
  const std::string s = j.get<std::string>();
  const auto it = names.find(s);
  if (it == names.end()) throw std::runtime_error(std::string("model fixture: unknown ") + what + " '" + s + "'");
  return it->second;
}

/// The senet configuration of one fixture entry (either list's format).
inline ResNetConfig case_config(const nlohmann::json& c) {
  const std::string family = c.at("family");
  ResNetConfig cfg;
  cfg.name = c.at("case");
  cfg.style = family == "legacy_seresnet" ? ResNetStyle::legacy : ResNetStyle::timm;
  cfg.block = parse_enum<BlockType>(c.at("block"), "block",
                                    {{"basic", BlockType::basic}, {"bottleneck", BlockType::bottleneck}});
  cfg.layers = c.at("layers").get<std::vector<Index>>();
  cfg.width = c.at("width");
  cfg.num_classes = c.at("num_classes");
  cfg.se = family != "resnet";
  cfg.se_options.rounding = cfg.style == ResNetStyle::legacy ? SERounding::floor : SERounding::divisible8;
  cfg.se_options.reduction = c.value("se_reduction", 16);
  cfg.groups = c.value("groups", Index(1));
  cfg.base_width = c.value("base_width", Index(64));
  // SENet-154's fields (make_fixtures.py writes them for its case only; defaults: every other case)
  cfg.stem =
      parse_enum<StemType>(c.value("stem", nlohmann::json("imagenet")), "stem",
                           {{"imagenet", StemType::imagenet}, {"small", StemType::small}, {"deep", StemType::deep}});
  cfg.reduce_mult = c.value("reduce_mult", Index(0));
  cfg.downsample_kernel = c.value("downsample_kernel", Index(1));
  if (!c.contains("se")) return cfg;
  const auto& se = c.at("se");
  cfg.se_options.reduction = se.at("reduction");
  cfg.se_options.rounding = parse_enum<SERounding>(
      se.at("rounding"), "rounding", {{"floor", SERounding::floor}, {"divisible8", SERounding::divisible8}});
  cfg.se_options.squeeze = parse_enum<SESqueeze>(
      se.at("squeeze"), "squeeze", {{"avg", SESqueeze::avg}, {"max", SESqueeze::max}, {"avgmax", SESqueeze::avgmax}});
  cfg.se_options.gate = parse_enum<SEGate>(se.at("gate"), "gate",
                                           {{"sigmoid", SEGate::sigmoid},
                                            {"tanh", SEGate::tanh},
                                            {"relu", SEGate::relu},
                                            {"hard_sigmoid", SEGate::hard_sigmoid}});
  cfg.se_options.bias = se.at("bias").get<bool>();
  cfg.se_position = parse_enum<SEPosition>(se.at("position"), "position",
                                           {{"standard", SEPosition::standard},
                                            {"pre", SEPosition::pre},
                                            {"post", SEPosition::post},
                                            {"identity", SEPosition::identity},
                                            {"after3x3", SEPosition::after3x3}});
  if (!se.at("stages").is_null()) cfg.se_stages = se.at("stages").get<std::vector<Index>>();
  return cfg;
}

/// The senet configuration of an entry of inception/cases.json.
inline InceptionConfig inception_config(const nlohmann::json& c) {
  InceptionConfig cfg;
  cfg.name = c.at("case");
  cfg.se = c.at("model") == "se_bn_inception";
  cfg.width_divisor = c.at("width_divisor");
  cfg.se_options.reduction = c.at("se_reduction");
  cfg.num_classes = c.at("num_classes");
  return cfg;
}

/// The cases listed in `list` (a JSON array file under tests/fixtures/data/`dir`).
inline std::vector<ModelCase> read_cases(const std::string& dir, const std::string& list) {
  std::ifstream in(fixture(dir + list));
  EXPECT_TRUE(in.good()) << "missing " << fixture(dir + list) << " (see tests/fixtures/*.py)";
  std::vector<ModelCase> cases;
  if (in.good())
    for (const auto& c : nlohmann::json::parse(in)) cases.push_back({c, dir});
  return cases;
}

inline std::vector<ModelCase> reduced_model_cases() { return read_cases("", "models.json"); }
inline std::vector<ModelCase> se_variant_cases() { return read_cases("se_variants/", "cases.json"); }
inline std::vector<ModelCase> inception_cases() { return read_cases("inception/", "cases.json"); }

/// `model` on `x` ([N, ...]) plus its first image again as image N + 1, on two threads: a batch
/// that does not split evenly runs layer by layer, not image by image; the logits must still be
/// `expected` ([N, classes], float64), the first row repeated.
inline void expect_three_images_on_two_threads(const Model<float>& model, const Tensor<float>& x,
                                               const Tensor<double>& expected) {
  const Index N = x.dim(0), image = x.size() / N, classes = expected.dim(1);
  Tensor<float> x3({N + 1, x.dim(1), x.dim(2), x.dim(3)});
  std::copy(x.begin(), x.end(), x3.begin());
  std::copy(x.begin(), x.begin() + image, x3.begin() + N * image);
  Tensor<double> expected3({N + 1, classes});
  std::copy(expected.begin(), expected.end(), expected3.begin());
  std::copy(expected.begin(), expected.begin() + classes, expected3.begin() + N * classes);
  const int saved = num_threads();
  set_num_threads(2);
  const auto y3 = model.forward(x3);
  set_num_threads(saved);
  EXPECT_LE(relative_error(y3, expected3), parity_tolerance<float>());
}

/// The kernel paths of the prepared engine this CPU supports, best first.
inline std::vector<Conv2dPath> available_paths() {
  std::vector<Conv2dPath> paths;
  for (auto p : {Conv2dPath::avx512, Conv2dPath::avx2, Conv2dPath::portable})
    if (conv2d_path_supported(p)) paths.push_back(p);
  return paths;
}

}  // namespace senet::test
