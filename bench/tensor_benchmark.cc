// Tensor kernels against their ceilings, each measured in this binary:
//
//   bazel run -c opt //bench:tensor_benchmark
//
// BM_Copy            a two-thread memcpy of n floats (the bandwidth ceiling)
// BM_CopyFootprint   a two-thread memcpy of 3n/2 floats: the bytes an add of n
//                    elements moves, through the same footprint (see below)
// BM_Add / BM_Mul    tapegrad's f32 elementwise ops on n elements, recorded on a
//                    tape and rewound each iteration (results in the arena)
//                    -> compare bytes_per_second with BM_Copy and BM_CopyFootprint:
//                    the target is >= 80% (an add moves 3 floats per element, a
//                    copy 2)
//
// Why two copies: at 4M elements a copy of n floats touches 32 MB, which the L3
// (32 MB) mostly holds from one iteration to the next, while an add touches 48 MB,
// which it cannot. BM_Copy then measures the cache and BM_Add the memory, and the
// ratio swings with where the pages land. BM_CopyFootprint moves exactly the add's
// bytes through the add's footprint, so both meet the same cache.
// BM_MatMul_Tapegrad vs BM_MatMul_DnnlSgemm
//                    f32 M x K x N products (the MLP step's shapes, then squares
//                    of 256..1024) through MatMul (recorded) and through oneDNN's
//                    dnnl_sgemm called directly -> target >= 90%
// BM_MatMul_OpenBLAS the same through cblas_sgemm, for scale: OpenBLAS picks its
//                    kernels by CPU model and may not know this one
// BM_OpOverhead      a chain of 1-element multiplies recorded with grad on
//                    -> ns per op, target <= 50
// BM_ParallelHandOff an empty ParallelFor of two shares, back to back: what
//                    handing a share to the other thread costs
// BM_AddNearCut      the add at 16k..128k elements on 1 and 2 threads, around
//                    the size where kernels start to split (Note [Parallel
//                    grain] in kernels/cpu/loops.h): 2 threads should win from
//                    32k elements, the first size that is split
#include <cblas.h>
#include <omp.h>
#include <oneapi/dnnl/dnnl.h>

#include <cstring>
#include <vector>

#include "benchmark/benchmark.h"
#include "kernels/cpu/parallel.h"
#include "tapegrad.h"

