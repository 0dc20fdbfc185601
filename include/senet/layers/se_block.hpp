#pragma once
/// \file se_block.hpp
/// `senet::SEBlock<T>`: the Squeeze-and-Excitation block of Hu et al. (CVPR 2018), with the
/// design choices of the paper's ablations as runtime options.

#include <algorithm>
#include <optional>

#include "senet/layers/excitation.hpp"
#include "senet/layers/module.hpp"
#include "senet/ops/activation.hpp"
#include "senet/ops/elementwise.hpp"
#include "senet/ops/linear.hpp"
#include "senet/ops/pooling.hpp"

namespace senet {

/// How the hidden width of the excitation follows from channels C and reduction r.
enum class SERounding {
  floor,      ///< `max(1, C / r)` (the paper, Caffe, Cadene, timm's legacy models)
  divisible8  ///< timm's `make_divisible(C / r, 8)`: `max(8, int(C / r + 4) / 8 * 8)`
};

/// The gate applied to the second FC's output.
enum class SEGate {
  sigmoid,      ///< the standard block
  tanh,         ///< `tanh`
  relu,         ///< `max(0, x)`
  hard_sigmoid  ///< `relu6(x + 3) / 6`
};

/// Options of an SE block; the defaults are the paper's standard block (r = 16, C / r rounded
/// down, average squeeze, sigmoid gate, FC biases as in every released checkpoint).
struct SEOptions {
  Index reduction = 16;
  SERounding rounding = SERounding::floor;
  SESqueeze squeeze = SESqueeze::avg;
  SEGate gate = SEGate::sigmoid;
  bool bias = true;
  /// After the first FC: ReLU in the paper and most networks, SiLU in EfficientNet.
  Activation activation = Activation::relu;
};

/// Hidden (bottleneck) width of the excitation for `channels` under `options`.
inline Index se_hidden_channels(Index channels, const SEOptions& options) {
  SENET_CHECK(options.reduction >= 1, "SE reduction ratio must be >= 1, got ", options.reduction);
  if (options.rounding == SERounding::floor) return std::max<Index>(1, channels / options.reduction);
  const double v = double(channels) / double(options.reduction);
  return std::max<Index>(8, static_cast<Index>(v + 4.0) / 8 * 8);
}

/// Squeeze-and-Excitation block: `y = x * gate(W2 act(W1 squeeze(x) + b1) + b2)`, `act` ReLU
/// unless `SEOptions::activation` says otherwise.
///
/// - Squeeze: global average pooling (or max, or their mean), [N, C, H, W] -> z [N, C].
/// - Excitation: two fully connected layers as Eigen GEMMs over the whole batch,
///   z [N, C] -> [N, C/r] (ReLU, or `options.activation`) -> s [N, C] (gate: sigmoid by default).
/// - Scale: every channel plane of x multiplied by its s[n, c].
///
/// Parameters as PyTorch stores them (1x1 convolutions): `fc1.weight` [C/r, C, 1, 1], `fc1.bias`
/// [C/r], `fc2.weight` [C, C/r, 1, 1], `fc2.bias` [C] (no biases when `options.bias` is off).
///
/// \code
/// senet::SEBlock<float> se(64, 16);          // channels, reduction ratio: hidden width 4
/// senet::Tensor<float> x({2, 64, 5, 7});
/// senet::Tensor<float> y = se.forward(x);    // [2, 64, 5, 7]
///
/// senet::SEOptions o;                        // the paper's max-squeeze, bias-free ablation
/// o.squeeze = senet::SESqueeze::max;
/// o.bias = false;
/// senet::SEBlock<float> variant(64, o);
/// \endcode
template <class T>
class SEBlock : public Module<T> {
 public:
  SEBlock(Index channels, Index reduction = 16) : SEBlock(channels, with_reduction(reduction)) {}
  SEBlock(Index channels, const SEOptions& options)
      : SEBlock(channels, se_hidden_channels(channels, options), options) {}
  /// A block with an explicit hidden width (as found in a checkpoint).
  static SEBlock with_hidden(Index channels, Index hidden, const SEOptions& options = {}) {
    return SEBlock(channels, hidden, options);
  }

  /// The excitation `s` [N, C] for input `x` [N, C, H, W]: each channel's gate.
  Tensor<T> excitation(const Tensor<T>& x) const {
    output_shape(x.shape());
    const Index N = x.dim(0), C = channels();
    Tensor<T> z({N, C});
    if (options_.squeeze == SESqueeze::max) {
      global_max_pool(x, z);
    } else {
      global_avg_pool(x, z);
      if (options_.squeeze == SESqueeze::avgmax) {
        Tensor<T> m({N, C});
        global_max_pool(x, m);
        for (Index i = 0; i < z.size(); ++i) z[i] = T(0.5) * z[i] + T(0.5) * m[i];
      }
    }
    return excite(z);
  }

