// Uses the public API the way the README shows it; exits 0 when the results have the right shapes.
#include <cstdio>
#include <senet/senet.hpp>

int main() {
  senet::SEBlock<float> se(64, 16);
  senet::Tensor<float> x({2, 64, 5, 7});
  x.data()[0] = 1.0f;
  senet::Tensor<float> y = se.forward(x);

  senet::set_num_threads(2);
  auto model = senet::create_model<float>("seresnet18", 10);
  senet::randomize_parameters(*model, 7);
  const long params = static_cast<long>(count_parameters(*model));
  auto fast = senet::prepare(std::move(model));  // the README's fast engine
  const auto logits = fast->forward(senet::Tensor<float>({1, 3, 32, 32}));
  std::printf("consumer: SE output %s, seresnet18 logits %s, %ld parameters\n", senet::to_string(y.shape()).c_str(),
              senet::to_string(logits.shape()).c_str(), params);
  return (y.shape()[1] == 64 && logits.shape() == senet::Shape{1, 10}) ? 0 : 1;
}
