#pragma once
/// \file prepared.hpp
/// `senet::prepare` and `senet::PreparedNetwork`: the fast float engine for any composed model.
///
/// `prepare` lowers the model's module tree (`Sequential`, `Residual`, `Concat`, convolutions,
/// BatchNorm, ReLU and hard-swish, SE blocks, pooling, channel shuffles, the head: global average
/// pool, then linear layers each optionally followed by an activation) to a flat list of steps on
/// channel-blocked activations (`NCHW16c`), folding and fusing as it goes:
/// - BatchNorm folds into the convolution before it; bias and the activation ride in its epilogue;
/// - an SE block right after a convolution becomes part of that convolution's step: its gates
///   either come from the convolution's input before it runs (a 1x1 stride-1 convolution is
///   linear, so the mean of its output is `W mean(x) + b`, and the SE's first fully connected
///   layer `F` is folded into it at `prepare`: `(F W) mean(x) + F b`; the gates are known when it
///   runs and its epilogue applies them in registers), or from its output in one more pass, chosen
///   per input shape by which moves fewer bytes;
/// - the residual add (and an activation after it) joins the epilogue of whatever produced the body's
///   output (the convolution, or the SE scale pass);
/// - concatenated branches are written straight into their channel range of one output where
///   every range starts on a 16-channel block and one slot runs one image; else (any offset, a
///   branch that passes its input through, images run together) they are copied there.
/// Weights are packed once, per convolution, for the kernel path chosen at `prepare`
/// (`PrepareOptions::kernels`). Activation memory is planned per input shape from each value's
/// lifetime (values that are never alive at the same time share memory), in one arena per
/// thread when a batch runs image by image. `forward` then allocates nothing after the first
/// call at a shape.
///
/// A model containing anything else (other activations, a head that does not start with a global
/// average pool and end with a linear layer, a grouped first convolution, ...) is left as it is by `prepare`: the naive path
/// runs it, slower, never wrong. The naive path stays the oracle: the tests compare the two on
/// every fixture and kernel path.
///
/// Thread safety: `forward`, `activation_bytes`, `summary` and the other const members may run on
/// any number of threads at once on one prepared model: each `forward` leases its own workspace
/// from the model's pool (one per concurrent caller, kept for reuse) and shares only read-only
/// weights, so results do not depend on what other threads run. Each call parallelises over
/// `senet::num_threads()` threads read once at its start (`set_num_threads` may change it from
/// any thread at any time). The kernel path is fixed at `prepare`; no process-wide state selects
/// kernels. Not thread-safe: `set_activation_limit`, moving or destroying the model while calls
/// run. Results are bit-identical from run to run at a given thread count (static work split, no
/// atomics in sums) and agree across thread counts within float rounding (a batch may run image
/// by image or layer by layer).

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdint>
#include <limits>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "senet/core/threading.hpp"
#include "senet/layers/activation.hpp"
#include "senet/layers/batch_norm2d.hpp"
#include "senet/layers/channel_shuffle.hpp"
#include "senet/layers/concat.hpp"
#include "senet/layers/conv2d.hpp"
#include "senet/layers/linear.hpp"
#include "senet/layers/pooling.hpp"
#include "senet/layers/residual.hpp"
#include "senet/layers/se_block.hpp"
#include "senet/layers/sequential.hpp"
#include "senet/models/model.hpp"
#include "senet/models/network.hpp"
#include "senet/ops/conv2d_nchw16c.hpp"
#include "senet/ops/conv2d_stem.hpp"
#include "senet/ops/conv2d_winograd.hpp"
#include "senet/ops/elementwise_nchw16c.hpp"
#include "senet/ops/gemm.hpp"
#include "senet/ops/linear_rows.hpp"
#include "senet/ops/pooling_nchw16c.hpp"

#ifdef _OPENMP
#include <omp.h>
#endif

namespace senet {

/// The default of `PrepareOptions::winograd_stride2_max_channels` on this CPU: 128, or 0 on Intel
/// CPUs, where the direct kernel measured at least as fast (see there).
inline Index default_winograd_stride2_max_channels() { return detail::cpu_is_intel() ? 0 : 128; }

/// How `prepare` builds the fast engine.
struct PrepareOptions {
  /// The kernels every convolution and pooling step runs: `automatic` (the best this CPU supports)
  /// or one forced path (tests, benchmarks); a path the CPU lacks makes `prepare` throw. `amx`
  /// (with `precision` bf16) puts the bf16 convolutions on AMX and the rest on the best FP32 path.
  Conv2dPath kernels = Conv2dPath::automatic;
  /// `bf16`: every convolution whose weights can be packed in bfloat16 (all but the lane-group
  /// layouts: depthwise and groups of 2-8; the few-channel stem too) runs on bfloat16 weights and
  /// bfloat16-rounded inputs with FP32 sums (AMX tiles where the CPU has them, else AVX512_BF16,
  /// else the portable kernels; `kernels` forces one of those as for FP32), and so do the fully
  /// connected layers (the SE excitations and the head: `linear_rows`). Activations stay FP32 in
  /// memory, so pooling, the SE scale and residual adds are unchanged. Logits move by about 1e-2
  /// relative. The 3x3s of `winograd_2x2_max_channels` run as Winograd F(2x2, 3x3) in bf16 (its
  /// transforms amplify bfloat16's rounding ~1.5x); those of `winograd_max_channels` as F(4x4,
  /// 3x3) in FP32 (its transforms amplify it ~25x; measured on SE-ResNet-50's 64- and 128-channel
  /// 3x3s, FP32 F(4x4) takes 0.43 and 0.39 ms where bf16 F(2x2) takes 0.53 and 0.49). On `amx`
  /// they all run direct in bf16.
  ConvPrecision precision = ConvPrecision::fp32;
  /// The 3x3 stride-1 convolutions (ungrouped, undilated) with at most this many input and output
  /// channels run as Winograd F(4x4, 3x3) in FP32, in a bf16 network too (see `precision`) (`conv2d_winograd_nchw16c`: 4x fewer multiplies,
  /// weights 4x larger); 0 runs none so. The default takes SE-ResNet-50's first two stages (64
  /// and 128 channels, 56x56 and 28x28 maps at 224), where it measured ~2x the direct kernel,
  /// and keeps the deeper ones direct: their few tiles per image pay for 4x the weights from
  /// memory (`bench_conv_nchw16c --benchmark_filter=3x3s1` measures each stage).
  Index winograd_max_channels = 128;
  /// The 3x3 stride-1 convolutions wider than `winograd_max_channels` with at most this many
  /// input and output channels run as Winograd F(2x2, 3x3) (2.25x fewer multiplies, weights 1.8x
  /// larger); 0 runs none so. The default takes SE-ResNet-50's third stage (256 channels, 14x14 at
  /// 224): there F(4x4)'s weights, 4x the direct ones, cost as much to read from memory as they
  /// save (and 35 MB more to keep), while F(2x2) runs ~0.7 ms per convolution against the direct
  /// kernel's ~1.05 in the network. At 512 channels (7x7) it is about even with the direct kernel
  /// (16.8 MB of weights from memory per convolution) and costs 15 MB more for SE-ResNet-50.
  Index winograd_2x2_max_channels = 256;
  /// The 3x3 stride-2 convolutions (ungrouped, undilated) with at most this many input and output
  /// channels run as a Winograd F(4x4, 2x2) on the input's phases (`conv2d_winograd_nchw16c` on
  /// weights packed with stride 2: 1.78x fewer multiplies, weights 4x larger), in an FP32 network
  /// (a bf16 one runs them in bf16, direct: 0.62 ms there against 0.92 for this form in FP32); 0
  /// runs none so. The default (`default_winograd_stride2_max_channels`) takes SE-ResNet-50's
  /// second stage's (128 channels, 56x56 -> 28x28 at 224; on an AMD EPYC (Zen 5), in the network,
  /// `senet bench --profile`, alternating rounds: 1.17 -> 0.92 ms on one thread, 0.63 -> 0.57 on
  /// two, 9.2 -> 7.6 ms at batch 8 on two) and keeps the deeper ones direct: with fewer tiles per
  /// image, 4x the weights from memory cost more than the multiplies save (layer3.0's, 256
  /// channels at 28x28 -> 14x14: 1.15 -> 1.54 ms). On Intel CPUs it is 0: on a Xeon (Sapphire
  /// Rapids class, 2 MB of L2) the direct kernel ran that convolution as fast in quiet hours and
  /// faster in busy ones (1.33 against 1.45 ms on one thread, 0.72 against 0.81 on two, 1.37
  /// against 1.59 ms per image at batch 8 on two, 2026-12-05).
  Index winograd_stride2_max_channels = default_winograd_stride2_max_channels();
  /// Whether each of those convolutions runs as Winograd only where that measured faster: `prepare`
  /// then times every step of a few forwards of one image of the model's input size (on the
  /// current thread count) with those convolutions direct and as Winograd, alternating, and keeps
  /// the Winograd form of each where its fastest time beats the direct one's by 5% or more (the
  /// larger weights have to pay), else the direct form. In the network each convolution's weights
  /// come from memory as they do in use, so the choice sees what a kernel benchmark cannot. Off by
  /// default, like PyTorch's `cudnn.benchmark`: the choice varies with the machine and its load, so
  /// two runs may differ in rounding (both within FP32 accuracy), and `prepare` takes longer
  /// (~0.5 s for SE-ResNet-50 at 224 on one thread).
  bool measure_winograd = false;
};

namespace detail {

/// Thrown while lowering a model the engine cannot run; `prepare` then keeps the naive model.
struct Unsupported {
  std::string what;
};

/// A convolution as the engine runs it: PyTorch's weight times a per-channel scale (folded
/// BatchNorms), plus a bias; packed for the blocked kernels once lowering is complete.
struct EngineConv {
  const Conv2d<float>* source = nullptr;  // until packed
  std::vector<double> scale, bias;        // [K]: y = conv(x) * scale + bias
  Conv2dParams params;
  bool stem = false;                 // reads the network's NCHW input (conv2d_stem_nchw16c)
  PackedConv2dWeights weights;       // !stem (its shape only, no data, when `winograd` has the weights)
  WinogradConv2dWeights winograd;    // the Winograd form, when chosen
  PackedStemWeights stem_weights;    // stem
  std::vector<float> packed_bias;

