// The README's first example: one SE block on a zero tensor with a single non-zero value.
#include <cstdio>
#include <senet/senet.hpp>

int main() {
  senet::SEBlock<float> se(64, 16);       // channels, reduction ratio
  senet::Tensor<float> x({2, 64, 5, 7});  // N, C, H, W; zero-filled; x.size() == 4480
  x.data()[0] = 1.0f;
  senet::Tensor<float> y = se.forward(x);  // y.shape()[1] == 64
  std::printf("x.size() = %ld, y shape %s, hidden width %ld\n", static_cast<long>(x.size()),
              senet::to_string(y.shape()).c_str(), static_cast<long>(se.hidden_channels()));
  return (x.size() == 4480 && y.shape()[1] == 64) ? 0 : 1;
}
