// W1 and W2 of bench/tape_benchmark.cc, written once for any scalar reverse-mode
// type, and compiled once per system: tapegrad (by Bazel, //bench/peers:tapegrad_w1w2),
// CoDiPack and Adept-2 (by run_peers.sh, from source folders outside this
// repository). Each binary prints one line per figure, `name value`; run_peers.sh
// alternates the systems and tabulates the medians.
//
//   W1 chain: leaves w[k] = 0.5 + 0.001k, b[k] = 0.01k (k < 64), x0 = 1; steps of
//     x = x * w[i % 64] + b[i % 64], and x = tanh(x) after every 8th; then the
//     gradient. Recorded in its own function (returning x) and inline in the
//     measuring loop. 2.125 ops per step.
//   W2: micrograd's MLP(2, [16, 16, 1]) written as plain scalar code
//     (act = act + w[i] * x[i], then relu) on 100 points, max-margin loss + 1e-4
//     L2, backward, SGD. Weights and points from std::mt19937_64, the same for all.
//
// Every figure is the median of kRepeats runs; checksums must agree across systems.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#if defined(PEER_CODIPACK)
#include <codi.hpp>
#elif defined(PEER_ADEPT)
#include <adept.h>
#else
#include "core/scalar_ops.h"
#include "core/tape.h"
#include "core/value.h"
#endif

namespace {

constexpr int kRepeats = 7;

// ---- Each system's glue: its value type, leaves, backward, grads, reset.
#if defined(PEER_CODIPACK)
constexpr const char* kSystem = "codipack";
using V = codi::RealReverse;
struct System {
  V::Tape& tape = V::getTape();
  System() { tape.setActive(); }
  V Leaf(double x) {
    V v = x;
    tape.registerInput(v);
    return v;
  }
  void Backward(V& y) {
    tape.registerOutput(y);
    tape.setPassive();
    y.setGradient(1.0);
    tape.evaluate();
  }
  static double Grad(const V& v) { return v.getGradient(); }
  static double Data(const V& v) { return v.getValue(); }
  // Drops the recording (and the adjoints) and records again: leaves made
  // before are re-registered by the caller.
  void Reset() {
    tape.reset();
    tape.setActive();
  }
  static V Tanh(const V& x) { return tanh(x); }
  static V Relu(const V& x) { return x.getValue() > 0 ? x : V(0.0); }
  static void SetData(V& v, double x) { v = x; }
};
#elif defined(PEER_ADEPT)
constexpr const char* kSystem = "adept";
using V = adept::adouble;
struct System {
  adept::Stack stack;
  V Leaf(double x) { return V(x); }
  void Backward(V& y) {
    y.set_gradient(1.0);
    stack.compute_adjoint();
  }
  static double Grad(const V& v) { return v.get_gradient(); }
  static double Data(const V& v) { return v.value(); }
  void Reset() { stack.new_recording(); }
  static V Tanh(const V& x) { return tanh(x); }
  static V Relu(const V& x) { return x.value() > 0 ? x : V(0.0); }
  static void SetData(V& v, double x) { v.set_value(x); }
};
#else
constexpr const char* kSystem = "tapegrad";
using V = tapegrad::Value;
struct System {
  tapegrad::Tape tape;
  tapegrad::TapeScope scope{&tape};
  tapegrad::TapeMark mark;
  bool marked = false;
  V Leaf(double x) { return tape.Leaf(x); }
  void Backward(V& y) {
    if (!y.Backward().ok()) std::abort();
  }
  static double Grad(const V& v) { return v.grad(); }
  static double Data(const V& v) { return v.data(); }
  // Leaves made before the first Reset survive every Reset (they are below the
  // mark); grads are zeroed.
  void Reset() {
    if (!marked) {
      mark = tape.Mark();
      marked = true;
    }
    if (!tape.Rewind(mark).ok()) std::abort();
    tape.ZeroGrad();
  }
  static V Tanh(const V& x) { return x.tanh(); }
  static V Relu(const V& x) { return x.relu(); }
  static void SetData(V& v, double x) { v.set_data(x); }
};
#endif

using Clock = std::chrono::steady_clock;
double Since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}
double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// ---- W1.
double ChainOps(int steps) { return 2.0 * steps + steps / 8; }

