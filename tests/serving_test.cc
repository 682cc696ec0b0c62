// One model, many threads: the shape of a service.
// Request threads share a trained model's parameters (which still require grad),
// each with its own tape, and serve predictions (no recording) and gradients with
// respect to their input (BackwardInto) forever. Results must equal a
// single-threaded run's bit for bit, parameters' gradients must stay untouched,
// a thread that would add to a parameter's gradient another thread holds gets a
// clear error, and a tape that runs out of bytes fails that request only.
//
// TAPEGRAD_SERVING_REQUESTS (default 2000) sets the requests per thread; the
// tsan run of the README uses 100000.
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "core/grad_mode.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nn/sequential.h"
#include "tapegrad.h"

namespace tapegrad {
namespace {

constexpr int kInputs = 16;
constexpr int kOutputs = 4;

int RequestsPerThread() {
  const char* n = std::getenv("TAPEGRAD_SERVING_REQUESTS");
  return n != nullptr ? std::atoi(n) : 2000;
}

// Request k's input: a deterministic function of k, made without allocating.
void FillInput(uint64_t k, float* x) {
  for (int i = 0; i < kInputs; ++i) {
    x[i] = static_cast<float>(std::sin(0.37 * static_cast<double>(k) + 1.3 * i));
  }
}

// What one request returns: the outputs, or the input gradient of their sum.
struct Answer {
  float values[kInputs] = {};
  bool ok = false;
  bool operator==(const Answer& o) const {
    if (ok != o.ok) return false;
    for (int i = 0; i < kInputs; ++i) {
      if (std::memcmp(&values[i], &o.values[i], sizeof(float)) != 0) return false;
    }
    return true;
  }
};

// A request thread's state: its tape, the mark requests rewind to, and its input
// tensor, reused by every request.
class Server {
 public:
  explicit Server(nn::Module& model, TapeOptions options = {})
      : model_(model), tape_(options), scope_(&tape_) {
    x_ = Tensor::Zeros({1, kInputs});
    x_.RequiresGrad();
    mark_ = tape_.Mark();
  }

  // Request k: even ones predict, odd ones ask for d(sum of outputs)/d(input).
  Answer Serve(uint64_t k, int64_t batch = 1) {
    Answer a;
    float input[kInputs];
    FillInput(k, input);
    Tensor x = x_;
    if (batch != 1) {  // a request too large for a byte-limited tape
      x = Tensor::Zeros({batch, kInputs});
    } else if (!x_.CopyFrom(absl::MakeConstSpan(input, kInputs)).ok()) {
      return a;
    }
    if (k % 2 == 0) {
      NoGradScope no_grad;
      const Tensor y = model_(x);
      a.ok = y.ok();
      for (int i = 0; a.ok && i < kOutputs; ++i) {
        const int64_t index[2] = {0, i};
        a.values[i] = static_cast<float>(y.at(index));
      }
    } else {
      x_.ZeroGrad();
      const Tensor loss = Sum(model_(x));
      a.ok = loss.ok() && loss.BackwardInto({x_}).ok();
      for (int i = 0; a.ok && i < kInputs; ++i) {
        const int64_t index[2] = {0, i};
        a.values[i] = static_cast<float>(x_.grad().at(index));
      }
    }
    last_status_ = tape_.Rewind(mark_);
    if (!tape_.status().ok()) tape_.ClearError();
    return a;
  }

  Tape& tape() { return tape_; }

