// serving_benchmark's requests in libtorch 1.13 (Debian's libtorch-dev), linked
// into the same binary with --config=peers:
//
//   tools/setup.sh --peers
//   bazel run -c opt --config=peers //bench:serving_benchmark
//
// BM_Libtorch_Predict       one forward pass under c10::InferenceMode, batch 1
// BM_Libtorch_InputGradient torch::autograd::grad of the outputs' sum with respect
//                           to the input (the parameters' .grad stay untouched)
// Both on the MLP 784-256-256-10 in f32, shared by 1, 2 and 8 threads, with
// libtorch's intra-op threads set to 1: each request runs on its own thread, as in
// tapegrad's benchmarks.
#include <torch/torch.h>

#include "benchmark/benchmark.h"

namespace tapegrad::bench {
namespace {

torch::nn::Sequential& Model() {
  static torch::nn::Sequential net = [] {
    torch::set_num_threads(1);
    torch::manual_seed(0);
    return torch::nn::Sequential(torch::nn::Linear(784, 256), torch::nn::ReLU(),
                                 torch::nn::Linear(256, 256), torch::nn::ReLU(),
                                 torch::nn::Linear(256, 10));
  }();
  return net;
}

void BM_Libtorch_Predict(benchmark::State& state) {
  torch::nn::Sequential& net = Model();
  const torch::Tensor x = torch::rand({1, 784});
  for (auto _ : state) {
    c10::InferenceMode inference;
    const torch::Tensor y = net->forward(x);
    benchmark::DoNotOptimize(y.data_ptr<float>()[0]);
  }
  state.SetItemsProcessed(state.iterations());
}

void BM_Libtorch_InputGradient(benchmark::State& state) {
  torch::nn::Sequential& net = Model();
  const torch::Tensor x = torch::rand({1, 784}).requires_grad_(true);
  for (auto _ : state) {
    const torch::Tensor y = net->forward(x).sum();
    const torch::Tensor g = torch::autograd::grad({y}, {x})[0];
    benchmark::DoNotOptimize(g.data_ptr<float>()[0]);
  }
  state.SetItemsProcessed(state.iterations());
}

BENCHMARK(BM_Libtorch_Predict)->Threads(1)->Threads(2)->Threads(8)->UseRealTime();
BENCHMARK(BM_Libtorch_InputGradient)->Threads(1)->Threads(2)->Threads(8)->UseRealTime();

}  // namespace
}  // namespace tapegrad::bench