// The chain in a function of its own, returning x.
__attribute__((noinline)) V BuildChain(int steps, const V& x0, const std::vector<V>& w,
                                       const std::vector<V>& b) {
  V x = x0;
  for (int i = 0; i < steps; ++i) {
    x = x * w[i % 64] + b[i % 64];
    if (i % 8 == 7) x = System::Tanh(x);
  }
  return x;
}

struct W1Result {
  double record_ns, backward_ns, checksum;
};

// `inline_loop`: the chain written in this function's own loop.
template <bool kInline>
W1Result RunW1(int steps) {
  System sys;
  std::vector<V> w, b;
  for (int k = 0; k < 64; ++k) w.push_back(sys.Leaf(0.5 + 0.001 * k));
  for (int k = 0; k < 64; ++k) b.push_back(sys.Leaf(0.01 * k));
  V x0 = sys.Leaf(1.0);
  std::vector<double> record, backward;
  double checksum = 0;
  for (int r = 0; r < kRepeats; ++r) {
    sys.Reset();
#if defined(PEER_CODIPACK)
    for (V& v : w) sys.tape.registerInput(v);
    for (V& v : b) sys.tape.registerInput(v);
    sys.tape.registerInput(x0);
#endif
    Clock::time_point t0 = Clock::now();
    V x;
    if constexpr (kInline) {
      x = x0;
      for (int i = 0; i < steps; ++i) {
        x = x * w[i % 64] + b[i % 64];
        if (i % 8 == 7) x = System::Tanh(x);
      }
    } else {
      x = BuildChain(steps, x0, w, b);
    }
    record.push_back(Since(t0));
    t0 = Clock::now();
    sys.Backward(x);
    backward.push_back(Since(t0));
    checksum = System::Data(x) + System::Grad(w[3]);
  }
  const double ops = ChainOps(steps);
  return {1e9 * Median(record) / ops, 1e9 * Median(backward) / ops, checksum};
}

// ---- W2, as plain scalar code.
struct Moons {
  std::vector<double> x0, x1, y;
};
Moons MakeData() {
  std::mt19937_64 rng(1337);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  Moons d;
  for (int i = 0; i < 100; ++i) {
    const double t = 3.14159265358979 * u(rng);
    const bool upper = i % 2 == 0;
    d.x0.push_back(upper ? std::cos(t) : 1 - std::cos(t));
    d.x1.push_back(upper ? std::sin(t) : 0.5 - std::sin(t));
    d.y.push_back(upper ? 1.0 : -1.0);
  }
  return d;
}

struct PlainMLP {
  struct Neuron {
    std::vector<V> w;
    V b;
    bool nonlin;
  };
  std::vector<std::vector<Neuron>> layers;
  std::vector<V*> params;

  explicit PlainMLP(System& sys) {
    std::mt19937_64 rng(42);
    std::uniform_real_distribution<double> u(-1.0, 1.0);
    const int sizes[] = {2, 16, 16, 1};
    for (int l = 0; l < 3; ++l) {
      layers.emplace_back();
      for (int n = 0; n < sizes[l + 1]; ++n) {
        Neuron neuron{{}, sys.Leaf(0.0), l < 2};
        for (int i = 0; i < sizes[l]; ++i) neuron.w.push_back(sys.Leaf(u(rng)));
        layers.back().push_back(std::move(neuron));
      }
    }
    for (auto& layer : layers) {
      for (Neuron& n : layer) {
        for (V& w : n.w) params.push_back(&w);
        params.push_back(&n.b);
      }
    }
  }
  V operator()(std::vector<V> x) const {
    for (const auto& layer : layers) {
      std::vector<V> out;
      for (const Neuron& n : layer) {
        V act = n.b;
        for (size_t i = 0; i < x.size(); ++i) act = act + n.w[i] * x[i];
        out.push_back(n.nonlin ? System::Relu(act) : act);
      }
      x = std::move(out);
    }
    return x[0];
  }
};

