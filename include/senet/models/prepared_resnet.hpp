#pragma once
/// \file prepared_resnet.hpp
/// `senet::PreparedResNet`: the fast float engine for ResNet and SE-ResNet. Made once from a
/// loaded `ResNet<float>` (`senet::prepare`): BatchNorm folded into the convolutions, weights
/// packed for the `NCHW16c` direct-convolution kernels. `forward` then runs on one activation
/// arena planned per input shape (no allocation, no page faults after the first call at a
/// shape), each bottleneck as
///   conv1 (+bias, ReLU, into a zero-bordered buffer that is conv2's padding)
///   -> conv2 (+bias, ReLU) -> SE squeeze -> excitation GEMM -> conv3 (+bias, * gate, + shortcut, ReLU)
/// The SE squeeze comes before conv3 because it is linear: the mean of conv3's output over the
/// pixels is `W3 mean(h2) + b3`, one matrix-vector product on a 4x smaller tensor, so the gates are
/// known when conv3 runs and its epilogue applies them while the tile is in registers. That saves
/// a pass over the output where the activations outweigh conv3's weights (SE-ResNet-50's 56x56,
/// 28x28 and 14x14 stages); elsewhere, and for max and avg+max squeezes and basic blocks, the squeeze
/// reads the last convolution's output and one more pass scales, adds and applies the ReLU. The
/// naive `ResNet<T>` stays the oracle: the tests compare the two on every fixture. SE variants the
/// engine does not cover (positions other than `standard`) keep the naive path (`prepare` returns
/// the model as is).
///
/// Thread safety: `forward`, `activation_bytes`, `summary` and the other const members may run on
/// any number of threads at once on one prepared model: each `forward` leases its own workspace
/// from the model's pool (one per concurrent caller, kept for reuse) and shares only read-only
/// weights, so results do not depend on what other threads run. Each call parallelises over
/// `senet::num_threads()` threads read once at its start (`set_num_threads` may change it from
/// any thread at any time). The kernel path is fixed at `prepare` (`PrepareOptions::kernels`);
/// no process-wide state selects kernels. Not thread-safe: `set_activation_limit`, moving or
/// destroying the model while calls run. Results are bit-identical from run to run at a given
/// thread count (static work split, no atomics in sums) and agree across thread counts within
/// float rounding (a batch may run image by image or layer by layer).

#include <algorithm>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <optional>
#include <utility>
#include <vector>

#include "senet/core/threading.hpp"
#include "senet/models/resnet.hpp"
#include "senet/ops/conv2d_nchw16c.hpp"
#include "senet/ops/conv2d_stem.hpp"
#include "senet/ops/pooling_nchw16c.hpp"

#ifdef _OPENMP
#include <omp.h>
#endif

namespace senet {

namespace detail {

/// `conv` followed by `bn` as one convolution: returns the weight `w * scale` and sets `bias` to
/// `shift (+ conv bias * scale)`.
inline Tensor<float> fold_batch_norm(const Conv2d<float>& conv, const BatchNorm2d<float>& bn, std::vector<float>& bias) {
  std::vector<float> scale;
  bn.folded(scale, bias);
  Tensor<float> w = conv.weight();
  const Index per_channel = w.size() / w.dim(0);
  for (Index k = 0; k < w.dim(0); ++k)
    for (Index i = 0; i < per_channel; ++i) w[k * per_channel + i] *= scale[std::size_t(k)];
  if (const Tensor<float>* b = conv.bias())
    for (Index k = 0; k < w.dim(0); ++k) bias[std::size_t(k)] += (*b)[k] * scale[std::size_t(k)];
  return w;
}

/// A convolution with its BatchNorm folded in, packed for `conv2d_nchw16c`, run on `path`.
struct FusedConv16c {
  std::vector<float> bias;  // declared first: folding the weights sets it
  PackedConv2dWeights weights;
  Conv2dParams params;
  Conv2dPath path;

  FusedConv16c(const Conv2d<float>& conv, const BatchNorm2d<float>& bn,
               Conv2dPath kernel_path = Conv2dPath::automatic)
      : weights(pack_conv2d_weights_nchw16c(fold_batch_norm(conv, bn, bias))),
        params(conv.params()),
        path(kernel_path) {}

