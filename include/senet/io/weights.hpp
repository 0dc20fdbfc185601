#pragma once
/// \file weights.hpp
/// Strict loading of a whole model's parameters and buffers from safetensors or PyTorch
/// checkpoints, and saving as safetensors, by the dotted PyTorch names `Module::visit_parameters`
/// gives (`layer1.0.se.fc1.weight`).

#include <algorithm>
#include <cstddef>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "senet/core/error.hpp"
#include "senet/core/tensor.hpp"
#include "senet/io/pth.hpp"
#include "senet/io/safetensors.hpp"
#include "senet/io/weights_file.hpp"
#include "senet/layers/module.hpp"

namespace senet {

/// Options of `load_weights`.
struct LoadWeightsOptions {
  /// Accept tensors holding NaN or infinite values. Off by default: a trained network has none,
  /// and one such value spreads to every logit, so a checkpoint holding them is damaged.
  bool allow_non_finite = false;
  /// Limits of the safetensors reader (the header size).
  SafetensorsOptions file;
  /// Limits of the PyTorch checkpoint reader (data.pkl's size, the tensor count).
  PthOptions pth;
};

/// Loads every parameter and buffer of `model` from the checkpoint at `path`: a safetensors file
/// or a PyTorch state_dict saved by `torch.save` (`.pth`, `.pt`; PyTorch >= 1.6), told apart by
/// content (`WeightsFile`, `detect_weights_format`).
///
/// Strict: each visited name must be a floating-point tensor in the file with exactly the
/// visited tensor's shape, and the file must hold no other floating-point tensor. Integer
/// tensors (PyTorch's `num_batches_tracked`, I64) are ignored. All problems are collected and
/// thrown as one `senet::Error` that starts with `path` and lists every missing key (with the
/// expected shape), every unexpected key (with its shape) and every mis-shaped key as
/// `key: expected [a, b], got [c, d]`. Unless `options.allow_non_finite` is set, a tensor holding
/// NaN or infinite values (after conversion to `T`) is an error too, which names the file, every
/// such key, how many values and the first one. The model is modified only when all of this
/// holds; a file that changes on disk while being read can still leave it part-loaded (and
/// throws). F64, F32, F16 and BF16 tensors are converted to `T`. The readers' limits are
/// `options.file` (`SafetensorsOptions`) and `options.pth` (`PthOptions`).
template <class T>
void load_weights(Module<T>& model, const std::string& path, const LoadWeightsOptions& options = {}) {
  const WeightsFile file = WeightsFile::open(path, options.file, options.pth);

  struct Target {
    std::string name;
    Tensor<T>* tensor;
  };
  std::vector<Target> targets;
  std::set<std::string> visited;
  std::vector<std::string> missing, wrong_dtype, misshaped, duplicated, unexpected;
  model.visit_parameters(ParameterVisitor<T>([&](const std::string& name, Tensor<T>& t, ParameterKind) {
    if (!visited.insert(name).second) {
      duplicated.push_back(name);  // a bug in the model, but reported with the rest
      return;
    }
    if (!file.contains(name)) {
      missing.push_back(name + " (expected " + to_string(t.shape()) + ")");
      return;
    }
    if (!file.is_floating(name)) {
      wrong_dtype.push_back(name + ": dtype " + file.dtype(name) + " is not floating point (expected " +
                            to_string(t.shape()) + ")");
      return;
    }
    if (file.shape(name) != t.shape()) {
      misshaped.push_back(name + ": expected " + to_string(t.shape()) + ", got " + to_string(file.shape(name)));
      return;
    }
    targets.push_back({name, &t});
  }));
  for (const std::string& key : file.keys())
    if (!visited.count(key) && file.is_floating(key))
      unexpected.push_back(detail::printable(key) + " " + to_string(file.shape(key)));

  const std::size_t problems =
      missing.size() + unexpected.size() + misshaped.size() + wrong_dtype.size() + duplicated.size();
  if (problems != 0) {
    std::string msg = path + ": cannot load weights into the model: " + std::to_string(problems) +
                      (problems == 1 ? " problem" : " problems");
    const auto list = [&msg](const char* what, const std::vector<std::string>& items) {
      for (const std::string& item : items) msg += std::string("\n  ") + what + item;
    };
    list("missing key: ", missing);
    list("unexpected key: ", unexpected);
    list("mis-shaped key: ", misshaped);
    list("wrong dtype: ", wrong_dtype);
    list("model visits this name twice: ", duplicated);
    throw Error(msg);
  }

  // Values are checked in a first pass over the file, so that a rejected file leaves the model as
  // it was: reading the file twice (SE-ResNet-50 from the page cache: 0.27 s instead of 0.14)
  // costs less than holding a second copy of the weights.
  if (!options.allow_non_finite) {
    std::vector<std::string> non_finite;
    for (const Target& target : targets) {
      const NonFiniteValues found = file.template find_non_finite<T>(target.name);
      if (found.count != 0)
        non_finite.push_back(detail::cat(target.name, ": ", found.count, " of ", target.tensor->size(),
                                         " values, the first at element ", found.first, " = ",
                                         found.first_value));
    }
    if (!non_finite.empty()) {
      std::string msg = detail::cat(path, ": cannot load weights into the model: ", non_finite.size(),
                                    non_finite.size() == 1 ? " tensor holds" : " tensors hold",
                                    " NaN or infinite values (allow_non_finite accepts them)");
      for (const std::string& item : non_finite) msg += "\n  non-finite values in " + item;
      throw Error(msg);
    }
  }

  // Every name, dtype, shape and byte range is valid: read straight into the model's buffers, so
  // that loading needs no second copy of the weights (SE-ResNet-50: 112 MB). Only an I/O failure
  // from here on (the file truncated or changed after it was opened) can stop the load part-way.
  for (const Target& target : targets) file.read_into(target.name, *target.tensor);
}

/// Writes every parameter and buffer of `model` to a safetensors file at `path` (F32 for float,
/// F64 for double), named as `visit_parameters` names them, with optional `metadata`. Throws
/// `senet::Error` if the file cannot be written or the model visits a name twice.
template <class T>
void save_weights(const Module<T>& model, const std::string& path,
                  const std::map<std::string, std::string>& metadata = {}) {
  std::vector<std::pair<std::string, const Tensor<T>*>> tensors;
  model.visit_parameters(
      [&](const std::string& name, const Tensor<T>& t, ParameterKind) { tensors.emplace_back(name, &t); });
  write_safetensors(path, tensors, metadata);
}

}  // namespace senet
