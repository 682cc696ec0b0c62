// The same training steps as train_benchmark.cc's, in libtorch 1.13 (Debian's
// libtorch-dev), linked into the same binary with --config=peers:
//
//   tools/setup.sh --peers
//   bazel run -c opt --config=peers //bench:train_benchmark
//
// BM_Libtorch_MlpStep/B/T   MLP 784-256-256-10, Adam, batch B, T threads: zero_grad,
//                           forward, cross_entropy, backward, step (eager mode).
// BM_Libtorch_CnnStep/B/T   conv32-bn-relu-pool, conv64-bn-relu-pool, fc128, fc10
//                           (examples::FashionCnn), Adam, batch B, T threads.
// BM_Libtorch_MoonsStep/T   MLP 2-16-16-1 on 100 points, hinge loss + 1e-4 L2, SGD.
//
// libtorch's matrix products run on the same OpenBLAS as tapegrad's, so each
// benchmark sets both libtorch's and OpenBLAS's thread counts to T.
#include <cblas.h>
#include <torch/torch.h>

#include <utility>
#include <vector>

#include "benchmark/benchmark.h"

namespace tapegrad::bench {
namespace {

void SetThreads(int threads) {
  torch::set_num_threads(threads);
  openblas_set_num_threads(threads);
}

torch::nn::Sequential Mlp(const std::vector<int64_t>& sizes) {
  torch::nn::Sequential net;
  for (size_t i = 0; i + 1 < sizes.size(); ++i) {
    net->push_back(torch::nn::Linear(sizes[i], sizes[i + 1]));
    if (i + 2 < sizes.size()) net->push_back(torch::nn::ReLU());
  }
  return net;
}

// Adam steps of `net` (state.range: batch, threads) on a fixed batch of random
// inputs of `shape` after the batch axis, labels 0..9 in turn.
void RunAdamSteps(benchmark::State& state, torch::nn::Sequential& net,
                  std::vector<int64_t> shape) {
  const int64_t batch = state.range(0);
  torch::optim::Adam adam(net->parameters(), torch::optim::AdamOptions(1e-3));
  shape.insert(shape.begin(), batch);
  const torch::Tensor x = torch::rand(shape);
  const torch::Tensor y = torch::arange(batch, torch::kLong).remainder(10);
  for (auto _ : state) {
    adam.zero_grad();
    torch::Tensor loss = torch::nn::functional::cross_entropy(net->forward(x), y);
    loss.backward();
    adam.step();
  }
  state.SetItemsProcessed(state.iterations() * batch);
}

void BM_Libtorch_MlpStep(benchmark::State& state) {
  SetThreads(static_cast<int>(state.range(1)));
  torch::manual_seed(0);
  torch::nn::Sequential net = Mlp({784, 256, 256, 10});
  RunAdamSteps(state, net, {784});
}

torch::nn::Sequential FashionCnn() {
  torch::nn::Sequential net;
  for (auto [in, out] : {std::pair<int64_t, int64_t>{1, 32}, {32, 64}}) {
    net->push_back(torch::nn::Conv2d(torch::nn::Conv2dOptions(in, out, 3).padding(1)));
    net->push_back(torch::nn::BatchNorm2d(out));
    net->push_back(torch::nn::ReLU());
    net->push_back(torch::nn::MaxPool2d(2));
  }
  net->push_back(torch::nn::Flatten());
  net->push_back(torch::nn::Linear(64 * 7 * 7, 128));
  net->push_back(torch::nn::ReLU());
  net->push_back(torch::nn::Linear(128, 10));
  return net;
}

void BM_Libtorch_CnnStep(benchmark::State& state) {
  SetThreads(static_cast<int>(state.range(1)));
  torch::manual_seed(0);
  torch::nn::Sequential net = FashionCnn();
  RunAdamSteps(state, net, {1, 28, 28});
}

void BM_Libtorch_MoonsStep(benchmark::State& state) {
  SetThreads(static_cast<int>(state.range(0)));
  torch::manual_seed(0);
  torch::nn::Sequential net = Mlp({2, 16, 16, 1});
  torch::optim::SGD sgd(net->parameters(), torch::optim::SGDOptions(0.05));
  const torch::Tensor x = torch::randn({100, 2});
  const torch::Tensor y = torch::where(torch::rand({100, 1}) > 0.5, 1.0, -1.0);
  for (auto _ : state) {
    sgd.zero_grad();
    torch::Tensor l2 = torch::zeros({});
    for (const torch::Tensor& p : net->parameters()) l2 = l2 + (p * p).sum();
    torch::Tensor loss = (1 - y * net->forward(x)).relu().mean() + 1e-4 * l2;
    loss.backward();
    sgd.step();
  }
}

BENCHMARK(BM_Libtorch_MlpStep)
    ->ArgNames({"batch", "threads"})
    ->Args({64, 1})
    ->Args({64, 2})
    ->Args({256, 1})
    ->Args({256, 2})
    ->Unit(benchmark::kMicrosecond)
    ->UseRealTime();
BENCHMARK(BM_Libtorch_CnnStep)
    ->ArgNames({"batch", "threads"})
    ->Args({64, 1})
    ->Args({64, 2})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK(BM_Libtorch_MoonsStep)
    ->ArgName("threads")
    ->Arg(1)
    ->Arg(2)
    ->Unit(benchmark::kMicrosecond)
    ->UseRealTime();

}  // namespace
}  // namespace tapegrad::bench
