// The README's composition example: an SE-Inception module between a stem and a classifier,
// composed from senet's containers and layers in a few lines, run as it is and on the fast engine.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <senet/senet.hpp>
#include <vector>

using namespace senet;

// conv (no bias) -> BN -> ReLU, the unit every Inception branch is made of.
Sequential<float> conv_bn_relu(Index in, Index out, const Conv2dParams& p) {
  Sequential<float> s;
  s.add("conv", Conv2d<float>(in, out, p));
  s.add("bn", BatchNorm2d<float>(out));
  s.add("relu", ReLU<float>());
  return s;
}

Network<float> tiny_se_inception() {
  Network<float> net({"tiny_se_inception", /*in_channels=*/3, /*num_classes=*/10, /*input_size=*/32});
  auto& layers = net.layers();
  layers.add("stem", conv_bn_relu(3, 32, conv_params(3, 2, 1)));  // [N, 3, 32, 32] -> [N, 32, 16, 16]
  auto& mixed = layers.add("mixed", Concat<float>());              // 16 + 24 + 8 = 48 channels
  mixed.add("b1x1", conv_bn_relu(32, 16, conv_params(1)));
  auto& b3x3 = mixed.add("b3x3", conv_bn_relu(32, 16, conv_params(1)));
  b3x3.add("conv2", Conv2d<float>(16, 24, conv_params(3, 1, 1)));
  b3x3.add("bn2", BatchNorm2d<float>(24));
  b3x3.add("relu2", ReLU<float>());
  auto& pool = mixed.add("pool", Sequential<float>());
  pool.add("max", MaxPool2d<float>(pool_params(3, 1, 1)));
  pool.add("proj", conv_bn_relu(32, 8, conv_params(1)));
  layers.add("se", SEBlock<float>(48, 4));  // SE after the concat, as in SE-BN-Inception
  layers.add("pool", GlobalAvgPool2d<float>());
  layers.add("fc", Linear<float>(48, 10));
  return net;
}

// Median milliseconds of `runs` forward passes.
double median_ms(const Model<float>& m, const Tensor<float>& x, int runs = 15) {
  std::vector<double> t;
  for (int i = 0; i < runs; ++i) {
    const auto start = std::chrono::steady_clock::now();
    m.forward(x);
    t.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count());
  }
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

int main() {
  Network<float> net = tiny_se_inception();
  randomize_parameters(net, 1);  // or load_weights(net, "tiny.safetensors")
  Tensor<float> x({8, 3, 32, 32});
  for (Index i = 0; i < x.size(); ++i) x[i] = float(std::sin(0.1 * double(i)));
  const Tensor<float> logits = net.forward(x);  // [8, 10]

  bool finite = true;
  for (Index i = 0; i < logits.size(); ++i) finite = finite && std::isfinite(logits[i]);
  for (const auto& row : net.summary(32))
    std::printf("%-22s %-16s %-18s %6ld\n", row.name.c_str(), row.type.c_str(), to_string(row.output_shape).c_str(),
                long(row.params));
  // By hand: stem 864 + 64; b1x1 512 + 32; b3x3 512 + 32 + 3456 + 48; pool 256 + 16;
  // se 48 x 12 + 12 + 12 x 48 + 48; fc 480 + 10.
  const std::int64_t params = count_parameters(net);
  std::printf("%s: %ld parameters, logits %s\n", net.name().c_str(), long(params), to_string(logits.shape()).c_str());
  const bool named = find_module<Conv2d<float>>(net, "mixed.b3x3.conv2") != nullptr;

  // The same network on the fast engine (a second copy: prepare consumes the model it packs).
  auto copy = std::make_unique<Network<float>>(tiny_se_inception());
  randomize_parameters(*copy, 1);
  const auto fast = prepare(std::move(copy));
  const bool prepared = dynamic_cast<const PreparedNetwork*>(fast.get()) != nullptr;
  const Tensor<float> fast_logits = fast->forward(x);
  double diff = 0, scale = 0;
  for (Index i = 0; i < logits.size(); ++i) {
    diff = std::max(diff, double(std::abs(fast_logits[i] - logits[i])));
    scale = std::max(scale, double(std::abs(logits[i])));
  }
  const double naive_ms = median_ms(net, x), fast_ms = median_ms(*fast, x);
  std::printf("fast engine (%s): max |fast - naive| / max |naive| = %.2e; batch 8: naive %.2f ms, fast %.2f ms\n",
              fast->type_name().c_str(), diff / scale, naive_ms, fast_ms);
  return (logits.shape() == Shape{8, 10} && finite && params == 7494 && named && prepared && diff <= 1e-4 * scale)
             ? 0
             : 1;
}
