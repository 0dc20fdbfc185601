// The shortest complete SE-ResNet-50 classifier: timm weights and a photo in, the top-5 ImageNet
// classes out.
//
//   se_resnet50_inference seresnet50.safetensors photo.jpg
//
// The weights are timm's `seresnet50` as a .safetensors file (e.g. the model.safetensors of
// timm/seresnet50.a1_in1k on the Hugging Face hub).
#include <algorithm>
#include <cstdio>
#include <numeric>
#include <senet/io/image.hpp>
#include <senet/io/preprocess.hpp>
#include <senet/models/imagenet_classes.hpp>
#include <senet/senet.hpp>
#include <vector>

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: %s WEIGHTS.safetensors IMAGE\n", argv[0]);
    return 2;
  }
  try {
    auto model = senet::create_model<float>("seresnet50");
    senet::load_weights(*model, argv[1]);

    // timm's evaluation transform: resize the short side to 256, centre-crop 224, ImageNet mean/std.
    const senet::Image image = senet::read_image(argv[2]);
    const senet::Tensor<float> x = senet::preprocess<float>({image}, senet::preprocess_preset("timm"));

    senet::Tensor<float> probs = model->forward(x);  // [1, 1000] logits
    senet::softmax_rows_inplace(probs);

    std::vector<int> order(1000);
    std::iota(order.begin(), order.end(), 0);
    std::partial_sort(order.begin(), order.begin() + 5, order.end(), [&](int a, int b) { return probs[a] > probs[b]; });
    for (int i = 0; i < 5; ++i)
      std::printf("%d. %-30s %5.1f%%  (class %d)\n", i + 1, senet::imagenet_classes()[order[i]],
                  100.0 * probs[order[i]], order[i]);
  } catch (const senet::Error& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  return 0;
}
