// The epoch loop shared by the classifier examples: trains, evaluates on the test
// set after every epoch, and prints one progress line per epoch.
//
//   return tapegrad::examples::RunClassifier(model, adam, train, test, options, 10);
//
// Thread safety: one thread.
#ifndef TAPEGRAD_EXAMPLES_CLASSIFY_H_
#define TAPEGRAD_EXAMPLES_CLASSIFY_H_

#include <cstdint>
#include <functional>

#include "nn/dataset.h"
#include "nn/module.h"
#include "nn/optimizer.h"
#include "nn/trainer.h"

namespace tapegrad::examples {

struct ClassifierRun {
  // If given, sets the optimizer's learning rate before each epoch (from 0).
  std::function<double(int64_t)> lr_schedule;
  // The trainer's hooks (data parallelism averages gradients there).
  nn::TrainerOptions trainer;
  // Print the progress lines (one process of a data-parallel job does).
  bool print = true;
};

// Returns the final test accuracy, or -1 after printing an error.
double RunClassifier(nn::Module& model, nn::Optimizer& optimizer,
                     const nn::Dataset& train, const nn::Dataset& test,
                     const nn::BatchOptions& batches, int epochs,
                     const ClassifierRun& run = {});

// Fashion-MNIST end to end for `model` (rows of 784 pixels in, 10 logits out):
// loads the data, trains with Adam for `epochs` (batch 64, or `batches`), prints
// the final accuracy against `target`. Returns the exit code: 0 if the target was
// reached, 2 if not, 1 on an error (printed).
int RunFashionMnist(nn::Module& model, int epochs, double target);
int RunFashionMnist(nn::Module& model, int epochs, double target,
                    const nn::BatchOptions& batches, const ClassifierRun& run);

}  // namespace tapegrad::examples

#endif  // TAPEGRAD_EXAMPLES_CLASSIFY_H_
