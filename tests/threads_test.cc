// Many tapes on many threads: each thread trains its own tiny model for 1000
// steps. Nothing is shared, so tsan must stay silent and every thread must get the
// same numbers as a single-threaded run.
#include <cmath>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "tapegrad.h"

namespace tapegrad {
namespace {

// Fits y = tanh(w * x + b) to a fixed target for `steps` steps; returns w.
double Train(int steps) {
  Tape tape;
  TapeScope scope(&tape);
  Value w(0.1), b(-0.2);
  const TapeMark step = tape.Mark();
  for (int i = 0; i < steps; ++i) {
    Value loss(0.0);
    {
      // Build the loss from a few points, reusing w and b.
      loss = ((w * 0.5 + b).tanh() - 0.3).pow(2) + ((w * -1.0 + b).tanh() + 0.2).pow(2);
    }
    if (!loss.Backward().ok()) return std::nan("");
    w.set_data(w.data() - 0.1 * w.grad());
    b.set_data(b.data() - 0.1 * b.grad());
    w.set_grad(0);
    b.set_grad(0);
    if (!tape.Rewind(step).ok()) return std::nan("");
  }
  return w.data();
}

TEST(Threads, EightTapesOnEightThreads) {
  constexpr int kThreads = 8;
  constexpr int kSteps = 1000;
  const double expected = Train(kSteps);
  ASSERT_FALSE(std::isnan(expected));
  std::vector<double> results(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&results, t] { results[t] = Train(kSteps); });
  }
  for (std::thread& thread : threads) thread.join();
  for (int t = 0; t < kThreads; ++t) EXPECT_EQ(results[t], expected) << "thread " << t;
}

// A tensor regression on its own tape, with ops large enough to use the shared
// CPU worker pool; returns the final loss.
double TrainTensors(int steps) {
  Random rng(11);
  Tensor w = Tensor::Randn({256, 1}, rng, DType::kF64).RequiresGrad();
  const Tensor x = Tensor::Randn({512, 256}, rng, DType::kF64);
  const Tensor y = Tensor::Randn({512, 1}, rng, DType::kF64);
  Tape tape;
  TapeScope scope(&tape);
  const TapeMark mark = tape.Mark();
  double loss_value = 0;
  for (int i = 0; i < steps; ++i) {
    const Tensor loss = Mse(MatMul(x, w), y) + Sum(Tanh(x * 0.5)) * 0.0;
    if (!loss.Backward().ok()) return NAN;
    loss_value = loss.item();
    if (!w.AddInPlace(w.grad(), -0.05).ok()) return NAN;
    w.ZeroGrad();
    if (!tape.Rewind(mark).ok()) return NAN;
  }
  return loss_value;
}

TEST(Threads, TensorTapesOnManyThreadsShareThePoolSafely) {
  const double expected = TrainTensors(5);
  ASSERT_FALSE(std::isnan(expected));
  std::vector<double> results(4);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&results, t] { results[t] = TrainTensors(5); });
  }
  for (std::thread& thread : threads) thread.join();
  for (double r : results) EXPECT_EQ(r, expected);
}

// Note [Lazy zero grads]: threads that read a zeroed gradient at once all see
// zeros, though only one of them writes them.
TEST(Threads, ReadersOfALazilyZeroedGradAllSeeZeros) {
  Tensor w = Tensor::Ones({64, 64}).RequiresGrad();
  {
    Tape tape;
    TapeScope scope(&tape);
    ASSERT_TRUE(Sum(MatMul(Tensor::Ones({8, 64}), w)).Backward().ok());
  }
  for (int round = 0; round < 20; ++round) {
    w.ZeroGrad();
    std::vector<double> sums(4, -1.0);
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
      threads.emplace_back([&w, &sums, t] {
        double sum = 0;
        for (double g : w.grad().ToVector()) sum += std::abs(g);
        sums[t] = sum;
      });
    }
    for (std::thread& thread : threads) thread.join();
    for (double sum : sums) ASSERT_EQ(sum, 0.0) << "round " << round;
  }
}

TEST(Threads, GradModeIsPerThread) {
  NoGradScope no_grad;
  bool other_thread_enabled = false;
  std::thread([&] { other_thread_enabled = IsGradEnabled(); }).join();
  EXPECT_TRUE(other_thread_enabled);
  EXPECT_FALSE(IsGradEnabled());
}

}  // namespace
}  // namespace tapegrad