  EngineConv() = default;
  /// `conv` as it is (scale 1, its own bias), not yet packed.
  explicit EngineConv(const Conv2d<float>& conv)
      : source(&conv),
        scale(std::size_t(conv.out_channels()), 1.0),
        bias(std::size_t(conv.out_channels()), 0.0),
        params(conv.params()) {
    if (const Tensor<float>* b = conv.bias())
      for (Index k = 0; k < conv.out_channels(); ++k) bias[std::size_t(k)] = (*b)[k];
  }

  Index out_channels() const { return stem ? stem_weights.out_channels : weights.out_channels; }

  /// Source weight `v` of output channel `k` as the convolution runs it: scaled, rounded to float.
  float scaled(Index k, float v) const { return float(double(v) * scale[std::size_t(k)]); }

  /// Folds `y = x * s + t` (per channel) into the convolution's output.
  void fold(const std::vector<float>& s, const std::vector<float>& t) {
    for (std::size_t k = 0; k < bias.size(); ++k) {
      scale[k] *= double(s[k]);
      bias[k] = bias[k] * double(s[k]) + double(t[k]);
    }
  }

  /// Packs the scaled weights in `precision` where the layout has it, 3x3s with at most
  /// `winograd_max_channels` channels in and out as Winograd F(4x4, 3x3) in FP32, others with at most
  /// `winograd_2x2_max_channels` as F(2x2, 3x3), stride-2 3x3s with at most
  /// `winograd_stride2_max_channels` by phases in FP32 networks (and also in the direct form
  /// when `keep_direct`, until `keep_only` chooses). `take`: the source's weight tensor, moved from
  /// (so that packing holds no third copy of it), or null to read the source without changing it.
  void pack(ConvPrecision precision = ConvPrecision::fp32, Index winograd_max_channels = 0,
            Index winograd_2x2_max_channels = 0, Index winograd_stride2_max_channels = 0, Tensor<float>* take = nullptr,
            bool keep_direct = false) {
    Tensor<float> w = take ? std::move(*take) : source->weight();
    SENET_CHECK(w.rank() == 4, "prepare: a convolution's weight is gone (one Conv2d in two places?)");
    const Index K = w.dim(0), per_channel = w.size() / K;
    for (Index k = 0; k < K; ++k)
      for (Index i = 0; i < per_channel; ++i) w[k * per_channel + i] = scaled(k, w[k * per_channel + i]);
    packed_bias.assign(bias.begin(), bias.end());
    if (stem) {
      stem_weights = pack_conv2d_stem_weights(w, precision);
    } else if (const Index widest = std::max(w.dim(0), w.dim(1));
               (winograd_applies(params) && (widest <= winograd_max_channels || widest <= winograd_2x2_max_channels)) ||
               (winograd_stride2_applies(params) && widest <= winograd_stride2_max_channels &&
                precision == ConvPrecision::fp32)) {
      const int tile = params.stride_h == 2 || widest <= winograd_max_channels ? 4 : 2;
      // F(4x4) stays FP32 in a bf16 network: its transforms amplify bfloat16's rounding ~25x.
      winograd = pack_conv2d_winograd_weights(w, tile, tile == 4 ? ConvPrecision::fp32 : precision,
                                              int(params.stride_h));
      if (keep_direct)
        weights = pack_conv2d_weights_nchw16c(w, params.groups, precision);
      else
        static_cast<PackedConvShape&>(weights) = PackedConvShape::of(w, "EngineConv::pack");
    } else {
      weights = pack_conv2d_weights_nchw16c(w, params.groups, precision);
    }
    source = nullptr;
  }

  /// Whether it holds both forms (packed with `keep_direct`).
  bool has_both_forms() const { return !winograd.empty() && !weights.data.empty(); }

  /// Frees the form it will not run: the direct one when `use_winograd`, else the Winograd one.
  void keep_only(bool use_winograd) {
    if (use_winograd) {
      PackedConv2dWeights shape_only;
      static_cast<PackedConvShape&>(shape_only) = weights;
      weights = std::move(shape_only);
    } else {
      winograd = WinogradConv2dWeights();
    }
  }

  /// A fully connected layer that reads this 1x1 convolution's mean output, folded into one that
  /// reads the mean of its input: the convolution is linear, so `F (W mean(x) + b) + c` is
  /// `(F W) mean(x) + (F b + c)`. `fc` `[H, K]`, `fc_bias` `[H]` or null; the convolution's weights
  /// as it will run them (scaled, not yet packed); the product in double. Returns `F W` `[H, C]`
  /// and sets `folded_bias` to `F b + c`.
  Tensor<float> fold_into(const Tensor<float>& fc, const float* fc_bias, std::vector<float>& folded_bias) const {
    const Tensor<float>& w = source->weight();
    const Index K = w.dim(0), C = w.size() / K, H = fc.dim(0);
    std::vector<double> f(std::size_t(H * K)), wk(std::size_t(K * C)), fw(std::size_t(H * C));
    for (Index k = 0; k < K; ++k)
      for (Index i = 0; i < C; ++i) wk[std::size_t(k * C + i)] = double(scaled(k, w[k * C + i]));
    std::copy(fc.begin(), fc.end(), f.begin());
    gemm(f.data(), wk.data(), fw.data(), H, C, K);
    Tensor<float> folded({H, C}, uninitialized);
    folded_bias.assign(std::size_t(H), 0.0f);
    for (Index h = 0; h < H; ++h) {
      double b = fc_bias ? fc_bias[h] : 0.0;
      for (Index k = 0; k < K; ++k) b += f[std::size_t(h * K + k)] * double(float(bias[std::size_t(k)]));
      folded_bias[std::size_t(h)] = float(b);
      for (Index i = 0; i < C; ++i) folded[h * C + i] = float(fw[std::size_t(h * C + i)]);
    }
    return folded;
  }
};

/// One activation of the lowered model: `channels x height x width` per image (for the planned
/// batch), with a zero border of `border` pixels its readers take as padding.
struct EngineValue {
  Index channels = 0, height = 0, width = 0;
  Index border = 0;
  int first_def = -1;  // the step that first writes it
  int producer = -1;   // the step that last wrote it (while lowering)
  int last_use = -1;   // the step that last reads it
  Index offset = 0;   // floats from the slot's base, once planned
};

enum class StepKind { conv, scale, max_pool, avg_pool, concat_copy, global_pool, shuffle };

/// One step of the lowered model: reads `input`, writes `output` (`output == input`: in place).
struct EngineStep {
  StepKind kind = StepKind::conv;
  std::string name;  // the module path, for messages
  int input = -1, output = -1;
  int conv = -1;      // conv: the convolution
  int se = -1;        // conv, scale: the SE block whose gates scale the output
  int residual = -1;  // conv, scale: the value added after the scale
  Activation act = Activation::none;  // conv, scale: applied last
  Pool2dParams pool;  // max_pool, avg_pool
  Index channel_offset = 0;  // concat_copy
  bool direct = false;       // concat_copy: every branch of this concatenation may write into it in place
  Index groups = 1;          // shuffle: ChannelShuffle's groups
};

/// What the plan for one input shape decides per step.
struct PlannedStep {
  bool fused_se = false;  // conv with SE: gates from the input before the convolution
  bool skip = false;      // concat_copy: the branch already wrote into its channel range
};

}  // namespace detail

/// The fast float engine for a composed model (see the file comment). Made by `senet::prepare`;
/// owns the model it was made from, whose weights it frees once packed (its structure stays, for
/// summaries). `forward` is const and thread-safe.
class PreparedNetwork : public Model<float> {
 public:
  /// Lowers and packs `model` (a `Network<float>`, or any `Model<float>` whose children run in
  /// sequence); throws `senet::Error` when a part of it has no fast step or `options.kernels` is a
  /// path this CPU lacks. `senet::prepare` is the forgiving form.
  explicit PreparedNetwork(std::unique_ptr<Model<float>> model, const PrepareOptions& options = {})
      : PreparedNetwork(options) {
    SENET_CHECK(model != nullptr, "prepare: no model");
    const std::string why = adopt(model);
    SENET_CHECK(why.empty(), model->name(), ": the fast engine cannot run this model: ", why);
  }

