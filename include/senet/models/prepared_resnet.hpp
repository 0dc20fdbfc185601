#pragma once
/// \file prepared_resnet.hpp
/// `senet::PreparedResNet`: the fast float engine for ResNet and SE-ResNet. Made once from a
/// loaded `ResNet<float>` (`senet::prepare`): BatchNorm folded into the convolutions, weights
/// packed for the `NCHW16c` direct-convolution kernels, and each residual block run as
///   conv1 (+bias, ReLU) -> conv2 (+bias, ReLU) -> conv3 (+bias) -> SE squeeze -> excitation GEMM
///   -> one pass `relu(y * s + shortcut)`
/// (without SE the add and ReLU ride in the last convolution's epilogue). The naive `ResNet<T>`
/// stays the oracle: the tests compare the two on every fixture. SE variants the engine does not
/// cover (positions other than `standard`) keep the naive path (`prepare` returns the model as is).

#include <memory>
#include <optional>
#include <utility>
#include <vector>

#include "senet/models/resnet.hpp"
#include "senet/ops/conv2d_nchw16c.hpp"

namespace senet {

namespace detail {

/// A convolution with its BatchNorm folded in (`w * scale`, bias `shift`), packed for
/// `conv2d_nchw16c`.
struct FusedConv16c {
  PackedConv2dWeights weights;
  std::vector<float> bias;
  Conv2dParams params;

  FusedConv16c(const Conv2d<float>& conv, const BatchNorm2d<float>& bn) : params(conv.params()) {
    std::vector<float> scale;
    bn.folded(scale, bias);
    Tensor<float> w = conv.weight();
    const Index per_channel = w.size() / w.dim(0);
    for (Index k = 0; k < w.dim(0); ++k)
      for (Index i = 0; i < per_channel; ++i) w[k * per_channel + i] *= scale[std::size_t(k)];
    if (const Tensor<float>* b = conv.bias())
      for (Index k = 0; k < w.dim(0); ++k) bias[std::size_t(k)] += (*b)[k] * scale[std::size_t(k)];
    weights = pack_conv2d_weights_nchw16c(w);
  }

