// Training-step time of nn models, with the floors and peers to compare against,
// each measured in this binary:
//
//   bazel run -c opt //bench:train_benchmark
//
// BM_MlpStep/B/T       one Adam step of MLP 784-256-256-10 (f32) at batch B on T
//                      threads: forward, cross-entropy, backward, update, rewind
//                      (nn::Trainer::Step). Target: no slower than libtorch 1.13 at
//                      the same thread count (1 thread on this machine: about
//                      1.0 ms at B = 64, 3.8 ms at B = 256).
// BM_MlpGemmFloor/B/T  the same step's eight matrix products alone, as dnnl_sgemm
//                      calls on preallocated buffers (the GEMM tapegrad's f32
//                      matmul runs on): no framework can go below it there; BM_MlpStep /
//                      BM_MlpGemmFloor is the framework's overhead.
// BM_CnnStep/B/T       one Adam step of examples::FashionCnn (conv32-bn-relu-pool,
//                      conv64-bn-relu-pool, fc128, fc10; f32) at batch B on T
//                      threads. Target: at least 1.5x faster than libtorch 1.13's
//                      same step (BM_Libtorch_CnnStep, --config=peers).
// BM_TensorMoonsStep/T micrograd's moons model as tensors, f32, 100 points, SGD
//                      (examples::TensorMoonsTrainer). Target: at least 5x faster
//                      than libtorch (about 106 us there).
// BM_ScalarMoonsStep   the same model on scalar Values (micrograd's way), for scale.
#include <omp.h>
#include <oneapi/dnnl/dnnl.h>

#include <vector>

#include "benchmark/benchmark.h"
#include "examples/fashion_cnn_model.h"
#include "examples/moons_trainer.h"
#include "kernels/cpu/parallel.h"
#include "nn/optimizer.h"
#include "nn/sequential.h"
#include "nn/trainer.h"
#include "tapegrad.h"

namespace tapegrad::bench {
namespace {

constexpr int64_t kSizes[] = {784, 256, 256, 10};

// Adam steps of `model` (state.range: batch, threads) on a fixed batch of random
// rows of 784 pixels, labels 0..9 in turn.
void RunAdamSteps(benchmark::State& state, nn::Module& model, Random& rng) {
  const int64_t batch = state.range(0);
  nn::Adam adam(model.parameters(), AdamOptions());
  nn::Trainer trainer(model, adam);
  const Tensor x = Tensor::Rand({batch, kSizes[0]}, rng);
  std::vector<int64_t> labels(static_cast<size_t>(batch));
  for (int64_t i = 0; i < batch; ++i) labels[i] = i % 10;
  const Tensor y = Tensor::FromData(absl::MakeConstSpan(labels), {batch});
  for (auto _ : state) {
    absl::StatusOr<nn::StepStats> step = trainer.Step(x, y);
    if (!step.ok()) state.SkipWithError(step.status().ToString().c_str());
  }
  state.SetItemsProcessed(state.iterations() * batch);
}

void BM_MlpStep(benchmark::State& state) {
  cpu::SetNumThreads(static_cast<int>(state.range(1)));
  Random rng(0);
  nn::MLP model(kSizes[0], {kSizes[1], kSizes[2], kSizes[3]}, rng);
  RunAdamSteps(state, model, rng);
}

void BM_MlpGemmFloor(benchmark::State& state) {
  const int batch = static_cast<int>(state.range(0));
  cpu::SetNumThreads(static_cast<int>(state.range(1)));
  omp_set_num_threads(static_cast<int>(state.range(1)));
  std::vector<std::vector<float>> w, act, grad_act, grad_w;
  for (int l = 0; l < 3; ++l) {
    w.emplace_back(kSizes[l] * kSizes[l + 1], 0.01f);
    grad_w.emplace_back(kSizes[l] * kSizes[l + 1], 0.0f);
  }
  for (int l = 0; l < 4; ++l) {
    act.emplace_back(batch * kSizes[l], 0.5f);
    grad_act.emplace_back(batch * kSizes[l], 0.1f);
  }
  for (auto _ : state) {
    for (int l = 0; l < 3; ++l) {  // act[l+1] = act[l] @ w[l]
      const int k = static_cast<int>(kSizes[l]), n = static_cast<int>(kSizes[l + 1]);
      dnnl_sgemm('N', 'N', batch, n, k, 1.0f, act[l].data(), k, w[l].data(), n, 0.0f,
                 act[l + 1].data(), n);
    }
    for (int l = 2; l >= 0; --l) {
      const int k = static_cast<int>(kSizes[l]), n = static_cast<int>(kSizes[l + 1]);
      // dW = act^T @ dY; dX = dY @ W^T (the first layer's dX is not needed, as in
      // the step, whose input does not require grad).
      dnnl_sgemm('T', 'N', k, n, batch, 1.0f, act[l].data(), k, grad_act[l + 1].data(), n,
                 0.0f, grad_w[l].data(), n);
      if (l > 0) {
        dnnl_sgemm('N', 'T', batch, k, n, 1.0f, grad_act[l + 1].data(), n, w[l].data(), n,
                   0.0f, grad_act[l].data(), k);
      }
    }
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations() * batch);
}

void BM_CnnStep(benchmark::State& state) {
  cpu::SetNumThreads(static_cast<int>(state.range(1)));
  Random rng(0);
  examples::FashionCnn model(rng);
  RunAdamSteps(state, model, rng);
}

void BM_TensorMoonsStep(benchmark::State& state) {
  cpu::SetNumThreads(static_cast<int>(state.range(0)));
  examples::TensorMoonsTrainer trainer(100, 1337, DType::kF32);
  for (auto _ : state) {
    absl::StatusOr<examples::MoonsStep> step = trainer.Step(0.05);
    if (!step.ok()) state.SkipWithError(step.status().ToString().c_str());
  }
}

void BM_ScalarMoonsStep(benchmark::State& state) {
  examples::MoonsTrainer trainer(100, 1337);
  for (auto _ : state) {
    absl::StatusOr<examples::MoonsStep> step = trainer.Step(0.05);
    if (!step.ok()) state.SkipWithError(step.status().ToString().c_str());
  }
}

void MlpArgs(benchmark::internal::Benchmark* b) {
  b->ArgNames({"batch", "threads"});
  for (int64_t batch : {64, 256}) {
    for (int64_t threads : {1, 2}) b->Args({batch, threads});
  }
  b->Unit(benchmark::kMicrosecond)->UseRealTime();
}

BENCHMARK(BM_MlpStep)->Apply(MlpArgs);
BENCHMARK(BM_MlpGemmFloor)->Apply(MlpArgs);
BENCHMARK(BM_CnnStep)
    ->ArgNames({"batch", "threads"})
    ->Args({64, 1})
    ->Args({64, 2})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK(BM_TensorMoonsStep)
    ->ArgName("threads")
    ->Arg(1)
    ->Arg(2)
    ->Unit(benchmark::kMicrosecond)
    ->UseRealTime();
BENCHMARK(BM_ScalarMoonsStep)->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace tapegrad::bench

BENCHMARK_MAIN();