  /// `model` prepared, or null with `model` left as it was when a part of it has no fast step
  /// (`*why`, when given, says which).
  static std::unique_ptr<PreparedNetwork> try_prepare(std::unique_ptr<Model<float>>& model,
                                                      const PrepareOptions& options = {}, std::string* why = nullptr) {
    std::unique_ptr<PreparedNetwork> engine(new PreparedNetwork(options));
    std::string reason = model ? engine->adopt(model) : "no model";
    if (why) *why = reason;
    return reason.empty() ? std::move(engine) : nullptr;
  }

  /// The stride-1 convolution steps that run as Winograd (`PrepareOptions::winograd_max_channels`
  /// and `winograd_2x2_max_channels`), by module path: "layer1.0.conv2", ...; `tile` 4 or 2: only
  /// those of F(4x4, 3x3) or F(2x2, 3x3). `stride` 2: the stride-2 ones instead
  /// (`winograd_stride2_max_channels`), 0: both.
  std::vector<std::string> winograd_steps(int tile = 0, int stride = 1) const {
    std::vector<std::string> out;
    for (const auto& s : steps_)
      if (s.kind == detail::StepKind::conv)
        if (const auto& w = convs_[std::size_t(s.conv)].winograd;
            !w.empty() && (tile == 0 || w.tile == tile) && (stride == 0 || w.stride == stride))
          out.push_back(s.name);
    return out;
  }

  /// The kernel path every step runs (resolved: never `automatic`).
  Conv2dPath kernel_path() const { return path_; }
  /// What `PrepareOptions::precision` asked for.
  ConvPrecision precision() const { return precision_; }
  /// The lowered steps, for tests and profiles: "conv layer1.0.conv1", "scale layer1.0.se", ...
  std::vector<std::string> step_names() const {
    static const char* kinds[] = {"conv", "scale", "max_pool", "avg_pool", "concat_copy", "global_pool", "shuffle"};
    std::vector<std::string> out;
    for (const auto& s : steps_) out.push_back(std::string(kinds[int(s.kind)]) + " " + s.name);
    return out;
  }

  Tensor<float> forward(const Tensor<float>& x) const override { return run(x, nullptr); }

  /// `forward(x)`, adding the wall-clock seconds of each step of `step_names()` into `seconds`,
  /// and of the head (the layers after the global pool) into one more entry at its end. When a
  /// batch runs image by image, each thread's time counts, so the sum can exceed the call's time.
  /// Where a model's time goes (`senet bench --profile`).
  Tensor<float> forward_profiled(const Tensor<float>& x, std::vector<double>& seconds) const {
    seconds.resize(steps_.size() + 1, 0.0);
    return run(x, &seconds);
  }

  /// The source model's rows (its structure is kept when its weights are freed).
  Shape summarize(const Shape& input, const std::string& prefix, std::vector<LayerSummary>& rows) const override {
    const std::size_t first = rows.size();
    const Shape out = source_->summarize(input, prefix, rows);
    for (std::size_t i = first; i < rows.size(); ++i) {
      const auto it = row_params_.find(rows[i].name.substr(prefix.empty() ? 0 : prefix.size() + 1));
      if (it != row_params_.end()) rows[i].params = it->second;
    }
    return out;
  }
  Shape output_shape(const Shape& input) const override { return source_->output_shape(input); }
  /// Exactly what `forward` allocates for `input` at the current thread count.
  std::uint64_t activation_bytes(const Shape& input) const override {
    check_input(input);
    return layout(input, num_threads()).bytes();
  }
  std::string type_name() const override { return "PreparedNetwork"; }
  const std::string& name() const override { return source_->name(); }
  Index in_channels() const override { return source_->in_channels(); }
  Index num_classes() const override { return source_->num_classes(); }
  Index input_size() const override { return source_->input_size(); }

 private:
  static constexpr int kInput = -1;   // the network's NCHW input
  static constexpr int kPooled = -2;  // the global pool's [N, C] features, and the head's layers

  explicit PreparedNetwork(const PrepareOptions& options)
      // `amx` names the bf16 convolutions' path; everything else then takes the best FP32 one
      : path_(resolve_conv2d_path(options.kernels == Conv2dPath::amx ? Conv2dPath::automatic : options.kernels)),
        precision_(options.precision),
        winograd_max_channels_(options.winograd_max_channels),
        winograd_2x2_max_channels_(options.winograd_2x2_max_channels),
        winograd_stride2_max_channels_(options.winograd_stride2_max_channels),
        measure_winograd_(options.measure_winograd),
        bf16_path_(options.precision == ConvPrecision::bf16 ? resolve_conv2d_path(options.kernels, ConvPrecision::bf16)
                                                             : path_) {}

  /// The path of convolution `c`: the precision of the weights it runs (Winograd or direct) decides.
  Conv2dPath path_of(const detail::EngineConv& c) const {
    const ConvPrecision precision = c.winograd.empty() ? c.weights.precision : c.winograd.precision();
    return precision == ConvPrecision::bf16 ? bf16_path_ : path_;
  }

  /// Runs convolution `c` as it was packed (direct or Winograd) on its kernel path.
  void convolve(const detail::EngineConv& c, const FeatureView& in, const Conv2dEpilogue& e,
                const FeatureView& out) const {
    if (!c.winograd.empty())
      conv2d_winograd_nchw16c(in, c.winograd, c.params, e, out, path_of(c));
    else
      conv2d_nchw16c(in, c.weights, c.params, e, out, path_of(c));
  }

  /// Lowers `model`; on success takes it, packs the weights and returns "", else returns why and
  /// leaves `model` as it was (lowering only reads it).
  std::string adopt(std::unique_ptr<Model<float>>& model) {
    try {
      for (const auto& row : model->summary(model->input_size())) row_params_[row.name] = row.params;
      int x = kInput;
      model->for_each_child([&](const std::string& name, const Module<float>& child) { x = lower(child, x, name); });
      if (x != kPooled || head_.empty())
        throw detail::Unsupported{"it does not end with a global average pool and a linear layer"};
      if (head_.back().act != Activation::none) throw detail::Unsupported{"it does not end with its linear layer"};
    } catch (const detail::Unsupported& u) {
      return u.what;
    }
    set_activation_limit(model->activation_limit());
    source_ = std::move(model);
    finish();
    if (measure_winograd_) choose_winograd_by_measurement();
    return {};
  }

  // ---------------------------------------------------------------- lowering

