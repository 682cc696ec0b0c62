// Graph build and backward cost: the tape against a micrograd-style pointer graph,
// in one binary, on the two workloads of the foundation issue.
//
//   bazel run -c opt //bench:tape_benchmark
//
// W1 chain: leaves w[k] = 0.5 + 0.001k, b[k] = 0.01k (k < 64), x0 = 1; a million
//   steps x = x * w[i % 64] + b[i % 64], and x = tanh(x) after every 8th; then the
//   gradient of x with respect to all 129 leaves. An op is one mul, add or tanh
//   (2.125 million per pass). Counters: record_ns/op, backward_ns/op, bytes/op.
//   BM_W1_Chain_Tape builds the chain in a function that returns x by NRVO;
//   BM_W1_Chain_Tape_XInRegisters keeps x a local (see BuildChain);
//   BM_W1_Chain_Tape_Inline writes the loop in the benchmark's own body.
// W2 micrograd step: MLP(2, [16, 16, 1]) on 100 two-moons points, max-margin loss
//   + 1e-4 L2; build + backward + SGD + zero grads (+ rewind on the tape).
//   Time is per step; the counter is heap allocations (operator new) per step
//   after warm-up. BM_W2_MicrogradStep_Tape runs nn::micrograd's MLP (a Dot per
//   neuron); BM_W2_PlainStep_Tape and the pointer graph run the same model written
//   as plain scalar code (act = act + w[i] * x[i], then relu; PlainMLP), whose
//   allocations are its std::vectors'.
#include <chrono>
#include <cmath>
#include <type_traits>
#include <vector>

#include "bench/pointer_graph.h"
#include "benchmark/benchmark.h"
#include "core/random.h"
#include "examples/moons_trainer.h"
#include "nn/two_moons.h"
#include "tapegrad.h"
#include "tests/alloc_counter.h"

