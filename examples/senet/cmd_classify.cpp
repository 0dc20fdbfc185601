// `senet classify`: the top classes of image files and of the images in directories.

#include "image_inputs.hpp"
#include "model_options.hpp"

#ifdef SENET_CLI_IMAGES
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>
#include <senet/models/zoo.hpp>
#include <senet/ops/activation.hpp>
#include <vector>
#else
#include <senet/core/error.hpp>
#endif

namespace senet_cli {
namespace {

#ifdef SENET_CLI_IMAGES
/// A one-line progress bar with images/s on stderr, redrawn in place; silent unless enabled.
class Progress {
 public:
  Progress(std::size_t total, bool enabled) : total_(total), enabled_(enabled) {}
  void update(std::size_t done) {
    if (!enabled_) return;
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
    const int width = 30, filled = static_cast<int>(width * done / std::max<std::size_t>(total_, 1));
    std::fprintf(stderr, "\r[%s%s] %zu/%zu images, %.1f images/s", std::string(filled, '#').c_str(),
                 std::string(width - filled, ' ').c_str(), done, total_, s > 0 ? double(done) / s : 0.0);
    if (done == total_) std::fputc('\n', stderr);
    std::fflush(stderr);
  }
  /// Erases the bar so that results printed to the same terminal start on a clean line.
  void clear() {
    if (enabled_) std::fputs("\r\033[K", stderr);
  }

 private:
  std::size_t total_;
  bool enabled_;
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
};

int classify(const Options& opt) {
  const std::string name = opt.get("--model");
  const std::string weights = opt.has("--weights") ? opt.get("--weights") : "";
  const senet::ModelEntry& entry = senet::model_entry(name);
  const long top = opt.integer("--top", 5), batch = opt.integer("--batch", 8);
  if (opt.positional().empty()) throw UsageError{"classify needs at least one image or directory"};
  apply_threads(opt);
  const auto paths = collect_images(opt.positional());
  auto model = load_model(opt, weights);
  const ImageLoader images(opt, name, model->input_size());
  if (weights.empty())
    std::fprintf(stderr,
                 "senet: warning: no --weights given: %s runs on seeded random weights, so its labels are "
                 "meaningless\n",
                 name.c_str());
  const senet::Index classes = model->num_classes(), k = std::min<senet::Index>(top, classes);
  const bool json = opt.has("--json");
  nlohmann::json results = nlohmann::json::array();
  Progress progress(paths.size(), isatty(STDERR_FILENO) && paths.size() > static_cast<std::size_t>(batch));
  for (std::size_t first = 0; first < paths.size(); first += static_cast<std::size_t>(batch)) {
    const std::size_t last = std::min(paths.size(), first + static_cast<std::size_t>(batch));
    auto probs = model->forward(images.load(paths, first, last));
    senet::softmax_rows_inplace(probs);
    progress.clear();
    for (std::size_t i = first; i < last; ++i) {
      const float* p = probs.data() + static_cast<senet::Index>(i - first) * classes;
      std::vector<senet::Index> order(static_cast<std::size_t>(classes));
      for (senet::Index c = 0; c < classes; ++c) order[static_cast<std::size_t>(c)] = c;
      std::partial_sort(order.begin(), order.begin() + k, order.end(),
                        [&](senet::Index a, senet::Index b) { return p[a] > p[b] || (p[a] == p[b] && a < b); });
      nlohmann::json tops = nlohmann::json::array();
      if (!json) std::printf("%s\n", paths[i].c_str());
      for (senet::Index r = 0; r < k; ++r) {
        const senet::Index c = order[static_cast<std::size_t>(r)];
        if (json)
          tops.push_back({{"index", c}, {"label", class_label(entry, c, classes)}, {"prob", p[c]}});
        else
          std::printf("  %6.4f  %4ld  %s\n", double(p[c]), static_cast<long>(c),
                      class_label(entry, c, classes).c_str());
      }
      if (json) results.push_back({{"image", paths[i]}, {"top", tops}});
    }
    progress.update(last);
  }
  if (json) std::cout << results.dump(2) << "\n";
  return 0;
}
#else
int classify(const Options&) {
  throw senet::Error("this senet tool was built without image support (install libstb-dev and rebuild)");
}
#endif

}  // namespace

Command classify_command() {
  return {"classify",
          "--model NAME [--weights W] [--preset NAME] [--size S] [--crop-pct P]\n"
          "[--interpolation bilinear|bicubic] [--top K] [--batch B] [--threads N] [--json]\n"
          "IMAGE_OR_DIR...",
          "top-K classes of each image (directories are walked)",
          "IMAGE_OR_DIR: png, jpg, jpeg, bmp, ppm, pgm or pnm files, and directories walked for them (in\n"
          "  sorted order). Without --weights the model runs on seeded random weights: its labels mean nothing.\n"
          "Labels: the model's class names (ImageNet's, Fashion-MNIST's) when it has them, else class N.\n"
          "--top K: the classes shown (5); --batch B: images a forward pass (8).\n"
          "--json: a list of {image, top: [{index, label, prob}, ...]}.\n" +
              image_options_help() + loading_options_help(),
          with_loading_options(with_image_options({{"--model", "--weights", "--top", "--batch", "--threads"}, {"--json"}})),
          true,
          classify};
}

}  // namespace senet_cli
