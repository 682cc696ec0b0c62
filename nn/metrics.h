// Classification metrics: an argmax where the logits are, read on the host.
//
//   double accuracy = tapegrad::nn::Accuracy(model(x), labels);   // in [0, 1]
//
// Thread safety: reads its arguments only.
#ifndef TAPEGRAD_NN_METRICS_H_
#define TAPEGRAD_NN_METRICS_H_

#include <cstdint>

#include "core/tensor.h"

namespace tapegrad::nn {

// Rows of logits [N, C] whose largest entry (the first, on ties) is at the label
// in i64 labels [N]; -1 when the shapes do not fit (or C is 0) or a tensor is not
// ok(). On a tape, records the argmax there as a constant.
int64_t CountCorrect(const Tensor& logits, const Tensor& labels);
// CountCorrect / N; NaN when the shapes do not fit.
double Accuracy(const Tensor& logits, const Tensor& labels);

}  // namespace tapegrad::nn

#endif  // TAPEGRAD_NN_METRICS_H_