namespace tapegrad::bench {
namespace {

using Clock = std::chrono::steady_clock;
constexpr int kChainSteps = 1000000;

// Recorded ops (mul, add, tanh) in a chain of `steps` steps.
double ChainOps(int steps) { return 2.0 * steps + steps / 8; }

double Seconds(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

// The chain's loop, for either kind of value.
template <class V>
ABSL_ATTRIBUTE_ALWAYS_INLINE inline void RunChain(int steps, V& x,
                                                  const std::vector<V>& w,
                                                  const std::vector<V>& b) {
  for (int i = 0; i < steps; ++i) {
    x = x * w[i % 64] + b[i % 64];
    if (i % 8 == 7) x = x.tanh();
  }
}

// The chain built in a function that returns it, written as one would: x is the
// return object, which g++ constructs in the caller's memory (NRVO), so every step
// stores x there and loads it back (the record stores may alias it).
template <class V>
ABSL_ATTRIBUTE_NOINLINE V BuildChain(int steps, const V& x0, const std::vector<V>& w,
                                     const std::vector<V>& b) {
  V x = x0;
  RunChain(steps, x, w, b);
  return x;
}

// The same with x a local that stays in registers: returning a new V moved from
// it rules NRVO out. The difference is what NRVO costs a hot loop, not the tape.
template <class V>
ABSL_ATTRIBUTE_NOINLINE V BuildChainInRegisters(int steps, const V& x0,
                                                const std::vector<V>& w,
                                                const std::vector<V>& b) {
  V x = x0;
  RunChain(steps, x, w, b);
  return V(std::move(x));
}

void ReportChain(benchmark::State& state, double record_s, double backward_s,
                 double bytes, double ops_per_pass) {
  const double ops = ops_per_pass * static_cast<double>(state.iterations());
  state.counters["record_ns/op"] = 1e9 * record_s / ops;
  state.counters["backward_ns/op"] = 1e9 * backward_s / ops;
  state.counters["bytes/op"] = bytes / ops_per_pass;
}

// The chain's record bodies and its slots (number, grad, generation, record
// header) on `tape`, whose 129 leaves' records take `leaf_record_bytes`.
double ChainBytes(const Tape& tape, size_t leaf_record_bytes) {
  const TapeStats stats = tape.Stats();
  return static_cast<double>(stats.record_bytes - leaf_record_bytes) +
         static_cast<double>(stats.values - 129) *
             (2 * sizeof(double) + 2 * sizeof(uint32_t));
}

// W1 on a tape: `build(steps, x0, w, b)` records the chain and returns x; the
// rest (leaves, backward, counters, rewind) is the same for every shape. With
// `unit_weights` every w[k] is 1 and the chain has no tanh (2 ops a step).
template <class Build>
ABSL_ATTRIBUTE_ALWAYS_INLINE inline void RunChainOnTape(benchmark::State& state,
                                                        const Build& build,
                                                        bool unit_weights = false) {
  Tape tape;
  std::vector<Value> w, b;
  for (int k = 0; k < 64; ++k)
    w.push_back(tape.Leaf(unit_weights ? 1.0 : 0.5 + 0.001 * k));
  for (int k = 0; k < 64; ++k) b.push_back(tape.Leaf(0.01 * k));
  const Value x0 = tape.Leaf(1.0);
  const TapeMark mark = tape.Mark();
  const size_t leaf_record_bytes = tape.Stats().record_bytes;
  const int steps = static_cast<int>(state.range(0));
  double record_s = 0, backward_s = 0, bytes = 0;
  for (auto _ : state) {
    const Clock::time_point t0 = Clock::now();
    const Value x = build(steps, x0, w, b);
    const Clock::time_point t1 = Clock::now();
    if (absl::Status s = x.Backward(); !s.ok()) state.SkipWithError(s.ToString().c_str());
    const Clock::time_point t2 = Clock::now();
    benchmark::DoNotOptimize(w[3].grad());
    record_s += Seconds(t0, t1);
    backward_s += Seconds(t1, t2);
    bytes = ChainBytes(tape, leaf_record_bytes);
    if (!tape.Rewind(mark).ok()) state.SkipWithError("rewind failed");
    tape.ZeroGrad();
  }
  ReportChain(state, record_s, backward_s, bytes,
              unit_weights ? 2.0 * steps : ChainOps(steps));
}

template <bool kInRegisters>
void BM_W1_Chain_Tape(benchmark::State& state) {
  RunChainOnTape(state, [](int steps, const Value& x0, const std::vector<Value>& w,
                           const std::vector<Value>& b) {
    return kInRegisters ? BuildChainInRegisters(steps, x0, w, b)
                        : BuildChain(steps, x0, w, b);
  });
}
// The workload's size, and a chain short enough to stay in cache, timed in ms of
// real time.
void ChainSizes(benchmark::internal::Benchmark* b) {
  b->Arg(kChainSteps)->Arg(20000)->Unit(benchmark::kMillisecond)->UseRealTime();
}
BENCHMARK_TEMPLATE(BM_W1_Chain_Tape, false)->Name("BM_W1_Chain_Tape")->Apply(ChainSizes);
BENCHMARK_TEMPLATE(BM_W1_Chain_Tape, true)
    ->Name("BM_W1_Chain_Tape_XInRegisters")
    ->Apply(ChainSizes);

// The chain written inline in the benchmark's own loop, as code that records in
// a larger function does: what recording costs when the compiler has the whole
// function to allocate registers in.
void BM_W1_Chain_Tape_Inline(benchmark::State& state) {
  RunChainOnTape(state, [](int steps, const Value& x0, const std::vector<Value>& w,
                           const std::vector<Value>& b) ABSL_ATTRIBUTE_ALWAYS_INLINE {
    Value x = x0;
    for (int i = 0; i < steps; ++i) {
      x = x * w[i % 64] + b[i % 64];
      if (i % 8 == 7) x = x.tanh();
    }
    return x;
  });
}
BENCHMARK(BM_W1_Chain_Tape_Inline)->Apply(ChainSizes);

// W1's running update with every w[k] = 1 and no tanh: no adjoint vanishes (each
// is exactly 1), so the sweep reads every record, as it does on most tapes that
// are not a long contraction. Its backward_ns/op is what the record-by-record
// sweep costs; W1's own is mostly skipped records (docs/performance.md).
void BM_Chain_NonzeroAdjoints(benchmark::State& state) {
  RunChainOnTape(
      state,
      [](int steps, const Value& x0, const std::vector<Value>& w,
         const std::vector<Value>& b) ABSL_ATTRIBUTE_ALWAYS_INLINE {
        Value x = x0;
        for (int i = 0; i < steps; ++i) x = x * w[i % 64] + b[i % 64];
        return x;
      },
      /*unit_weights=*/true);
}
BENCHMARK(BM_Chain_NonzeroAdjoints)->Apply(ChainSizes);

void BM_W1_Chain_PointerGraph(benchmark::State& state) {
  std::vector<PValue> w, b;
  for (int k = 0; k < 64; ++k) w.emplace_back(0.5 + 0.001 * k);
  for (int k = 0; k < 64; ++k) b.emplace_back(0.01 * k);
  const PValue x0(1.0);
  double record_s = 0, backward_s = 0;
  for (auto _ : state) {
    const Clock::time_point t0 = Clock::now();
    const PValue x = BuildChain(static_cast<int>(state.range(0)), x0, w, b);
    const Clock::time_point t1 = Clock::now();
    x.Backward();
    const Clock::time_point t2 = Clock::now();
    benchmark::DoNotOptimize(w[3].grad());
    record_s += Seconds(t0, t1);
    backward_s += Seconds(t1, t2);
    for (const PValue& p : w) p.set_grad(0);
    for (const PValue& p : b) p.set_grad(0);
  }
  // Per node: the Node (with its vector and closure) in a shared_ptr control block,
  // plus the parents' storage; measured by sizeof, not by the allocator.
  const double ops = ChainOps(static_cast<int>(state.range(0)));
  ReportChain(state, record_s, backward_s,
              ops * (sizeof(Node) + 16 + 2 * sizeof(std::shared_ptr<Node>)), ops);
}
BENCHMARK(BM_W1_Chain_PointerGraph)
    ->Arg(kChainSteps)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime()
    ->Iterations(3);

void BM_W2_MicrogradStep_Tape(benchmark::State& state) {
  examples::MoonsTrainer trainer(100, 1337);
  for (int i = 0; i < 3; ++i) {
    if (!trainer.Step(0.05).ok()) state.SkipWithError("warm-up step failed");
  }
  const uint64_t allocations = testing::HeapAllocations();
  for (auto _ : state) {
    absl::StatusOr<examples::MoonsStep> step = trainer.Step(0.05);
    benchmark::DoNotOptimize(step);
  }
  const double steps = static_cast<double>(state.iterations());
  state.counters["allocs/step"] =
      static_cast<double>(testing::HeapAllocations() - allocations) / steps;
}
BENCHMARK(BM_W2_MicrogradStep_Tape)->Unit(benchmark::kMicrosecond)->UseRealTime();

// micrograd's MLP written as plain scalar code, for either kind of value:
// act = b + sum(w_i * x_i) as a chain of adds, then relu.
template <class V>
class PlainMLP {
 public:
  explicit PlainMLP(uint64_t seed) {
    Random rng(seed);
    const int sizes[] = {2, 16, 16, 1};
    for (int l = 0; l < 3; ++l) {
      layers_.emplace_back();
      for (int n = 0; n < sizes[l + 1]; ++n) {
        Neuron neuron;
        for (int i = 0; i < sizes[l]; ++i) neuron.w.emplace_back(rng.Uniform(-1, 1));
        neuron.nonlin = l < 2;
        for (const V& p : neuron.w) params_.push_back(p);
        params_.push_back(neuron.b);
        layers_.back().push_back(std::move(neuron));
      }
    }
  }
  V operator()(std::vector<V> x) const {
    for (const auto& layer : layers_) {
      std::vector<V> out;
      for (const Neuron& n : layer) {
        V act = n.b;
        for (size_t i = 0; i < x.size(); ++i) act = act + n.w[i] * x[i];
        out.push_back(n.nonlin ? act.relu() : act);
      }
      x = std::move(out);
    }
    return x[0];
  }
  const std::vector<V>& parameters() const { return params_; }

 private:
  struct Neuron {
    std::vector<V> w;
    V b{0.0};
    bool nonlin = true;
  };
  std::vector<std::vector<Neuron>> layers_;
  std::vector<V> params_;
};

// One W2 step in plain scalar code: the max-margin loss over the data set, L2,
// backward, SGD.
template <class V>
void PlainStep(const nn::TwoMoons& data, const PlainMLP<V>& model) {
  std::vector<V> losses;
  for (size_t i = 0; i < data.x.size(); ++i) {
    const V score = model({V(data.x[i][0]), V(data.x[i][1])});
    losses.push_back((1.0 + (-data.y[i]) * score).relu());
  }
  V data_loss = losses[0];
  for (size_t i = 1; i < losses.size(); ++i) data_loss = data_loss + losses[i];
  data_loss = data_loss * (1.0 / losses.size());
  V reg(0.0);
  for (const V& p : model.parameters()) reg = reg + p * p;
  const V total = data_loss + reg * 1e-4;
  for (const V& p : model.parameters()) p.set_grad(0);
  if constexpr (std::is_same_v<V, Value>) {
    benchmark::DoNotOptimize(total.Backward());
  } else {
    total.Backward();
  }
  for (const V& p : model.parameters()) p.set_data(p.data() - 0.05 * p.grad());
}

void ReportAllocations(benchmark::State& state, uint64_t since) {
  state.counters["allocs/step"] =
      static_cast<double>(testing::HeapAllocations() - since) /
      static_cast<double>(state.iterations());
}

void BM_W2_PlainStep_Tape(benchmark::State& state) {
  const nn::TwoMoons data = nn::MakeMoons(100, 0.1, 1337);
  Tape tape;
  TapeScope scope(&tape);
  const PlainMLP<Value> model(1337);
  const TapeMark mark = tape.Mark();
  auto step = [&] {
    PlainStep(data, model);
    if (!tape.Rewind(mark).ok()) state.SkipWithError("rewind failed");
  };
  step();
  const uint64_t allocations = testing::HeapAllocations();
  for (auto _ : state) step();
  ReportAllocations(state, allocations);
}
BENCHMARK(BM_W2_PlainStep_Tape)->Unit(benchmark::kMicrosecond)->UseRealTime();

void BM_W2_MicrogradStep_PointerGraph(benchmark::State& state) {
  const nn::TwoMoons data = nn::MakeMoons(100, 0.1, 1337);
  const PlainMLP<PValue> model(1337);
  PlainStep(data, model);
  const uint64_t allocations = testing::HeapAllocations();
  for (auto _ : state) PlainStep(data, model);
  ReportAllocations(state, allocations);
}
BENCHMARK(BM_W2_MicrogradStep_PointerGraph)->Unit(benchmark::kMicrosecond)->UseRealTime();

}  // namespace
}  // namespace tapegrad::bench

BENCHMARK_MAIN();
