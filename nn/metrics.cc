#include "nn/metrics.h"

#include <limits>

#include "core/tensor_ops.h"

namespace tapegrad::nn {

int64_t CountCorrect(const Tensor& logits, const Tensor& labels) {
  // Checked here so that no failing op leaves an error on the caller's tape.
  if (!logits.ok() || !labels.ok() || logits.dim() != 2 || labels.dim() != 1 ||
      labels.size(0) != logits.size(0) || logits.size(1) == 0 ||
      !IsFloating(logits.dtype())) {
    return -1;
  }
  // The argmax runs where the logits are; N positions, not N x C logits, reach
  // the host.
  const Tensor predicted = ArgMax(logits, 1).Cpu();
  const Tensor truth = labels.Cpu();
  if (!predicted.ok() || !truth.ok()) return -1;
  int64_t correct = 0;
  for (int64_t i = 0; i < predicted.size(0); ++i) {
    correct += predicted.at({i}) == truth.at({i});
  }
  return correct;
}

double Accuracy(const Tensor& logits, const Tensor& labels) {
  const int64_t correct = CountCorrect(logits, labels);
  if (correct < 0) return std::numeric_limits<double>::quiet_NaN();
  return static_cast<double>(correct) / static_cast<double>(labels.size(0));
}

}  // namespace tapegrad::nn
