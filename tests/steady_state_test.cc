// A training step after warm-up performs no heap allocation, and training is
// deterministic for a seed.
#include "examples/moons_trainer.h"
#include "gtest/gtest.h"
#include "tapegrad.h"
#include "tests/alloc_counter.h"

namespace tapegrad {
namespace {

TEST(SteadyState, MoonsStepAllocatesNothingAfterWarmUp) {
  examples::MoonsTrainer trainer(100, 1337);
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(trainer.Step(0.1).ok());
  const uint64_t before = testing::HeapAllocations();
  for (int i = 0; i < 20; ++i) ASSERT_TRUE(trainer.Step(0.1).ok());
  EXPECT_EQ(testing::HeapAllocations() - before, 0u);
}

// A tensor MLP step: forward, cross-entropy, backward, SGD update, rewind.
TEST(SteadyState, TensorMlpStepAllocatesNothingAfterWarmUp) {
  Random rng(5);
  Tensor w1 = Tensor::Randn({64, 128}, rng).RequiresGrad();
  Tensor b1 = Tensor::Zeros({128}).RequiresGrad();
  Tensor w2 = Tensor::Randn({128, 10}, rng).RequiresGrad();
  Tensor b2 = Tensor::Zeros({10}).RequiresGrad();
  const Tensor x = Tensor::Randn({32, 64}, rng);
  std::vector<int64_t> label_values(32);
  for (size_t i = 0; i < label_values.size(); ++i) label_values[i] = int64_t(i % 10);
  const Tensor labels = Tensor::FromData(absl::MakeConstSpan(label_values), {32});
  Tape tape;
  TapeScope scope(&tape);
  const TapeMark mark = tape.Mark();
  Tensor* params[] = {&w1, &b1, &w2, &b2};
  auto step = [&]() -> double {
    const Tensor loss = CrossEntropy(MatMul(Relu(MatMul(x, w1) + b1), w2) + b2, labels);
    EXPECT_TRUE(loss.Backward().ok()) << loss.status();
    const double value = loss.item();
    for (Tensor* p : params) {
      EXPECT_TRUE(p->AddInPlace(p->grad(), -0.01).ok());
      p->ZeroGrad();
    }
    EXPECT_TRUE(tape.Rewind(mark).ok());
    return value;
  };
  const double first = step();
  for (int i = 0; i < 3; ++i) step();
  const uint64_t before = testing::HeapAllocations();
  double last = 0;
  for (int i = 0; i < 20; ++i) last = step();
  EXPECT_EQ(testing::HeapAllocations() - before, 0u);
  EXPECT_LT(last, first);  // and it learns
}

TEST(SteadyState, CounterSeesAllocations) {  // the test above could not pass vacuously
  const uint64_t before = testing::HeapAllocations();
  auto* p = new std::vector<int>(100);
  delete p;
  EXPECT_GE(testing::HeapAllocations() - before, 2u);
}

TEST(SteadyState, MoonsTrainingIsDeterministicAndLearns) {
  examples::MoonsTrainer a(100, 1337), b(100, 1337);
  double first = 0, last = 0, accuracy = 0;
  for (int k = 0; k < 100; ++k) {
    absl::StatusOr<examples::MoonsStep> sa = a.Step(1.0 - 0.9 * k / 100);
    absl::StatusOr<examples::MoonsStep> sb = b.Step(1.0 - 0.9 * k / 100);
    ASSERT_TRUE(sa.ok() && sb.ok());
    EXPECT_EQ(sa->loss, sb->loss) << "step " << k;
    if (k == 0) first = sa->loss;
    last = sa->loss;
    accuracy = sa->accuracy;
  }
  EXPECT_GT(first, 0.5);
  EXPECT_LT(last, 0.05);
  EXPECT_EQ(accuracy, 1.0);
}

}  // namespace
}  // namespace tapegrad
