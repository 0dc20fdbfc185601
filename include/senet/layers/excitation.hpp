#pragma once
/// \file excitation.hpp
/// Recording what SE blocks do: every block's excitation (its per-channel gates) during a forward
/// pass, keyed by the SE module's dotted path, on the reference path and on the prepared engine.
///
/// \code
/// senet::ExcitationRecorder recorder;
/// {
///   senet::ExcitationScope scope(*model, recorder);  // this thread's forwards report to `recorder`
///   model->forward(x);
/// }
/// for (const auto& block : recorder.blocks())      // network order
///   std::cout << block.path << " " << senet::to_string(block.gates.shape()) << "\n";  // [N, C]
/// \endcode
///
/// Nothing is reported, and nothing costs more than one thread-local read per SE block and
/// forward, while no scope is open. Excitations are reported in float for every scalar type.

#include <algorithm>
#include <map>
#include <mutex>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "senet/core/tensor.hpp"
#include "senet/layers/module.hpp"

namespace senet {

/// Receives SE excitations while an `ExcitationScope` is open.
class ExcitationObserver {
 public:
  virtual ~ExcitationObserver() = default;
  /// The gates of the SE block at `path` for images `first .. first + count - 1` of the running
  /// forward's batch: `count` rows of `channels` values, `stride` floats apart. The prepared
  /// engine may call this from several threads at once, for different images.
  virtual void on_excitation(const std::string& path, Index first, Index count, Index channels, const float* gates,
                             Index stride) = 0;
};

namespace detail {

/// Where the forwards of one thread report: the observer, and the path of every module of the
/// observed model by address (the reference path's SE blocks look themselves up).
struct ExcitationSink {
  ExcitationObserver* observer = nullptr;
  std::map<const void*, std::string> paths;

  template <class T>
  void report(const void* module, const Tensor<T>& gates) const {
    const auto it = paths.find(module);
    if (it == paths.end()) return;  // a module outside the observed model
    const Index N = gates.dim(0), C = gates.dim(1);
    if constexpr (std::is_same_v<T, float>) {
      observer->on_excitation(it->second, 0, N, C, gates.data(), C);
    } else {
      std::vector<float> rows(gates.begin(), gates.end());
      observer->on_excitation(it->second, 0, N, C, rows.data(), C);
    }
  }
};

/// The calling thread's sink, null when no scope is open.
inline ExcitationSink*& excitation_sink() {
  static thread_local ExcitationSink* sink = nullptr;
  return sink;
}

}  // namespace detail

/// While alive, the forward passes this thread runs on `model` (a reference model or a
/// `PreparedNetwork`) report every SE block's excitation to `observer`. Scopes nest: the inner
/// one is in force until it closes.
class ExcitationScope {
 public:
  template <class T>
  ExcitationScope(const Module<T>& model, ExcitationObserver& observer) : previous_(detail::excitation_sink()) {
    sink_.observer = &observer;
    for_each_module(model, [&](const std::string& path, const Module<T>& m) { sink_.paths[&m] = path; });
    detail::excitation_sink() = &sink_;
  }
  ~ExcitationScope() { detail::excitation_sink() = previous_; }
  ExcitationScope(const ExcitationScope&) = delete;
  ExcitationScope& operator=(const ExcitationScope&) = delete;

 private:
  detail::ExcitationSink sink_;
  detail::ExcitationSink* previous_;
};

/// The module that owns an SE block, from the SE's path: the path without the SE's own name
/// (`layer1.0.se` and `layer1.0.se_module` -> `layer1.0`, Caffe's flat `inception_3a_se` ->
/// `inception_3a`); other paths are returned as they are.
inline std::string excitation_block_name(const std::string& se_path) {
  for (const char* suffix : {".se_module", ".se", "_se"}) {
    const std::string s(suffix);
    if (se_path.size() > s.size() && se_path.compare(se_path.size() - s.size(), s.size(), s) == 0)
      return se_path.substr(0, se_path.size() - s.size());
  }
  return se_path;
}

/// An observer that keeps every excitation it is given: per SE block (in the order the network
/// runs them), the gates `[N, C]` of the images seen, image `first + i` in row `first + i`.
/// Thread-safe. Images of a later forward overwrite the rows of an earlier one: `clear()` between
/// forwards, or record one forward with `record_excitations`.
class ExcitationRecorder : public ExcitationObserver {
 public:
  struct Block {
    std::string path;     ///< the SE module's dotted path
    Tensor<float> gates;  ///< [N, C]
  };

  void on_excitation(const std::string& path, Index first, Index count, Index channels, const float* gates,
                     Index stride) override {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = index_.find(path);
    if (it == index_.end()) {
      it = index_.emplace(path, rows_.size()).first;
      rows_.push_back({path, channels, {}});
    }
    Rows& r = rows_[it->second];
    SENET_CHECK(r.channels == channels, "ExcitationRecorder: ", path, " reported ", channels, " channels, earlier ",
                r.channels);
    if (r.values.size() < std::size_t((first + count) * channels)) r.values.resize(std::size_t((first + count) * channels));
    for (Index n = 0; n < count; ++n)
      std::copy(gates + n * stride, gates + n * stride + channels, r.values.begin() + (first + n) * channels);
  }

  /// Every block seen, in network order, its gates `[N, C]` (N: the most images seen).
  std::vector<Block> blocks() const {
    std::lock_guard<std::mutex> lock(mutex_);
    std::vector<Block> out;
    for (const auto& r : rows_) {
      const Index N = Index(r.values.size()) / r.channels;
      Tensor<float> g({N, r.channels});
      std::copy(r.values.begin(), r.values.end(), g.begin());
      out.push_back({r.path, std::move(g)});
    }
    return out;
  }

  void clear() {
    std::lock_guard<std::mutex> lock(mutex_);
    rows_.clear();
    index_.clear();
  }

 private:
  struct Rows {
    std::string path;
    Index channels = 0;
    std::vector<float> values;
  };
  mutable std::mutex mutex_;
  std::vector<Rows> rows_;
  std::map<std::string, std::size_t> index_;
};

/// Runs `model` on `x` and returns each SE block's excitation for it (network order, `[N, C]`
/// each); the logits go to `*output` when given. Empty for a model without SE blocks.
template <class T>
std::vector<ExcitationRecorder::Block> record_excitations(const Module<T>& model, const Tensor<T>& x,
                                                          Tensor<T>* output = nullptr) {
  ExcitationRecorder recorder;
  {
    ExcitationScope scope(model, recorder);
    Tensor<T> y = model.forward(x);
    if (output) *output = std::move(y);
  }
  return recorder.blocks();
}

}  // namespace senet
