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
// BM_MlpGemmAdamFloor/B/T  the same products, then one plain Adam loop over all
//                      270k parameters (flat buffers, OpenMP on T threads): the
//                      floor of the whole step, since Adam's pass moves 28 bytes
//                      per parameter and its four arrays do not fit in L2.
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

#include <cmath>
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

// The MLP step's eight matrix products as dnnl_sgemm calls on preallocated
// buffers. The parameters (weights, then biases, layer by layer) and their
// gradients are each one flat buffer, as the optimizer pass below reads them.
class MlpGemms {
 public:
  explicit MlpGemms(int batch) : batch_(batch) {
    for (int l = 0; l < 3; ++l) {
      weight_at_[l] = params_;
      params_ += kSizes[l] * kSizes[l + 1] + kSizes[l + 1];
    }
    w_.assign(params_, 0.01f);
    grad_w_.assign(params_, 0.0f);
    for (int l = 0; l < 4; ++l) {
      act_.emplace_back(batch * kSizes[l], 0.5f);
      grad_act_.emplace_back(batch * kSizes[l], 0.1f);
    }
  }

  int64_t params() const { return params_; }
  float* w() { return w_.data(); }
  const float* grad_w() const { return grad_w_.data(); }

  void Run() {
    for (int l = 0; l < 3; ++l) {  // act[l+1] = act[l] @ w[l]
      const int k = static_cast<int>(kSizes[l]), n = static_cast<int>(kSizes[l + 1]);
      dnnl_sgemm('N', 'N', batch_, n, k, 1.0f, act_[l].data(), k, &w_[weight_at_[l]], n,
                 0.0f, act_[l + 1].data(), n);
    }
    for (int l = 2; l >= 0; --l) {
      const int k = static_cast<int>(kSizes[l]), n = static_cast<int>(kSizes[l + 1]);
      // dW = act^T @ dY; dX = dY @ W^T (the first layer's dX is not needed, as in
      // the step, whose input does not require grad).
      dnnl_sgemm('T', 'N', k, n, batch_, 1.0f, act_[l].data(), k, grad_act_[l + 1].data(),
                 n, 0.0f, &grad_w_[weight_at_[l]], n);
      if (l > 0) {
        dnnl_sgemm('N', 'T', batch_, k, n, 1.0f, grad_act_[l + 1].data(), n,
                   &w_[weight_at_[l]], n, 0.0f, grad_act_[l].data(), k);
      }
    }
  }

 private:
  int batch_;
  int64_t params_ = 0;
  int64_t weight_at_[3] = {};
  std::vector<float> w_, grad_w_;
  std::vector<std::vector<float>> act_, grad_act_;
};

void BM_MlpGemmFloor(benchmark::State& state) {
  cpu::SetNumThreads(static_cast<int>(state.range(1)));
  omp_set_num_threads(static_cast<int>(state.range(1)));
  MlpGemms gemms(static_cast<int>(state.range(0)));
  for (auto _ : state) {
    gemms.Run();
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
}

// One Adam update of every parameter (PyTorch's formula, the step's options, bias
// corrections at step 10) as one plain loop over flat buffers on `threads`
// OpenMP threads: the least any framework's Adam reads and writes.
void AdamPass(const AdamOptions& options, float* p, const float* g, float* m, float* v,
              int64_t n, int threads) {
  const float b1 = float(options.beta1), b2 = float(options.beta2);
  const float eps = float(options.eps);
  const float step_size = float(options.lr / (1.0 - std::pow(options.beta1, 10.0)));
  const float inv_sqrt_bc2 = float(1.0 / std::sqrt(1.0 - std::pow(options.beta2, 10.0)));
#pragma omp parallel for simd num_threads(threads) schedule(static)
  for (int64_t i = 0; i < n; ++i) {
    m[i] = b1 * m[i] + (1.0f - b1) * g[i];
    v[i] = b2 * v[i] + (1.0f - b2) * g[i] * g[i];
    p[i] -= step_size * m[i] / (std::sqrt(v[i]) * inv_sqrt_bc2 + eps);
  }
}

void BM_MlpGemmAdamFloor(benchmark::State& state) {
  const int threads = static_cast<int>(state.range(1));
  cpu::SetNumThreads(threads);
  omp_set_num_threads(threads);
  MlpGemms gemms(static_cast<int>(state.range(0)));
  std::vector<float> m(gemms.params(), 0.0f), v(gemms.params(), 0.0f);
  for (auto _ : state) {
    gemms.Run();
    AdamPass(AdamOptions(), gemms.w(), gemms.grad_w(), m.data(), v.data(), gemms.params(),
             threads);
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
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
BENCHMARK(BM_MlpGemmAdamFloor)->Apply(MlpArgs);
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