// Seconds PlainStep calls spent recording (through the loss), for the split.
double plain_record_seconds = 0;

double PlainStep(System& sys, PlainMLP& model, const Moons& data) {
  sys.Reset();
  const Clock::time_point t0 = Clock::now();
#if defined(PEER_CODIPACK)
  for (V* p : model.params) sys.tape.registerInput(*p);
#endif
  std::vector<V> losses;
  for (size_t i = 0; i < data.y.size(); ++i) {
    const V score = model({V(data.x0[i]), V(data.x1[i])});
    losses.push_back(System::Relu(1.0 + (-data.y[i]) * score));
  }
  V data_loss = losses[0];
  for (size_t i = 1; i < losses.size(); ++i) data_loss = data_loss + losses[i];
  data_loss = data_loss * (1.0 / losses.size());
  V reg(0.0);
  for (V* p : model.params) reg = reg + *p * *p;
  V total = data_loss + reg * 1e-4;
  plain_record_seconds += Since(t0);
  sys.Backward(total);
  for (V* p : model.params)
    System::SetData(*p, System::Data(*p) - 0.05 * System::Grad(*p));
  return System::Data(total);
}

// The median step, and in *record the median of its recording part.
double RunW2(double* checksum, double* record) {
  System sys;
  PlainMLP model(sys);
  const Moons data = MakeData();
  for (int i = 0; i < 3; ++i) *checksum = PlainStep(sys, model, data);
  std::vector<double> us, record_us;
  for (int r = 0; r < kRepeats; ++r) {
    plain_record_seconds = 0;
    const Clock::time_point t0 = Clock::now();
    constexpr int kSteps = 20;
    for (int s = 0; s < kSteps; ++s) PlainStep(sys, model, data);
    us.push_back(1e6 * Since(t0) / kSteps);
    record_us.push_back(1e6 * plain_record_seconds / kSteps);
  }
  *record = Median(record_us);
  return Median(us);
}

}  // namespace

// With --quick, small sizes only: a smoke test of the harness (CI runs tapegrad's
// side under its optimised configs), not a measurement. With --w2-only N, W2 alone.
int main(int argc, char** argv) {
  const bool quick = argc > 1 && std::string(argv[1]) == "--quick";
  std::printf("system %s\n", kSystem);
  if (argc > 2 && std::string(argv[1]) == "--w2-only") {
    // W2 alone, for a profiler: argv[2] rounds of RunW2.
    double checksum = 0, record = 0, us = 0;
    for (int r = std::stoi(argv[2]); r > 0; --r) us = RunW2(&checksum, &record);
    std::printf("w2_plain_us %.1f\nw2_plain_record_us %.1f\n", us, record);
    return 0;
  }
  for (int steps :
       quick ? std::vector<int>{3000, 200} : std::vector<int>{1000000, 20000}) {
    const W1Result f = RunW1<false>(steps);
    const W1Result i = RunW1<true>(steps);
    std::printf("w1_record_function_%d %.3f\n", steps, f.record_ns);
    std::printf("w1_record_inline_%d %.3f\n", steps, i.record_ns);
    std::printf("w1_backward_%d %.3f\n", steps, f.backward_ns);
    std::printf("w1_checksum_%d %.12g\n", steps, f.checksum);
  }
  double checksum = 0, record = 0;
  std::printf("w2_plain_us %.1f\n", RunW2(&checksum, &record));
  std::printf("w2_plain_record_us %.1f\n", record);
  std::printf("w2_checksum %.12g\n", checksum);
  return 0;
}
