// A training step after warm-up performs no heap allocation, and training is
// deterministic for a seed. oneDNN's own short-lived blocks inside each call are
// counted apart (tests/alloc_counter.h): none may outlive a step.
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "examples/moons_trainer.h"
#include "gtest/gtest.h"
#include "nn/activation.h"
#include "nn/conv.h"
#include "nn/dataset.h"
#include "nn/linear.h"
#include "nn/normalization.h"
#include "nn/optimizer.h"
#include "nn/sequential.h"
#include "nn/trainer.h"
#include "tapegrad.h"
#include "tests/alloc_counter.h"

namespace tapegrad {
namespace {

// The heap since construction: ExpectNone() checks that the project allocated
// nothing and that oneDNN freed every block it took.
class HeapWatch {
 public:
  void ExpectNone() const {
    EXPECT_EQ(testing::HeapAllocations() - ours_, 0u);
    EXPECT_EQ(testing::OneDnnLiveBlocks() - onednn_live_, 0);
  }

 private:
  uint64_t ours_ = testing::HeapAllocations();
  int64_t onednn_live_ = testing::OneDnnLiveBlocks();
};

TEST(SteadyState, MoonsStepAllocatesNothingAfterWarmUp) {
  examples::MoonsTrainer trainer(100, 1337);
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(trainer.Step(0.1).ok());
  const HeapWatch heap;
  for (int i = 0; i < 20; ++i) ASSERT_TRUE(trainer.Step(0.1).ok());
  heap.ExpectNone();
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
  const HeapWatch heap;
  double last = 0;
  for (int i = 0; i < 20; ++i) last = step();
  heap.ExpectNone();
  EXPECT_LT(last, first);  // and it learns
}

// A CNN step: conv, batch norm, ReLU, max pooling, flatten, linear, cross-entropy,
// backward, Adam, rewind; f32 runs on oneDNN's primitives, f64 on the reference
// kernels.
void ExpectCnnStepAllocatesNothing(DType dtype) {
  Random rng(3);
  nn::Sequential net;
  Conv2dOptions same;
  same.padding = {1, 1};
  net.Emplace<nn::Conv2d>(1, 4, 3, rng, same, /*bias=*/true, dtype);
  net.Emplace<nn::BatchNorm2d>(4, 1e-5, 0.1, true, true, dtype);
  net.Emplace<nn::ReLU>();
  net.Emplace<nn::MaxPool2d>(2);
  net.Emplace<nn::Flatten>();
  net.Emplace<nn::Linear>(4 * 4 * 4, 3, rng, /*bias=*/true, dtype);
  nn::Adam adam(net.parameters(), AdamOptions());
  const Tensor x = Tensor::Randn({6, 1, 8, 8}, rng, dtype);
  const Tensor labels = Tensor::FromData(std::vector<int64_t>{0, 1, 2, 0, 1, 2}, {6});
  Tape tape;
  TapeScope scope(&tape);
  const TapeMark mark = tape.Mark();
  auto step = [&] {
    const Tensor loss = CrossEntropy(net(x), labels);
    net.zero_grad();
    EXPECT_TRUE(loss.Backward().ok()) << loss.status();
    EXPECT_TRUE(adam.Step().ok());
    EXPECT_TRUE(tape.Rewind(mark).ok());
  };
  for (int i = 0; i < 3; ++i) step();
  const HeapWatch heap;
  for (int i = 0; i < 10; ++i) step();
  heap.ExpectNone();
}

TEST(SteadyState, CnnStepAllocatesNothingAfterWarmUpF64) {
  ExpectCnnStepAllocatesNothing(DType::kF64);
}

TEST(SteadyState, CnnStepAllocatesNothingAfterWarmUpF32) {
  const uint64_t onednn_before = testing::OneDnnAllocations();
  ExpectCnnStepAllocatesNothing(DType::kF32);
  // The step ran on oneDNN, so the split between the two counts was exercised.
  EXPECT_GT(testing::OneDnnAllocations(), onednn_before);
}

// The nn stack: batches from a BatchIterator, Sequential with Dropout, Adam, the
// Trainer's step; across epoch boundaries (reshuffles, a smaller last batch).
TEST(SteadyState, TrainerEpochsAllocateNothingAfterWarmUp) {
  Random rng(3);
  const int64_t n = 200;
  const Tensor x = Tensor::Randn({n, 64}, rng);
  std::vector<int64_t> labels(n);  // learnable: the argmax of the first 10 features
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t j = 1; j < 10; ++j) {
      if (x.at({i, j}) > x.at({i, labels[i]})) labels[i] = j;
    }
  }
  absl::StatusOr<nn::Dataset> data =
      nn::Dataset::Create(x, Tensor::FromData(absl::MakeConstSpan(labels), {n}));
  ASSERT_TRUE(data.ok());
  nn::Sequential model;
  model.Emplace<nn::Linear>(64, 128, rng);
  model.Emplace<nn::GELU>();
  model.Emplace<nn::Dropout>(0.1, 1);
  model.Emplace<nn::Linear>(128, 10, rng);
  AdamOptions adam_options;
  adam_options.lr = 1e-2;
  nn::Adam adam(model.parameters(), adam_options);
  nn::Trainer trainer(model, adam);
  nn::BatchOptions options;
  options.batch_size = 48;  // 4 full batches and one of 8
  nn::BatchIterator batches(*data, options);
  absl::StatusOr<nn::EpochStats> first = trainer.Epoch(batches);
  ASSERT_TRUE(first.ok() && trainer.Epoch(batches).ok());
  const HeapWatch heap;
  for (int i = 0; i < 5; ++i) {
    for (batches.Reset(); batches.Next();) {
      absl::StatusOr<nn::StepStats> step = trainer.Step(batches.x(), batches.y());
      ASSERT_TRUE(step.ok()) << step.status();
    }
  }
  heap.ExpectNone();
  absl::StatusOr<nn::EpochStats> last = trainer.Epoch(batches);
  ASSERT_TRUE(last.ok());
  EXPECT_LT(last->loss, 0.5 * first->loss);  // and it learns
}