  /// `act(conv(x) + bias + residual)` in `NCHW16c`.
  Tensor<float> operator()(const Tensor<float>& x, bool relu, const Tensor<float>* residual = nullptr) const {
    Tensor<float> y(conv2d_nchw16c_output_shape(x.shape(), weights, params), uninitialized);
    Conv2dEpilogue epilogue;
    epilogue.bias = bias.data();
    epilogue.residual = residual;
    epilogue.relu = relu;
    conv2d_nchw16c(x, weights, params, epilogue, y);
    return y;
  }
};

/// The SE squeeze of `x` [N, Cb, H, W, 16] over its first `channels` channels: `z` [N, channels].
inline Tensor<float> squeeze_nchw16c(const Tensor<float>& x, Index channels, SESqueeze mode) {
  const Index N = x.dim(0), Cb = x.dim(1), HW = x.dim(2) * x.dim(3);
  Tensor<float> z({N, channels});
#ifdef _OPENMP
#pragma omp parallel for schedule(static) if (x.size() > 65536)
#endif
  for (Index nb = 0; nb < N * Cb; ++nb) {
    const float* p = x.data() + nb * HW * kChannelBlock;
    // Separate loops per statistic: each vectorises over the 16 lanes.
    float sum[kChannelBlock] = {}, top[kChannelBlock];
    if (mode != SESqueeze::max)
      for (Index i = 0; i < HW; ++i)
        for (Index l = 0; l < kChannelBlock; ++l) sum[l] += p[i * kChannelBlock + l];
    if (mode != SESqueeze::avg) {
      std::copy(p, p + kChannelBlock, top);
      for (Index i = 1; i < HW; ++i)
        for (Index l = 0; l < kChannelBlock; ++l) {
          const float v = p[i * kChannelBlock + l];
          top[l] = (v > top[l] || v != v) ? v : top[l];  // NaN wins, as in PyTorch
        }
    }
    const Index n = nb / Cb, c0 = (nb % Cb) * kChannelBlock;
    for (Index l = 0; l < kChannelBlock && c0 + l < channels; ++l) {
      const float avg = sum[l] / float(HW);
      z[n * channels + c0 + l] = mode == SESqueeze::avg   ? avg
                                 : mode == SESqueeze::max ? top[l]
                                                          : 0.5f * avg + 0.5f * top[l];
    }
  }
  return z;
}

/// `y = relu(y * s + shortcut)` on `NCHW16c`, `s` [N, channels]; padding channels get scale 0.
inline void scale_add_relu_nchw16c(Tensor<float>& y, const Tensor<float>& s, Index channels,
                                   const Tensor<float>& shortcut) {
  SENET_CHECK(y.shape() == shortcut.shape(), "SE block: residual ", to_string(shortcut.shape()), " does not match ",
              to_string(y.shape()));
  const Index N = y.dim(0), Cb = y.dim(1), HW = y.dim(2) * y.dim(3);
#ifdef _OPENMP
#pragma omp parallel for schedule(static) if (y.size() > 65536)
#endif
  for (Index nb = 0; nb < N * Cb; ++nb) {
    const Index n = nb / Cb, c0 = (nb % Cb) * kChannelBlock;
    float gate[kChannelBlock];
    for (Index l = 0; l < kChannelBlock; ++l) gate[l] = c0 + l < channels ? s[n * channels + c0 + l] : 0.0f;
    float* p = y.data() + nb * HW * kChannelBlock;
    const float* r = shortcut.data() + nb * HW * kChannelBlock;
    for (Index i = 0; i < HW; ++i)
      for (Index l = 0; l < kChannelBlock; ++l) {
        const float v = p[i * kChannelBlock + l] * gate[l] + r[i * kChannelBlock + l];
        p[i * kChannelBlock + l] = v < 0.0f ? 0.0f : v;
      }
  }
}

}  // namespace detail

/// The fast float engine for a loaded `ResNet<float>` with SE blocks (if any) in the standard
/// position. Holds its own folded, packed copy of the weights: later changes to the source model
/// do not reach it. `forward` is const and thread-safe.
class PreparedResNet : public Model<float> {
 public:
  /// Whether `model` can run on this engine (every SE block in the standard position).
  static bool supports(const ResNet<float>& model) {
    return !model.config().se || model.config().se_position == SEPosition::standard;
  }

  /// Prepares a copy of `model`'s weights; `model` stays as it was.
  explicit PreparedResNet(const ResNet<float>& model) : PreparedResNet(model, nullptr) {}

  /// Prepares `model` and frees each block's weights as soon as they are packed, so that the
  /// weights exist about once, not twice, while preparing (what `senet::prepare` does).
  explicit PreparedResNet(ResNet<float>&& model) : PreparedResNet(model, &model) {}

  Tensor<float> forward(const Tensor<float>& x) const override {
    check_resnet_input(cfg_, x.shape());
    // The stem (C = 3) stays on the im2col + GEMM path: too few input channels for the kernels.
    Tensor<float> h = stem_.forward(x);
    relu_inplace(h.data(), h.size());
    if (cfg_.stem == StemType::imagenet) h = stem_pool_.forward(h);
    h = to_nchw16c(h);
    for (const auto& block : blocks_) h = block.forward(h);
    const Index C = block_channels();
    Tensor<float> pooled = detail::squeeze_nchw16c(h, C, SESqueeze::avg);
    return fc_.forward(pooled);
  }

  /// The source model's rows: summaries describe the architecture, so a weightless-in-effect twin
  /// (built for the call, its zero weights never read) walks the shapes.
  Shape summarize(const Shape& input, const std::string& prefix, std::vector<LayerSummary>& rows) const override {
    return ResNet<float>(cfg_).summarize(input, prefix, rows);
  }

  Shape output_shape(const Shape& input) const override {
    check_resnet_input(cfg_, input);
    return {input[0], cfg_.num_classes};
  }
  std::string type_name() const override { return "PreparedResNet"; }
  const std::string& name() const override { return cfg_.name; }
  Index in_channels() const override { return cfg_.in_channels; }
  Index num_classes() const override { return cfg_.num_classes; }
  Index input_size() const override { return cfg_.input_size; }

 private:
  struct Block {
    detail::FusedConv16c conv1, conv2;
    std::optional<detail::FusedConv16c> conv3, downsample;
    std::optional<SEBlock<float>> se;
    bool relu_after_conv2;
    Index channels;

