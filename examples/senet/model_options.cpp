#include "model_options.hpp"

#include <algorithm>
#include <cstdint>
#include <optional>
#include <senet/core/threading.hpp>
#include <senet/io/weights.hpp>
#include <senet/io/weights_file.hpp>
#include <senet/models/prepared.hpp>
#include <senet/models/random_init.hpp>
#include <utility>
#include <variant>
#include <vector>
#ifdef __GLIBC__
#include <malloc.h>
#endif

namespace senet_cli {
namespace {

const std::vector<std::string> kSeOptions = {"--se-reduction", "--se-rounding", "--se-squeeze", "--se-gate",
                                             "--se-bias",      "--se-position", "--se-stages"};

/// The weight-loading limits of --max-header-bytes (a safetensors header or a .pth's data.pkl)
/// and --allow-non-finite.
senet::LoadWeightsOptions weights_options(const Options& opt) {
  senet::LoadWeightsOptions o;
  o.file.max_header_bytes =
      static_cast<std::uint64_t>(opt.integer("--max-header-bytes", static_cast<long>(o.file.max_header_bytes)));
  o.pth.max_pickle_bytes = o.file.max_header_bytes;
  o.allow_non_finite = opt.has("--allow-non-finite");
  return o;
}

/// The classifier width stored in a checkpoint (`fc.weight` / `last_linear.weight`), if any.
std::optional<senet::Index> checkpoint_classes(const std::string& weights, const senet::LoadWeightsOptions& limits) {
  const auto file = senet::WeightsFile::open(weights, limits.file, limits.pth);
  for (const char* key : {"fc.weight", "last_linear.weight"})
    if (file.contains(key) && file.shape(key).size() == 2) return file.shape(key)[0];
  return std::nullopt;
}

/// The index of `opt`'s value for `key` in `choices` (usage error when not one of them), or
/// `fallback` when the option is absent.
std::size_t choice_index(const Options& opt, const std::string& key, const std::vector<std::string>& choices,
                         std::size_t fallback) {
  if (!opt.has(key)) return fallback;
  const auto v = opt.choice(key, choices, "");
  return static_cast<std::size_t>(std::find(choices.begin(), choices.end(), v) - choices.begin());
}

}  // namespace

OptionNames with_se_options(OptionNames own) {
  own.valued.insert(kSeOptions.begin(), kSeOptions.end());
  return own;
}

OptionNames with_loading_options(OptionNames own) {
  own.valued.insert({"--engine", "--precision", "--winograd-max-channels", "--winograd-2x2-max-channels",
                     "--winograd-stride2-max-channels",
                     "--max-header-bytes", "--max-activation-mb"});
  own.flags.insert({"--allow-non-finite", "--measure-winograd"});
  return with_se_options(std::move(own));
}

std::string se_options_help() {
  return "SE options (defaults reproduce the named model):\n"
         "  --se-reduction R  --se-rounding floor|divisible8  --se-squeeze avg|max|avgmax\n"
         "  --se-gate sigmoid|tanh|relu|hard_sigmoid  --se-bias on|off\n"
         "  --se-position standard|pre|post|identity|after3x3  --se-stages 1,2,3,4\n";
}

std::string loading_options_help() {
  return "--engine fast|naive: the prepared engine (BatchNorm folded, AVX-512/AVX2 direct convolutions,\n"
         "  fused SE; the default where the model supports it) or the reference path.\n"
         "--precision fp32|bf16: the fast engine's convolutions in FP32 (default) or on bfloat16 weights and\n"
         "  inputs with FP32 sums (AMX or AVX512_BF16 where the CPU has them; logits move by ~1e-2).\n"
         "--winograd-max-channels N: 3x3 stride-1 convolutions with at most N channels in and out run as\n"
         "  Winograd F(4x4, 3x3), in FP32 also with --precision bf16 (default 128; 0: none).\n"
         "--winograd-2x2-max-channels N: those wider, with at most N channels in and out, as Winograd\n"
         "  F(2x2, 3x3) (default " + std::to_string(senet::PrepareOptions{}.winograd_2x2_max_channels) + "; 0: none).\n"
         "--winograd-stride2-max-channels N: 3x3 stride-2 convolutions with at most N channels in and out\n"
         "  run as Winograd F(4x4, 2x2) on the input's phases, with --precision fp32 (default 128, 0 on\n"
         "  Intel CPUs, where the direct kernel was as fast or faster: here " +
         std::to_string(senet::PrepareOptions{}.winograd_stride2_max_channels) + "; 0: none).\n"
         "--measure-winograd: of those, only the ones that ran faster as Winograd than direct when timed in\n"
         "  the network at start-up (one image of the model's input size; the choice may vary from run to run).\n"
         "Weights: .safetensors or a PyTorch state_dict saved by torch.save (.pth, .pt), told apart by content.\n"
         "Limits: --max-header-bytes N (a safetensors header or a .pth's data.pkl, default 16777216),\n"
         "  --allow-non-finite (load weights holding NaN or inf; refused by default), --max-activation-mb N\n"
         "  (activation memory one forward may take, default 4096).\n" +
         se_options_help();
}

senet::ModelConfig model_config_from(const Options& opt) {
  const std::string name = opt.get("--model");
  senet::ModelConfig any_cfg = senet::model_config_of(name);
  const bool any = std::any_of(kSeOptions.begin(), kSeOptions.end(), [&](const auto& k) { return opt.has(k); });
  if (!any) return any_cfg;
  if (!std::holds_alternative<senet::ResNetConfig>(any_cfg))
    throw UsageError{"the --se-* options apply to the ResNet family's builder; " + name + " is built otherwise"};
  senet::ResNetConfig cfg = std::get<senet::ResNetConfig>(any_cfg);
  if (!cfg.se) throw UsageError{cfg.name + " has no SE blocks; the --se-* options apply to SE models"};
  senet::SEOptions& se = cfg.se_options;
  se.reduction = opt.integer("--se-reduction", se.reduction);
  se.rounding = static_cast<senet::SERounding>(
      choice_index(opt, "--se-rounding", {"floor", "divisible8"}, static_cast<std::size_t>(se.rounding)));
  se.squeeze = static_cast<senet::SESqueeze>(
      choice_index(opt, "--se-squeeze", {"avg", "max", "avgmax"}, static_cast<std::size_t>(se.squeeze)));
  se.gate = static_cast<senet::SEGate>(
      choice_index(opt, "--se-gate", {"sigmoid", "tanh", "relu", "hard_sigmoid"}, static_cast<std::size_t>(se.gate)));
  se.bias = choice_index(opt, "--se-bias", {"off", "on"}, se.bias) == 1;
  cfg.se_position = static_cast<senet::SEPosition>(choice_index(opt, "--se-position",
                                                                {"standard", "pre", "post", "identity", "after3x3"},
                                                                static_cast<std::size_t>(cfg.se_position)));
  if (cfg.se_position == senet::SEPosition::after3x3 && cfg.block != senet::BlockType::bottleneck)
    throw UsageError{"--se-position after3x3 needs bottleneck blocks, and " + cfg.name +
                     " has basic blocks (two 3x3 convs)"};
  if (opt.has("--se-stages")) {
    const std::string list = opt.get("--se-stages");
    const auto stages = static_cast<senet::Index>(cfg.layers.size());
    std::vector<senet::Index> chosen;
    for (std::size_t pos = 0; pos <= list.size();) {
      const std::size_t comma = std::min(list.find(',', pos), list.size());
      const std::string item = list.substr(pos, comma - pos);
      if (item.size() != 1 || item[0] < '1' || item[0] - '0' > stages)
        throw UsageError{"--se-stages: unknown stage '" + item + "': " + cfg.name + " has stages 1.." +
                         std::to_string(stages) + " (timm's layer1..layer" + std::to_string(stages) + ")"};
      chosen.push_back(item[0] - '0');
      pos = comma + 1;
    }
    cfg.se_stages = chosen;
  }
  return cfg;
}

std::unique_ptr<senet::Model<float>> build_model(const senet::ModelConfig& config) {
  return senet::create_model<float>(config);
}

std::unique_ptr<senet::Model<float>> load_model(const Options& opt, const std::string& weights) {
  senet::ModelConfig cfg = model_config_from(opt);
  const senet::LoadWeightsOptions load_options = weights_options(opt);
  if (!weights.empty()) {
    if (auto classes = checkpoint_classes(weights, load_options))
      std::visit([&](auto& c) { c.num_classes = *classes; }, cfg);
  }
  auto model = build_model(cfg);
  model->set_activation_limit(static_cast<std::uint64_t>(opt.integer(
                                  "--max-activation-mb", long(senet::Model<float>::kDefaultActivationLimit >> 20)))
                              << 20);
  if (weights.empty())
    senet::randomize_parameters(*model, 42);
  else
    senet::load_weights(*model, weights, load_options);
  const bool bf16 = opt.choice("--precision", {"fp32", "bf16"}, "fp32") == "bf16";
  if (opt.choice("--engine", {"fast", "naive"}, "fast") != "naive") {
    senet::PrepareOptions options;
    options.precision = bf16 ? senet::ConvPrecision::bf16 : senet::ConvPrecision::fp32;
    options.winograd_max_channels = opt.integer("--winograd-max-channels", long(options.winograd_max_channels), 0);
    options.winograd_2x2_max_channels =
        opt.integer("--winograd-2x2-max-channels", long(options.winograd_2x2_max_channels), 0);
    options.winograd_stride2_max_channels =
        opt.integer("--winograd-stride2-max-channels", long(options.winograd_stride2_max_channels), 0);
    options.measure_winograd = opt.has("--measure-winograd");
    std::string why;
    if (auto fast = senet::PreparedNetwork::try_prepare(model, options, &why)) return fast;
    if (bf16)
      throw UsageError{"--precision bf16 needs the fast engine, which cannot run " + model->name() + ": " + why};
    return model;
  }
  if (bf16) throw UsageError{"--precision bf16 needs the fast engine (not --engine naive)"};
#ifdef __GLIBC__
  // The reference path allocates every activation: from here on keep such blocks (up to 32 MB) on
  // the heap and freed memory mapped, since fresh pages fault expensively on virtual machines (a
  // 6 MB activation cost 17 ms of page faults here, ten times its convolution). The fast engine
  // needs none of this: it runs on its own arena.
  mallopt(M_MMAP_THRESHOLD, 32 << 20);
  mallopt(M_TRIM_THRESHOLD, 256 << 20);
#endif
  return model;
}

std::vector<StepTime> profile_steps(const senet::Model<float>& model, const senet::Tensor<float>& x, long iters) {
  const auto* fast = dynamic_cast<const senet::PreparedNetwork*>(&model);
  if (!fast) throw UsageError{"--profile times the fast engine's steps, which does not run this model"};
  std::vector<double> seconds;
  for (long i = 0; i < iters; ++i) fast->forward_profiled(x, seconds);
  std::vector<StepTime> out;
  const auto names = fast->step_names();
  for (std::size_t i = 0; i < seconds.size(); ++i)
    out.push_back({i < names.size() ? names[i] : "head", seconds[i] * 1e3 / double(iters)});
  return out;
}

void apply_threads(const Options& opt) {
  if (opt.has("--threads")) senet::set_num_threads(static_cast<int>(opt.integer("--threads", 1)));
}

std::string class_label(const senet::ModelEntry& entry, senet::Index index, senet::Index num_classes) {
  if (entry.labels.size() == static_cast<std::size_t>(num_classes))
    return entry.labels[static_cast<std::size_t>(index)];
  return "class " + std::to_string(index);
}

}  // namespace senet_cli