  /// Whether the producer of `v` may take more into its epilogue: nothing else has read `v`, and
  /// nothing will (it is not the input of a residual unit or of branches).
  bool fresh(int v) const { return v >= 0 && readers_[std::size_t(v)] == 0 && !pinned_[std::size_t(v)]; }

  int new_value(Index channels, Index height, Index width) {
    values_.push_back({channels, height, width, 0, int(steps_.size()), int(steps_.size()), -1, 0});
    readers_.push_back(0);
    pinned_.push_back(false);
    return int(values_.size()) - 1;
  }
  void read(int v) {
    if (v >= 0) ++readers_[std::size_t(v)];
  }
  /// Adds `step`; `output` is the value it writes (in place when it is the input).
  int add_step(detail::EngineStep step) {
    read(step.input);
    read(step.residual);
    steps_.push_back(std::move(step));
    const int output = steps_.back().output;
    if (output == steps_.back().input) readers_[std::size_t(output)] = 0;  // rewritten: fresh again
    values_[std::size_t(output)].producer = int(steps_.size()) - 1;
    return output;
  }
  detail::EngineStep* producer(int v) {
    return v >= 0 ? &steps_[std::size_t(values_[std::size_t(v)].producer)] : nullptr;
  }

  /// Lowers `m` (at dotted path `path`) applied to value `x`; returns the value it produces.
  int lower(const Module<float>& m, int x, const std::string& path) {
    if (const auto* seq = dynamic_cast<const Sequential<float>*>(&m)) {
      for (std::size_t i = 0; i < seq->size(); ++i) x = lower((*seq)[i], x, join_name(path, seq->name(i)));
      return x;
    }
    if (x == kPooled) return lower_head(m, path);
    if (const auto* res = dynamic_cast<const Residual<float>*>(&m)) return lower_residual(*res, x, path);
    if (const auto* cat = dynamic_cast<const Concat<float>*>(&m)) return lower_concat(*cat, x, path);
    if (const auto* conv = dynamic_cast<const Conv2d<float>*>(&m)) return lower_conv(*conv, x, path);
    if (const auto* bn = dynamic_cast<const BatchNorm2d<float>*>(&m)) return lower_batch_norm(*bn, x, path);
    if (dynamic_cast<const ReLU<float>*>(&m)) return lower_activation(Activation::relu, x, path);
    if (dynamic_cast<const Hardswish<float>*>(&m)) return lower_activation(Activation::hard_swish, x, path);
    if (dynamic_cast<const SiLU<float>*>(&m)) return lower_activation(Activation::silu, x, path);
    if (const auto* se = dynamic_cast<const SEBlock<float>*>(&m)) return lower_se(*se, x, path);
    if (const auto* shuffle = dynamic_cast<const ChannelShuffle<float>*>(&m)) return lower_shuffle(*shuffle, x, path);
    if (const auto* pool = dynamic_cast<const MaxPool2d<float>*>(&m))
      return lower_pool(detail::StepKind::max_pool, pool->params(), x, path);
    if (const auto* pool = dynamic_cast<const AvgPool2d<float>*>(&m))
      return lower_pool(detail::StepKind::avg_pool, pool->params(), x, path);
    if (dynamic_cast<const GlobalAvgPool2d<float>*>(&m)) {
      need_feature_map(x, path);
      detail::EngineStep s;
      s.kind = detail::StepKind::global_pool;
      s.name = path;
      s.input = x;
      read(x);
      steps_.push_back(s);
      pooled_channels_ = values_[std::size_t(x)].channels;
      return kPooled;
    }
    if (dynamic_cast<const Linear<float>*>(&m)) throw detail::Unsupported{path + ": a linear layer before the global pool"};
    throw detail::Unsupported{path + " (" + m.type_name() + ") has no fast step"};
  }

  /// After the global pool: linear layers, each optionally followed by one activation.
  int lower_head(const Module<float>& m, const std::string& path) {
    if (dynamic_cast<const Flatten<float>*>(&m)) return kPooled;
    if (const auto* fc = dynamic_cast<const Linear<float>*>(&m)) {
      const Index width = head_.empty() ? pooled_channels_ : head_.back().fc.out_features();
      if (fc->in_features() != width)
        throw detail::Unsupported{path + ": the linear layer does not take the " + std::to_string(width) + " features"};
      if (!head_.empty()) head_width_ = std::max(head_width_, width);
      head_.push_back({*fc, Activation::none});
      return kPooled;
    }
    Activation act = Activation::none;
    if (dynamic_cast<const ReLU<float>*>(&m)) act = Activation::relu;
    if (dynamic_cast<const Hardswish<float>*>(&m)) act = Activation::hard_swish;
    if (dynamic_cast<const SiLU<float>*>(&m)) act = Activation::silu;
    if (act != Activation::none && !head_.empty() && head_.back().act == Activation::none) {
      head_.back().act = act;
      return kPooled;
    }
    throw detail::Unsupported{path + " (" + m.type_name() + ") follows the global pool"};
  }

  void need_feature_map(int x, const std::string& path) const {
    if (x < 0) throw detail::Unsupported{path + " reads the network input (only a first convolution may)"};
  }

  int lower_conv(const Conv2d<float>& conv, int x, const std::string& path) {
    detail::EngineConv c(conv);
    const Index K = conv.out_channels();
    Index H = 0, W = 0;
    if (x == kInput) {
      if (conv.params().groups != 1) throw detail::Unsupported{path + ": a grouped first convolution"};
      c.stem = true;
    } else {
      need_feature_map(x, path);
      const auto& v = values_[std::size_t(x)];
      if (v.channels != conv.in_channels()) throw detail::Unsupported{path + ": channel mismatch"};
      H = v.height;
      W = v.width;
    }
    convs_.push_back(std::move(c));
    detail::EngineStep s;
    s.name = path;
    s.input = x;
    s.conv = int(convs_.size()) - 1;
    // Geometry is per input shape; values keep channels only until `plan` (sizes set there).
    s.output = new_value(K, H, W);
    return add_step(s);
  }

  int lower_batch_norm(const BatchNorm2d<float>& bn, int x, const std::string& path) {
    detail::EngineStep* p = producer(x);
    if (!fresh(x) || p->kind != detail::StepKind::conv || p->se >= 0 || p->residual >= 0 || p->act != Activation::none)
      throw detail::Unsupported{path + ": a BatchNorm that does not directly follow a convolution"};
    std::vector<float> s, t;
    bn.folded(s, t);
    convs_[std::size_t(p->conv)].fold(s, t);
    return x;
  }

  int lower_activation(Activation act, int x, const std::string& path) {
    need_feature_map(x, path);
    detail::EngineStep* p = producer(x);
    if (fresh(x) && (p->kind == detail::StepKind::conv || p->kind == detail::StepKind::scale) &&
        p->act == Activation::none) {
      p->act = act;
      return x;
    }
    return add_scale(x, -1, -1, act, path);
  }

  /// `y = act(x * gates(se) + residual)`, in place when `x` is fresh.
  int add_scale(int x, int se, int residual, Activation act, const std::string& path) {
    need_feature_map(x, path);
    detail::EngineStep s;
    s.kind = detail::StepKind::scale;
    s.name = path;
    s.input = x;
    s.se = se;
    s.residual = residual;
    s.act = act;
    const auto& v = values_[std::size_t(x)];
    s.output = fresh(x) ? x : new_value(v.channels, v.height, v.width);
    return add_step(s);
  }

  int lower_se(const SEBlock<float>& se, int x, const std::string& path) {
    need_feature_map(x, path);
    ses_.push_back(se);
    se_paths_.push_back(path);
    const int index = int(ses_.size()) - 1;
    detail::EngineStep* p = producer(x);
    if (fresh(x) && p->kind == detail::StepKind::conv && !convs_[std::size_t(p->conv)].stem && p->se < 0 &&
        p->residual < 0 && p->act == Activation::none) {
      p->se = index;
      return x;
    }
    return add_scale(x, index, -1, Activation::none, path);
  }

  int lower_pool(detail::StepKind kind, const Pool2dParams& params, int x, const std::string& path) {
    need_feature_map(x, path);
    detail::EngineStep s;
    s.kind = kind;
    s.name = path;
    s.input = x;
    s.pool = params;
    s.output = new_value(values_[std::size_t(x)].channels, 0, 0);
    return add_step(s);
  }