    explicit Block(const ResidualBlock<float>& b)
        : conv1(b.conv1(), b.bn1()),
          conv2(b.conv2(), b.bn2()),
          // A bottleneck's 3x3 feeds a ReLU; Caffe's basic block has a ReLU before its SE too.
          relu_after_conv2(b.type() == BlockType::bottleneck || b.style() == ResNetStyle::legacy),
          channels(b.conv3() ? b.conv3()->out_channels() : b.conv2().out_channels()) {
      if (b.conv3()) conv3.emplace(*b.conv3(), *b.bn3());
      if (b.downsample_conv()) downsample.emplace(*b.downsample_conv(), *b.downsample_bn());
      if (b.se()) se.emplace(*b.se());
    }

    Tensor<float> forward(const Tensor<float>& x) const {
      Tensor<float> shortcut_storage;
      if (downsample) shortcut_storage = (*downsample)(x, false);
      const Tensor<float>& shortcut = downsample ? shortcut_storage : x;
      Tensor<float> h = conv1(x, true);
      const bool last_is_conv2 = !conv3;
      // Without SE the add and ReLU ride in the last convolution's epilogue -- unless a ReLU must
      // come first (Caffe's basic block keeps its extra ReLU even where it has no SE).
      if (last_is_conv2 && !se && !relu_after_conv2) return conv2(h, true, &shortcut);
      h = conv2(h, relu_after_conv2);
      if (conv3) {
        if (!se) return (*conv3)(h, true, &shortcut);
        h = (*conv3)(h, false);
      }
      Tensor<float> s({h.dim(0), channels});
      if (se)
        s = se->excite(detail::squeeze_nchw16c(h, channels, se->options().squeeze));
      else
        s.fill(1.0f);
      detail::scale_add_relu_nchw16c(h, s, channels, shortcut);
      return h;
    }
  };

  /// `consumed`, when not null, is `model`, whose block weights are released once packed.
  PreparedResNet(const ResNet<float>& model, ResNet<float>* consumed)
      : cfg_(model.config()), stem_(fold_stem(model)), stem_pool_(model.stem_pool()), fc_(model.fc()) {
    SENET_CHECK(supports(model), cfg_.name, ": the fast engine runs SE blocks in the standard position only");
    for (std::size_t s = 0; s < model.num_stages(); ++s)
      for (std::size_t i = 0; i < model.stage(s).size(); ++i) {
        blocks_.emplace_back(model.stage(s)[i]);
        if (consumed)
          consumed->stage(s)[i].visit_parameters(
              [](const std::string&, Tensor<float>& t, ParameterKind) { t = Tensor<float>(); });
      }
  }

  static Conv2d<float> fold_stem(const ResNet<float>& model) {
    const Conv2d<float>& conv = model.stem_conv();
    Conv2d<float> folded(conv.in_channels(), conv.out_channels(), conv.params(), /*bias=*/true);
    std::vector<float> scale, shift;
    model.stem_bn().folded(scale, shift);
    const Index per_channel = conv.weight().size() / conv.out_channels();
    for (Index k = 0; k < conv.out_channels(); ++k) {
      for (Index i = 0; i < per_channel; ++i)
        folded.weight()[k * per_channel + i] = conv.weight()[k * per_channel + i] * scale[std::size_t(k)];
      (*folded.bias())[k] = shift[std::size_t(k)];
    }
    return folded;
  }
  Index block_channels() const { return blocks_.empty() ? cfg_.width : blocks_.back().channels; }

  ResNetConfig cfg_;
  Conv2d<float> stem_;
  MaxPool2d<float> stem_pool_;
  std::vector<Block> blocks_;
  Linear<float> fc_;
};

/// The fastest engine for `model` (float): a `PreparedResNet` when the model is a `ResNet<float>`
/// the engine supports (its weights are released as they are packed, so they exist about once),
/// else `model` itself, unchanged (a variant may be slower, never wrong).
inline std::unique_ptr<Model<float>> prepare(std::unique_ptr<Model<float>> model) {
  if (auto* resnet = dynamic_cast<ResNet<float>*>(model.get()); resnet && PreparedResNet::supports(*resnet))
    return std::make_unique<PreparedResNet>(std::move(*resnet));
  return model;
}

}  // namespace senet