namespace tapegrad::bench {
namespace {

// A two-thread memcpy of n floats, timed per iteration.
void CopyFloats(benchmark::State& state, int64_t n) {
  std::vector<float> src(n, 1.0f), dst(n, 0.0f);
  for (auto _ : state) {
    cpu::ParallelFor(n, 1 << 16, [&](int64_t begin, int64_t end) {
      std::memcpy(dst.data() + begin, src.data() + begin, (end - begin) * sizeof(float));
    });
    benchmark::DoNotOptimize(dst.data());
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(state.iterations() * n * 2 * int64_t(sizeof(float)));
}

void BM_Copy(benchmark::State& state) { CopyFloats(state, state.range(0)); }
void BM_CopyFootprint(benchmark::State& state) {
  CopyFloats(state, state.range(0) * 3 / 2);
}

template <Tensor (*Op)(const Tensor&, const Tensor&)>
void BM_Elementwise(benchmark::State& state) {
  const int64_t n = state.range(0);
  Random rng(1);
  const Tensor a = Tensor::Rand({n}, rng);
  const Tensor b = Tensor::Rand({n}, rng);
  Tape tape;
  TapeScope scope(&tape);
  const TapeMark mark = tape.Mark();
  for (auto _ : state) {
    Tensor c = Op(a, b);
    benchmark::DoNotOptimize(c.impl());
    (void)tape.Rewind(mark);
  }
  state.SetBytesProcessed(state.iterations() * n * 3 * int64_t(sizeof(float)));
}

void BM_ParallelHandOff(benchmark::State& state) {
  const int saved = cpu::NumThreads();
  cpu::SetNumThreads(2);
  for (auto _ : state) {
    cpu::ParallelFor(
        2, 1, [](int64_t begin, int64_t end) { benchmark::DoNotOptimize(begin + end); });
  }
  cpu::SetNumThreads(saved);
}

// BM_Add at state.range(0) elements on state.range(1) threads.
void BM_AddNearCut(benchmark::State& state) {
  const int saved = cpu::NumThreads();
  cpu::SetNumThreads(static_cast<int>(state.range(1)));
  BM_Elementwise<Add>(state);
  cpu::SetNumThreads(saved);
}

// f32 products of shape M x K x N (state.range 0..2): through MatMul, recorded on
// a tape; through oneDNN's dnnl_sgemm and OpenBLAS's cblas_sgemm called directly.
struct MatMulOperands {
  explicit MatMulOperands(const benchmark::State& state)
      : m(state.range(0)), k(state.range(1)), n(state.range(2)) {
    Random rng(2);
    a = Tensor::Randn({m, k}, rng);
    b = Tensor::Randn({k, n}, rng);
    a_data = a.ToFloatVector();
    b_data = b.ToFloatVector();
    c_data.resize(static_cast<size_t>(m * n));
  }
  void Count(benchmark::State& state) const {
    state.counters["GFLOPS"] = benchmark::Counter(
        2.0 * m * k * n * state.iterations() / 1e9, benchmark::Counter::kIsRate);
  }
  int64_t m, k, n;
  Tensor a, b;
  std::vector<float> a_data, b_data, c_data;
};

void BM_MatMul_Tapegrad(benchmark::State& state) {
  const MatMulOperands p(state);
  Tape tape;
  TapeScope scope(&tape);
  const TapeMark mark = tape.Mark();
  for (auto _ : state) {
    Tensor c = MatMul(p.a, p.b);
    benchmark::DoNotOptimize(c.impl());
    (void)tape.Rewind(mark);
  }
  p.Count(state);
}

void BM_MatMul_DnnlSgemm(benchmark::State& state) {
  MatMulOperands p(state);
  omp_set_num_threads(cpu::NumThreads());
  for (auto _ : state) {
    dnnl_sgemm('N', 'N', p.m, p.n, p.k, 1.0f, p.a_data.data(), p.k, p.b_data.data(), p.n,
               0.0f, p.c_data.data(), p.n);
    benchmark::DoNotOptimize(p.c_data.data());
  }
  p.Count(state);
}

void BM_MatMul_OpenBLAS(benchmark::State& state) {
  MatMulOperands p(state);
  for (auto _ : state) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, p.m, p.n, p.k, 1.0f,
                p.a_data.data(), p.k, p.b_data.data(), p.n, 0.0f, p.c_data.data(), p.n);
    benchmark::DoNotOptimize(p.c_data.data());
  }
  p.Count(state);
}

// The MLP step's shapes (batch 64 and 256 through 784-256-256-10), then squares.
void MatMulShapes(benchmark::internal::Benchmark* b) {
  b->ArgNames({"m", "k", "n"});
  for (int64_t batch : {64, 256}) {
    b->Args({batch, 784, 256})->Args({batch, 256, 256})->Args({batch, 256, 10});
  }
  for (int64_t n : {512, 1024}) b->Args({n, n, n});  // 256^3 is batch 256's second
  b->UseRealTime();
}

void BM_OpOverhead(benchmark::State& state) {
  constexpr int kOps = 1000;
  Tensor w = Tensor::Full({1}, 1.0001).RequiresGrad();
  Tensor x = Tensor::Full({1}, 1.0);
  Tape tape;
  TapeScope scope(&tape);
  const TapeMark mark = tape.Mark();
  for (auto _ : state) {
    Tensor y = x;
    for (int i = 0; i < kOps; ++i) y = y * w;
    benchmark::DoNotOptimize(y.impl());
    (void)tape.Rewind(mark);
  }
  state.counters["ns/op"] =
      benchmark::Counter(double(state.iterations()) * kOps,
                         benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}

BENCHMARK(BM_Copy)->Arg(1 << 20)->Arg(1 << 22)->Arg(1 << 24)->UseRealTime();
BENCHMARK(BM_CopyFootprint)->Arg(1 << 20)->Arg(1 << 22)->Arg(1 << 24)->UseRealTime();
BENCHMARK_TEMPLATE(BM_Elementwise, Add)
    ->Name("BM_Add")
    ->Arg(1 << 20)
    ->Arg(1 << 22)
    ->Arg(1 << 24)
    ->UseRealTime();
BENCHMARK_TEMPLATE(BM_Elementwise, Mul)
    ->Name("BM_Mul")
    ->Arg(1 << 20)
    ->Arg(1 << 22)
    ->Arg(1 << 24)
    ->UseRealTime();
BENCHMARK(BM_MatMul_Tapegrad)->Apply(MatMulShapes);
BENCHMARK(BM_MatMul_DnnlSgemm)->Apply(MatMulShapes);
BENCHMARK(BM_MatMul_OpenBLAS)->Apply(MatMulShapes);
BENCHMARK(BM_OpOverhead);
BENCHMARK(BM_ParallelHandOff)->UseRealTime();
BENCHMARK(BM_AddNearCut)
    ->ArgNames({"n", "threads"})
    ->ArgsProduct({{1 << 14, 1 << 15, 1 << 16, 1 << 17}, {1, 2}})
    ->UseRealTime();

}  // namespace
}  // namespace tapegrad::bench

BENCHMARK_MAIN();
