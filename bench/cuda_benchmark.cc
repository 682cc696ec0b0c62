// The CUDA backend against the device's own ceilings, in one process:
//  - elementwise add/mul of 64M f32 elements, as a fraction of the device-to-
//    device copy bandwidth measured first (target: >= 85%);
//  - reductions (a full sum, a bias gradient) and the fused cross-entropy by
//    bytes read, as a fraction of the copy bandwidth;
//  - matmul through tapegrad, as a fraction of cuBLAS called directly on the same
//    operands (target: >= 90%);
//  - one 784-256-256-10 training step at batch 256 (Adam), for the comparison
//    with PyTorch eager on the same GPU (bench/torch_gpu_step.py prints that).
//
//   bazel run -c opt --config=cuda //bench:cuda_benchmark
//
// Ratios are counters: "of_copy_bw" and "of_cublas", against ceilings measured
// in the same process. Without a GPU it says so and runs nothing.
#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <chrono>
#include <cstdio>
#include <vector>

#include "benchmark/benchmark.h"
#include "kernels/cuda/cuda.h"
#include "nn/loss.h"
#include "nn/optimizer.h"
#include "nn/sequential.h"
#include "tapegrad.h"

namespace tapegrad {
namespace {

const Device kGpu = Device::Cuda(0);
constexpr int64_t kElements = int64_t{64} << 20;

// Wall-clock seconds per call of `fn`, a baseline that queues work on the
// legacy default stream (cudaMemcpy between device buffers and cuBLAS's default
// handle return before the work is done). cuda::Synchronize waits for
// tapegrad's own non-blocking stream only, so the baselines wait for the device.
template <class Fn>
double SecondsPerCall(Fn fn, int calls = 20) {
  fn();
  cudaDeviceSynchronize();
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < calls; ++i) fn();
  cudaDeviceSynchronize();
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() /
         calls;
}

// The ceilings, measured once in this process before the benchmarks that use them.
double CopyBytesPerSecond() {
  static const double rate = [] {
    const Tensor src = Tensor::Ones({kElements}, DType::kF32, kGpu);
    const Tensor dst = Tensor::Zeros({kElements}, DType::kF32, kGpu);
    const size_t bytes = kElements * sizeof(float);
    const double s = SecondsPerCall([&] {
      cudaMemcpy(dst.impl()->data(), src.impl()->data(), bytes, cudaMemcpyDeviceToDevice);
    });
    return 2.0 * bytes / s;  // read + write
  }();
  return rate;
}

double CublasFlopsPerSecond(int n) {
  const Tensor a = Tensor::Ones({n, n}, DType::kF32, kGpu);
  const Tensor b = Tensor::Ones({n, n}, DType::kF32, kGpu);
  const Tensor c = Tensor::Zeros({n, n}, DType::kF32, kGpu);
  cublasHandle_t handle;
  cublasCreate(&handle);
  const float one = 1, zero = 0;
  const double s = SecondsPerCall([&] {
    cublasSgemm(handle, CUBLAS_OP_N, CUBLAS_OP_N, n, n, n, &one,
                b.impl()->data_as<float>(), n, a.impl()->data_as<float>(), n, &zero,
                c.impl()->data_as<float>(), n);
  });
  cublasDestroy(handle);
  return 2.0 * n * n * n / s;
}

// Runs `op` once per benchmark iteration, each followed by a sync of tapegrad's
// stream; the wall-clock seconds of the whole loop.
template <class Op>
double TimedLoop(benchmark::State& state, Op op) {
  (void)cuda::Synchronize(kGpu);
  const auto start = std::chrono::steady_clock::now();
  for (auto _ : state) {
    op();
    (void)cuda::Synchronize(kGpu);
  }
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

void Elementwise(benchmark::State& state, Tensor (*op)(const Tensor&, const Tensor&)) {
  const Tensor a = Tensor::Ones({kElements}, DType::kF32, kGpu);
  const Tensor b = Tensor::Full({kElements}, 2.0, DType::kF32, kGpu);
  const double copy = CopyBytesPerSecond();
  // Heap results: the caching allocator reuses their blocks.
  const double seconds = TimedLoop(state, [&] { Tensor c = op(a, b); });
  const double bytes = 3.0 * kElements * sizeof(float) * state.iterations();
  state.SetBytesProcessed(static_cast<int64_t>(bytes));
  state.counters["of_copy_bw"] = bytes / seconds / copy;
}

Tensor AddOp(const Tensor& a, const Tensor& b) { return a + b; }
Tensor MulOp(const Tensor& a, const Tensor& b) { return a * b; }
void BM_Add64M(benchmark::State& state) { Elementwise(state, AddOp); }
void BM_Mul64M(benchmark::State& state) { Elementwise(state, MulOp); }
BENCHMARK(BM_Add64M)->UseRealTime()->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_Mul64M)->UseRealTime()->Unit(benchmark::kMicrosecond);

// Reductions read their input once: bytes read per second against the copy's
// bytes moved per second. A full sum (one output, split over the device) and a
// bias gradient (the sum over the rows of [4096, 4096]).
void Reduction(benchmark::State& state, std::vector<int64_t> shape,
               std::vector<int64_t> axes) {
  const Tensor x = Tensor::Ones(shape, DType::kF32, kGpu);
  const double copy = CopyBytesPerSecond();
  const double seconds = TimedLoop(state, [&] { Tensor s = Sum(x, axes); });
  const double bytes = 4.0 * x.numel() * state.iterations();
  state.SetBytesProcessed(static_cast<int64_t>(bytes));
  state.counters["of_copy_bw"] = bytes / seconds / copy;
}
void BM_SumAll64M(benchmark::State& state) { Reduction(state, {kElements}, {}); }
void BM_BiasGradient4096x4096(benchmark::State& state) {
  Reduction(state, {4096, 4096}, {0});
}
// The fused cross-entropy reads its logits once: [65536, 1000] f32, 262 MB.
void BM_CrossEntropy65536x1000(benchmark::State& state) {
  const Tensor x = Tensor::Ones({65536, 1000}, DType::kF32, kGpu);
  std::vector<int64_t> labels(65536);
  for (size_t i = 0; i < labels.size(); ++i) labels[i] = static_cast<int64_t>(i % 1000);
  const Tensor y = Tensor::FromData(absl::MakeConstSpan(labels), {65536}).To(kGpu);
  const double copy = CopyBytesPerSecond();
  const double seconds = TimedLoop(state, [&] { Tensor loss = CrossEntropy(x, y); });
  const double bytes = 4.0 * x.numel() * state.iterations();
  state.SetBytesProcessed(static_cast<int64_t>(bytes));
  state.counters["of_copy_bw"] = bytes / seconds / copy;
}
BENCHMARK(BM_CrossEntropy65536x1000)->UseRealTime()->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_SumAll64M)->UseRealTime()->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_BiasGradient4096x4096)->UseRealTime()->Unit(benchmark::kMicrosecond);

