#pragma once
/// \file inception.hpp
/// The BN-Inception family: `bn_inception`, Cadene's `pretrainedmodels` `bninception` (a port of
/// the Caffe BN-Inception, convolutions with biases), and `se_bn_inception`, the SENet authors'
/// SE-BN-Inception (the same layers with bias-free convolutions and an SE block after every
/// Inception module's concatenation). One builder, `build_bn_inception`, composes both from
/// `Sequential` and `Concat` containers with Caffe's flat layer names.
///
/// Facts (paper-facts §5 "SE-BN-Inception" and §8; names, strides, pools and BN eps checked
/// against Cadene's pretrainedmodels/models/bninception.py):
/// - Stem: `conv1_7x7_s2` (7x7 s2 p3, 64) + `conv1_7x7_s2_bn` + `conv1_relu_7x7`, `pool1_3x3_s2`
///   (max 3x3 s2, ceil mode), `conv2_3x3_reduce` (1x1, 64) + `_bn` + `conv2_relu_3x3_reduce`,
///   `conv2_3x3` (3x3 p1, 192) + `_bn` + `conv2_relu_3x3`, `pool2_3x3_s2` (max 3x3 s2, ceil).
/// - Modules 3a 3b 3c 4a 4b 4c 4d 4e 5a 5b, layers `inception_<m>_<branch>`: branches `1x1`;
///   `3x3_reduce` -> `3x3`; `double_3x3_reduce` -> `double_3x3_1` -> `double_3x3_2`; `pool` ->
///   `pool_proj`, concatenated in that order. Every conv is followed by `<conv>_bn` (BatchNorm2d,
///   eps 1e-5) and the ReLU `inception_<m>_relu_<branch>`. In-module pools are 3x3 s1 p1 ceil
///   mode (average, counting the padding, in 3a..5a; max in 5b). The reduction modules 3c and 4e
///   have no `1x1` and no `pool_proj`: their `3x3` and `double_3x3_2` have stride 2 (padding 1),
///   and their `pool` (max 3x3 s2 ceil, unpadded) passes the input's channels through.
/// - Widths (in; 1x1; 3x3 reduce, 3x3; double reduce, double; pool proj), concat width:
///   | module | in | 1x1 | 3x3 | double 3x3 | proj | out | SE hidden (C // 16) |
///   |---|---|---|---|---|---|---|---|
///   | 3a | 192 | 64 | 64, 64 | 64, 96 | 32 | 256 | 16 |
///   | 3b | 256 | 64 | 64, 96 | 64, 96 | 64 | 320 | 20 |
///   | 3c | 320 | - | 128, 160 s2 | 64, 96 s2 | (max s2) | 576 | 36 |
///   | 4a | 576 | 224 | 64, 96 | 96, 128 | 128 | 576 | 36 |
///   | 4b | 576 | 192 | 96, 128 | 96, 128 | 128 | 576 | 36 |
///   | 4c | 576 | 160 | 128, 160 | 128, 160 | 128 | 608 | 38 |
///   | 4d | 608 | 96 | 128, 192 | 160, 192 | 128 | 608 | 38 |
///   | 4e | 608 | - | 128, 192 s2 | 192, 256 s2 | (max s2) | 1056 | 66 |
///   | 5a | 1056 | 352 | 192, 320 | 160, 224 | 128 | 1024 | 64 |
///   | 5b | 1024 | 352 | 192, 320 | 192, 224 | 128 (max pool) | 1024 | 64 |
/// - Head: global average pool (`global_pool`), `last_linear` (1024 -> classes). Cadene's
///   `global_pool` is `AvgPool2d(7)`, the same thing for the 7x7 map of a 224x224 input; here it
///   averages any map.
/// - SE-BN-Inception: SE `inception_<m>_se` (`fc1`, `fc2` with biases) after each concatenation.
/// - Sizes at 224x224 (every conv and linear, SE included): bn_inception 11,295,240 parameters,
///   2,032,600,064 MACs; se_bn_inception 11,931,622 parameters, 2,033,239,424 MACs.
/// - The reduction modules' branches only agree in size on even maps: inputs of 224 (7x7
///   features), or of 63..64, 95..96, ... per side.
///
/// Parameter names are Cadene's state_dict keys (`inception_3a_double_3x3_reduce_bn.running_var`,
/// `inception_4e_se.fc1.weight`, `last_linear.bias`): every container is added with an empty
/// name, so its layers take their names in the root's namespace. The PyTorch twin is
/// tests/fixtures/torch_inception.py.

