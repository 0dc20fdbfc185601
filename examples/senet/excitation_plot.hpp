#pragma once
// The SVG of `senet excite --svg`: the paper's Fig. 6 for any SE network. Standard library only;
// the SVG is written by hand (no plotting dependency).

#include <senet/core/tensor.hpp>
#include <string>
#include <vector>

namespace senet_cli {

/// One SE block's excitations: its name (`layer1.0`) and gates `[N, C]`, one row per sample.
struct BlockExcitations {
  std::string block;
  senet::Tensor<float> gates;
};

/// The stage a block belongs to, for the distributions: the name up to its first '.'
/// (`layer2.3` -> `layer2`), or for flat names the name without a trailing letter after a digit
/// (`inception_4b` -> `inception_4`).
std::string stage_of(const std::string& block);

/// An SVG drawing, for each block, the mean excitation of each channel per group of samples (a
/// class, or each sample; `group[n]` is sample n's index into `group_names`), one panel per block
/// with axes and a legend; then, per stage, the distribution of every excitation value.
std::string excitation_svg(const std::vector<BlockExcitations>& blocks, const std::vector<int>& group,
                           const std::vector<std::string>& group_names, const std::string& title);

}  // namespace senet_cli
