#include "nn/metrics.h"

#include <limits>

namespace tapegrad::nn {

int64_t CountCorrect(const Tensor& logits, const Tensor& labels) {
  if (!logits.ok() || !labels.ok() || logits.dim() != 2 || labels.dim() != 1 ||
      labels.size(0) != logits.size(0)) {
    return -1;
  }
  if (!logits.device().is_cpu() || !labels.device().is_cpu()) {
    // One copy to the host instead of a device read per element.
    return CountCorrect(logits.Cpu(), labels.Cpu());
  }
  int64_t correct = 0;
  for (int64_t i = 0; i < logits.size(0); ++i) {
    int64_t best = 0;
    double best_value = logits.at({i, 0});
    for (int64_t j = 1; j < logits.size(1); ++j) {
      const double value = logits.at({i, j});
      if (value > best_value) best = j, best_value = value;
    }
    correct += best == static_cast<int64_t>(labels.at({i}));
  }
  return correct;
}

double Accuracy(const Tensor& logits, const Tensor& labels) {
  const int64_t correct = CountCorrect(logits, labels);
  if (correct < 0) return std::numeric_limits<double>::quiet_NaN();
  return static_cast<double>(correct) / static_cast<double>(labels.size(0));
}

}  // namespace tapegrad::nn
