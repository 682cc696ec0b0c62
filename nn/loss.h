// Loss functions, each reduced to the mean over the batch as torch.nn's defaults.
//
//   tapegrad::Tensor loss = tapegrad::nn::CrossEntropyLoss(model(x), labels);
//   absl::Status s = loss.Backward();
//
// MSE, cross-entropy and BCE-with-logits are fused core ops (one record, a
// numerically stable kernel); the hinge loss is micrograd's max-margin loss
// composed from core ops. Bad operands give an error tensor naming the op and
// every operand's shape, dtype and device.
//
// Thread safety: as the ops (the tape's thread).
#ifndef TAPEGRAD_NN_LOSS_H_
#define TAPEGRAD_NN_LOSS_H_

#include "core/tensor.h"

namespace tapegrad::nn {

// mean((pred - target)^2); shapes broadcast.
Tensor MseLoss(const Tensor& pred, const Tensor& target);
// mean over rows of -log softmax(logits)[row, labels[row]]; logits [N, C], labels
// i64 [N].
Tensor CrossEntropyLoss(const Tensor& logits, const Tensor& labels);
// micrograd's max-margin loss: mean(relu(1 - labels * scores)), labels in {-1, +1};
// shapes broadcast.
Tensor HingeLoss(const Tensor& scores, const Tensor& labels);
// mean of -[y log sigmoid(x) + (1-y) log(1 - sigmoid(x))], targets y in [0, 1].
Tensor BceWithLogitsLoss(const Tensor& logits, const Tensor& targets);

}  // namespace tapegrad::nn

#endif  // TAPEGRAD_NN_LOSS_H_
