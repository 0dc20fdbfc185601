#pragma once
/// \file network.hpp
/// `senet::Network<T>`: a classifier composed from modules: one root `Sequential` plus what a
/// `Model` declares (name, input channels, classes, image size). Every family's builder fills
/// one; users compose their own the same way.

#include <string>
#include <utility>
#include <vector>

#include "senet/layers/sequential.hpp"
#include "senet/models/model.hpp"

namespace senet {

/// What a `Network` is, apart from its layers.
struct NetworkInfo {
  std::string name = "network";
  Index in_channels = 3;
  Index num_classes = 1000;
  Index input_size = 224;  ///< the image size the model is made for (summary and bench default)
};

/// Throws `senet::Error` unless `input` is `[N, in_channels, H, W]`; `name` opens the message.
inline void check_image_input(const std::string& name, Index in_channels, const Shape& input) {
  SENET_CHECK(input.size() == 4, name, ": input must be [N, ", in_channels, ", H, W], got ", to_string(input));
  SENET_CHECK(input[1] == in_channels, name, ": expected ", in_channels, " input channels, got ", input[1], " (input ",
              to_string(input), ")");
}

/// A composed image classifier: `[N, in_channels, H, W]` -> `layers()` -> `[N, num_classes]`.
/// Its children are those of `layers()`, so parameter names start at the root
/// (`conv1.weight`, `layer1.0.se.fc1.weight`).
///
/// \code
/// senet::Network<float> net({"tiny_se", 3, 10, 32});
/// net.layers().add("conv", senet::Conv2d<float>(3, 32, senet::conv_params(3, 1, 1)));
/// net.layers().add("se", senet::SEBlock<float>(32, 8));
/// net.layers().add("pool", senet::GlobalAvgPool2d<float>());
/// net.layers().add("fc", senet::Linear<float>(32, 10));
/// \endcode
template <class T>
class Network : public Model<T> {
 public:
  explicit Network(NetworkInfo info) : info_(std::move(info)) {
    SENET_CHECK(info_.in_channels >= 1 && info_.num_classes >= 1 && info_.input_size >= 1, info_.name,
                ": channels, classes and input size must be positive");
  }

  /// The root sequence the network runs.
  Sequential<T>& layers() { return layers_; }
  const Sequential<T>& layers() const { return layers_; }

  Tensor<T> forward(const Tensor<T>& x) const override {
    check_input(x.shape());
    this->check_activation_memory(x.shape());
    return layers_.forward(x);
  }
  Shape summarize(const Shape& input, const std::string& prefix, std::vector<LayerSummary>& rows) const override {
    check_input(input);
    return layers_.summarize(input, prefix, rows);
  }
  Shape output_shape(const Shape& input) const override {
    check_input(input);
    return layers_.output_shape(input);
  }
  std::string type_name() const override { return "Network"; }
  const std::string& name() const override { return info_.name; }
  Index in_channels() const override { return info_.in_channels; }
  Index num_classes() const override { return info_.num_classes; }
  Index input_size() const override { return info_.input_size; }
  const NetworkInfo& info() const { return info_; }

  /// Throws `senet::Error` unless `input` is `[N, in_channels, H, W]`.
  void check_input(const Shape& input) const { check_image_input(info_.name, info_.in_channels, input); }

 protected:
  void do_for_each_child(const typename Module<T>::ChildFunction& f) override { layers_.for_each(f); }

 private:
  NetworkInfo info_;
  Sequential<T> layers_;
};

/// The network class that a family's configuration builds: `NetworkOf<ResNetConfig>::type<T>` is
/// `ResNet<T>`. Each family's header specialises it beside its class; `create_model` takes any
/// configuration that has one.
template <class Config>
struct NetworkOf;

/// A family's network: the configuration it was built from (its `name`, `in_channels`,
/// `num_classes` and `input_size` make the `NetworkInfo`; the rest is the builder's) and the
/// family's type name. Each family derives from it with one constructor, so that its type stays
/// its own (`dynamic_cast<const senet::RegNet<float>*>`).
template <class T, class Config>
class ConfiguredNetwork : public Network<T> {
 public:
  using Builder = void (*)(const Config&, Sequential<T>&);

  ConfiguredNetwork(Config cfg, std::string type_name, Builder build)
      : Network<T>({cfg.name, cfg.in_channels, cfg.num_classes, cfg.input_size}),
        cfg_(std::move(cfg)),
        type_name_(std::move(type_name)) {
    build(cfg_, this->layers());
  }
  std::string type_name() const override { return type_name_; }
  const Config& config() const { return cfg_; }

 private:
  Config cfg_;
  std::string type_name_;
};

}  // namespace senet