  /// The excitation from an already squeezed descriptor: `z` [N, C] -> gates `s` [N, C]
  /// (FC, ReLU, FC, gate as two GEMMs over the batch). For engines that squeeze on their own layout.
  Tensor<T> excite(const Tensor<T>& z) const {
    SENET_CHECK(z.rank() == 2 && z.dim(1) == channels(), "SEBlock: descriptor must be [N, ", channels(), "], got ",
                to_string(z.shape()));
    const Index N = z.dim(0);
    Tensor<T> hidden({N, hidden_channels()}, uninitialized), s({N, channels()}, uninitialized);
    excite(z.data(), N, hidden.data(), s.data(), channels());
    return s;
  }

  /// The same into caller-owned buffers (an engine's workspace): `z` [N, C], `hidden` room for
  /// [N, hidden_channels()], gates row `n` at `s + n * s_stride` (`s_stride >= C`).
  void excite(const T* z, Index N, T* hidden, T* s, Index s_stride) const {
    excite(z, N, hidden, s, s_stride,
           [](int, const T* x, Index rows, const Tensor<T>& w, const T* bias, T* y, Index y_stride) {
             linear(x, rows, w, bias, y, y_stride);
           });
  }

  /// The same with `fc(layer, x, N, weight, bias, y, y_stride)` (`layer` 0 or 1, then `linear`'s
  /// arguments) computing both fully connected layers: an engine passes its own kernels (and may
  /// run its own copies of the weights).
  template <class FullyConnected>
  void excite(const T* z, Index N, T* hidden, T* s, Index s_stride, const FullyConnected& fc) const {
    const Index C = channels(), H = hidden_channels();
    fc(0, z, N, fc1_weight_, fc1_bias_ ? fc1_bias_->data() : nullptr, hidden, H);
    activate_inplace(hidden, N * H, options_.activation);
    fc(1, hidden, N, fc2_weight_, fc2_bias_ ? fc2_bias_->data() : nullptr, s, s_stride);
    for (Index n = 0; n < N; ++n) {
      T* row = s + n * s_stride;
      switch (options_.gate) {
        case SEGate::sigmoid:
          sigmoid_inplace(row, C);
          break;
        case SEGate::tanh:
          tanh_inplace(row, C);
          break;
        case SEGate::relu:
          relu_inplace(row, C);
          break;
        case SEGate::hard_sigmoid:
          hard_sigmoid_inplace(row, C);
          break;
      }
    }
  }

  /// Scales `x` [N, C, H, W] by its own excitation, in place (reported to an open
  /// `ExcitationScope`).
  void forward_inplace(Tensor<T>& x) const override {
    const Tensor<T> s = excitation(x);
    if (const auto* sink = detail::excitation_sink()) sink->report(this, s);
    scale_channels_inplace(x, s);
  }

  Tensor<T> forward(const Tensor<T>& x) const override {
    Tensor<T> y(x);
    forward_inplace(y);
    return y;
  }

  Shape output_shape(const Shape& input) const override {
    SENET_CHECK(input.size() == 4 && input[1] == channels(), "SEBlock: expected [N, ", channels(), ", H, W], got ",
                to_string(input));
    return input;
  }
  /// The two FC layers: N x (C x C/r + C/r x C).
  std::int64_t macs(const Shape& input) const override { return input[0] * 2 * channels() * hidden_channels(); }
  std::string type_name() const override { return "SEBlock"; }

  Index channels() const { return channels_; }
  Index hidden_channels() const { return hidden_; }
  const SEOptions& options() const { return options_; }
  /// The first fully connected layer's weight `[C/r, C, 1, 1]` and bias (null without one).
  const Tensor<T>& fc1_weight() const { return fc1_weight_; }
  const Tensor<T>* fc1_bias() const { return fc1_bias_ ? &*fc1_bias_ : nullptr; }

 protected:
  void do_visit_parameters(const ParameterVisitor<T>& visit, const std::string& prefix) override {
    visit(join_name(prefix, "fc1.weight"), fc1_weight_, ParameterKind::learnable);
    if (fc1_bias_) visit(join_name(prefix, "fc1.bias"), *fc1_bias_, ParameterKind::learnable);
    visit(join_name(prefix, "fc2.weight"), fc2_weight_, ParameterKind::learnable);
    if (fc2_bias_) visit(join_name(prefix, "fc2.bias"), *fc2_bias_, ParameterKind::learnable);
  }

 private:
  static SEOptions with_reduction(Index reduction) {
    SEOptions o;
    o.reduction = reduction;
    return o;
  }
  SEBlock(Index channels, Index hidden, const SEOptions& options)
      : options_(options),
        channels_(channels),
        hidden_(hidden),
        fc1_weight_({hidden, channels, 1, 1}),
        fc2_weight_({channels, hidden, 1, 1}) {
    SENET_CHECK(channels >= 1 && hidden >= 1, "SEBlock: channels and hidden width must be positive");
    if (options.bias) {
      fc1_bias_ = Tensor<T>({hidden});
      fc2_bias_ = Tensor<T>({channels});
    }
  }

  SEOptions options_;
  Index channels_, hidden_;  // kept apart from the tensors (a prepared model frees those)
  Tensor<T> fc1_weight_;
  std::optional<Tensor<T>> fc1_bias_;
  Tensor<T> fc2_weight_;
  std::optional<Tensor<T>> fc2_bias_;
};

}  // namespace senet
