// The `senet` command-line tool: list, run, summarise and benchmark SE networks.
//
//   senet models
//   senet run --model NAME --weights W.safetensors --input X.npy --output Y.npy [--threads N]
//   senet summary --model NAME [--size S] [--num-classes K] [--json]
//   senet bench --model NAME [--weights W] [--batch B] [--size S] [--threads N] [--iters I] [--engine fast|naive]
//   [--json] senet classify --model NAME [--weights W] [--preset timm|caffe|bninception] [--size S] [--crop-pct P]
//                  [--interpolation bilinear|bicubic] [--top K] [--batch B] [--threads N] [--json] IMAGE_OR_DIR...
//
// Exit status: 0 success, 1 bad input (message `senet: error: ...` on stderr), 2 usage error.

#include <senet/models/imagenet_classes.hpp>
#include <senet/models/prepared.hpp>
#include <senet/senet.hpp>
#ifdef SENET_CLI_IMAGES
#include <senet/io/image.hpp>
#include <senet/io/preprocess.hpp>
#endif
#include <unistd.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <variant>
#include <vector>

namespace {

constexpr const char* kUsage =
    "usage: senet <command> [options]\n"
    "commands:\n"
    "  models                                   list the architectures\n"
    "  run --model NAME --weights W.safetensors --input X.npy --output Y.npy [--threads N]\n"
    "                                           X: float32 [N, 3, H, W] -> Y: float32 logits [N, classes]\n"
    "  summary --model NAME [--size S] [--num-classes K] [--json]\n"
    "                                           per-layer output shapes, parameters and MACs\n"
    "  bench --model NAME [--weights W] [--batch B] [--size S] [--threads N] [--iters I] [--engine fast|naive] "
    "[--json]\n"
    "                                           median latency and GFLOP/s (seeded random weights\n"
    "                                           unless --weights is given)\n"
    "  classify --model NAME [--weights W] [--preset timm|caffe|bninception] [--size S] [--crop-pct P]\n"
    "           [--interpolation bilinear|bicubic] [--top K] [--batch B] [--threads N] [--json] IMAGE_OR_DIR...\n"
    "                                           top-K classes of each image (directories are walked)\n"
    "SE options of run, summary, bench and classify (defaults reproduce the named model):\n"
    "  --se-reduction R  --se-rounding floor|divisible8  --se-squeeze avg|max|avgmax\n"
    "  --se-gate sigmoid|tanh|relu|hard_sigmoid  --se-bias on|off\n"
    "  --se-position standard|pre|post|identity|after3x3  --se-stages 1,2,3,4\n"
    "run, bench and classify take --engine fast|naive: the prepared engine (BatchNorm folded, AVX-512/AVX2\n"
    "direct convolutions, fused SE; the default where the model supports it) or the reference path.\n"
    "Limits of run, bench and classify: --max-header-bytes N (safetensors header, default 16777216),\n"
    "--allow-non-finite (load weights holding NaN or inf; refused by default), --max-activation-mb N\n"
    "(activation memory one forward may take, default 4096); of classify:\n"
    "--max-pixels N (largest decoded or resized image, default 89478485, PIL's limit).\n";

/// A command-line mistake: reported with the usage text, exit status 2.
struct UsageError {
  std::string message;
};

/// `--key value` and `--flag` options after the command word.
class Options {
 public:
  Options(int argc, char** argv, const std::set<std::string>& valued, const std::set<std::string>& flags,
          bool positionals = false) {
    for (int i = 2; i < argc; ++i) {
      const std::string arg = argv[i];
      if (positionals && (arg.empty() || arg[0] != '-')) {
        positional_.push_back(arg);
      } else if (flags.count(arg)) {
        values_[arg] = "";
      } else if (valued.count(arg)) {
        if (i + 1 >= argc) throw UsageError{"option " + arg + " needs a value"};
        values_[arg] = argv[++i];
      } else {
        throw UsageError{"unknown option '" + arg + "'"};
      }
    }
  }
  bool has(const std::string& key) const { return values_.count(key) > 0; }
  std::string get(const std::string& key) const {
    auto it = values_.find(key);
    if (it == values_.end()) throw UsageError{"missing required option " + key};
    return it->second;
  }
  long integer(const std::string& key, long fallback, long min = 1) const {
    const auto n = number<long>(key, [](const std::string& v, std::size_t* used) { return std::stol(v, used); });
    if (!n) return fallback;
    if (*n < min)
      throw UsageError{"option " + key + " needs an integer >= " + std::to_string(min) + ", got '" + get(key) + "'"};
    return *n;
  }
  double real(const std::string& key, double fallback) const {
    const auto x = number<double>(key, [](const std::string& v, std::size_t* used) { return std::stod(v, used); });
    if (!x) return fallback;
    if (!(*x > 0)) throw UsageError{"option " + key + " needs a positive number, got '" + get(key) + "'"};
    return *x;
  }
  /// The value of `key` if it is one of `choices`, else `fallback` when absent.
  std::string choice(const std::string& key, const std::vector<std::string>& choices,
                     const std::string& fallback) const {
    if (!has(key)) return fallback;
    const std::string v = get(key);
    if (std::find(choices.begin(), choices.end(), v) != choices.end()) return v;
    std::string all;
    for (const auto& c : choices) all += (all.empty() ? "" : "|") + c;
    throw UsageError{"option " + key + " must be " + all + ", got '" + v + "'"};
  }
  const std::vector<std::string>& positional() const { return positional_; }

