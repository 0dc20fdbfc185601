#pragma once
/// \file module.hpp
/// `senet::Module<T>`: the base of every layer, container and model. A module owns named
/// parameters and named children, and visits them by the dotted names PyTorch uses
/// (`layer1.0.se.fc1.weight`), so that a checkpoint maps one-to-one, and parameter counting,
/// loading, summaries and whole-model tools are traversals of one tree (`for_each_module`),
/// never code per block type.

#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "senet/core/tensor.hpp"

namespace senet {

/// What a visited tensor is: a learnable parameter, or a buffer such as BatchNorm's running
/// statistics (stored in checkpoints, not counted as parameters).
enum class ParameterKind { learnable, buffer };

/// Callback of a parameter visit: dotted name, tensor, kind.
template <class T>
using ParameterVisitor = std::function<void(const std::string& name, Tensor<T>& tensor, ParameterKind kind)>;

/// One row of a model summary: a layer's dotted name, kind, output shape, learnable parameter
/// count and multiply-accumulates for the summarised input shape.
struct LayerSummary {
  std::string name;
  std::string type;
  Shape output_shape;
  std::int64_t params = 0;
  std::int64_t macs = 0;
};

/// Joins a prefix and a child name with a dot: `join_name("layer1.0", "conv1")`. An empty name
/// adds nothing (a container whose children take their names in the parent's namespace).
inline std::string join_name(const std::string& prefix, const std::string& name) {
  if (name.empty()) return prefix;
  return prefix.empty() ? name : prefix + "." + name;
}

/// Base class of layers, containers and models.
///
/// A module describes its structure at construction (cheap, weights zero-filled), receives its
/// weights through `visit_parameters`, and computes with `forward`, which never mutates it, so
/// one model can serve many threads. Containers (`Sequential`, `Residual`, `Concat`) list their
/// children through `for_each_child`; leaves own tensors and override `do_visit_parameters`.
template <class T>
class Module {
 public:
  /// Callback of a child visit: the child's name (dotted, relative to this module) and the child.
  using ChildFunction = std::function<void(const std::string& name, Module<T>& child)>;

  virtual ~Module() = default;

  /// Calls `f(name, child)` for each direct child, in forward order (PyTorch's `named_children`).
  template <class F>
  void for_each_child(F&& f) {
    do_for_each_child(ChildFunction(std::forward<F>(f)));
  }
  template <class F>
  void for_each_child(F&& f) const {
    // Listing children changes nothing; the callback only ever sees const modules.
    const_cast<Module*>(this)->do_for_each_child(
        ChildFunction([&f](const std::string& n, Module<T>& m) { f(n, static_cast<const Module<T>&>(m)); }));
  }

  /// Calls `visit(name, tensor, kind)` for every parameter and buffer, in PyTorch's `state_dict`
  /// order, with dotted names prefixed by `prefix`. `visit` receives `Tensor<T>&` here and
  /// `const Tensor<T>&` on a const module.
  template <class Visitor>
  void visit_parameters(Visitor&& visit, const std::string& prefix = "") {
    do_visit_parameters(ParameterVisitor<T>(std::forward<Visitor>(visit)), prefix);
  }
  template <class Visitor>
  void visit_parameters(Visitor&& visit, const std::string& prefix = "") const {
    // Visiting itself changes nothing, and the callback only ever sees const tensors.
    const_cast<Module*>(this)->do_visit_parameters(
        ParameterVisitor<T>([&visit](const std::string& n, Tensor<T>& t, ParameterKind k) {
          visit(n, static_cast<const Tensor<T>&>(t), k);
        }),
        prefix);
  }

  /// Computes the module's output for `input`; never modifies the module.
  virtual Tensor<T> forward(const Tensor<T>& input) const = 0;

  /// Replaces `x` by `forward(x)`; layers that can work in place (BatchNorm, activations, SE)
  /// override it, so that a sequence of them allocates nothing.
  virtual void forward_inplace(Tensor<T>& x) const { x = forward(x); }

  /// Output shape for an input of shape `input`; throws `senet::Error` if the input is not valid.
  virtual Shape output_shape(const Shape& input) const = 0;

  /// Appends one row per leaf layer (and returns the output shape) for an input of shape `input`.
  virtual Shape summarize(const Shape& input, const std::string& prefix, std::vector<LayerSummary>& rows) const {
    LayerSummary row;
    row.name = prefix;
    row.type = type_name();
    row.output_shape = output_shape(input);
    row.params = count_parameters(*this);
    row.macs = macs(input);
    rows.push_back(row);
    return row.output_shape;
  }

  /// Multiply-accumulates of one forward pass of an input of shape `input` (convolutions and
  /// fully connected layers; element-wise work is not counted, as in the paper and fvcore).
  virtual std::int64_t macs(const Shape& input) const {
    (void)input;
    return 0;
  }

  /// Short type name for summaries, e.g. "Conv2d".
  virtual std::string type_name() const = 0;

 protected:
  /// What `visit_parameters` calls. The default visits every child's parameters under the
  /// child's name; modules that own tensors (the leaves) override it.
  virtual void do_visit_parameters(const ParameterVisitor<T>& visit, const std::string& prefix) {
    do_for_each_child([&](const std::string& name, Module<T>& child) {
      child.visit_parameters(visit, join_name(prefix, name));
    });
  }

  /// What `for_each_child` calls: containers override it; a leaf has no children.
  virtual void do_for_each_child(const ChildFunction& f) { (void)f; }
};

/// Calls `f(path, module)` for `root` (path `prefix`) and every module below it, parents before
/// children, in forward order (PyTorch's `named_modules`). Children with an empty name share
/// their parent's path.
template <class T, class F>
void for_each_module(const Module<T>& root, F&& f, const std::string& prefix = "") {
  f(prefix, root);
  root.for_each_child([&](const std::string& name, const Module<T>& child) {
    for_each_module(child, f, join_name(prefix, name));
  });
}

/// The first module of type `M` at dotted path `path` under `root`, or null.
template <class M, class T>
const M* find_module(const Module<T>& root, const std::string& path) {
  const M* found = nullptr;
  for_each_module(root, [&](const std::string& p, const Module<T>& m) {
    if (!found && p == path) found = dynamic_cast<const M*>(&m);
  });
  return found;
}

/// Number of learnable parameter elements of `m` (running statistics excluded).
template <class T>
std::int64_t count_parameters(const Module<T>& m) {
  std::int64_t n = 0;
  m.visit_parameters([&](const std::string&, const Tensor<T>& t, ParameterKind k) {
    if (k == ParameterKind::learnable) n += t.size();
  });
  return n;
}

/// Names and shapes of every parameter and buffer of `m`, in visit order.
template <class T>
std::vector<std::pair<std::string, Shape>> parameter_shapes(const Module<T>& m) {
  std::vector<std::pair<std::string, Shape>> out;
  m.visit_parameters([&](const std::string& n, const Tensor<T>& t, ParameterKind) { out.emplace_back(n, t.shape()); });
  return out;
}

}  // namespace senet
