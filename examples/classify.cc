#include "examples/classify.h"

#include <cstdio>

#include "nn/data_files.h"
#include "nn/trainer.h"

namespace tapegrad::examples {

double RunClassifier(nn::Module& model, nn::Optimizer& optimizer,
                     const nn::Dataset& train, const nn::Dataset& test,
                     const nn::BatchOptions& batches, int epochs,
                     const ClassifierRun& run) {
  nn::Trainer trainer(model, optimizer, run.trainer);
  nn::BatchIterator iterator(train, batches);
  double elapsed = 0, accuracy = 0;
  for (int epoch = 1; epoch <= epochs; ++epoch) {
    if (run.lr_schedule) optimizer.set_lr(run.lr_schedule(epoch - 1));
    absl::StatusOr<nn::EpochStats> stats = trainer.Epoch(iterator);
    if (!stats.ok()) {
      std::fprintf(stderr, "epoch %d failed: %s\n", epoch,
                   stats.status().ToString().c_str());
      return -1;
    }
    absl::StatusOr<double> test_accuracy = trainer.Evaluate(test);
    if (!test_accuracy.ok()) {
      std::fprintf(stderr, "evaluation failed: %s\n",
                   test_accuracy.status().ToString().c_str());
      return -1;
    }
    accuracy = *test_accuracy;
    elapsed += stats->seconds;
    if (!run.print) continue;
    std::printf(
        "epoch %2d  loss %.4f  train accuracy %5.2f%%  test accuracy %5.2f%%  "
        "%.3f s/epoch (%.1f us/step)  elapsed %.1f s\n",
        epoch, stats->loss, 100 * stats->accuracy, 100 * accuracy, stats->seconds,
        1e6 * stats->seconds / double(stats->steps), elapsed);
    std::fflush(stdout);
  }
  return accuracy;
}

int RunFashionMnist(nn::Module& model, int epochs, double target) {
  nn::BatchOptions batches;
  batches.batch_size = 64;
  batches.seed = 1;
  return RunFashionMnist(model, epochs, target, batches, ClassifierRun());
}

int RunFashionMnist(nn::Module& model, int epochs, double target,
                    const nn::BatchOptions& batches, const ClassifierRun& run) {
  absl::StatusOr<nn::Dataset> train = nn::LoadFashionMnist(nn::FashionMnistSplit::kTrain);
  absl::StatusOr<nn::Dataset> test = nn::LoadFashionMnist(nn::FashionMnistSplit::kTest);
  if (!train.ok() || !test.ok()) {
    std::fprintf(stderr, "%s\n",
                 (train.ok() ? test.status() : train.status()).ToString().c_str());
    return 1;
  }
  if (run.print) {
    std::printf("fashion-mnist: %lld training and %lld test images of 28x28\n",
                (long long)train->size(), (long long)test->size());
  }
  nn::Adam adam(model.parameters(), AdamOptions());
  const double accuracy = RunClassifier(model, adam, *train, *test, batches, epochs, run);
  if (accuracy < 0) return 1;
  if (run.print) {
    std::printf("test accuracy %.2f%% (target: at least %.0f%%)\n", 100 * accuracy,
                100 * target);
  }
  return accuracy >= target ? 0 : 2;
}

}  // namespace tapegrad::examples
