// check_accuracy LOGITS.npy LABELS.npy MIN_ACCURACY: prints the top-1 accuracy of the logits
// [N, C] against the labels [N] (float class indices) and exits 0 when it is at least
// MIN_ACCURACY, 1 when it is lower or a file is missing or malformed, 2 for usage errors.
// Checks the logits `senet run` wrote for the shipped models (tests/digits, tests/fashion).
#include <cstdio>
#include <cstdlib>
#include <exception>

#include "senet/io/npy.hpp"

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: %s LOGITS.npy LABELS.npy MIN_ACCURACY\n", argv[0]);
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
    const senet::Index n = logits.shape()[0], classes = logits.shape()[1];
    senet::Index correct = 0;
    for (senet::Index i = 0; i < n; ++i) {
      senet::Index best = 0;
      for (senet::Index c = 1; c < classes; ++c)
        if (logits[i * classes + c] > logits[i * classes + best]) best = c;
      correct += best == static_cast<senet::Index>(labels[i]);
    }
    const double acc = double(correct) / double(n);
    std::printf("accuracy %.4f (%ld/%ld), required >= %.4f\n", acc, static_cast<long>(correct), static_cast<long>(n),
                min_accuracy);
    return acc >= min_accuracy ? 0 : 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "check_accuracy: %s\n", e.what());
    return 1;
  }
}