 private:
  /// The whole value of `key` parsed by `parse` (std::stol / std::stod), none when absent; a
  /// value that is not entirely a number is a usage error.
  template <class N, class Parse>
  std::optional<N> number(const std::string& key, Parse parse) const {
    if (!has(key)) return std::nullopt;
    const std::string v = get(key);
    std::size_t used = 0;
    N n{};
    try {
      n = parse(v, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (v.empty() || used != v.size()) throw UsageError{"option " + key + " needs a number, got '" + v + "'"};
    return n;
  }

  std::map<std::string, std::string> values_;
  std::vector<std::string> positional_;
};

void apply_threads(const Options& opt) {
  if (opt.has("--threads")) senet::set_num_threads(static_cast<int>(opt.integer("--threads", 1)));
}

/// The weight-loading limits of --max-header-bytes and --allow-non-finite.
senet::LoadWeightsOptions weights_options(const Options& opt) {
  senet::LoadWeightsOptions o;
  o.file.max_header_bytes = static_cast<std::uint64_t>(
      opt.integer("--max-header-bytes", static_cast<long>(o.file.max_header_bytes)));
  o.allow_non_finite = opt.has("--allow-non-finite");
  return o;
}

/// The classifier width stored in a checkpoint (`fc.weight` / `last_linear.weight`), if any.
std::optional<senet::Index> checkpoint_classes(const std::string& weights, const senet::SafetensorsOptions& limits) {
  const auto file = senet::SafetensorsFile::open(weights, limits);
  for (const char* key : {"fc.weight", "last_linear.weight"})
    if (file.contains(key) && file.entry(key).shape.size() == 2) return file.entry(key).shape[0];
  return std::nullopt;
}

/// The options that reshape a model's SE blocks (the paper's ablations).
const std::set<std::string> kSeOptions = {"--se-reduction", "--se-rounding", "--se-squeeze", "--se-gate",
                                          "--se-bias",      "--se-position", "--se-stages"};

/// `names` plus the --se-* options.
std::set<std::string> with_se_options(std::set<std::string> names) {
  names.insert(kSeOptions.begin(), kSeOptions.end());
  return names;
}

/// The index of `opt`'s value for `key` in `choices` (usage error when not one of them), or
/// `fallback` when the option is absent.
std::size_t choice_index(const Options& opt, const std::string& key, const std::vector<std::string>& choices,
                         std::size_t fallback) {
  if (!opt.has(key)) return fallback;
  const auto v = opt.choice(key, choices, "");
  return static_cast<std::size_t>(std::find(choices.begin(), choices.end(), v) - choices.begin());
}

/// The configuration of `--model` with the --se-* options applied; combinations that make no
/// sense are usage errors that say why. Defaults reproduce the named model.
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

/// The model of `--model` (and the --se-* options) with the checkpoint's class count and
/// weights, or seeded random weights when `weights` is empty; prepared for the fast engine unless
/// `--engine naive`.
std::unique_ptr<senet::Model<float>> load_model(const Options& opt, const std::string& weights) {
  senet::ModelConfig cfg = model_config_from(opt);
  const senet::LoadWeightsOptions load_options = weights_options(opt);
  if (!weights.empty()) {
    if (auto classes = checkpoint_classes(weights, load_options.file))
      std::visit([&](auto& c) { c.num_classes = *classes; }, cfg);
  }
  auto model = senet::create_model<float>(cfg);
  model->set_activation_limit(static_cast<std::uint64_t>(opt.integer(
                                  "--max-activation-mb", long(senet::Model<float>::kDefaultActivationLimit >> 20)))
                              << 20);
  if (weights.empty())
    senet::randomize_parameters(*model, 42);
  else
    senet::load_weights(*model, weights, load_options);
  if (opt.choice("--engine", {"fast", "naive"}, "fast") != "naive") return senet::prepare(std::move(model));
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

int cmd_models() {
  for (const auto& e : senet::model_registry()) std::printf("%-26s %s\n", e.name.c_str(), e.description.c_str());
  return 0;
}

int cmd_run(const Options& opt) {
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

std::string with_commas(std::int64_t v) {
  std::string s = std::to_string(v);
  for (int i = static_cast<int>(s.size()) - 3; i > 0; i -= 3) s.insert(static_cast<std::size_t>(i), ",");
  return s;
}

int cmd_summary(const Options& opt) {
  const std::string name = opt.get("--model");
  auto cfg = model_config_from(opt);
  std::visit([&](auto& c) { c.num_classes = opt.integer("--num-classes", c.num_classes); }, cfg);
  auto model = senet::create_model<float>(cfg);
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

int cmd_bench(const Options& opt) {
  const std::string name = opt.get("--model");
  const long batch = opt.integer("--batch", 1), iters = opt.integer("--iters", 10);
  apply_threads(opt);
  const std::string weights = opt.has("--weights") ? opt.get("--weights") : "";
  auto model = load_model(opt, weights);
  const long size = opt.integer("--size", model->input_size());
  senet::Tensor<float> x({batch, model->in_channels(), size, size});
  for (senet::Index i = 0; i < x.size(); ++i) x[i] = static_cast<float>(std::sin(double(i)));
  model->forward(x);  // warm-up: first-touch of every buffer and weight
  std::vector<double> ms;
  for (long i = 0; i < iters; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    const auto y = model->forward(x);
    ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  }
  std::sort(ms.begin(), ms.end());
  const double median = ms.size() % 2 ? ms[ms.size() / 2] : 0.5 * (ms[ms.size() / 2 - 1] + ms[ms.size() / 2]);
  const double flops = 2.0 * double(model->total_macs(size, batch));
  const double gflops = flops / (median * 1e-3) / 1e9;
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
                        {"engine", model->type_name() == "PreparedNetwork" ? "fast" : "naive"}};
    std::cout << j.dump() << "\n";
  } else {
    std::printf("%s batch %ld, %ldx%ld, %d thread(s), %ld iterations%s\n", name.c_str(), batch, size, size,
                senet::num_threads(), iters, weights.empty() ? ", random weights" : "");
    std::printf("median %.2f ms per batch, %.2f ms per image, %.1f GFLOP/s (min %.2f ms)\n", median,
                median / double(batch), gflops, ms.front());
  }
  return 0;
}

/// The label of class `index`: ImageNet's names for 1000-class models, else "class N".
std::string class_label(senet::Index index, senet::Index num_classes) {
  if (num_classes == 1000) return senet::imagenet_classes()[static_cast<std::size_t>(index)];
  return "class " + std::to_string(index);
}

#ifdef SENET_CLI_IMAGES
namespace fs = std::filesystem;

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

int cmd_classify(const Options& opt) {
  const std::string name = opt.get("--model");
  const std::string weights = opt.has("--weights") ? opt.get("--weights") : "";
  // The model's own preset unless --preset says otherwise.
  const std::string& own = senet::model_entry(name).preset;
  senet::PreprocessOptions pp = senet::preprocess_preset(
      opt.choice("--preset", {"timm", "caffe", "bninception"}, own == "bninception" || own == "caffe" ? own : "timm"));
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
          tops.push_back({{"index", c}, {"label", class_label(c, classes)}, {"prob", p[c]}});
        else
          std::printf("  %6.4f  %4ld  %s\n", double(p[c]), static_cast<long>(c), class_label(c, classes).c_str());
      }
      if (json) results.push_back({{"image", paths[i]}, {"top", tops}});
    }
    progress.update(last);
  }
  if (json) std::cout << results.dump(2) << "\n";
  return 0;
}
#else
int cmd_classify(const Options&) {
  throw senet::Error("this senet tool was built without image support (install libstb-dev and rebuild)");
}
#endif

}  // namespace

