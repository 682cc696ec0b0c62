#include "nn/trainer.h"

#include <algorithm>
#include <chrono>
#include <utility>

#include "core/grad_mode.h"
#include "core/status_macros.h"
#include "nn/loss.h"
#include "nn/metrics.h"

namespace tapegrad::nn {

namespace {

// The device of the model's parameters (the CPU for a model without any).
Device DeviceOf(const Module& model) {
  const std::vector<Tensor> parameters = model.parameters();
  return parameters.empty() ? Device::Cpu() : parameters[0].device();
}

}  // namespace

Trainer::Trainer(Module& model, Optimizer& optimizer, TrainerOptions options)
    : model_(model),
      optimizer_(optimizer),
      options_(std::move(options)),
      device_(DeviceOf(model)),
      mark_(tape_.Mark()) {}

absl::StatusOr<StepStats> Trainer::Step(const Tensor& x_in, const Tensor& labels_in) {
  TapeScope scope(&tape_);
  // Batches are made on the host; a model on a GPU gets them copied there (on the
  // tape: the copies go with the Rewind).
  const Tensor x = x_in.To(device_), labels = labels_in.To(device_);
  const Tensor logits = model_(x);
  const Tensor loss = CrossEntropyLoss(logits, labels);
  TG_RETURN_IF_ERROR(loss.status());
  const StepStats stats{loss.item(), CountCorrect(logits, labels)};
  optimizer_.ZeroGrad();
  absl::Status status = loss.Backward();
  if (status.ok() && options_.after_backward) status = options_.after_backward();
  if (status.ok()) status = optimizer_.Step();
  // Rewind even after an error, so that the next step starts clean.
  const absl::Status rewound = tape_.Rewind(mark_);
  TG_RETURN_IF_ERROR(status);
  TG_RETURN_IF_ERROR(rewound);
  return stats;
}

absl::StatusOr<EpochStats> Trainer::Epoch(BatchIterator& batches) {
  const auto start = std::chrono::steady_clock::now();
  model_.train();
  EpochStats epoch{0, 0, 0, 0};
  int64_t rows = 0, correct = 0;
  for (batches.Reset(); batches.Next();) {
    TG_ASSIGN_OR_RETURN(const StepStats step, Step(batches.x(), batches.y()));
    const int64_t n = batches.y().numel();
    epoch.loss += step.loss * static_cast<double>(n);
    correct += step.correct;
    rows += n;
    ++epoch.steps;
  }
  if (rows > 0) {
    epoch.loss /= static_cast<double>(rows);
    epoch.accuracy = static_cast<double>(correct) / static_cast<double>(rows);
  }
  epoch.seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return epoch;
}

absl::StatusOr<double> Trainer::Evaluate(const Dataset& data, int64_t batch_size) {
  const bool was_training = model_.is_training();
  model_.eval();
  BatchOptions options;
  options.batch_size = std::max<int64_t>(batch_size, 1);
  options.shuffle = false;
  BatchIterator batches(data, options);
  int64_t correct = 0;
  absl::Status status;
  {
    TapeScope scope(&tape_);
    NoGradScope no_grad;
    while (status.ok() && batches.Next()) {
      const Tensor logits = model_(batches.x().To(device_));
      status = logits.status();
      if (status.ok()) correct += CountCorrect(logits, batches.y());
      const absl::Status rewound = tape_.Rewind(mark_);
      if (status.ok()) status = rewound;
    }
  }
  model_.train(was_training);
  TG_RETURN_IF_ERROR(status);
  return data.size() == 0
             ? 0.0
             : static_cast<double>(correct) / static_cast<double>(data.size());
}

}  // namespace tapegrad::nn
