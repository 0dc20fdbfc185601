#pragma once
/// \file residual.hpp
/// `senet::Residual<T>`: a residual unit, `after(body(x) + shortcut(x))`, the container of every
/// ResNet-style block. Where an SE block sits is where the builder puts it: at the end of the body
/// (the standard block), at its start, on the shortcut or after the add.

#include <string>
#include <utility>
#include <vector>

#include "senet/layers/sequential.hpp"
#include "senet/ops/elementwise.hpp"

namespace senet {

/// `y = after(body(x) + shortcut(x))`; an empty shortcut is the identity.
///
/// The three sequences share the unit's namespace, as in PyTorch's blocks: `body` holds `conv1`,
/// `bn1`, ..., `shortcut` holds `downsample` (itself a sequence `0`, `1`), `after` the final
/// ReLU. Children are listed body first, then shortcut, then after.
///
/// \code
/// senet::Residual<float> block("BasicBlock");
/// block.body().add("conv1", senet::Conv2d<float>(64, 64, senet::conv_params(3, 1, 1)));
/// block.body().add("bn1", senet::BatchNorm2d<float>(64));
/// block.body().add("se", senet::SEBlock<float>(64, 16));
/// block.after().add("act", senet::ReLU<float>());
/// \endcode
template <class T>
class Residual : public Module<T> {
 public:
  /// `type`: the name summaries and errors give the unit ("Bottleneck", "BasicBlock").
  explicit Residual(std::string type = "Residual") : type_(std::move(type)) {}

  Sequential<T>& body() { return body_; }
  const Sequential<T>& body() const { return body_; }
  Sequential<T>& shortcut() { return shortcut_; }
  const Sequential<T>& shortcut() const { return shortcut_; }
  Sequential<T>& after() { return after_; }
  const Sequential<T>& after() const { return after_; }

  Tensor<T> forward(const Tensor<T>& x) const override {
    Tensor<T> y = body_.forward(x);
    if (shortcut_.empty()) {
      add_inplace(y, x);
    } else {
      add_inplace(y, shortcut_.forward(x));
    }
    after_.forward_inplace(y);
    return y;
  }
  Shape output_shape(const Shape& input) const override {
    std::vector<LayerSummary> rows;
    return summarize(input, "", rows);
  }
  Shape summarize(const Shape& input, const std::string& prefix, std::vector<LayerSummary>& rows) const override {
    const Shape body = body_.summarize(input, prefix, rows);
    const Shape shortcut = shortcut_.summarize(input, prefix, rows);
    SENET_CHECK(body == shortcut, type_, " ", prefix, ": the body's output ", to_string(body),
                " and the shortcut's ", to_string(shortcut), " cannot be added");
    return after_.summarize(body, prefix, rows);
  }
  std::string type_name() const override { return type_; }

 protected:
  void do_for_each_child(const typename Module<T>::ChildFunction& f) override {
    body_.for_each(f);
    shortcut_.for_each(f);
    after_.for_each(f);
  }

 private:
  std::string type_;
  Sequential<T> body_, shortcut_, after_;
};

}  // namespace senet