void BM_MatMul(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  const double cublas = CublasFlopsPerSecond(n);
  const Tensor a = Tensor::Ones({n, n}, DType::kF32, kGpu);
  const Tensor b = Tensor::Ones({n, n}, DType::kF32, kGpu);
  const double seconds = TimedLoop(state, [&] { Tensor c = MatMul(a, b); });
  const double flops = 2.0 * n * n * n * state.iterations() / seconds;
  state.counters["tflops"] = flops / 1e12;
  state.counters["of_cublas"] = flops / cublas;
}
BENCHMARK(BM_MatMul)->Arg(1024)->Arg(4096)->UseRealTime()->Unit(benchmark::kMicrosecond);

void BM_TrainStep784x256x256x10Batch256(benchmark::State& state) {
  Random rng(0);
  nn::MLP model(784, {256, 256, 10}, rng);
  if (absl::Status s = model.To(kGpu); !s.ok())
    return state.SkipWithError(s.ToString().c_str());
  nn::Adam adam(model.parameters(), AdamOptions());
  const Tensor x = Tensor::Randn({256, 784}, rng).To(kGpu);
  std::vector<int64_t> labels(256);
  for (size_t i = 0; i < labels.size(); ++i) labels[i] = static_cast<int64_t>(i % 10);
  const Tensor y = Tensor::FromData(absl::MakeConstSpan(labels), {256}).To(kGpu);
  Tape tape;
  const TapeMark mark = tape.Mark();
  for (auto _ : state) {
    TapeScope scope(&tape);
    const Tensor loss = nn::CrossEntropyLoss(model(x), y);
    adam.ZeroGrad();
    absl::Status s = loss.Backward();
    if (s.ok()) s = adam.Step();
    if (s.ok()) s = tape.Rewind(mark);
    if (s.ok()) s = cuda::Synchronize(kGpu);
    if (!s.ok()) return state.SkipWithError(s.ToString().c_str());
  }
}
BENCHMARK(BM_TrainStep784x256x256x10Batch256)
    ->UseRealTime()
    ->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace tapegrad

int main(int argc, char** argv) {
  if (!tapegrad::cuda::IsAvailable()) {
    std::printf("cuda_benchmark: %s; nothing to measure\n",
                tapegrad::cuda::UnavailableReason().c_str());
    return 0;
  }
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