 private:
  nn::Module& model_;
  Tape tape_;
  TapeScope scope_;
  Tensor x_;
  TapeMark mark_;
  absl::Status last_status_;
};

std::unique_ptr<nn::MLP> TrainedModel() {
  Random rng(11);
  auto model =
      std::make_unique<nn::MLP>(kInputs, std::initializer_list<int64_t>{32, 32, kOutputs},
                                rng, nn::Nonlinearity::kTanh);
  return model;
}

TEST(Serving, SixteenThreadsShareOneModelAndMatchOneThread) {
  std::unique_ptr<nn::MLP> model = TrainedModel();
  const int requests = RequestsPerThread();
  constexpr int kThreads = 16;
  // The answers of one thread, for the first requests of every thread's sequence.
  std::vector<Answer> expected(requests);
  {
    Server server(*model);
    for (int k = 0; k < requests; ++k) expected[k] = server.Serve(k);
  }
  std::vector<int> wrong(kThreads, 0), failed(kThreads, 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      Server server(*model);
      for (int k = 0; k < requests; ++k) {
        // Threads walk the sequence from different places, so that predictions
        // and gradients interleave across threads.
        const int r = (k + t * 97) % requests;
        const Answer a = server.Serve(r);
        failed[t] += !a.ok;
        wrong[t] += !(a == expected[r]);
      }
    });
  }
  for (std::thread& t : threads) t.join();
  for (int t = 0; t < kThreads; ++t) {
    EXPECT_EQ(failed[t], 0) << "thread " << t;
    EXPECT_EQ(wrong[t], 0) << "thread " << t;
  }
  // Input gradients left the shared parameters' gradients alone.
  for (const Tensor& p : model->parameters()) EXPECT_FALSE(p.grad().ok());
}

TEST(Serving, AddingToAParameterAnotherThreadHoldsIsAnError) {
  std::unique_ptr<nn::MLP> model = TrainedModel();
  Tape tape;
  TapeScope scope(&tape);
  const Tensor x = Tensor::Zeros({2, kInputs});
  ASSERT_TRUE(Sum(model->Forward(x)).Backward().ok());  // this thread holds the grads
  absl::Status other;
  std::thread([&] {
    Tape own;
    TapeScope own_scope(&own);
    other = Sum(model->Forward(Tensor::Zeros({2, kInputs}))).Backward();
  }).join();
  EXPECT_EQ(other.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(other.message(), ::testing::AllOf(::testing::HasSubstr("another thread"),
                                                ::testing::HasSubstr("(operands: f32[")));
  // ZeroGrad hands the gradients on: now the other thread's backward adds.
  model->zero_grad();
  std::thread([&] {
    Tape own;
    TapeScope own_scope(&own);
    other = Sum(model->Forward(Tensor::Zeros({2, kInputs}))).Backward();
  }).join();
  EXPECT_TRUE(other.ok()) << other;
}

TEST(Serving, ConcurrentBackwardsIntoSharedParametersAreErrorsNotRaces) {
  std::unique_ptr<nn::MLP> model = TrainedModel();
  constexpr int kThreads = 8;
  std::vector<int> succeeded(kThreads, 0), refused(kThreads, 0), other(kThreads, 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      Tape tape;
      TapeScope scope(&tape);
      const TapeMark mark = tape.Mark();
      for (int k = 0; k < 200; ++k) {
        const absl::Status s =
            Sum(model->Forward(Tensor::Zeros({2, kInputs}))).Backward();
        if (s.ok()) {
          ++succeeded[t];
        } else if (s.code() == absl::StatusCode::kFailedPrecondition) {
          ++refused[t];
        } else {
          ++other[t];
        }
        tape.ClearError();
        ASSERT_TRUE(tape.Rewind(mark).ok());
      }
    });
  }
  for (std::thread& t : threads) t.join();
  int owners = 0;
  for (int t = 0; t < kThreads; ++t) {
    EXPECT_EQ(other[t], 0);
    owners += succeeded[t] > 0;
  }
  // The first thread to add holds every parameter's gradient from then on.
  EXPECT_EQ(owners, 1);
}

TEST(Serving, ARequestThatOutgrowsItsTapeFailsAloneAndTheNextIsServed) {
  std::unique_ptr<nn::MLP> model = TrainedModel();
  TapeOptions options;
  options.initial_chunk_bytes = 64 << 10;
  options.byte_limit = 2 << 20;
  Server server(*model, options);
  const Answer small = server.Serve(1);
  ASSERT_TRUE(small.ok);
  const Answer huge = server.Serve(3, /*batch=*/100000);  // ~13 MB of activations
  EXPECT_FALSE(huge.ok);
  const Answer after = server.Serve(1);
  EXPECT_TRUE(after.ok);
  EXPECT_TRUE(after == small);
}

}  // namespace
}  // namespace tapegrad
