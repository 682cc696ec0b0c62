#include "examples/classify.h"

#include <cstdio>

#include "nn/trainer.h"

namespace tapegrad::examples {

double RunClassifier(nn::Module& model, nn::Optimizer& optimizer,
                     const nn::Dataset& train, const nn::Dataset& test,
                     const nn::BatchOptions& batches, int epochs,
                     const std::function<double(int64_t)>& lr_schedule) {
  nn::Trainer trainer(model, optimizer);
  nn::BatchIterator iterator(train, batches);
  double elapsed = 0, accuracy = 0;
  for (int epoch = 1; epoch <= epochs; ++epoch) {
    if (lr_schedule) optimizer.set_lr(lr_schedule(epoch - 1));
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
    std::printf(
        "epoch %2d  loss %.4f  train accuracy %5.2f%%  test accuracy %5.2f%%  "
        "%.3f s/epoch (%.1f us/step)  elapsed %.1f s\n",
        epoch, stats->loss, 100 * stats->accuracy, 100 * accuracy, stats->seconds,
        1e6 * stats->seconds / double(stats->steps), elapsed);
    std::fflush(stdout);
  }
  return accuracy;
}

}  // namespace tapegrad::examples
