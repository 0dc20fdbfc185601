// Images for the commands that take them: collected from the command line, read with stb and
// pre-processed (PIL-exact) as the model's weights expect.

#include "image_inputs.hpp"

#include <senet/core/error.hpp>
#include <senet/models/zoo.hpp>

#ifdef SENET_CLI_IMAGES
#include <algorithm>
#include <cctype>
#include <filesystem>
#include <senet/io/image.hpp>
#include <senet/io/preprocess.hpp>
#endif

namespace senet_cli {

OptionNames with_image_options(OptionNames own) {
  for (const char* o : {"--preset", "--size", "--crop-pct", "--interpolation", "--max-pixels"}) own.valued.insert(o);
  return own;
}

std::string image_options_help() {
  return "--preset: the pre-processing of the weights' source, by default the model's own: timm (RGB / 255,\n"
         "  ImageNet mean and std, 224 / 0.875, bilinear), torchvision (the same numbers: torchvision's\n"
         "  MobileNetV3 and RegNetY weights), efficientnet_b0 (bicubic, 256 -> 224), efficientnet_b1 (bicubic,\n"
         "  256 -> 240), caffe (BGR 0..255 minus 104, 117, 123), bninception (BGR 0..255 minus 104, 117, 128);\n"
         "  digits (grey / 255, 8x8), fashion (grey, (x / 255 - 0.2860) / 0.3530, 28x28).\n"
         "  Each image is resized, short side to S / P with the --interpolation filter (the preset's), and\n"
         "  centre-cropped to S x S (S: --size, the model's input size; P: --crop-pct, the preset's: 0.875,\n"
         "  240 / 256 for efficientnet_b1, 1 for the grey presets).\n"
         "--max-pixels N: the largest decoded or resized image (default 89478485, PIL's limit).\n";
}

#ifdef SENET_CLI_IMAGES
namespace fs = std::filesystem;

namespace {

bool has_image_extension(const fs::path& p) {
  std::string ext = p.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
  for (const char* e : {".png", ".jpg", ".jpeg", ".bmp", ".ppm", ".pgm", ".pnm"})
    if (ext == e) return true;
  return false;
}

}  // namespace

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

struct ImageLoader::Settings {
  senet::PreprocessOptions preprocess;
  senet::ImageOptions image;
};

ImageLoader::ImageLoader(const Options& opt, const std::string& model, senet::Index input_size)
    : settings_(std::make_unique<Settings>()) {
  // The model's own preset unless --preset says otherwise.
  senet::PreprocessOptions& pp = settings_->preprocess;
  pp = senet::preprocess_preset(
      opt.choice("--preset", senet::preprocess_preset_names(), senet::model_entry(model).preset));
  pp.crop_pct = opt.real("--crop-pct", pp.crop_pct);
  pp.interpolation = senet::parse_interpolation(
      opt.choice("--interpolation", {"bilinear", "bicubic"}, senet::to_string(pp.interpolation)));
  settings_->image.max_pixels = pp.max_pixels =
      static_cast<std::uint64_t>(opt.integer("--max-pixels", static_cast<long>(senet::kDefaultMaxPixels)));
  pp.size = opt.integer("--size", input_size);
}

ImageLoader::~ImageLoader() = default;

senet::Tensor<float> ImageLoader::load(const std::vector<std::string>& paths, std::size_t first,
                                       std::size_t last) const {
  std::vector<senet::Image> images;
  for (std::size_t i = first; i < last; ++i) images.push_back(senet::read_image(paths[i], settings_->image));
  return senet::preprocess<float>(images, settings_->preprocess);
}
#else
std::vector<std::string> collect_images(const std::vector<std::string>&) {
  throw senet::Error("this senet tool was built without image support (install libstb-dev and rebuild)");
}
struct ImageLoader::Settings {};
ImageLoader::ImageLoader(const Options&, const std::string&, senet::Index) {
  throw senet::Error("this senet tool was built without image support (install libstb-dev and rebuild)");
}
ImageLoader::~ImageLoader() = default;
senet::Tensor<float> ImageLoader::load(const std::vector<std::string>&, std::size_t, std::size_t) const { return {}; }
#endif

}  // namespace senet_cli
