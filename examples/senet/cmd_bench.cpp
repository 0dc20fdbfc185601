// `senet bench`: the latency and throughput of a model's forward pass.

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <utility>
#include <senet/core/threading.hpp>
#include <senet/layers/excitation.hpp>
#include <senet/models/prepared.hpp>
#include <string>
#include <vector>

#include "model_options.hpp"

namespace senet_cli {
namespace {

/// The steps that take the most time, and the time of each kind of step.
void print_profile(std::vector<StepTime> steps) {
  double total = 0;
  std::map<std::string, double> by_kind;
  for (const auto& st : steps) {
    total += st.ms;
    by_kind[st.step.substr(0, st.step.find(' '))] += st.ms;
  }
  std::printf("\nsteps, summed over threads: %.2f ms per forward\n", total);
  for (const auto& [kind, ms] : by_kind) std::printf("  %-12s %8.3f ms %5.1f%%\n", kind.c_str(), ms, 100 * ms / total);
  std::stable_sort(steps.begin(), steps.end(), [](const StepTime& a, const StepTime& b) { return a.ms > b.ms; });
  std::printf("slowest steps:\n");
  for (std::size_t i = 0; i < std::min<std::size_t>(steps.size(), 25); ++i)
    std::printf("  %8.3f ms %5.1f%%  %s\n", steps[i].ms, 100 * steps[i].ms / total, steps[i].step.c_str());
}

int bench(const Options& opt) {
  const std::string name = opt.get("--model");
  const long batch = opt.integer("--batch", 1), iters = opt.integer("--iters", 10);
  apply_threads(opt);
  const std::string weights = opt.has("--weights") ? opt.get("--weights") : "";
  auto model = load_model(opt, weights);
  const long size = opt.integer("--size", model->input_size());
  senet::Tensor<float> x({batch, model->in_channels(), size, size});
  for (senet::Index i = 0; i < x.size(); ++i) x[i] = static_cast<float>(std::sin(double(i)));
  // --record-excitations: every forward reports its SE gates to a recorder (what recording costs).
  senet::ExcitationRecorder recorder;
  std::optional<senet::ExcitationScope> recording;
  if (opt.has("--record-excitations")) recording.emplace(*model, recorder);
  model->forward(x);  // warm-up: first-touch of every buffer and weight
  std::vector<double> ms;
  for (long i = 0; i < iters; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    const auto y = model->forward(x);
    ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  }
  std::sort(ms.begin(), ms.end());
  std::vector<StepTime> steps;
  if (opt.has("--profile")) steps = profile_steps(*model, x, iters);
  const double median = ms.size() % 2 ? ms[ms.size() / 2] : 0.5 * (ms[ms.size() / 2 - 1] + ms[ms.size() / 2]);
  const double flops = 2.0 * double(model->total_macs(size, batch));
  const double gflops = flops / (median * 1e-3) / 1e9;
  const auto* engine = dynamic_cast<const senet::PreparedNetwork*>(model.get());
  auto winograd_steps = [&](int tile, int stride) {
    return engine ? engine->winograd_steps(tile, stride) : std::vector<std::string>{};
  };
  const std::vector<std::string> winograd = winograd_steps(0, 0), winograd_4x4 = winograd_steps(4, 1),
                                 winograd_2x2 = winograd_steps(2, 1), winograd_stride2 = winograd_steps(0, 2);
  if (opt.has("--json")) {
    nlohmann::json j = {{"model", name},
                        {"batch", batch},
                        {"size", size},
                        {"threads", senet::num_threads()},
                        {"iters", iters},
                        {"median_ms", median},
                        {"min_ms", ms.front()},
                        {"ms_per_image", median / double(batch)},
                        {"gflops", gflops},
                        {"weights", weights.empty() ? "random" : weights},
                        {"engine", model->type_name() == "PreparedNetwork" ? "fast" : "naive"},
                        {"precision", opt.choice("--precision", {"fp32", "bf16"}, "fp32")},
                        {"record_excitations", recording.has_value()},
                        {"winograd_steps", winograd},
                        {"winograd_2x2_steps", winograd_2x2},
                        {"winograd_stride2_steps", winograd_stride2}};
    if (!steps.empty()) {
      j["steps"] = nlohmann::json::array();
      for (const auto& st : steps) j["steps"].push_back({{"step", st.step}, {"ms", st.ms}});
    }
    std::cout << j.dump() << "\n";
  } else {
    std::printf("%s batch %ld, %ldx%ld, %d thread(s), %ld iterations%s\n", name.c_str(), batch, size, size,
                senet::num_threads(), iters, weights.empty() ? ", random weights" : "");
    std::printf("median %.2f ms per batch, %.2f ms per image, %.1f GFLOP/s (min %.2f ms)\n", median,
                median / double(batch), gflops, ms.front());
    for (const auto& [form, steps_of] : {std::pair{"F(4x4, 3x3)", &winograd_4x4}, std::pair{"F(2x2, 3x3)", &winograd_2x2},
                                         std::pair{"F(4x4, 2x2) by phases (stride 2)", &winograd_stride2}}) {
      if (steps_of->empty()) continue;
      std::printf("Winograd %s on %zu convolutions:", form, steps_of->size());
      for (const auto& step : *steps_of) std::printf(" %s", step.c_str());
      std::printf("\n");
    }
    if (!steps.empty()) print_profile(steps);
  }
  return 0;
}

}  // namespace

Command bench_command() {
  return {"bench",
          "--model NAME [--weights W] [--batch B] [--size S] [--threads N] [--iters I]\n"
          "[--engine fast|naive] [--record-excitations] [--profile] [--json]",
          "median latency and GFLOP/s",
          "Times I forward passes (10) of B images (1) of S x S (the model's input size) after one warm-up,\n"
          "  on seeded random weights unless --weights is given. --json: model, batch, size, threads, iters,\n"
          "  median_ms, min_ms, ms_per_image, gflops, weights, engine, precision, record_excitations,\n"
          "  winograd_steps (the convolutions that run as Winograd), winograd_2x2_steps (those of them as\n"
          "  F(2x2, 3x3)), winograd_stride2_steps (the stride-2 ones).\n"
          "--record-excitations: every forward records its SE excitations (as senet excite does), to\n"
          "  measure what recording costs.\n"
          "--profile: then times each step of the fast engine over I more passes and prints the time of\n"
          "  each kind of step and the 25 slowest steps (--json: \"steps\", every step's ms in order).\n" +
              loading_options_help(),
          with_loading_options({{"--model", "--weights", "--batch", "--size", "--threads", "--iters"},
                                {"--json", "--record-excitations", "--profile"}}),
          false,
          bench};
}

}  // namespace senet_cli
