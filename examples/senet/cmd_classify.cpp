// `senet classify`: the top classes of image files and of the images in directories.

#include "model_options.hpp"

#ifdef SENET_CLI_IMAGES
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>
#include <senet/io/image.hpp>
#include <senet/io/preprocess.hpp>
#include <senet/models/zoo.hpp>
#include <senet/ops/activation.hpp>
#include <vector>
#else
#include <senet/core/error.hpp>
#endif

namespace senet_cli {
namespace {

#ifdef SENET_CLI_IMAGES
namespace fs = std::filesystem;

/// The label of class `index`: the registered model's class names when it has them for
/// `num_classes` classes (ImageNet's, Fashion-MNIST's), else "class N".
std::string class_label(const senet::ClassNames& names, senet::Index index, senet::Index num_classes) {
  if (names.size() == static_cast<std::size_t>(num_classes)) return names[static_cast<std::size_t>(index)];
  return "class " + std::to_string(index);
}

bool has_image_extension(const fs::path& p) {
  std::string ext = p.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
  for (const char* e : {".png", ".jpg", ".jpeg", ".bmp", ".ppm", ".pgm", ".pnm"})
    if (ext == e) return true;
  return false;
}

/// Files named on the command line, and the image files under named directories (sorted).
std::vector<std::string> collect_images(const std::vector<std::string>& args) {
  std::vector<std::string> paths;
  for (const auto& arg : args) {
    if (fs::is_directory(arg)) {
      std::vector<std::string> found;
      for (const auto& e : fs::recursive_directory_iterator(arg, fs::directory_options::skip_permission_denied))
        if (e.is_regular_file() && has_image_extension(e.path())) found.push_back(e.path().string());
      SENET_CHECK(!found.empty(), arg, ": no images (png, jpg, jpeg, bmp, ppm, pgm, pnm) in this directory");
      std::sort(found.begin(), found.end());
      paths.insert(paths.end(), found.begin(), found.end());
    } else {
      SENET_CHECK(fs::exists(arg), arg, ": no such file or directory");
      paths.push_back(arg);
    }
  }
  return paths;
}

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
  // The model's own preset and class names unless --preset says otherwise.
  const senet::ModelEntry& entry = senet::model_entry(name);
  senet::PreprocessOptions pp =
      senet::preprocess_preset(opt.choice("--preset", senet::preprocess_preset_names(), entry.preset));
  pp.crop_pct = opt.real("--crop-pct", pp.crop_pct);
  pp.interpolation = opt.choice("--interpolation", {"bilinear", "bicubic"}, "bilinear") == "bicubic"
                         ? senet::Interpolation::bicubic
                         : senet::Interpolation::bilinear;
  senet::ImageOptions image_options;
  image_options.max_pixels = pp.max_pixels =
      static_cast<std::uint64_t>(opt.integer("--max-pixels", static_cast<long>(senet::kDefaultMaxPixels)));
  const long top = opt.integer("--top", 5), batch = opt.integer("--batch", 8);
  if (opt.positional().empty()) throw UsageError{"classify needs at least one image or directory"};
  apply_threads(opt);
  const auto paths = collect_images(opt.positional());
  auto model = load_model(opt, weights);
  pp.size = opt.integer("--size", model->input_size());
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
    std::vector<senet::Image> images;
    for (std::size_t i = first; i < last; ++i) images.push_back(senet::read_image(paths[i], image_options));
    auto probs = model->forward(senet::preprocess<float>(images, pp));
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
          tops.push_back({{"index", c}, {"label", class_label(entry.labels, c, classes)}, {"prob", p[c]}});
        else
          std::printf("  %6.4f  %4ld  %s\n", double(p[c]), static_cast<long>(c),
                      class_label(entry.labels, c, classes).c_str());
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
          "--model NAME [--weights W] [--preset timm|caffe|bninception|digits|fashion] [--size S] [--crop-pct P]\n"
          "[--interpolation bilinear|bicubic] [--top K] [--batch B] [--threads N] [--json]\n"
          "IMAGE_OR_DIR...",
          "top-K classes of each image (directories are walked)",
          "IMAGE_OR_DIR: png, jpg, jpeg, bmp, ppm, pgm or pnm files, and directories walked for them (in\n"
          "  sorted order). Without --weights the model runs on seeded random weights: its labels mean nothing.\n"
          "--preset: the pre-processing of the weights' source, by default the model's own: timm (RGB / 255,\n"
          "  ImageNet mean and std), caffe (BGR 0..255 minus 104, 117, 123), bninception (BGR 0..255 minus\n"
          "  104, 117, 128); digits (grey / 255, 8x8), fashion (grey, (x / 255 - 0.2860) / 0.3530, 28x28).\n"
          "  Each image is resized, short side to S / P with the --interpolation filter (bilinear), and\n"
          "  centre-cropped to S x S (S: the model's input size; P: 0.875, 1 for the grey presets).\n"
          "Labels: the model's class names (ImageNet's, Fashion-MNIST's) when it has them, else class N.\n"
          "--top K: the classes shown (5); --batch B: images a forward pass (8).\n"
          "--json: a list of {image, top: [{index, label, prob}, ...]}.\n"
          "--max-pixels N: the largest decoded or resized image (default 89478485, PIL's limit).\n" +
              loading_options_help(),
          with_loading_options({{"--model", "--weights", "--preset", "--size", "--crop-pct", "--interpolation", "--top",
                                 "--batch", "--threads", "--max-pixels"},
                                {"--json"}}),
          true,
          classify};
}

}  // namespace senet_cli
