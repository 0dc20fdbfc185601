// check_accuracy LOGITS.npy LABELS.npy MIN_ACCURACY [REFERENCE.npy MIN_AGREEMENT]: prints the top-1
// accuracy of the logits [N, C] against the labels [N] (float class indices) and, with a reference,
// the share of inputs whose top-1 class is the reference logits' (e.g. BF16 against FP32); exits 0
// when both are at least their minimum, 1 when one is lower or a file is missing or malformed, 2 for
// usage errors. Checks the logits `senet run` wrote for the shipped models (tests/digits, tests/fashion).
#include <cstdio>
#include <cstdlib>
#include <exception>

#include "senet/io/npy.hpp"

namespace {

senet::Index top1(const senet::Tensor<float>& logits, senet::Index i) {
  const senet::Index classes = logits.shape()[1];
  senet::Index best = 0;
  for (senet::Index c = 1; c < classes; ++c)
    if (logits[i * classes + c] > logits[i * classes + best]) best = c;
  return best;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 4 && argc != 6) {
    std::fprintf(stderr, "usage: %s LOGITS.npy LABELS.npy MIN_ACCURACY [REFERENCE.npy MIN_AGREEMENT]\n", argv[0]);
    return 2;
  }
  try {
    const auto logits = senet::read_npy<float>(argv[1]);
    const auto labels = senet::read_npy<float>(argv[2]);
    const double min_accuracy = std::atof(argv[3]);
    if (logits.rank() != 2 || labels.rank() != 1 || logits.shape()[0] != labels.shape()[0] || labels.size() == 0) {
      std::fprintf(stderr, "check_accuracy: logits %s and labels %s do not match\n",
                   senet::to_string(logits.shape()).c_str(), senet::to_string(labels.shape()).c_str());
      return 1;
    }
    const senet::Index n = logits.shape()[0];
    senet::Index correct = 0;
    for (senet::Index i = 0; i < n; ++i) correct += top1(logits, i) == static_cast<senet::Index>(labels[i]);
    const double acc = double(correct) / double(n);
    std::printf("accuracy %.4f (%ld/%ld), required >= %.4f\n", acc, static_cast<long>(correct), static_cast<long>(n),
                min_accuracy);
    bool ok = acc >= min_accuracy;
    if (argc == 6) {
      const auto reference = senet::read_npy<float>(argv[4]);
      const double min_agreement = std::atof(argv[5]);
      if (reference.shape() != logits.shape()) {
        std::fprintf(stderr, "check_accuracy: reference logits %s do not match %s\n",
                     senet::to_string(reference.shape()).c_str(), senet::to_string(logits.shape()).c_str());
        return 1;
      }
      senet::Index same = 0;
      for (senet::Index i = 0; i < n; ++i) same += top1(logits, i) == top1(reference, i);
      const double agreement = double(same) / double(n);
      std::printf("agreement with the reference %.4f (%ld/%ld), required >= %.4f\n", agreement,
                  static_cast<long>(same), static_cast<long>(n), min_agreement);
      ok = ok && agreement >= min_agreement;
    }
    return ok ? 0 : 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "check_accuracy: %s\n", e.what());
    return 1;
  }
}
