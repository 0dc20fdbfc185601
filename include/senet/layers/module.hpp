#pragma once
/// \file module.hpp
/// `senet::Module<T>`: the base of every layer and model. A module owns named parameters and
/// visits them by the dotted names PyTorch uses (`layer1.0.se.fc1.weight`), so that a checkpoint
/// maps one-to-one, parameter counting is a visit, and loading can report every bad key at once.

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

/// Joins a prefix and a child name with a dot: `join_name("layer1.0", "conv1")`.
inline std::string join_name(const std::string& prefix, const std::string& name) {
  return prefix.empty() ? name : prefix + "." + name;
}

/// Base class of layers and models.
///
/// A module describes its structure at construction (cheap, weights zero-filled), receives its
/// weights through `visit_parameters`, and computes with `forward`, which never mutates it, so
/// one model can serve many threads.
template <class T>
class Module {
 public:
  virtual ~Module() = default;

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
  /// What `visit_parameters` calls: modules that own parameters or children override it and
  /// visit children through their public `visit_parameters`; the default owns nothing.
  virtual void do_visit_parameters(const ParameterVisitor<T>& visit, const std::string& prefix) {
    (void)visit;
    (void)prefix;
  }
};

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
