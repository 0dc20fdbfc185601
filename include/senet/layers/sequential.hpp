#pragma once
/// \file sequential.hpp
/// `senet::Sequential<T>`: named children run one after another, as `torch.nn.Sequential` with
/// an `OrderedDict`. The container that families are built from; `Residual` and `Concat` hold
/// sequences too.

#include <memory>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "senet/core/error.hpp"
#include "senet/layers/module.hpp"

namespace senet {

namespace detail {
/// Owned children with their names, in insertion order; names are unique where not empty.
template <class T>
class NamedChildren {
 public:
  /// Appends `module` (a `Module<T>` by value, moved in) as `name`; returns the stored module.
  template <class M, class = std::enable_if_t<std::is_base_of_v<Module<T>, std::decay_t<M>>>>
  std::decay_t<M>& add(std::string name, M&& module) {
    auto owned = std::make_unique<std::decay_t<M>>(std::forward<M>(module));
    auto& ref = *owned;
    add(std::move(name), std::unique_ptr<Module<T>>(std::move(owned)));
    return ref;
  }
  Module<T>& add(std::string name, std::unique_ptr<Module<T>> module) {
    SENET_CHECK(module != nullptr, "cannot add an empty module as '", name, "'");
    for (const auto& child : children_)
      SENET_CHECK(name.empty() || child.first != name, "two children named '", name, "'");
    children_.emplace_back(std::move(name), std::move(module));
    return *children_.back().second;
  }

  std::size_t size() const { return children_.size(); }
  bool empty() const { return children_.empty(); }
  const std::string& name(std::size_t i) const { return children_.at(i).first; }
  Module<T>& operator[](std::size_t i) { return *children_.at(i).second; }
  const Module<T>& operator[](std::size_t i) const { return *children_.at(i).second; }

  void for_each(const typename Module<T>::ChildFunction& f) {
    for (auto& child : children_) f(child.first, *child.second);
  }

 private:
  std::vector<std::pair<std::string, std::unique_ptr<Module<T>>>> children_;
};
}  // namespace detail

/// Children run in order: `y = child_n(... child_1(x))`. Each child's parameters live under its
/// name (`layer1` -> `layer1.0.conv1.weight`); a child added with an empty name puts its own
/// children in this sequence's namespace.
///
/// \code
/// senet::Sequential<float> head;
/// head.add("pool", senet::GlobalAvgPool2d<float>());   // [N, 512, H, W] -> [N, 512]
/// head.add("fc", senet::Linear<float>(512, 10));       // -> [N, 10]
/// \endcode
template <class T>
class Sequential : public Module<T>, public detail::NamedChildren<T> {
 public:
  Tensor<T> forward(const Tensor<T>& x) const override {
    if (this->empty()) return x;
    Tensor<T> h = (*this)[0].forward(x);
    for (std::size_t i = 1; i < this->size(); ++i) (*this)[i].forward_inplace(h);
    return h;
  }
  void forward_inplace(Tensor<T>& x) const override {
    for (std::size_t i = 0; i < this->size(); ++i) (*this)[i].forward_inplace(x);
  }
  Shape output_shape(const Shape& input) const override {
    Shape s = input;
    for (std::size_t i = 0; i < this->size(); ++i) s = (*this)[i].output_shape(s);
    return s;
  }
  Shape summarize(const Shape& input, const std::string& prefix, std::vector<LayerSummary>& rows) const override {
    Shape s = input;
    for (std::size_t i = 0; i < this->size(); ++i) s = (*this)[i].summarize(s, join_name(prefix, this->name(i)), rows);
    return s;
  }
  std::string type_name() const override { return "Sequential"; }

 protected:
  void do_for_each_child(const typename Module<T>::ChildFunction& f) override { this->for_each(f); }
};

}  // namespace senet