  /// A channel shuffle: a gathering copy into a new value (a permutation of a grouped
  /// convolution's channels cannot fold into its weights without breaking its groups).
  int lower_shuffle(const ChannelShuffle<float>& shuffle, int x, const std::string& path) {
    need_feature_map(x, path);
    const Index channels = values_[std::size_t(x)].channels;
    if (channels % shuffle.groups() != 0)
      throw detail::Unsupported{path + ": " + std::to_string(channels) + " channels do not split into " +
                                std::to_string(shuffle.groups()) + " groups"};
    detail::EngineStep s;
    s.kind = detail::StepKind::shuffle;
    s.name = path;
    s.input = x;
    s.groups = shuffle.groups();
    s.output = new_value(channels, 0, 0);
    return add_step(s);
  }

  int lower_residual(const Residual<float>& res, int x, const std::string& path) {
    need_feature_map(x, path);
    pinned_[std::size_t(x)] = true;
    // The shortcut first: its output is ready when the body's last step adds it in its epilogue.
    const int shortcut = lower(res.shortcut(), x, path);
    if (shortcut >= 0) pinned_[std::size_t(shortcut)] = true;
    const int body = lower(res.body(), x, path);
    need_feature_map(body, path);
    need_feature_map(shortcut, path);
    if (values_[std::size_t(body)].channels != values_[std::size_t(shortcut)].channels)
      throw detail::Unsupported{path + ": body and shortcut differ in channels"};
    int y = body;
    detail::EngineStep* p = producer(body);
    if (fresh(body) && (p->kind == detail::StepKind::conv || p->kind == detail::StepKind::scale) && p->residual < 0 &&
        p->act == Activation::none && !(p->kind == detail::StepKind::conv && convs_[std::size_t(p->conv)].stem)) {
      p->residual = shortcut;
      read(shortcut);
    } else {
      y = add_scale(body, -1, shortcut, Activation::none, path);
    }
    return lower(res.after(), y, path);
  }

  int lower_concat(const Concat<float>& cat, int x, const std::string& path) {
    need_feature_map(x, path);
    pinned_[std::size_t(x)] = true;
    std::vector<int> branches;
    Index channels = 0;
    for (std::size_t i = 0; i < cat.size(); ++i) {
      const int b = lower(cat[i], x, join_name(path, cat.name(i)));
      need_feature_map(b, path);
      branches.push_back(b);
      channels += values_[std::size_t(b)].channels;
    }
    const int y = new_value(channels, 0, 0);
    // Branches may write into their range when each computes its own output (not the shared
    // input) and starts on a block; the plan decides per input shape.
    bool direct = true;
    Index offset = 0;
    for (const int b : branches) {
      direct = direct && b != x && fresh(b) && offset % kChannelBlock == 0;
      offset += values_[std::size_t(b)].channels;
    }
    offset = 0;
    for (const int b : branches) {
      detail::EngineStep s;
      s.kind = detail::StepKind::concat_copy;
      s.name = path;
      s.input = b;
      s.output = y;
      s.channel_offset = offset;
      s.direct = direct;
      offset += values_[std::size_t(b)].channels;
      add_step(s);
    }
    return y;
  }

  /// After lowering: last uses, packed weights (the source's freed conv by conv).
  void finish() {
    for (std::size_t i = 0; i < steps_.size(); ++i) {
      const auto& s = steps_[i];
      for (int v : {s.input, s.residual, s.output})
        if (v >= 0) values_[std::size_t(v)].last_use = int(i);
    }
    // The SE blocks and the head have their copies: free the source's tensors other than the
    // convolutions' weights before packing, so that the peak holds no second copy of them.
    std::set<const Tensor<float>*> conv_weights;
    for (const auto& c : convs_) conv_weights.insert(&c.source->weight());
    source_->visit_parameters([&](const std::string&, Tensor<float>& t, ParameterKind) {
      if (conv_weights.count(&t) == 0) t = Tensor<float>();
    });
    // The fully connected layers in the engine's precision, each copy's FP32 weight freed as it
    // is packed (the biases stay).
    auto pack_fc = [&](Tensor<float>& weight) {
      PackedLinearWeights packed = pack_linear_weights(weight, precision_);
      weight = Tensor<float>();
      return packed;
    };
    // An SE that may take its gates from its convolution's input gets its first fully connected
    // layer folded into that convolution too (`EngineConv::fold_into`), before either is packed.
    std::vector<Tensor<float>> folded(ses_.size());
    se_folds_.resize(ses_.size());
    for (const auto& s : steps_)
      if (s.kind == detail::StepKind::conv && s.se >= 0 && se_sees_through(s)) {
        const SEBlock<float>& se = ses_[std::size_t(s.se)];
        folded[std::size_t(s.se)] = convs_[std::size_t(s.conv)].fold_into(
            se.fc1_weight(), se.fc1_bias() ? se.fc1_bias()->data() : nullptr, se_folds_[std::size_t(s.se)].bias);
      }
    for (std::size_t i = 0; i < folded.size(); ++i)
      if (!folded[i].empty()) se_folds_[i].weights = pack_fc(folded[i]);
    for (auto& se : ses_) {
      std::array<PackedLinearWeights, 2> fcs;
      se.visit_parameters([&](const std::string& name, Tensor<float>& t, ParameterKind) {
        if (name == "fc1.weight" || name == "fc2.weight") fcs[name == "fc2.weight"] = pack_fc(t);
      });
      se_fcs_.push_back(std::move(fcs));
    }
    for (auto& layer : head_)
      layer.fc.visit_parameters([&](const std::string& name, Tensor<float>& t, ParameterKind) {
        if (name == "weight") layer.weights = pack_fc(t);
      });
    for (auto& c : convs_) {
      Conv2d<float>* source = const_cast<Conv2d<float>*>(c.source);  // ours: `source_` is owned
      const bool direct_only = precision_ == ConvPrecision::bf16 && bf16_path_ == Conv2dPath::amx;  // AMX tiles win
      c.pack(precision_, direct_only ? 0 : winograd_max_channels_, direct_only ? 0 : winograd_2x2_max_channels_,
             winograd_stride2_max_channels_, &source->weight(), measure_winograd_);
      source->visit_parameters([](const std::string&, Tensor<float>& t, ParameterKind) { t = Tensor<float>(); });
    }
  }

  /// `PrepareOptions::measure_winograd`: each convolution packed in both forms keeps the one whose
  /// step ran faster (the fastest of a few alternating forwards each way); Winograd must win by 5%.
  /// Where one image of the input size cannot run (over the activation limit), every one keeps
  /// Winograd, as without measuring.
  void choose_winograd_by_measurement() {
    std::vector<int> step_of(convs_.size(), -1);
    for (std::size_t i = 0; i < steps_.size(); ++i)
      if (steps_[i].kind == detail::StepKind::conv && convs_[std::size_t(steps_[i].conv)].has_both_forms())
        step_of[std::size_t(steps_[i].conv)] = int(i);
    constexpr double kUnset = std::numeric_limits<double>::infinity();
    std::vector<double> fastest_winograd(steps_.size() + 1, kUnset), fastest_direct(steps_.size() + 1, kUnset);
    const Index S = input_size();
    const Shape shape{1, in_channels(), S, S};
    if (std::any_of(step_of.begin(), step_of.end(), [](int i) { return i >= 0; }) &&
        activation_bytes(shape) <= activation_limit()) {
      Tensor<float> x(shape, uninitialized);
      for (Index i = 0; i < x.size(); ++i) x[i] = float((i * 7919) % 2001) / 1000.0f - 1.0f;
      // Not an inference of the caller's: its excitation observer (if any) sees none of these.
      struct MuteObserver {
        detail::ExcitationSink* caller = std::exchange(detail::excitation_sink(), nullptr);
        ~MuteObserver() { detail::excitation_sink() = caller; }
      } mute;
      forward(x);  // plans and warms up
      std::vector<WinogradConv2dWeights> parked(convs_.size());
      for (int round = 0; round < 3; ++round) {
        for (const bool winograd : {true, false}) {
          if (!winograd)  // parked, they run direct
            for (std::size_t c = 0; c < convs_.size(); ++c)
              if (step_of[c] >= 0) parked[c] = std::move(convs_[c].winograd);
          std::vector<double> seconds;
          forward_profiled(x, seconds);
          if (!winograd)
            for (std::size_t c = 0; c < convs_.size(); ++c)
              if (step_of[c] >= 0) convs_[c].winograd = std::move(parked[c]);
          auto& fastest = winograd ? fastest_winograd : fastest_direct;
          for (std::size_t i = 0; i < seconds.size(); ++i) fastest[i] = std::min(fastest[i], seconds[i]);
        }
      }
    }
    for (std::size_t c = 0; c < convs_.size(); ++c)
      if (const int i = step_of[c]; i >= 0)
        convs_[c].keep_only(!(fastest_direct[std::size_t(i)] < kUnset) ||
                            fastest_winograd[std::size_t(i)] <= 0.95 * fastest_direct[std::size_t(i)]);
  }

