#pragma once
/// \file fashion_mnist_classes.hpp
/// The 10 Fashion-MNIST class names in class-index order, as the dataset's README lists them
/// (Xiao, Rasul and Vollgraf, 2017): the labels of `se_resnet_fashion` and `resnet_fashion`.

#include <array>

namespace senet {

/// `fashion_mnist_classes()[i]` is the name of Fashion-MNIST class `i` (0 "T-shirt/top", ...,
/// 9 "Ankle boot").
inline const std::array<const char*, 10>& fashion_mnist_classes() {
  static const std::array<const char*, 10> names = {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                                    "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};
  return names;
}

}  // namespace senet
