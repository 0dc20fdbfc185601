#pragma once
// Images named on the command line, read and pre-processed as a model's weights expect: shared by
// the commands that take images (classify, excite). Needs the tool's image support
// (SENET_CLI_IMAGES, stb).

#include <memory>
#include <senet/core/tensor.hpp>
#include <string>
#include <vector>

#include "cli_options.hpp"

namespace senet_cli {

/// The options that choose the pre-processing, and what they mean.
OptionNames with_image_options(OptionNames own);
std::string image_options_help();

/// Files named on the command line, and the image files under named directories (sorted);
/// throws when a name does not exist or a directory holds no image.
std::vector<std::string> collect_images(const std::vector<std::string>& args);

/// Reads and pre-processes images as `--preset` (by default the model's own), `--size` (by
/// default `input_size`), `--crop-pct`, `--interpolation` and `--max-pixels` say.
class ImageLoader {
 public:
  ImageLoader(const Options& opt, const std::string& model, senet::Index input_size);
  ~ImageLoader();
  /// Images `paths[first, last)` as one batch `[N, C, S, S]`.
  senet::Tensor<float> load(const std::vector<std::string>& paths, std::size_t first, std::size_t last) const;

 private:
  struct Settings;
  std::unique_ptr<Settings> settings_;
};

}  // namespace senet_cli
