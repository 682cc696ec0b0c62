#include "nn/loss.h"

#include "core/tensor_ops.h"

namespace tapegrad::nn {

Tensor MseLoss(const Tensor& pred, const Tensor& target) { return Mse(pred, target); }

Tensor CrossEntropyLoss(const Tensor& logits, const Tensor& labels) {
  return CrossEntropy(logits, labels);
}

Tensor HingeLoss(const Tensor& scores, const Tensor& labels) {
  return Mean(Relu(1.0 - labels * scores));
}

Tensor BceWithLogitsLoss(const Tensor& logits, const Tensor& targets) {
  return BinaryCrossEntropyWithLogits(logits, targets);
}

}  // namespace tapegrad::nn