  Index out_channels() const { return weights.out_channels; }

  /// The output image (batch, channels, height, width; border `border`) for input `x`, data unset.
  FeatureView output_for(const FeatureView& x, Index border) const {
    return conv2d_nchw16c_output(x, weights, params, border);
  }

  /// `y = act((conv(x) + bias) * scale + residual)`.
  void operator()(const FeatureView& x, const FeatureView& y, bool relu, const FeatureView& residual = {},
                  const float* scale = nullptr) const {
    Conv2dEpilogue epilogue;
    epilogue.bias = bias.data();
    epilogue.scale = scale;
    epilogue.residual = residual;
    epilogue.relu = relu;
    conv2d_nchw16c(x, weights, params, epilogue, y, path);
  }

  /// `z [N, K] = W mean(x) + bias` for a 1x1 convolution given `mean(x)` `[N, C]` (the mean of its
  /// output over the pixels, computed before the convolution runs).
  void mean_of_output(const float* mean, Index N, float* z) const {
    const Index C = weights.in_channels, K = weights.out_channels, Kp = weights.padded_out();
    const Index w_rows = weights.in_blocks() * kChannelBlock;  // rows of one 32-channel block (1x1)
    for (Index n = 0; n < N; ++n) {
      const float* m = mean + n * C;
      for (Index block = 0; block * kWeightBlock < Kp; ++block) {
        const Index width = std::min(kWeightBlock, Kp - block * kWeightBlock);
        const float* w = weights.data.data() + block * kWeightBlock * w_rows;
        float acc[kWeightBlock] = {};
        if (width == kWeightBlock) {  // constant trip counts, so that the loops vectorise
          for (Index c = 0; c < C; ++c)
            for (Index k = 0; k < kWeightBlock; ++k) acc[k] += m[c] * w[c * kWeightBlock + k];
        } else {
          for (Index c = 0; c < C; ++c)
            for (Index k = 0; k < kChannelBlock; ++k) acc[k] += m[c] * w[c * kChannelBlock + k];
        }
        for (Index k = 0; k < width && block * kWeightBlock + k < K; ++k)
          z[n * K + block * kWeightBlock + k] = acc[k] + bias[std::size_t(block * kWeightBlock + k)];
      }
    }
  }
};

/// The SE squeeze of `x` over its pixels: `z` `[N, x.channels]` (mean, max or their average).
inline void squeeze_nchw16c(const FeatureView& x, SESqueeze mode, float* z) {
  const Index N = x.batch, Cb = x.blocks(), C = x.channels, H = x.height, W = x.width;
#ifdef _OPENMP
#pragma omp parallel for schedule(static) num_threads(senet::num_threads()) if (N * Cb * H * W > 4096 && !omp_in_parallel())
#endif
  for (Index nb = 0; nb < N * Cb; ++nb) {
    const Index n = nb / Cb, cb = nb % Cb;
    // Separate loops per statistic: each vectorises over the 16 lanes.
    float sum[kChannelBlock] = {}, top[kChannelBlock];
    std::copy_n(x.at(n, cb, 0, 0), kChannelBlock, top);
    for (Index h = 0; h < H; ++h) {
      const float* p = x.at(n, cb, h, 0);
      if (mode != SESqueeze::max)
        for (Index i = 0; i < W; ++i)
          for (Index l = 0; l < kChannelBlock; ++l) sum[l] += p[i * kChannelBlock + l];
      if (mode != SESqueeze::avg)
        for (Index i = 0; i < W; ++i)
          for (Index l = 0; l < kChannelBlock; ++l) {
            const float v = p[i * kChannelBlock + l];
            top[l] = (v > top[l] || v != v) ? v : top[l];  // NaN wins, as in PyTorch
          }
    }
    const Index c0 = cb * kChannelBlock;
    for (Index l = 0; l < kChannelBlock && c0 + l < C; ++l) {
      const float avg = sum[l] / float(H * W);
      z[n * C + c0 + l] = mode == SESqueeze::avg   ? avg
                          : mode == SESqueeze::max ? top[l]
                                                   : 0.5f * avg + 0.5f * top[l];
    }
  }
}

/// `y = relu(y * gate + shortcut)`, `gate` `[N, 16 Cb]` (padding lanes zero); views of one image
/// and border.
inline void scale_add_relu_nchw16c(const FeatureView& y, const float* gate, const FeatureView& shortcut) {
  const Index N = y.batch, Cb = y.blocks(), H = y.height, W = y.width;
#ifdef _OPENMP
#pragma omp parallel for schedule(static) num_threads(senet::num_threads()) if (N * Cb * H * W > 4096 && !omp_in_parallel())
#endif
  for (Index nb = 0; nb < N * Cb; ++nb) {
    const Index n = nb / Cb, cb = nb % Cb;
    const float* g = gate + (n * Cb + cb) * kChannelBlock;
    for (Index h = 0; h < H; ++h) {
      float* p = y.at(n, cb, h, 0);
      const float* r = shortcut.at(n, cb, h, 0);
      for (Index i = 0; i < W * kChannelBlock; ++i) {
        const float v = p[i] * g[i % kChannelBlock] + r[i];
        p[i] = v < 0.0f ? 0.0f : v;
      }
    }
  }
}

}  // namespace detail

/// How `prepare` builds the fast engine.
struct PrepareOptions {
  /// The kernels every convolution and pooling step runs: `automatic` (the best this CPU supports)
  /// or one forced path (tests, benchmarks); a path the CPU lacks makes `prepare` throw.
  Conv2dPath kernels = Conv2dPath::automatic;
};

/// The fast float engine for a loaded `ResNet<float>` with SE blocks (if any) in the standard
/// position. Holds its own folded, packed copy of the weights: later changes to the source model
/// do not reach it. `forward` is const and thread-safe.
class PreparedResNet : public Model<float> {
 public:
  /// Whether `model` can run on this engine (no grouped convolutions, every SE block in the
  /// standard position).
  static bool supports(const ResNet<float>& model) {
    const ResNetConfig& cfg = model.config();
    return cfg.groups == 1 && (!cfg.se || cfg.se_position == SEPosition::standard);
  }