  // ---------------------------------------------------------------- planning

  /// Where one `forward` for one input shape and thread count puts its activations.
  struct Layout {
    Shape input;         // the shape planned for (empty: none yet)
    Shape image_shape;   // what one slot runs: the input, or one image of it
    int threads = 0;
    bool by_image = false;  // each thread runs its own images through the network
    std::vector<detail::EngineValue> values;  // geometry and offsets for `image_shape`
    std::vector<detail::PlannedStep> steps;
    Index slot_floats = 0;   // one slot's arena
    Index slots = 1;
    Index channels = 0, hidden = 0;  // widest SE descriptor (16-padded) and hidden layer
    Index batch = 0;         // images one slot runs at once
    Index features = 0;      // floats of the pooled features, [N, C]
    Index head_hidden = 0;   // floats of the head's hidden layers (two buffers)

    std::uint64_t bytes() const {
      return sizeof(float) * std::uint64_t(slots * slot_floats + slots * batch * (3 * channels + hidden) + features +
                                           head_hidden);
    }
  };

  struct Workspace : Layout {
    Tensor<float> arena;
    std::vector<float> descriptors;  // per slot: squeezed [batch, channels], gates, hidden
    std::vector<float> features;     // [N, pooled channels]
    std::vector<float> head_hidden;  // two [N, head_width_]
  };

