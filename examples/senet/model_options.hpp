#pragma once
// The options that choose, reshape and load a model, shared by the commands that build one.
// Defined in model_options.cpp, the one file that includes the fast engine (prepared.hpp), the
// bulk of the tool's compile time.

#include <memory>
#include <senet/models/model.hpp>
#include <senet/models/zoo.hpp>
#include <string>
#include <vector>

#include "cli_options.hpp"

namespace senet_cli {

/// `own` plus the --se-* options, which reshape a model's SE blocks (the paper's ablations).
OptionNames with_se_options(OptionNames own);
/// `own` plus every option that load_model reads: the --se-* options, --engine and the limits.
OptionNames with_loading_options(OptionNames own);

/// What the options of with_se_options mean, for the help of the commands that take them.
std::string se_options_help();
/// What the options of with_loading_options mean.
std::string loading_options_help();

/// The configuration of `--model` with the --se-* options applied; combinations that make no
/// sense are usage errors that say why. Defaults reproduce the named model.
senet::ModelConfig model_config_from(const Options& opt);

/// senet::create_model<float>(config), compiled in this one file: instantiating the networks is
/// most of a file's compile time.
std::unique_ptr<senet::Model<float>> build_model(const senet::ModelConfig& config);

/// The model of `--model` (and the --se-* options) with the checkpoint's class count and
/// weights, or seeded random weights when `weights` is empty; prepared for the fast engine unless
/// `--engine naive`.
std::unique_ptr<senet::Model<float>> load_model(const Options& opt, const std::string& weights);

/// The time of one lowered step of the fast engine (`"head"`: the layers after the global pool).
struct StepTime {
  std::string step;
  double ms = 0;  ///< per forward, summed over the threads that ran it
};

/// Where the fast engine's time goes over `iters` forwards of `x`: each step's mean time, in the
/// engine's order. A usage error for a model the fast engine does not run.
std::vector<StepTime> profile_steps(const senet::Model<float>& model, const senet::Tensor<float>& x, long iters);

/// The name of class `index` of a model registered as `entry` with `num_classes` classes: the
/// entry's class names when it has that many (ImageNet's, Fashion-MNIST's), else "class N".
std::string class_label(const senet::ModelEntry& entry, senet::Index index, senet::Index num_classes);

/// Sets the thread count of --threads, where given.
void apply_threads(const Options& opt);

}  // namespace senet_cli