  /// Prepares a copy of `model`'s weights; `model` stays as it was.
  explicit PreparedResNet(const ResNet<float>& model, const PrepareOptions& options = {})
      : PreparedResNet(model, nullptr, options) {}

  /// Prepares `model` and frees each block's weights as soon as they are packed, so that the
  /// weights exist about once, not twice, while preparing (what `senet::prepare` does).
  explicit PreparedResNet(ResNet<float>&& model, const PrepareOptions& options = {})
      : PreparedResNet(model, &model, options) {}

  /// The kernel path every step runs (resolved: never `automatic`).
  Conv2dPath kernel_path() const { return path_; }

  Tensor<float> forward(const Tensor<float>& x) const override {
    check_resnet_input(cfg_, x.shape());
    Lease lease(*this);
    Workspace& ws = *lease.workspace;
    // One read of the thread count per call: the plan's slots and the team that fills them agree
    // even when another thread changes the count meanwhile.
    const int threads = num_threads();
    if (ws.input != x.shape() || ws.threads != threads) plan(x.shape(), threads, ws);
    const Index N = x.dim(0);
    FeatureView h;
    if (ws.by_image) {
      h = run_by_image(x, ws);
    } else {
      h = stem_output_for(x.shape());
      h.data = ws.at(ws.ping);
      run_stem(x.data(), x.shape(), ws.at(ws.stem), h);
      float* spare = ws.at(ws.pong);
      for (const Block& block : blocks_) {
        const FeatureView out = block.run(h, spare, ws.scratch(0));
        spare = h.data;
        h = out;
      }
    }
    detail::squeeze_nchw16c(h, SESqueeze::avg, ws.squeezed.data());
    Tensor<float> logits({N, cfg_.num_classes}, uninitialized);
    linear(ws.squeezed.data(), N, fc_.weight(), fc_.bias() ? fc_.bias()->data() : nullptr, logits.data(),
           cfg_.num_classes);
    return logits;
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
  /// Exactly what `forward` allocates for `input` at the current thread count.
  std::uint64_t activation_bytes(const Shape& input) const override {
    check_resnet_input(cfg_, input);
    return layout(input, num_threads()).bytes();
  }
  std::string type_name() const override { return "PreparedResNet"; }
  const std::string& name() const override { return cfg_.name; }
  Index in_channels() const override { return cfg_.in_channels; }
  Index num_classes() const override { return cfg_.num_classes; }
  Index input_size() const override { return cfg_.input_size; }

 private:
  /// Where a block writes its intermediates.
  struct BlockScratch {
    float *shortcut, *h1, *h2, *squeezed, *mean, *hidden, *gates;
  };

  /// Where one `forward` for one input shape and thread count puts its activations. Batches run
  /// layer by layer use one buffer of each kind for the whole batch (slot 0); batches run image by
  /// image give each thread a region (a slot) with one image's worth of each.
  struct Layout {
    Shape input;          // the shape planned for (empty: none yet)
    Shape image_shape;    // what one slot holds: the input, or one image of it
    int threads = 0;      // and the thread count
    Index total = 0;      // floats of the arena
    Index ping = 0, pong = 0, stem = 0;  // block inputs and outputs, the stem convolution's output
    Index shortcut = 0, h1 = 0, h2 = 0;  // a block's intermediates, in slot 0
    Index slot_floats = 0;               // from one slot's intermediates to the next's
    bool by_image = false;               // each thread runs its own images through the network
    Index images = 0, image_floats = 0;  // by image: slot 0's two block input/output buffers
    Index channels = 0, hidden_channels = 0;  // widest SE descriptor (16-padded) and hidden layer

    /// The bytes of the arena and the per-image descriptors.
    std::uint64_t bytes() const {
      return sizeof(float) * std::uint64_t(total + input[0] * (3 * channels + hidden_channels));
    }
  };

  /// Everything one `forward` writes, planned for one input shape and reused while it repeats.
  struct Workspace : Layout {
    Tensor<float> arena;  // every activation, at the layout's offsets (floats)
    // Per-image descriptors: squeezed [N, C], mean [N, C], hidden [N, H], gates [N, 16 Cb].
    std::vector<float> squeezed, mean, hidden, gates;
    float* at(Index offset) { return arena.data() + offset; }
    /// The buffers of slot `slot` (images `slot, slot + 1, ...` for the descriptors).
    BlockScratch scratch(Index slot) {
      const Index o = slot * slot_floats;
      return {at(shortcut + o),           at(h1 + o),
              at(h2 + o),                 squeezed.data() + slot * channels,
              mean.data() + slot * channels, hidden.data() + slot * hidden_channels,
              gates.data() + slot * channels};
    }
  };

  /// A workspace taken from the model's pool for one call and given back after it.
  struct Lease {
    const PreparedResNet& model;
    std::unique_ptr<Workspace> workspace;
    explicit Lease(const PreparedResNet& m) : model(m) {
      std::lock_guard<std::mutex> lock(m.pool_mutex_);
      if (m.idle_.empty()) {
        workspace = std::make_unique<Workspace>();
      } else {
        workspace = std::move(m.idle_.back());
        m.idle_.pop_back();
      }
    }
    ~Lease() {
      std::lock_guard<std::mutex> lock(model.pool_mutex_);
      model.idle_.push_back(std::move(workspace));
    }
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
  };

  struct Block {
    detail::FusedConv16c conv1, conv2;
    std::optional<detail::FusedConv16c> conv3, downsample;
    std::optional<SEBlock<float>> se;
    bool relu_after_conv2;
    Index border;  // of the block's input and output (the widest padding conv1 reads)

    Block(const Residual<float>& b, bool legacy, Index act_border, Conv2dPath path)
        : conv1(part<Conv2d<float>>(b, "conv1"), part<BatchNorm2d<float>>(b, "bn1"), path),
          conv2(part<Conv2d<float>>(b, "conv2"), part<BatchNorm2d<float>>(b, "bn2"), path),
          // A bottleneck's 3x3 feeds a ReLU; Caffe's basic block has a ReLU before its SE too.
          relu_after_conv2(find_module<Conv2d<float>>(b, "conv3") || legacy),
          border(act_border) {
      if (find_module<Conv2d<float>>(b, "conv3"))
        conv3.emplace(part<Conv2d<float>>(b, "conv3"), part<BatchNorm2d<float>>(b, "bn3"), path);
      if (find_module<Conv2d<float>>(b, "downsample.0"))
        downsample.emplace(part<Conv2d<float>>(b, "downsample.0"), part<BatchNorm2d<float>>(b, "downsample.1"), path);
      if (const auto* s = find_module<SEBlock<float>>(b, legacy ? "se_module" : "se")) se.emplace(*s);
    }

    /// conv1's output, framed by conv2's padding (read in place by conv2) on rows wide enough for
    /// the kernels' row tiles; narrower ones (7 pixels) let conv1 treat the image as one long row
    /// and conv2 pad a copy.
    FeatureView h1_for(const FeatureView& x) const {
      FeatureView h1 = conv1.output_for(x, 0);
      const Conv2dParams& p = conv2.params;
      if (p.pad_h == p.pad_w && h1.width >= 14) h1.border = p.pad_h;
      return h1;
    }
    /// Whether the SE scale fuses into conv3's epilogue for conv3 input `h2`: the squeeze must be a
    /// mean over conv3's (1x1, stride 1) output, and the fused path must move fewer bytes. It reads
    /// h2 once more and conv3's weights twice (W3 mean(h2)); the unfused one makes one more pass
    /// over the output and the shortcut. On SE-ResNet-50's 7x7 stage the weights are the larger,
    /// so it stays unfused (measured: BM_SEBottleneckTail).
    bool fused_se(const FeatureView& h2) const {
      if (!se || !conv3 || se->options().squeeze != SESqueeze::avg) return false;
      const Conv2dParams& p = conv3->params;
      if (conv3->weights.kernel_h != 1 || conv3->weights.kernel_w != 1 || p.stride_h != 1 || p.stride_w != 1 ||
          p.pad_h != 0 || p.pad_w != 0)
        return false;
      const Index pixels = h2.batch * h2.height * h2.width, C = h2.channels, K = conv3->out_channels();
      return C * K + C * pixels < 3 * K * pixels;
    }

    /// The gates `[N, 16 Cb]` (padding lanes zero) for the squeezed descriptor in `s.squeezed`.
    const float* gates(Index N, Index C, const BlockScratch& s) const {
      const Index Kp = channel_blocks(C) * kChannelBlock;
      se->excite(s.squeezed, N, s.hidden, s.gates, Kp);
      for (Index n = 0; n < N; ++n) std::fill(s.gates + n * Kp + C, s.gates + (n + 1) * Kp, 0.0f);
      return s.gates;
    }

    /// The block's output for input `x` (data unset).
    FeatureView output_for(const FeatureView& x) const {
      const FeatureView v1 = h1_for(x);
      return conv3 ? conv3->output_for(conv2.output_for(v1, 0), border) : conv2.output_for(v1, border);
    }

    /// Runs the block on `x`, writing its output at `out_data`; returns the output's view.
    FeatureView run(const FeatureView& x, float* out_data, const BlockScratch& s) const {
      FeatureView shortcut = x;
      if (downsample) {
        shortcut = downsample->output_for(x, border);
        shortcut.data = s.shortcut;
        (*downsample)(x, shortcut, false);
      }
      FeatureView h1 = h1_for(x);
      h1.data = s.h1;
      conv1(x, h1, true);
      const Index N = x.batch;
      if (!conv3) {  // basic block
        FeatureView out = conv2.output_for(h1, border);
        out.data = out_data;
        // Without SE the add and ReLU ride in conv2's epilogue -- unless a ReLU must come first
        // (Caffe's basic block keeps its extra ReLU even where it has no SE).
        if (!se && !relu_after_conv2) {
          conv2(h1, out, true, shortcut);
          return out;
        }
        conv2(h1, out, relu_after_conv2);
        scale_add_relu(out, shortcut, s);
        return out;
      }
      FeatureView h2 = conv2.output_for(h1, 0);
      h2.data = s.h2;
      conv2(h1, h2, relu_after_conv2);
      FeatureView out = conv3->output_for(h2, border);
      out.data = out_data;
      if (!se) {
        (*conv3)(h2, out, true, shortcut);
      } else if (fused_se(h2)) {
        detail::squeeze_nchw16c(h2, SESqueeze::avg, s.mean);
        conv3->mean_of_output(s.mean, N, s.squeezed);
        (*conv3)(h2, out, true, shortcut, gates(N, out.channels, s));
      } else {
        (*conv3)(h2, out, false);
        scale_add_relu(out, shortcut, s);
      }
      return out;
    }

    /// `out = relu(out * gates + shortcut)`, the gates from `out`'s squeeze (all ones without SE).
    void scale_add_relu(const FeatureView& out, const FeatureView& shortcut, const BlockScratch& s) const {
      const Index N = out.batch, C = out.channels, Kp = out.blocks() * kChannelBlock;
      const float* g = s.gates;
      if (se) {
        detail::squeeze_nchw16c(out, se->options().squeeze, s.squeezed);
        g = gates(N, C, s);
      } else {
        for (Index n = 0; n < N; ++n)
          for (Index k = 0; k < Kp; ++k) s.gates[n * Kp + k] = k < C ? 1.0f : 0.0f;
      }
      detail::scale_add_relu_nchw16c(out, g, shortcut);
    }
  };

  /// The module of type `M` at `path` under `root`; throws when the model has none.
  template <class M>
  static const M& part(const Module<float>& root, const std::string& path) {
    const M* m = find_module<M>(root, path);
    SENET_CHECK(m != nullptr, "PreparedResNet: the model has no ", path);
    return *m;
  }

  /// `consumed`, when not null, is `model`, whose block weights are released once packed.
  PreparedResNet(const ResNet<float>& model, ResNet<float>* consumed, const PrepareOptions& options)
      : cfg_(model.config()),
        path_(resolve_conv2d_path(options.kernels)),
        stem_params_(part<Conv2d<float>>(model, stem_name("conv1")).params()),
        stem_pool_params_(cfg_.stem == StemType::imagenet ? part<MaxPool2d<float>>(model, stem_name("pool")).params()
                                                          : Pool2dParams{}),
        fc_(part<Linear<float>>(model, legacy() ? "last_linear" : "fc")) {
    set_activation_limit(model.activation_limit());
    SENET_CHECK(supports(model), cfg_.name,
                ": the fast engine runs ungrouped convolutions and SE blocks in the standard position only");
    stem_weights_ = pack_conv2d_stem_weights(detail::fold_batch_norm(
        part<Conv2d<float>>(model, stem_name("conv1")), part<BatchNorm2d<float>>(model, stem_name("bn1")), stem_bias_));
    std::vector<const Residual<float>*> blocks;
    for (std::size_t s = 0; s < cfg_.layers.size(); ++s)
      for (Index i = 0; i < cfg_.layers[s]; ++i) {
        blocks.push_back(&part<Residual<float>>(model, "layer" + std::to_string(s + 1) + "." + std::to_string(i)));
        const Conv2dParams& p = part<Conv2d<float>>(*blocks.back(), "conv1").params();
        border_ = std::max({border_, p.pad_h, p.pad_w});
      }
    for (const Residual<float>* b : blocks) {
      blocks_.emplace_back(*b, legacy(), border_, path_);
      // `b` is part of `*consumed` when that is set: free its weights now that they are packed.
      if (consumed)
        const_cast<Residual<float>*>(b)->visit_parameters(
            [](const std::string&, Tensor<float>& t, ParameterKind) { t = Tensor<float>(); });
    }
  }

  bool legacy() const { return cfg_.style == ResNetStyle::legacy; }
  /// The path of the stem's `name` (`conv1`, `bn1`, `pool`).
  std::string stem_name(const std::string& name) const {
    if (legacy()) return "layer0." + name;
    return name == "pool" ? "maxpool" : name;
  }

  /// The stem convolution's output for an input of shape `input`, data unset.
  FeatureView stem_conv_output_for(const Shape& input) const {
    const auto [oh, ow] = conv2d_output_size(input[2], input[3], stem_params_);
    return {nullptr, input[0], stem_weights_.out_channels, oh, ow, 0};
  }
  /// The stem's output (the first block's input), data unset.
  FeatureView stem_output_for(const Shape& input) const {
    FeatureView v = stem_conv_output_for(input);
    if (cfg_.stem == StemType::imagenet) {
      const auto [oh, ow] = pool2d_output_size(v.height, v.width, stem_pool_params_);
      v.height = oh;
      v.width = ow;
    }
    v.border = border_;
    return v;
  }

  /// Stem convolution (+bias, ReLU) and, for ImageNet stems, max pooling (the convolution's
  /// output at `conv_data`) of the images `x` (`shape`); writes the first block's input, `out`.
  void run_stem(const float* x, const Shape& shape, float* conv_data, const FeatureView& out) const {
    if (cfg_.stem != StemType::imagenet) {
      conv2d_stem_nchw16c(x, shape, stem_weights_, stem_params_, stem_bias_.data(), /*relu=*/true, out, path_);
      return;
    }
    FeatureView conv = stem_conv_output_for(shape);
    conv.data = conv_data;
    conv2d_stem_nchw16c(x, shape, stem_weights_, stem_params_, stem_bias_.data(), /*relu=*/true, conv, path_);
    max_pool2d_nchw16c(conv, stem_pool_params_, out, path_);
  }

  /// A batch that splits evenly over the threads: each thread runs its own images, one at a time,
  /// through the stem and every block in its own slot of the workspace, so an image's activations
  /// stay in that core's cache and the threads never wait on each other (measured at batch 8 on 2
  /// threads: 7% faster than splitting each convolution over the threads, whose activations then
  /// spill out of cache). Returns the last block's output for the batch, at `ping`.
  FeatureView run_by_image(const Tensor<float>& x, Workspace& ws) const {
    const Index N = x.dim(0), input_floats = x.size() / N;  // of one input image
    const Shape& one = ws.image_shape;
    const FeatureView input = stem_output_for(one);
    FeatureView last = input;
    for (const Block& block : blocks_) last = block.output_for(last);
    FeatureView out = last;
    out.batch = N;
    out.data = ws.at(ws.ping);
#ifdef _OPENMP
#pragma omp parallel for schedule(static) num_threads(ws.threads)
#endif
    for (Index n = 0; n < N; ++n) {
#ifdef _OPENMP
      const Index slot = omp_get_thread_num();
#else
      const Index slot = 0;
#endif
      const Index o = slot * ws.slot_floats;
      float* const buffers[2] = {ws.at(ws.images + o), ws.at(ws.images + o + ws.image_floats)};
      FeatureView cur = input;
      cur.data = buffers[1];  // the first block writes buffers[0]
      run_stem(x.data() + n * input_floats, one, ws.at(ws.stem + o), cur);
      const BlockScratch s = ws.scratch(slot);
      for (std::size_t i = 0; i < blocks_.size(); ++i)
        cur = blocks_[i].run(cur, i + 1 == blocks_.size() ? out.data + n * last.size() : buffers[i % 2], s);
    }
    return out;
  }

  /// Where the activations of an input of shape `input` on `threads` threads go. Layer by layer:
  /// the block inputs and outputs alternate between `ping` and `pong`, the stem convolution's
  /// output (dead once pooled) overlaps the rest. Image by image: the batch's output at `ping`,
  /// then one slot per thread (two image buffers, the stem convolution's output, the intermediates).
  Layout layout(const Shape& input, int threads) const {
    auto aligned = [](Index floats) { return (floats + 15) / 16 * 16; };
    Layout l;
    const Index N = input[0];
    l.input = input;
    l.threads = threads;
    l.by_image = N > 1 && N % threads == 0 && !blocks_.empty();
    Shape shape = input;  // of what one slot holds
    if (l.by_image) shape[0] = 1;
    l.image_shape = shape;
    FeatureView x = stem_output_for(shape);
    Index act = x.size(), shortcut = 0, h1 = 0, h2 = 0, channels = x.channels, hidden = 1;
    for (const Block& b : blocks_) {
      if (b.downsample) shortcut = std::max(shortcut, b.downsample->output_for(x, b.border).size());
      const FeatureView v1 = b.h1_for(x), out = b.output_for(x);
      h1 = std::max(h1, v1.size());
      if (b.conv3) h2 = std::max(h2, b.conv2.output_for(v1, 0).size());
      act = std::max(act, out.size());
      channels = std::max({channels, v1.blocks() * kChannelBlock, out.blocks() * kChannelBlock});
      if (b.se) hidden = std::max(hidden, b.se->hidden_channels());
      x = out;
    }
    const Index stem = cfg_.stem == StemType::imagenet ? aligned(stem_conv_output_for(shape).size()) : 0;
    l.ping = 0;
    if (l.by_image) {
      l.image_floats = aligned(act);
      l.images = aligned(N * x.size());  // x: the last block's output for one image
      l.pong = l.ping;                   // unused
      l.stem = l.images + 2 * l.image_floats;
      l.shortcut = l.stem + stem;
      l.h1 = l.shortcut + aligned(shortcut);
      l.h2 = l.h1 + aligned(h1);
      l.slot_floats = l.h2 + aligned(h2) - l.images;
      l.total = l.images + threads * l.slot_floats;
    } else {
      l.pong = aligned(act);
      l.shortcut = l.pong + aligned(act);
      l.h1 = l.shortcut + aligned(shortcut);
      l.h2 = l.h1 + aligned(h1);
      l.stem = l.pong;
      l.total = std::max(l.h2 + aligned(h2), l.stem + stem);
    }
    l.channels = channels;
    l.hidden_channels = hidden;
    return l;
  }

  /// Sizes the arena and the descriptors of `ws` for inputs of shape `input` on `threads` threads,
  /// after checking the activation limit. `ws` holds no plan until the buffers are in place, so a
  /// refused input or a failed allocation leaves it to be planned again on the next call.
  void plan(const Shape& input, int threads, Workspace& ws) const {
    const Layout l = layout(input, threads);
    check_activation_memory(input, l.bytes());
    ws.input.clear();
    if (ws.arena.size() < l.total) ws.arena = Tensor<float>({l.total});
    const auto n = std::size_t(input[0]);
    ws.squeezed.assign(n * std::size_t(l.channels), 0.0f);
    ws.mean.assign(n * std::size_t(l.channels), 0.0f);
    ws.gates.assign(n * std::size_t(l.channels), 0.0f);
    ws.hidden.assign(n * std::size_t(l.hidden_channels), 0.0f);
    static_cast<Layout&>(ws) = l;
  }

  ResNetConfig cfg_;
  Conv2dPath path_;
  PackedStemWeights stem_weights_;
  std::vector<float> stem_bias_;
  Conv2dParams stem_params_;
  Pool2dParams stem_pool_params_;
  Index border_ = 0;  // of every block's input and output
  std::vector<Block> blocks_;
  Linear<float> fc_;
  mutable std::mutex pool_mutex_;
  mutable std::vector<std::unique_ptr<Workspace>> idle_;
};

/// The fastest engine for `model` (float): a `PreparedResNet` when the model is a `ResNet<float>`
/// the engine supports (its weights are released as they are packed, so they exist about once),
/// else `model` itself, unchanged (a variant may be slower, never wrong).
inline std::unique_ptr<Model<float>> prepare(std::unique_ptr<Model<float>> model, const PrepareOptions& options = {}) {
  if (auto* resnet = dynamic_cast<ResNet<float>*>(model.get()); resnet && PreparedResNet::supports(*resnet))
    return std::make_unique<PreparedResNet>(std::move(*resnet), options);
  return model;
}

}  // namespace senet