int main(int argc, char** argv) {
#ifdef __GLIBC__
  // Big blocks (weights, arenas) come from mmap and go back to the system when freed, so that
  // the weights of a model being prepared are returned as they are repacked (glibc's adaptive
  // threshold would otherwise move them onto the heap, where freed memory stays resident).
  mallopt(M_MMAP_THRESHOLD, 128 << 10);
#endif
  try {
    if (argc < 2) throw UsageError{"missing command"};
    const std::string cmd = argv[1];
    if (cmd == "-h" || cmd == "--help" || cmd == "help") {
      std::fputs(kUsage, stdout);
      return 0;
    }
    if (cmd == "models") {
      if (argc > 2) throw UsageError{"'models' takes no options"};
      return cmd_models();
    }
    if (cmd == "run")
      return cmd_run(Options(argc, argv,
                             with_se_options({"--model", "--weights", "--input", "--output", "--threads", "--engine",
                                              "--max-header-bytes", "--max-activation-mb"}),
                             {"--allow-non-finite"}));
    if (cmd == "summary")
      return cmd_summary(Options(argc, argv, with_se_options({"--model", "--size", "--num-classes"}), {"--json"}));
    if (cmd == "bench")
      return cmd_bench(
          Options(argc, argv,
                  with_se_options({"--model", "--weights", "--batch", "--size", "--threads", "--iters", "--engine",
                                   "--max-header-bytes", "--max-activation-mb"}),
                  {"--json", "--allow-non-finite"}));
    if (cmd == "classify")
      return cmd_classify(Options(argc, argv,
                                  with_se_options({"--model", "--weights", "--preset", "--size", "--crop-pct",
                                                   "--interpolation", "--top", "--batch", "--threads", "--engine",
                                                   "--max-header-bytes", "--max-pixels", "--max-activation-mb"}),
                                  {"--json", "--allow-non-finite"}, /*positionals=*/true));
    throw UsageError{"unknown command '" + cmd + "'"};
  } catch (const UsageError& e) {
    std::fprintf(stderr, "senet: %s\nusage: senet <command> [options]; 'senet --help' lists the commands\n",
                 e.message.c_str());
    return 2;
  } catch (const std::bad_alloc&) {
    std::fprintf(stderr, "senet: error: out of memory\n");
    return 1;
  } catch (const std::exception& e) {
    std::string msg = e.what();
    std::replace(msg.begin(), msg.end(), '\n', ' ');
    std::fprintf(stderr, "senet: error: %s\n", msg.c_str());
    return 1;
  }
}