#include <string>
#include <utility>
#include <vector>

#include "senet/layers/activation.hpp"
#include "senet/layers/batch_norm2d.hpp"
#include "senet/layers/concat.hpp"
#include "senet/layers/conv2d.hpp"
#include "senet/layers/linear.hpp"
#include "senet/layers/pooling.hpp"
#include "senet/layers/se_block.hpp"
#include "senet/layers/sequential.hpp"
#include "senet/models/network.hpp"

namespace senet {

/// Everything that defines a BN-Inception-family network.
struct InceptionConfig {
  std::string name = "bn_inception";
  /// SE-BN-Inception: bias-free convolutions and an SE block after every module.
  bool se = false;
  Index num_classes = 1000;
  Index in_channels = 3;
  Index input_size = 224;  ///< the image size the model is made for (summary and bench default)
  /// Divides every channel count of the table (stem, branches, concat widths, the 1024 features)
  /// for reduced test networks, as torch_inception.py's `width_divisor`; must divide them all
  /// (1, 2, 4, 8, 16 or 32). 1 in the published networks.
  Index width_divisor = 1;
  /// SE options of SE-BN-Inception: C // 16, sigmoid gate, FC biases.
  SEOptions se_options{16, SERounding::floor};
};

/// One Inception module's widths (full size): 0 where a branch is absent (the reduction modules'
/// `1x1` and `pool_proj`); `stride` 2 marks a reduction module.
struct InceptionModuleSpec {
  const char* name;
  Index in, c1x1, c3x3_reduce, c3x3, double_reduce, double_3x3, pool_proj;
  bool max_pool;
  Index stride;
};

/// The ten modules of BN-Inception, 3a to 5b (the table above).
inline const std::vector<InceptionModuleSpec>& inception_modules() {
  static const std::vector<InceptionModuleSpec> modules = {
      {"3a", 192, 64, 64, 64, 64, 96, 32, false, 1},        {"3b", 256, 64, 64, 96, 64, 96, 64, false, 1},
      {"3c", 320, 0, 128, 160, 64, 96, 0, true, 2},         {"4a", 576, 224, 64, 96, 96, 128, 128, false, 1},
      {"4b", 576, 192, 96, 128, 96, 128, 128, false, 1},    {"4c", 576, 160, 128, 160, 128, 160, 128, false, 1},
      {"4d", 608, 96, 128, 192, 160, 192, 128, false, 1},   {"4e", 608, 0, 128, 192, 192, 256, 0, true, 2},
      {"5a", 1056, 352, 192, 320, 160, 224, 128, false, 1}, {"5b", 1024, 352, 192, 320, 192, 224, 128, true, 1}};
  return modules;
}

/// Channels of a module's concatenation (full size): 1x1 + 3x3 + double 3x3 + pool_proj, or the
/// input's channels for a reduction module's pool.
inline Index inception_module_width(const InceptionModuleSpec& m) {
  return m.c1x1 + m.c3x3 + m.double_3x3 + (m.stride == 2 ? m.in : m.pool_proj);
}

/// Channels of the features the classifier sees (1024 at full width).
inline Index bn_inception_features(const InceptionConfig& cfg) { return 1024 / cfg.width_divisor; }

/// Throws `senet::Error` unless `cfg` describes a network that can be built.
inline void check_inception_config(const InceptionConfig& cfg) {
  SENET_CHECK(cfg.num_classes >= 1 && cfg.in_channels >= 1 && cfg.input_size >= 1 && cfg.width_divisor >= 1, cfg.name,
              ": invalid BN-Inception configuration (positive classes, channels, input size and width divisor)");
  // every width of the table is a multiple of 32, and 32 of them is one
  SENET_CHECK(32 % cfg.width_divisor == 0, cfg.name, ": width divisor ", cfg.width_divisor,
              " must divide every BN-Inception width (1, 2, 4, 8, 16 or 32)");
  if (cfg.se) SENET_CHECK(cfg.se_options.reduction >= 1, cfg.name, ": SE reduction ratio must be >= 1");
}

namespace detail {
/// Appends `<conv>` (k x k, stride, padding; bias unless SE-BN-Inception), `<conv>_bn` and the
/// ReLU `relu` to `seq`.
template <class T>
void inception_conv_bn_relu(Sequential<T>& seq, const InceptionConfig& cfg, const std::string& conv,
                            const std::string& relu, Index in, Index out, Index kernel, Index stride = 1,
                            Index padding = 0) {
  seq.add(conv, Conv2d<T>(in, out, conv_params(kernel, stride, padding), /*bias=*/!cfg.se));
  seq.add(conv + "_bn", BatchNorm2d<T>(out, 1e-5));
  seq.add(relu, ReLU<T>());
}
}  // namespace detail

/// Appends `cfg`'s network to `root`: the stem, modules 3a..5b (each a `Concat` of branch
/// `Sequential`s, then `inception_<m>_se` for SE-BN-Inception), global average pool and
/// `last_linear`. Every container has an empty name: parameter names are Caffe's flat ones.
template <class T>
void build_bn_inception(const InceptionConfig& cfg, Sequential<T>& root) {
  check_inception_config(cfg);
  const Index d = cfg.width_divisor;
  auto& stem = root.add("", Sequential<T>());
  detail::inception_conv_bn_relu(stem, cfg, "conv1_7x7_s2", "conv1_relu_7x7", cfg.in_channels, 64 / d, 7, 2, 3);
  stem.add("pool1_3x3_s2", MaxPool2d<T>(pool_params(3, 2, 0, /*ceil_mode=*/true)));
  detail::inception_conv_bn_relu(stem, cfg, "conv2_3x3_reduce", "conv2_relu_3x3_reduce", 64 / d, 64 / d, 1);
  detail::inception_conv_bn_relu(stem, cfg, "conv2_3x3", "conv2_relu_3x3", 64 / d, 192 / d, 3, 1, 1);
  stem.add("pool2_3x3_s2", MaxPool2d<T>(pool_params(3, 2, 0, /*ceil_mode=*/true)));

  for (const InceptionModuleSpec& m : inception_modules()) {
    const std::string p = std::string("inception_") + m.name + "_";
    const Index in = m.in / d, s = m.stride;
    auto& module = root.add("", Concat<T>());
    if (m.c1x1 > 0) {
      auto& b = module.add("", Sequential<T>());
      detail::inception_conv_bn_relu(b, cfg, p + "1x1", p + "relu_1x1", in, m.c1x1 / d, 1);
    }
    {
      auto& b = module.add("", Sequential<T>());
      detail::inception_conv_bn_relu(b, cfg, p + "3x3_reduce", p + "relu_3x3_reduce", in, m.c3x3_reduce / d, 1);
      detail::inception_conv_bn_relu(b, cfg, p + "3x3", p + "relu_3x3", m.c3x3_reduce / d, m.c3x3 / d, 3, s, 1);
    }
    {
      auto& b = module.add("", Sequential<T>());
      const Index r = m.double_reduce / d, c = m.double_3x3 / d;
      detail::inception_conv_bn_relu(b, cfg, p + "double_3x3_reduce", p + "relu_double_3x3_reduce", in, r, 1);
      detail::inception_conv_bn_relu(b, cfg, p + "double_3x3_1", p + "relu_double_3x3_1", r, c, 3, 1, 1);
      detail::inception_conv_bn_relu(b, cfg, p + "double_3x3_2", p + "relu_double_3x3_2", c, c, 3, s, 1);
    }
    {
      auto& b = module.add("", Sequential<T>());
      if (s == 2) {
        b.add(p + "pool", MaxPool2d<T>(pool_params(3, 2, 0, /*ceil_mode=*/true)));
      } else {
        const Pool2dParams pool = pool_params(3, 1, 1, /*ceil_mode=*/true, /*count_include_pad=*/true);
        if (m.max_pool)
          b.add(p + "pool", MaxPool2d<T>(pool));
        else
          b.add(p + "pool", AvgPool2d<T>(pool));
        detail::inception_conv_bn_relu(b, cfg, p + "pool_proj", p + "relu_pool_proj", in, m.pool_proj / d, 1);
      }
    }
    if (cfg.se) root.add(p + "se", SEBlock<T>(inception_module_width(m) / d, cfg.se_options));
  }
  root.add("global_pool", GlobalAvgPool2d<T>());
  root.add("last_linear", Linear<T>(bn_inception_features(cfg), cfg.num_classes));
}

/// BN-Inception / SE-BN-Inception as `build_bn_inception` composes it from `cfg`.
/// Input [N, in_channels, H, W] -> logits [N, num_classes].
template <class T>
class BNInception : public ConfiguredNetwork<T, InceptionConfig> {
 public:
  explicit BNInception(InceptionConfig cfg) : ConfiguredNetwork<T, InceptionConfig>(std::move(cfg), "BNInception", build_bn_inception<T>) {}
};

template <>
struct NetworkOf<InceptionConfig> {
  template <class T>
  using type = BNInception<T>;
};

}  // namespace senet
