// One model served from many threads (the README's serving pattern): requests per
// second per thread for predictions (no recording) and input gradients
// (BackwardInto), batch 1, Fashion-MNIST's MLP 784-256-256-10 in f32, at 1, 2 and
// 8 threads sharing the model, each on its own tape. The baseline in the same
// run: the same forward pass as three bare cblas_sgemv calls and the activations
// on preallocated buffers, the floor for any framework on this BLAS.
//
//   bazel run -c opt //bench:serving_benchmark -- --benchmark_repetitions=5 \
//       --benchmark_report_aggregates_only=true
#include <cblas.h>

#include <cmath>
#include <vector>

#include "benchmark/benchmark.h"
#include "core/grad_mode.h"
#include "nn/sequential.h"
#include "tapegrad.h"

namespace tapegrad {
namespace {

constexpr int kIn = 784, kHidden = 256, kOut = 10;

nn::MLP& Model() {
  static Random rng(0);
  static nn::MLP model(kIn, {kHidden, kHidden, kOut}, rng);
  return model;
}

// One thread's server: its tape, input tensor and request counter.
struct Server {
  Server() : scope(&tape) {
    x = Tensor::Zeros({1, kIn});
    x.RequiresGrad();
    mark = tape.Mark();
    for (int i = 0; i < kIn; ++i) input[i] = std::sin(0.01f * i);
  }
  Tape tape;
  TapeScope scope;
  Tensor x;
  TapeMark mark;
  float input[kIn];
};

void BM_Predict(benchmark::State& state) {
  nn::MLP& model = Model();
  Server s;
  for (auto _ : state) {
    (void)s.x.CopyFrom(absl::MakeConstSpan(s.input));
    NoGradScope no_grad;
    const int64_t first[2] = {0, 0};
    benchmark::DoNotOptimize(model(s.x).at(first));
    (void)s.tape.Rewind(s.mark);
  }
  state.SetItemsProcessed(state.iterations());
}

void BM_InputGradient(benchmark::State& state) {
  nn::MLP& model = Model();
  Server s;
  for (auto _ : state) {
    (void)s.x.CopyFrom(absl::MakeConstSpan(s.input));
    s.x.ZeroGrad();
    if (!Sum(model(s.x)).BackwardInto({s.x}).ok()) state.SkipWithError("backward failed");
    const int64_t first[2] = {0, 0};
    benchmark::DoNotOptimize(s.x.grad().at(first));
    (void)s.tape.Rewind(s.mark);
  }
  state.SetItemsProcessed(state.iterations());
}

// The forward pass alone: y = W^T x + b and ReLU per layer, on fixed buffers.
void BM_PredictFloorSgemv(benchmark::State& state) {
  std::vector<std::vector<float>> w, b;
  const int sizes[] = {kIn, kHidden, kHidden, kOut};
  for (int l = 0; l < 3; ++l) {
    w.emplace_back(sizes[l] * sizes[l + 1], 0.01f);
    b.emplace_back(sizes[l + 1], 0.0f);
  }
  std::vector<float> a(kIn, 0.5f), h1(kHidden), h2(kHidden), out(kOut);
  float* layers[] = {a.data(), h1.data(), h2.data(), out.data()};
  for (auto _ : state) {
    for (int l = 0; l < 3; ++l) {
      std::copy(b[l].begin(), b[l].end(), layers[l + 1]);
      cblas_sgemv(CblasRowMajor, CblasTrans, sizes[l], sizes[l + 1], 1.0f, w[l].data(),
                  sizes[l + 1], layers[l], 1, 1.0f, layers[l + 1], 1);
      if (l < 2) {
        for (int i = 0; i < sizes[l + 1]; ++i)
          layers[l + 1][i] = std::max(0.0f, layers[l + 1][i]);
      }
    }
    benchmark::DoNotOptimize(out[0]);
  }
  state.SetItemsProcessed(state.iterations());
}

BENCHMARK(BM_Predict)->Threads(1)->Threads(2)->Threads(8)->UseRealTime();
BENCHMARK(BM_InputGradient)->Threads(1)->Threads(2)->Threads(8)->UseRealTime();
BENCHMARK(BM_PredictFloorSgemv)->Threads(1)->Threads(2)->Threads(8)->UseRealTime();

}  // namespace
}  // namespace tapegrad

BENCHMARK_MAIN();
