// `senet summary`: a model's layers with their output shapes, parameters and MACs.

#include <cstdint>
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>
#include <variant>

#include "model_options.hpp"

namespace senet_cli {
namespace {

std::string with_commas(std::int64_t v) {
  std::string s = std::to_string(v);
  for (int i = static_cast<int>(s.size()) - 3; i > 0; i -= 3) s.insert(static_cast<std::size_t>(i), ",");
  return s;
}

int summarize(const Options& opt) {
  const std::string name = opt.get("--model");
  auto cfg = model_config_from(opt);
  std::visit([&](auto& c) { c.num_classes = opt.integer("--num-classes", c.num_classes); }, cfg);
  auto model = build_model(cfg);
  const long size = opt.integer("--size", model->input_size());
  const auto rows = model->summary(size);
  const std::int64_t params = count_parameters(*model);
  std::int64_t macs = 0;
  for (const auto& r : rows) macs += r.macs;
  if (opt.has("--json")) {
    nlohmann::json layers = nlohmann::json::array();
    for (const auto& r : rows)
      layers.push_back({{"name", r.name},
                        {"type", r.type},
                        {"output_shape", r.output_shape},
                        {"params", r.params},
                        {"macs", r.macs}});
    nlohmann::json j = {{"model", name}, {"size", size}, {"params", params}, {"macs", macs}, {"layers", layers}};
    std::cout << j.dump() << "\n";
    return 0;
  }
  std::printf("%-32s %-16s %-22s %12s %16s\n", "layer", "type", "output", "params", "MACs");
  for (const auto& r : rows)
    std::printf("%-32s %-16s %-22s %12s %16s\n", r.name.c_str(), r.type.c_str(),
                senet::to_string(r.output_shape).c_str(), with_commas(r.params).c_str(), with_commas(r.macs).c_str());
  std::printf("\n%s at %ldx%ld: %s parameters, %s MACs (%.3f GMACs)\n", name.c_str(), size, size,
              with_commas(params).c_str(), with_commas(macs).c_str(), double(macs) / 1e9);
  return 0;
}

}  // namespace

Command summary_command() {
  return {"summary",
          "--model NAME [--size S] [--num-classes K] [--json]",
          "per-layer output shapes, parameters and MACs",
          "For one image of S x S (the model's input size); K: the classifier's width. Parameters are the\n"
          "  learnable ones (BatchNorm running statistics excluded); MACs count every convolution and\n"
          "  fully connected layer, SE included. --json: model, size, params, macs and the layers.\n" +
              se_options_help(),
          with_se_options({{"--model", "--size", "--num-classes"}, {"--json"}}),
          false,
          summarize};
}

}  // namespace senet_cli
