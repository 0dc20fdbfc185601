// `senet excite`: every SE block's excitations for a set of inputs, as CSV and as the paper's
// Fig. 6 (SVG).

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <senet/core/error.hpp>
#include <senet/io/npy.hpp>
#include <senet/layers/excitation.hpp>
#include <string>
#include <vector>

#include "excitation_plot.hpp"
#include "image_inputs.hpp"
#include "model_options.hpp"

namespace senet_cli {
namespace {

/// Whether `name` matches the glob `pattern` (`*` any run, `?` one character).
bool glob_match(const char* pattern, const char* name) {
  if (*pattern == '\0') return *name == '\0';
  if (*pattern == '*') return glob_match(pattern + 1, name) || (*name && glob_match(pattern, name + 1));
  return *name && (*pattern == '?' || *pattern == *name) && glob_match(pattern + 1, name + 1);
}

/// The blocks `--blocks` selects (comma-separated globs, each of which must match), else all.
std::vector<BlockExcitations> select_blocks(std::vector<BlockExcitations> all, const Options& opt) {
  if (!opt.has("--blocks")) return all;
  std::vector<std::string> patterns;
  std::string list = opt.get("--blocks") + ",";
  for (std::size_t at; (at = list.find(',')) != std::string::npos; list.erase(0, at + 1))
    if (at > 0) patterns.push_back(list.substr(0, at));
  if (patterns.empty()) throw UsageError{"--blocks needs at least one block name or pattern"};
  std::vector<BlockExcitations> chosen;
  for (const auto& p : patterns) {
    bool any = false;
    for (const auto& b : all) any = any || glob_match(p.c_str(), b.block.c_str());
    if (!any) {
      std::string names;
      for (const auto& b : all) names += (names.empty() ? "" : ", ") + b.block;
      throw UsageError{"--blocks: '" + p + "' matches no SE block (the blocks: " + names + ")"};
    }
  }
  for (auto& b : all)
    if (std::any_of(patterns.begin(), patterns.end(), [&](const std::string& p) { return glob_match(p.c_str(), b.block.c_str()); }))
      chosen.push_back(std::move(b));
  return chosen;
}

/// Images `[first, last)` of `x` as their own batch.
senet::Tensor<float> rows(const senet::Tensor<float>& x, senet::Index first, senet::Index last) {
  senet::Shape shape = x.shape();
  shape[0] = last - first;
  senet::Tensor<float> out(shape);
  const senet::Index image = x.size() / x.dim(0);
  std::copy(x.begin() + first * image, x.begin() + last * image, out.begin());
  return out;
}

int excite(const Options& opt) {
  const std::string name = opt.get("--model"), csv = opt.get("--csv");
  const std::string weights = opt.has("--weights") ? opt.get("--weights") : "";
  const bool from_npy = opt.has("--input");
  if (from_npy == !opt.positional().empty())
    throw UsageError{"excite takes its inputs from --input X.npy or from image files, one of the two"};
  const long batch = opt.integer("--batch", 32);
  apply_threads(opt);
  auto model = load_model(opt, weights);
  if (weights.empty())
    std::fprintf(stderr, "senet: warning: no --weights given: %s runs on seeded random weights\n", name.c_str());

  // The inputs: one tensor, or image files read a batch at a time.
  senet::Tensor<float> x;
  std::vector<std::string> paths;
  std::unique_ptr<ImageLoader> loader;
  senet::Index N = 0;
  if (from_npy) {
    x = senet::read_npy<float>(opt.get("--input"));
    SENET_CHECK(x.rank() == 4 && x.dim(0) >= 1, opt.get("--input"), ": input must be [N, ", model->in_channels(),
                ", H, W], got ", senet::to_string(x.shape()));
    N = x.dim(0);
  } else {
    paths = collect_images(opt.positional());
    loader = std::make_unique<ImageLoader>(opt, name, model->input_size());
    N = senet::Index(paths.size());
  }

  // Labels group the samples by class; without them each sample is its own group.
  std::vector<int> group(static_cast<std::size_t>(N));
  std::vector<std::string> group_names;
  if (opt.has("--labels")) {
    const std::string file = opt.get("--labels");
    const auto y = senet::read_npy<double>(file);
    SENET_CHECK(y.size() == N, file, ": ", y.size(), " labels for ", N, " samples");
    const senet::Index classes = model->num_classes();
    for (senet::Index n = 0; n < N; ++n) {
      SENET_CHECK(y[n] == std::floor(y[n]) && y[n] >= 0 && y[n] < double(classes), file, ": label ", y[n],
                  " of sample ", n, " is not a class index in [0, ", classes, ")");
      group[std::size_t(n)] = int(y[n]);
    }
    const senet::ModelEntry& entry = senet::model_entry(name);
    for (senet::Index k = 0; k < classes; ++k) group_names.push_back(class_label(entry, k, classes));
  } else {
    for (senet::Index n = 0; n < N; ++n) {
      group[std::size_t(n)] = int(n);
      group_names.push_back(from_npy ? "sample " + std::to_string(n)
                                     : std::filesystem::path(paths[std::size_t(n)]).filename().string());
    }
  }

  // Record batch by batch; rows of later batches follow.
  std::vector<BlockExcitations> blocks;
  std::vector<std::vector<float>> values;
  for (senet::Index first = 0; first < N; first += batch) {
    const senet::Index last = std::min<senet::Index>(N, first + batch);
    const senet::Tensor<float> xb =
        from_npy ? rows(x, first, last) : loader->load(paths, std::size_t(first), std::size_t(last));
    const auto recorded = senet::record_excitations(*model, xb);
    if (recorded.empty()) throw senet::Error(name + " has no SE blocks: there are no excitations to record");
    if (blocks.empty())
      for (const auto& r : recorded) {
        blocks.push_back({senet::excitation_block_name(r.path), {}});
        values.emplace_back();
      }
    for (std::size_t i = 0; i < recorded.size(); ++i)
      values[i].insert(values[i].end(), recorded[i].gates.begin(), recorded[i].gates.end());
  }
  for (std::size_t i = 0; i < blocks.size(); ++i) {
    blocks[i].gates = senet::Tensor<float>({N, senet::Index(values[i].size()) / N});
    std::copy(values[i].begin(), values[i].end(), blocks[i].gates.begin());
  }
  blocks = select_blocks(std::move(blocks), opt);

  std::ofstream out(csv);
  SENET_CHECK(static_cast<bool>(out), csv, ": cannot open file for writing");
  out << "block,sample,channel,value\n";
  std::size_t lines = 0;
  char value[32];
  for (const auto& b : blocks) {
    const senet::Index C = b.gates.dim(1);
    for (senet::Index n = 0; n < N; ++n)
      for (senet::Index c = 0; c < C; ++c, ++lines) {
        std::snprintf(value, sizeof value, "%.9g", double(b.gates[n * C + c]));
        out << b.block << ',' << n << ',' << c << ',' << value << '\n';
      }
  }
  out.close();
  SENET_CHECK(static_cast<bool>(out), csv, ": write failed");
  std::fprintf(stderr, "senet: wrote %s: %zu blocks, %ld samples, %zu rows\n", csv.c_str(), blocks.size(), long(N),
               lines);
  if (opt.has("--svg")) {
    const std::string svg = opt.get("--svg");
    std::ofstream f(svg);
    SENET_CHECK(static_cast<bool>(f), svg, ": cannot open file for writing");
    f << excitation_svg(blocks, group, group_names,
                        name + ": mean excitation per channel, " + (opt.has("--labels") ? "by class" : "per input") +
                            " (" + std::to_string(N) + " samples)");
    f.close();
    SENET_CHECK(static_cast<bool>(f), svg, ": write failed");
    std::fprintf(stderr, "senet: wrote %s\n", svg.c_str());
  }
  return 0;
}

}  // namespace

Command excite_command() {
  return {"excite",
          "--model NAME [--weights W] (--input X.npy | IMAGE_OR_DIR...) --csv OUT.csv [--svg OUT.svg]\n"
          "[--labels Y.npy] [--blocks PATTERN] [--batch B] [--threads N]",
          "every SE block's excitations for a set of inputs, as CSV and SVG",
          "Runs the inputs (X.npy: float32 [N, C, H, W], pre-processed; or image files and directories,\n"
          "  pre-processed as for classify) and records each SE block's excitation (its gate per channel).\n"
          "--csv: rows block,sample,channel,value; block is the module that owns the SE (layer1.0,\n"
          "  inception_3a), sample the input's index in the order given.\n"
          "--svg: the paper's Fig. 6: per block, the mean excitation of each channel for each class (with\n"
          "  --labels: Y.npy holds N class indices, any integer or float dtype) or for each input; and the\n"
          "  distribution of all excitations per stage.\n"
          "--blocks: comma-separated names or globs (* and ?), e.g. 'layer1.0,layer4.*': only those blocks.\n"
          "--batch B: inputs a forward pass (32). A model without SE blocks is an error.\n" +
              image_options_help() + loading_options_help(),
          with_loading_options(with_image_options(
              {{"--model", "--weights", "--input", "--csv", "--svg", "--labels", "--blocks", "--batch", "--threads"},
               {}})),
          true,
          excite};
}

}  // namespace senet_cli
