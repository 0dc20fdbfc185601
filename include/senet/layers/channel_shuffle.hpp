#pragma once
/// \file channel_shuffle.hpp
/// `senet::ChannelShuffle<T>`: ShuffleNet's channel shuffle, as `torch.nn.ChannelShuffle`.

#include <algorithm>
#include <string>

#include "senet/layers/module.hpp"

namespace senet {

/// Interleaves `groups` groups of channels: `[N, g * k, H, W]` viewed as `[N, g, k, H, W]`,
/// transposed to `[N, k, g, H, W]`; output channel `i * g + j` is input channel `j * k + i`.
template <class T>
class ChannelShuffle : public Module<T> {
 public:
  explicit ChannelShuffle(Index groups) : groups_(groups) {
    SENET_CHECK(groups >= 1, "ChannelShuffle: groups must be >= 1, got ", groups);
  }
  Tensor<T> forward(const Tensor<T>& x) const override {
    Tensor<T> y(output_shape(x.shape()), uninitialized);  // every plane is written
    const Index N = x.dim(0), C = x.dim(1), plane = x.dim(2) * x.dim(3), k = C / groups_;
    for (Index n = 0; n < N; ++n)
      for (Index j = 0; j < groups_; ++j)
        for (Index i = 0; i < k; ++i)
          std::copy_n(x.data() + (n * C + j * k + i) * plane, plane, y.data() + (n * C + i * groups_ + j) * plane);
    return y;
  }
  Shape output_shape(const Shape& input) const override {
    SENET_CHECK(input.size() == 4 && input[1] % groups_ == 0, "ChannelShuffle: input must be [N, C, H, W] with C a ",
                "multiple of ", groups_, " groups, got ", to_string(input));
    return input;
  }
  std::string type_name() const override { return "ChannelShuffle"; }
  Index groups() const { return groups_; }

 private:
  Index groups_;
};

}  // namespace senet
