#include "nn/linear.h"

#include <cmath>

#include "absl/strings/str_format.h"
#include "core/tensor_ops.h"
#include "nn/init.h"

namespace tapegrad::nn {

Linear::Linear(int64_t in_features, int64_t out_features, Random& rng, bool bias,
               DType dtype)
    : weight_(Tensor::Zeros({in_features, out_features}, dtype)) {
  const double bound = 1.0 / std::sqrt(static_cast<double>(in_features));
  // Cannot fail: a fresh heap tensor of rank 2.
  (void)Uniform(weight_, rng, -bound, bound);
  RegisterParameter("weight", &weight_);
  if (bias) {
    bias_ = Tensor::Zeros({out_features}, dtype);
    (void)Uniform(bias_, rng, -bound, bound);
    RegisterParameter("bias", &bias_);
  }
}

Tensor Linear::Forward(const Tensor& x) {
  Tensor y = MatMul(x, weight_);
  return bias_.ok() ? y + bias_ : y;
}

std::string Linear::ToString() const {
  return absl::StrFormat("Linear(in_features=%d, out_features=%d, bias=%s)",
                         weight_.size(0), weight_.size(1), bias_.ok() ? "True" : "False");
}

}  // namespace tapegrad::nn
