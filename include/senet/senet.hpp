#pragma once
/// \file senet.hpp
/// Umbrella header: everything in senet except image decoding (`senet/io/image.hpp`, which needs
/// stb_image: link `senet::image`). The class names of the registered models (ImageNet's,
/// Fashion-MNIST's) come with the registry (`senet/models/zoo.hpp`, `ModelEntry::labels`).
///
/// \code
/// #include <senet/senet.hpp>
/// auto model = senet::create_model<float>("seresnet50");
/// senet::load_weights(*model, "seresnet50.safetensors");
/// senet::Tensor<float> logits = model->forward(images);   // [N, 3, 224, 224] -> [N, 1000]
/// \endcode

#include "senet/core/error.hpp"
#include "senet/core/tensor.hpp"
#include "senet/core/threading.hpp"
#include "senet/io/idx.hpp"
#include "senet/io/npy.hpp"
#include "senet/io/preprocess.hpp"
#include "senet/io/pth.hpp"
#include "senet/io/safetensors.hpp"
#include "senet/io/weights.hpp"
#include "senet/io/weights_file.hpp"
#include "senet/layers/activation.hpp"
#include "senet/layers/batch_norm2d.hpp"
#include "senet/layers/channel_shuffle.hpp"
#include "senet/layers/concat.hpp"
#include "senet/layers/conv2d.hpp"
#include "senet/layers/excitation.hpp"
#include "senet/layers/linear.hpp"
#include "senet/layers/module.hpp"
#include "senet/layers/pooling.hpp"
#include "senet/layers/residual.hpp"
#include "senet/layers/se_block.hpp"
#include "senet/layers/sequential.hpp"
#include "senet/models/inception.hpp"
#include "senet/models/model.hpp"
#include "senet/models/network.hpp"
#include "senet/models/prepared.hpp"
#include "senet/models/random_init.hpp"
#include "senet/models/resnet.hpp"
#include "senet/models/zoo.hpp"
#include "senet/ops/activation.hpp"
#include "senet/ops/conv2d.hpp"
#include "senet/ops/conv2d_nchw16c.hpp"
#include "senet/ops/conv2d_stem.hpp"
#include "senet/ops/elementwise.hpp"
#include "senet/ops/gemm.hpp"
#include "senet/ops/linear.hpp"
#include "senet/ops/nchw16c.hpp"
#include "senet/ops/pooling.hpp"
#include "senet/ops/pooling_nchw16c.hpp"
