#include "nn/activation.h"

#include "absl/strings/str_format.h"
#include "core/random.h"
#include "core/tensor_ops.h"

namespace tapegrad::nn {

Tensor Dropout::Forward(const Tensor& x) {
  if (!is_training()) return x;
  // A fresh mask per call: call k draws from the key hash(seed, k).
  return tapegrad::Dropout(x, p_, CounterHash(seed_, calls_++));
}

std::string Dropout::ToString() const { return absl::StrFormat("Dropout(p=%g)", p_); }

}  // namespace tapegrad::nn
