#pragma once
/// \file concat.hpp
/// `senet::Concat<T>`: parallel branches on one input, joined by channel concatenation (an
/// Inception module).

#include <algorithm>
#include <string>
#include <vector>

#include "senet/layers/sequential.hpp"

namespace senet {

/// `y = cat(branch_1(x), ..., branch_k(x))` along the channels: each branch maps `[N, C, H, W]`
/// to `[N, C_i, H', W']` with the same `N, H', W'`; `y` is `[N, sum C_i, H', W']`, in the order
/// the branches were added. Each branch's parameters live under its name (an empty name puts a
/// branch's children in the module's own namespace, as Caffe's flat names need).
///
/// \code
/// senet::Concat<float> mixed;
/// auto& a = mixed.add("1x1", senet::Sequential<float>());
/// a.add("conv", senet::Conv2d<float>(192, 64, senet::conv_params(1)));
/// auto& b = mixed.add("pool", senet::Sequential<float>());
/// b.add("pool", senet::MaxPool2d<float>(senet::pool_params(3, 1, 1)));   // [N, 192, H, W]
/// // mixed: [N, 192, H, W] -> [N, 256, H, W]
/// \endcode
template <class T>
class Concat : public Module<T>, public detail::NamedChildren<T> {
 public:
  Tensor<T> forward(const Tensor<T>& x) const override {
    std::vector<Tensor<T>> outputs;
    outputs.reserve(this->size());
    for (std::size_t i = 0; i < this->size(); ++i) outputs.push_back((*this)[i].forward(x));
    std::vector<Shape> shapes;
    for (const auto& o : outputs) shapes.push_back(o.shape());
    Tensor<T> y(joined(shapes, ""), uninitialized);  // every element is written
    const Index N = y.dim(0), plane = y.dim(2) * y.dim(3), image = y.size() / N;
    Index offset = 0;
    for (const auto& o : outputs) {
      const Index block = o.dim(1) * plane;
      for (Index n = 0; n < N; ++n) std::copy_n(o.data() + n * block, block, y.data() + n * image + offset);
      offset += block;
    }
    return y;
  }
  Shape output_shape(const Shape& input) const override {
    std::vector<Shape> shapes;
    for (std::size_t i = 0; i < this->size(); ++i) shapes.push_back((*this)[i].output_shape(input));
    return joined(shapes, "");
  }
  Shape summarize(const Shape& input, const std::string& prefix, std::vector<LayerSummary>& rows) const override {
    std::vector<Shape> shapes;
    for (std::size_t i = 0; i < this->size(); ++i)
      shapes.push_back((*this)[i].summarize(input, join_name(prefix, this->name(i)), rows));
    return joined(shapes, prefix);
  }
  std::string type_name() const override { return "Concat"; }

 protected:
  void do_for_each_child(const typename Module<T>::ChildFunction& f) override { this->for_each(f); }

 private:
  /// The concatenation of branch outputs `shapes`; throws unless they agree but in channels.
  Shape joined(const std::vector<Shape>& shapes, const std::string& where) const {
    SENET_CHECK(!shapes.empty(), "Concat ", where, ": no branches");
    Shape y = shapes[0];
    SENET_CHECK(y.size() == 4, "Concat ", where, ": branch '", this->name(0), "' gives ", to_string(y),
                ", not [N, C, H, W]");
    for (std::size_t i = 1; i < shapes.size(); ++i) {
      const Shape& s = shapes[i];
      SENET_CHECK(s.size() == 4 && s[0] == y[0] && s[2] == y[2] && s[3] == y[3], "Concat ", where, ": branch '",
                  this->name(i), "' gives ", to_string(s), ", branch '", this->name(0), "' ", to_string(shapes[0]),
                  " (only the channels may differ)");
      y[1] += s[1];
    }
    return y;
  }
};

}  // namespace senet