TEST(SteadyState, TensorMoonsStepAllocatesNothingAfterWarmUp) {
  examples::TensorMoonsTrainer trainer(100, 1337, DType::kF32);
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(trainer.Step(0.1).ok());
  const HeapWatch heap;
  for (int i = 0; i < 20; ++i) ASSERT_TRUE(trainer.Step(0.1).ok());
  heap.ExpectNone();
}

// One request thread of a service (tests/serving_test.cc) on its own tape: request
// k is a prediction without recording (k even) or the gradient of the outputs' sum
// with respect to the input (k odd), then a rewind.
class ServingThread {
 public:
  ServingThread(int64_t inputs, std::initializer_list<int64_t> sizes,
                nn::Nonlinearity nonlinearity, uint64_t seed)
      : rng_(seed),
        model_(inputs, sizes, rng_, nonlinearity),
        scope_(&tape_),
        input_(inputs) {
    x_ = Tensor::Zeros({1, inputs});
    x_.RequiresGrad();
    mark_ = tape_.Mark();
  }

  // The first output, or the first element of the input's gradient.
  double Request(long k) {
    for (size_t i = 0; i < input_.size(); ++i) {
      input_[i] = static_cast<float>(std::sin(0.3 * k + i));
    }
    EXPECT_TRUE(x_.CopyFrom(absl::MakeConstSpan(input_)).ok());
    const int64_t first[2] = {0, 0};
    double out;
    if (k % 2 == 0) {
      NoGradScope no_grad;
      out = model_(x_).at(first);
    } else {
      x_.ZeroGrad();
      EXPECT_TRUE(Sum(model_(x_)).BackwardInto({x_}).ok());
      out = x_.grad().at(first);
    }
    EXPECT_TRUE(tape_.Rewind(mark_).ok());
    return out;
  }

  const nn::MLP& model() const { return model_; }

 private:
  Random rng_;
  nn::MLP model_;
  Tape tape_;
  TapeScope scope_;
  std::vector<float> input_;
  Tensor x_;
  TapeMark mark_;
};

TEST(SteadyState, ServingRequestsAllocateNothingAfterWarmUp) {
  ServingThread server(16, {32, 4}, nn::Nonlinearity::kTanh, 3);
  double checksum = 0;
  for (int k = 0; k < 4; ++k) checksum += server.Request(k);
  const HeapWatch heap;
  for (int k = 4; k < 104; ++k) checksum += server.Request(k);
  heap.ExpectNone();
  EXPECT_TRUE(std::isfinite(checksum));
  for (const Tensor& p : server.model().parameters()) EXPECT_FALSE(p.grad().ok());
}

// Resident memory of this process, in KiB, from /proc.
long ResidentKiB() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::atol(line.c_str() + 6);
  }
  return -1;
}

// TAPEGRAD_SERVING_REQUESTS requests (default 20000; the README's long run uses
// 10^6): resident memory after them is what it was after the first thousand.
TEST(SteadyState, ServingKeepsResidentMemoryFlat) {
  const char* n = std::getenv("TAPEGRAD_SERVING_REQUESTS");
  const long requests = n != nullptr ? std::atol(n) : 20000;
  ServingThread server(784, {256, 10}, nn::Nonlinearity::kReLU, 4);
  for (long k = 0; k < 1000; ++k) server.Request(k);
  const long before = ResidentKiB();
  for (long k = 1000; k < requests; ++k) server.Request(k);
  const long after = ResidentKiB();
  ASSERT_GT(before, 0);
  EXPECT_LE(after - before, 1024) << "KiB, over " << requests << " requests";
}

TEST(SteadyState, CounterSeesAllocations) {  // the tests above could not pass vacuously
  const uint64_t before = testing::HeapAllocations();
  // Through a volatile pointer, so that the optimizer cannot elide the pair.
  static std::vector<int>* volatile escaped;
  escaped = new std::vector<int>(100);
  delete escaped;
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

namespace tapegrad {
namespace {

// The tensor demo starts from the scalar demo's weights and follows it step for
// step: micrograd's semantics, reproduced by whole-tensor ops.
TEST(SteadyState, TensorMoonsMatchesTheScalarRun) {
  examples::MoonsTrainer scalar(100, 1337);
  examples::TensorMoonsTrainer tensors(100, 1337, DType::kF64);
  double accuracy = 0;
  for (int k = 0; k < 100; ++k) {
    absl::StatusOr<examples::MoonsStep> a = scalar.Step(1.0 - 0.9 * k / 100);
    absl::StatusOr<examples::MoonsStep> b = tensors.Step(1.0 - 0.9 * k / 100);
    ASSERT_TRUE(a.ok() && b.ok()) << b.status();
    EXPECT_NEAR(b->loss, a->loss, 1e-12 * std::max(1.0, a->loss)) << "step " << k;
    EXPECT_EQ(b->accuracy, a->accuracy) << "step " << k;
    accuracy = b->accuracy;
  }
  EXPECT_EQ(accuracy, 1.0);
}

}  // namespace
}  // namespace tapegrad
