// A training step after warm-up performs no heap allocation, and training is
// deterministic for a seed.
#include "examples/moons_trainer.h"
#include "gtest/gtest.h"
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
