// `senet run`: the logits of a batch of images, from .npy to .npy.

#include <cstdio>
#include <senet/core/error.hpp>
#include <senet/io/npy.hpp>

#include "model_options.hpp"

namespace senet_cli {
namespace {

int run(const Options& opt) {
  const std::string name = opt.get("--model"), weights = opt.get("--weights");
  const std::string input = opt.get("--input"), output = opt.get("--output");
  apply_threads(opt);
  auto model = load_model(opt, weights);
  const auto x = senet::read_npy<float>(input);
  SENET_CHECK(x.rank() == 4, input, ": input must be [N, ", model->in_channels(), ", H, W], got ",
              senet::to_string(x.shape()));
  const auto logits = model->forward(x);
  senet::write_npy(output, logits);
  std::fprintf(stderr, "senet: wrote %s %s\n", output.c_str(), senet::to_string(logits.shape()).c_str());
  return 0;
}

}  // namespace

Command run_command() {
  return {"run",
          "--model NAME --weights W.safetensors|W.pth --input X.npy --output Y.npy [--threads N]",
          "the logits of the images of X.npy, written to Y.npy",
          "X: float32 [N, 3, H, W] -> Y: float32 logits [N, classes], the class count taken from the\n"
          "  checkpoint's classifier.\n" +
              loading_options_help(),
          with_loading_options({{"--model", "--weights", "--input", "--output", "--threads"}, {}}),
          false,
          run};
}

}  // namespace senet_cli