  /// A workspace taken from the model's pool for one call and given back after it.
  struct Lease {
    const PreparedNetwork& model;
    std::unique_ptr<Workspace> workspace;
    explicit Lease(const PreparedNetwork& m) : model(m) {
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

  void check_input(const Shape& input) const {
    check_image_input(source_->name(), source_->in_channels(), input);
  }

  /// The view of value `v` in slot arena `base` for `batch` images.
  static FeatureView view(const detail::EngineValue& v, float* base, Index batch) {
    return {base + v.offset, batch, v.channels, v.height, v.width, v.border};
  }

  Layout layout(const Shape& input, int threads) const {
    Layout l;
    l.input = input;
    l.threads = threads;
    const Index N = input[0];
    l.by_image = N > 1 && N % threads == 0;
    l.image_shape = input;
    if (l.by_image) l.image_shape[0] = 1;
    l.batch = l.image_shape[0];
    l.slots = l.by_image ? threads : 1;
    l.features = N * pooled_channels_;
    l.head_hidden = head_.size() > 1 ? 2 * N * head_width_ : 0;
    l.values = values_;
    l.steps.assign(steps_.size(), {});
    auto& vals = l.values;
    // Geometry, step by step.
    for (std::size_t i = 0; i < steps_.size(); ++i) {
      const auto& s = steps_[i];
      if (s.kind == detail::StepKind::global_pool) continue;
      auto& out = vals[std::size_t(s.output)];
      Index H, W;
      if (s.input == kInput) {
        H = l.image_shape[2];
        W = l.image_shape[3];
      } else {
        H = vals[std::size_t(s.input)].height;
        W = vals[std::size_t(s.input)].width;
      }
      if (s.kind == detail::StepKind::conv) {
        const auto [oh, ow] = conv2d_output_size(H, W, convs_[std::size_t(s.conv)].params);
        out.height = oh;
        out.width = ow;
      } else if (s.kind == detail::StepKind::max_pool || s.kind == detail::StepKind::avg_pool) {
        const auto [oh, ow] = pool2d_output_size(H, W, s.pool);
        out.height = oh;
        out.width = ow;
      } else if (s.kind == detail::StepKind::concat_copy && s.channel_offset > 0) {
        SENET_CHECK(out.height == H && out.width == W, source_->name(), ": ", s.name,
                    ": the branches' outputs differ in size (", out.height, "x", out.width, " and ", H, "x", W, ")");
      } else {
        out.height = H;
        out.width = W;
      }
      SENET_CHECK(out.height >= 1 && out.width >= 1, source_->name(), ": ", s.name, ": the input ",
                  to_string(input), " is too small");
    }
    // Borders: a convolution reads its padding from its input's border where the rows are wide
    // enough for the kernels' row tiles (narrower ones pad a copy, and a 1x1 producer keeps its
    // fast path); a residual shares its border with the output it is added to.
    for (const auto& s : steps_) {
      if (s.kind != detail::StepKind::conv || s.input < 0) continue;
      const Conv2dParams& p = convs_[std::size_t(s.conv)].params;
      auto& in = vals[std::size_t(s.input)];
      if (p.pad_h == p.pad_w && in.width >= 14) in.border = std::max(in.border, p.pad_h);
    }
    for (bool changed = true; changed;) {
      changed = false;
      for (const auto& s : steps_)
        if (s.residual >= 0) {
          auto& r = vals[std::size_t(s.residual)];
          auto& o = vals[std::size_t(s.output)];
          const Index b = std::max(r.border, o.border);
          changed = changed || r.border != b || o.border != b;
          r.border = o.border = b;
        }
    }
    // Per-step decisions and descriptor sizes.
    l.channels = kChannelBlock;
    l.hidden = 1;
    for (std::size_t i = 0; i < steps_.size(); ++i) {
      const auto& s = steps_[i];
      if (s.kind == detail::StepKind::global_pool) {
        l.channels = std::max(l.channels, vals[std::size_t(s.input)].channels);
        continue;
      }
      const auto& out = vals[std::size_t(s.output)];
      l.channels = std::max(l.channels, channel_blocks(out.channels) * kChannelBlock);
      if (s.se < 0) continue;
      l.hidden = std::max(l.hidden, ses_[std::size_t(s.se)].hidden_channels());
      if (s.kind == detail::StepKind::conv) {
        const auto& in = vals[std::size_t(s.input)];
        l.channels = std::max(l.channels, channel_blocks(in.channels) * kChannelBlock);
        l.steps[i].fused_se = fused_se(s, in, out, l.batch);
      }
    }
    // Branches written in place: with one image per slot, each branch's output is its block
    // range of the concatenation (its border too), alive from the first branch's output on. All
    // branches of a concatenation or none (a branch whose output also takes a residual keeps its
    // own border, and a nested concatenation its own memory, so theirs copy).
    std::vector<int> inside(vals.size(), -1);  // the concatenation a branch's output lives in
    for (std::size_t i = 0; i < steps_.size(); ++i) {
      const auto& first = steps_[i];
      if (first.kind != detail::StepKind::concat_copy || first.channel_offset != 0 || !first.direct || l.batch != 1)
        continue;
      auto& y = vals[std::size_t(first.output)];
      std::size_t end = i;
      bool fits = true;
      for (; end < steps_.size() && steps_[end].kind == detail::StepKind::concat_copy && steps_[end].output == first.output;
           ++end) {
        const auto& b = vals[std::size_t(steps_[end].input)];
        const auto& producer = steps_[std::size_t(b.producer)];
        fits = fits && b.border <= y.border && producer.residual < 0 && producer.kind != detail::StepKind::concat_copy;
      }
      if (!fits) continue;
      for (std::size_t j = i; j < end; ++j) {
        auto& b = vals[std::size_t(steps_[j].input)];
        b.border = y.border;
        y.first_def = std::min(y.first_def, b.first_def);
        inside[std::size_t(steps_[j].input)] = first.output;
        l.steps[j].skip = true;
      }
    }
    auto floats = [&](int v) {
      const auto& x = vals[std::size_t(v)];
      return (FeatureView{nullptr, l.batch, x.channels, x.height, x.width, x.border}.size() + 15) / 16 * 16;
    };
    // A step's output takes the memory of a residual that dies there: the epilogue reads each
    // residual pixel just before it writes the same pixel, so the output's lines are in cache
    // already (no second stream of writes; measured on SE-ResNet-50 at batch 1: 1-3% faster, most
    // on 2 threads), and the plan is smaller. Not where the residual is also the input (a
    // convolution reads neighbours), nor where an unfused SE scales the output once written.
    std::vector<int> shares(vals.size(), -1);  // the value whose memory it takes (a chain's root)
    for (std::size_t i = 0; i < steps_.size(); ++i) {
      const auto& s = steps_[i];
      if (s.residual < 0 || s.output == s.input || s.residual == s.input) continue;
      if (s.kind == detail::StepKind::conv) {
        if (convs_[std::size_t(s.conv)].stem || (s.se >= 0 && !l.steps[i].fused_se)) continue;
      } else if (s.kind != detail::StepKind::scale) {
        continue;
      }
      const auto& r = vals[std::size_t(s.residual)];
      const auto& o = vals[std::size_t(s.output)];
      if (r.last_use != int(i) || o.first_def != int(i) || inside[std::size_t(s.residual)] >= 0 ||
          inside[std::size_t(s.output)] >= 0 || floats(s.residual) != floats(s.output))
        continue;
      const int root = shares[std::size_t(s.residual)] >= 0 ? shares[std::size_t(s.residual)] : s.residual;
      shares[std::size_t(s.output)] = root;
      vals[std::size_t(root)].last_use = std::max(vals[std::size_t(root)].last_use, o.last_use);
    }
    // Offsets: values that are never alive at once share memory (greedy, largest first).
    std::vector<int> order;
    for (std::size_t v = 0; v < vals.size(); ++v)
      if (inside[v] < 0 && shares[v] < 0) order.push_back(int(v));
    std::sort(order.begin(), order.end(),
              [&](int a, int b) { return floats(a) != floats(b) ? floats(a) > floats(b) : a < b; });
    std::vector<int> placed;
    for (const int v : order) {
      auto& x = vals[std::size_t(v)];
      const Index size = floats(v);
      std::vector<std::pair<Index, Index>> taken;  // [begin, end) of overlapping lifetimes
      for (const int u : placed) {
        const auto& y = vals[std::size_t(u)];
        if (y.first_def <= x.last_use && x.first_def <= y.last_use) taken.emplace_back(y.offset, y.offset + floats(u));
      }
      std::sort(taken.begin(), taken.end());
      Index offset = 0;
      for (const auto& [b, e] : taken) {
        if (offset + size <= b) break;
        offset = std::max(offset, e);
      }
      x.offset = offset;
      l.slot_floats = std::max(l.slot_floats, offset + size);
      placed.push_back(v);
    }
    for (std::size_t v = 0; v < vals.size(); ++v)
      if (shares[v] >= 0) vals[v].offset = vals[std::size_t(shares[v])].offset;
    for (std::size_t i = 0; i < steps_.size(); ++i)
      if (l.steps[i].skip) {
        const auto& s = steps_[i];
        const auto& y = vals[std::size_t(s.output)];
        vals[std::size_t(s.input)].offset =
            y.offset + s.channel_offset / kChannelBlock * FeatureView{nullptr, 1, y.channels, y.height, y.width, y.border}.block_stride();
      }
    return l;
  }

  /// Whether the SE of conv step `s` can take its gates from the convolution's input: its squeeze
  /// is a mean over the output of a 1x1, stride-1, unpadded, ungrouped convolution (a linear map of
  /// each pixel, so the mean of the output is that map of the input's mean).
  bool se_sees_through(const detail::EngineStep& s) const {
    const Conv2dParams& p = convs_[std::size_t(s.conv)].params;
    return ses_[std::size_t(s.se)].options().squeeze == SESqueeze::avg && p.groups == 1 && p.kernel_h == 1 &&
           p.kernel_w == 1 && p.stride_h == 1 && p.stride_w == 1 && p.pad_h == 0 && p.pad_w == 0;
  }

  /// Whether the SE of conv step `s` takes its gates from the convolution's input (`se_sees_through`,
  /// its first fully connected layer folded into the convolution), where that moves fewer bytes:
  /// it squeezes the input (`C` channels) and reads the folded layer (`H x C`); the other way
  /// squeezes the output and makes one more pass over it and the residual (`3 K` per pixel) and
  /// reads the layer itself (`H x K`).
  bool fused_se(const detail::EngineStep& s, const detail::EngineValue& in, const detail::EngineValue& out,
                Index batch) const {
    if (se_folds_[std::size_t(s.se)].empty()) return false;
    const Index pixels = batch * in.height * in.width, C = in.channels, K = out.channels;
    const Index H = ses_[std::size_t(s.se)].hidden_channels();
    return H * C + C * pixels < H * K + 3 * K * pixels;
  }

  /// Sizes `ws` for inputs of shape `input` on `threads` threads, after checking the activation
  /// limit. `ws` holds no plan until the buffers are in place, so a refused input or a failed
  /// allocation leaves it to be planned again on the next call.
  void plan(const Shape& input, int threads, Workspace& ws) const {
    Layout l = layout(input, threads);
    check_activation_memory(input, l.bytes());
    ws.input.clear();
    const Index total = l.slots * l.slot_floats;
    if (ws.arena.size() < total) ws.arena = Tensor<float>({total});
    ws.descriptors.assign(std::size_t(l.slots * l.batch * (2 * l.channels + l.hidden)), 0.0f);
    ws.features.assign(std::size_t(l.features), 0.0f);
    ws.head_hidden.assign(std::size_t(l.head_hidden), 0.0f);
    static_cast<Layout&>(ws) = std::move(l);
  }

  // ---------------------------------------------------------------- running

  /// `linear_rows` on packed weights `w`, on the path of their precision.
  void fully_connected(const float* x, Index N, const PackedLinearWeights& w, const float* bias, float* y,
                       Index y_stride) const {
    linear_rows(x, N, w, bias, y, y_stride, w.precision == ConvPrecision::bf16 ? bf16_path_ : path_);
  }

  /// `forward`, adding each step's seconds into `seconds` when it is not null.
  Tensor<float> run(const Tensor<float>& x, std::vector<double>* seconds) const {
    check_input(x.shape());
    Lease lease(*this);
    Workspace& ws = *lease.workspace;
    // One read of the thread count per call: the plan's slots and the team that fills them agree
    // even when another thread changes the count meanwhile.
    const int threads = num_threads();
    if (ws.input != x.shape() || ws.threads != threads) plan(x.shape(), threads, ws);
    // The calling thread's excitation observer, for every thread of this call.
    const detail::ExcitationSink* sink = detail::excitation_sink();
    ExcitationObserver* observer = sink ? sink->observer : nullptr;
    const Index N = x.dim(0), image = x.size() / N;
    // Profiling: one row of step times per slot, so that threads never write the same one.
    std::vector<double> slot_seconds(seconds ? std::size_t(ws.slots) * steps_.size() : 0, 0.0);
    auto clock_of = [&](Index slot) { return seconds ? slot_seconds.data() + slot * Index(steps_.size()) : nullptr; };
    if (ws.by_image) {
#ifdef _OPENMP
#pragma omp parallel for schedule(static) num_threads(ws.threads)
#endif
      for (Index n = 0; n < N; ++n) {
#ifdef _OPENMP
        const Index slot = omp_get_thread_num();
#else
        const Index slot = 0;
#endif
        run_steps(x.data() + n * image, ws.image_shape, ws, slot, ws.features.data() + n * pooled_channels_,
                  Observed{observer, n, clock_of(slot)});
      }
    } else {
      run_steps(x.data(), x.shape(), ws, 0, ws.features.data(), Observed{observer, 0, clock_of(0)});
    }
    for (std::size_t i = 0; i < slot_seconds.size(); ++i) (*seconds)[i % steps_.size()] += slot_seconds[i];
    // The head: its hidden layers alternate between two buffers of the workspace.
    const StepClock head_clock{seconds ? &seconds->back() : nullptr};
    const float* in = ws.features.data();
    for (std::size_t i = 0; i + 1 < head_.size(); ++i) {
      const Linear<float>& fc = head_[i].fc;
      float* out = ws.head_hidden.data() + Index(i % 2) * N * head_width_;
      fully_connected(in, N, head_[i].weights, fc.bias() ? fc.bias()->data() : nullptr, out, fc.out_features());
      activate_inplace(out, N * fc.out_features(), head_[i].act);
      in = out;
    }
    const Linear<float>& last = head_.back().fc;
    Tensor<float> logits({N, last.out_features()}, uninitialized);
    fully_connected(in, N, head_.back().weights, last.bias() ? last.bias()->data() : nullptr, logits.data(),
                    last.out_features());
    return logits;
  }

  /// Who watches one `run_steps` call: the excitation observer (or null) and the batch index of
  /// the call's first image, and where each step's seconds are added (or null).
  struct Observed {
    ExcitationObserver* observer = nullptr;
    Index first = 0;
    double* step_seconds = nullptr;
  };

  /// Adds the time from its construction to its destruction to `*seconds` (when not null).
  struct StepClock {
    double* seconds;
    std::chrono::steady_clock::time_point start =
        seconds ? std::chrono::steady_clock::now() : std::chrono::steady_clock::time_point{};
    ~StepClock() {
      if (seconds) *seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    }
  };

  /// The gates `[batch, 16 Cb]` (padding lanes zero) of SE `se` for squeezed descriptors `z`,
  /// shown to the observer.
  /// `from_input`: `z` is the mean of the input of the convolution before the SE (`fused_se`), for
  /// the first layer folded into it.
  const float* gates(int se, Index batch, Index C, float* z, float* hidden, float* g, const Observed& seen,
                     bool from_input = false) const {
    const Index Kp = channel_blocks(C) * kChannelBlock;
    const auto& fcs = se_fcs_[std::size_t(se)];
    const FoldedLinear& folded = se_folds_[std::size_t(se)];
    ses_[std::size_t(se)].excite(z, batch, hidden, g, Kp,
                                 [&](int layer, const float* x, Index N, const Tensor<float>&, const float* bias, float* y,
                                     Index y_stride) {
                                   if (layer == 0 && from_input)
                                     fully_connected(x, N, folded.weights, folded.bias.data(), y, y_stride);
                                   else
                                     fully_connected(x, N, fcs[std::size_t(layer)], bias, y, y_stride);
                                 });
    for (Index n = 0; n < batch; ++n) std::fill(g + n * Kp + C, g + (n + 1) * Kp, 0.0f);
    if (seen.observer) seen.observer->on_excitation(se_paths_[std::size_t(se)], seen.first, batch, C, g, Kp);
    return g;
  }

  /// Runs every step for the images at `x` (shape `shape`) in slot `slot`; the global pool
  /// writes `features`; SE gates are shown to `seen.observer`.
  void run_steps(const float* x, const Shape& shape, Workspace& ws, Index slot, float* features,
                 const Observed& seen) const {
    float* base = ws.arena.data() + slot * ws.slot_floats;
    const Index B = ws.batch;
    float* d = ws.descriptors.data() + slot * B * (2 * ws.channels + ws.hidden);
    float *squeezed = d, *g = d + B * ws.channels, *hidden = d + 2 * B * ws.channels;
    for (std::size_t i = 0; i < steps_.size(); ++i) {
      const detail::EngineStep& s = steps_[i];
      const StepClock clock{seen.step_seconds ? seen.step_seconds + i : nullptr};
      if (ws.steps[i].skip) continue;
      if (s.kind == detail::StepKind::global_pool) {
        squeeze_nchw16c(view(ws.values[std::size_t(s.input)], base, B), SESqueeze::avg, features);
        continue;
      }
      const FeatureView out = view(ws.values[std::size_t(s.output)], base, B);
      const FeatureView in = s.input >= 0 ? view(ws.values[std::size_t(s.input)], base, B) : FeatureView{};
      const FeatureView residual = s.residual >= 0 ? view(ws.values[std::size_t(s.residual)], base, B) : FeatureView{};
      switch (s.kind) {
        case detail::StepKind::conv: {
          const auto& c = convs_[std::size_t(s.conv)];
          if (c.stem) {
            conv2d_stem_nchw16c(x, shape, c.stem_weights, c.params, c.packed_bias.data(), s.act, out,
                                c.stem_weights.precision == ConvPrecision::bf16 ? bf16_path_ : path_);
            break;
          }
          Conv2dEpilogue e;
          e.bias = c.packed_bias.data();
          if (s.se < 0) {
            e.residual = residual;
            e.activation = s.act;
            convolve(c, in, e, out);
          } else if (ws.steps[i].fused_se) {
            squeeze_nchw16c(in, SESqueeze::avg, squeezed);
            e.scale = gates(s.se, B, out.channels, squeezed, hidden, g, seen, /*from_input=*/true);
            e.residual = residual;
            e.activation = s.act;
            convolve(c, in, e, out);
          } else {
            convolve(c, in, e, out);
            squeeze_nchw16c(out, ses_[std::size_t(s.se)].options().squeeze, squeezed);
            scale_add_act_nchw16c(out, gates(s.se, B, out.channels, squeezed, hidden, g, seen), residual, s.act, out,
                                  path_);
          }
          break;
        }
        case detail::StepKind::scale: {
          const float* scale = nullptr;
          if (s.se >= 0) {
            squeeze_nchw16c(in, ses_[std::size_t(s.se)].options().squeeze, squeezed);
            scale = gates(s.se, B, in.channels, squeezed, hidden, g, seen);
          }
          scale_add_act_nchw16c(in, scale, residual, s.act, out, path_);
          if (s.output != s.input) zero_border(out);
          break;
        }
        case detail::StepKind::max_pool:
          max_pool2d_nchw16c(in, s.pool, out, path_);
          break;
        case detail::StepKind::avg_pool:
          avg_pool2d_nchw16c(in, s.pool, out);
          break;
        case detail::StepKind::concat_copy:
          if (s.channel_offset == 0) zero_border(out);
          copy_channels_nchw16c(in, out, s.channel_offset);
          break;
        case detail::StepKind::shuffle:
          shuffle_channels_nchw16c(in, s.groups, out);
          zero_border(out);
          break;
        default:
          break;
      }
    }
  }

  std::unique_ptr<Model<float>> source_;
  Conv2dPath path_;
  ConvPrecision precision_;
  Index winograd_max_channels_, winograd_2x2_max_channels_, winograd_stride2_max_channels_;
  bool measure_winograd_;
  Conv2dPath bf16_path_;  // the path of the convolutions packed in bf16
  std::map<std::string, std::int64_t> row_params_;  // summary rows' parameter counts, before freeing
  std::vector<detail::EngineConv> convs_;
  std::vector<SEBlock<float>> ses_;  // their FC weights freed once packed into `se_fcs_`
  std::vector<std::array<PackedLinearWeights, 2>> se_fcs_;
  /// Per SE: its first fully connected layer folded into the convolution before it (`fold_into`),
  /// where `se_sees_through`, else empty.
  struct FoldedLinear {
    PackedLinearWeights weights;
    std::vector<float> bias;
    bool empty() const { return bias.empty(); }
  };
  std::vector<FoldedLinear> se_folds_;
  std::vector<std::string> se_paths_;  // each SE block's dotted path, for excitation observers
  std::vector<detail::EngineStep> steps_;
  std::vector<detail::EngineValue> values_;
  std::vector<int> readers_;  // while lowering
  std::vector<bool> pinned_;  // while lowering
  Index pooled_channels_ = 0;
  /// The layers after the global pool: linear, each with the activation that follows it.
  struct HeadLayer {
    Linear<float> fc;  // its weight freed once packed into `weights`
    Activation act;
    PackedLinearWeights weights = {};
  };
  std::vector<HeadLayer> head_;
  Index head_width_ = 0;  // the widest hidden layer of the head
  mutable std::mutex pool_mutex_;
  mutable std::vector<std::unique_ptr<Workspace>> idle_;
};

/// The fastest engine for `model` (float): a `PreparedNetwork` when every part of it has a fast
/// step (its weights are released as they are packed, so they exist about once), else `model`
/// itself, unchanged (a variant may be slower, never wrong).
inline std::unique_ptr<Model<float>> prepare(std::unique_ptr<Model<float>> model, const PrepareOptions& options = {}) {
  if (auto engine = PreparedNetwork::try_prepare(model, options)) return engine;
  return model;
}

}  // namespace senet
