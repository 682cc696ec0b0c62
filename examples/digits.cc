// An MLP 64-128-10 on scikit-learn's 8x8 digits (Debian's python3-sklearn), with
// a fixed, seeded 80/20 train/test split, Adam with a cosine learning-rate
// schedule; reaches at least 97% test accuracy.
//
//   bazel run -c opt //examples:digits
#include <cstdio>

#include "examples/classify.h"
#include "nn/data_files.h"
#include "nn/lr_schedule.h"
#include "nn/optimizer.h"
#include "nn/sequential.h"

int main() {
  using namespace tapegrad;
  absl::StatusOr<nn::Dataset> digits = nn::LoadDigits();
  if (!digits.ok()) {
    std::fprintf(stderr, "%s\n", digits.status().ToString().c_str());
    return 1;
  }
  absl::StatusOr<std::pair<nn::Dataset, nn::Dataset>> split = digits->Split(0.8, 42);
  if (!split.ok()) return 1;
  const auto& [train, test] = *split;
  std::printf("digits: %lld training and %lld test images of 8x8\n",
              (long long)train.size(), (long long)test.size());

  Random rng(0);
  nn::MLP model(64, {128, 10}, rng);
  AdamOptions adam_options;
  adam_options.lr = 3e-3;
  nn::Adam adam(model.parameters(), adam_options);
  nn::BatchOptions batches;
  batches.batch_size = 32;
  batches.seed = 1;
  constexpr int kEpochs = 40;
  examples::ClassifierRun run;
  run.lr_schedule = nn::CosineLr(adam_options.lr, kEpochs);
  const double accuracy =
      examples::RunClassifier(model, adam, train, test, batches, kEpochs, run);
  if (accuracy < 0) return 1;
  std::printf("test accuracy %.2f%% (target: at least 97%%)\n", 100 * accuracy);
  return accuracy >= 0.97 ? 0 : 2;
}
