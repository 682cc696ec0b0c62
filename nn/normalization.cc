#include "nn/normalization.h"

#include "absl/status/status.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "core/tensor_ops.h"

namespace tapegrad::nn {

BatchNorm2d::BatchNorm2d(int64_t num_features, double eps, double momentum, bool affine,
                         bool track_running_stats, DType dtype)
    : features_(num_features), eps_(eps), momentum_(momentum) {
  if (affine) {
    weight_ = Tensor::Ones({num_features}, dtype);
    bias_ = Tensor::Zeros({num_features}, dtype);
    RegisterParameter("weight", &weight_);
    RegisterParameter("bias", &bias_);
  }
  if (track_running_stats) {
    running_mean_ = Tensor::Zeros({num_features}, dtype);
    running_var_ = Tensor::Ones({num_features}, dtype);
    RegisterBuffer("running_mean", &running_mean_);
    RegisterBuffer("running_var", &running_var_);
  }
}

Tensor BatchNorm2d::Forward(const Tensor& x) { return Normalize(x, /*relu=*/false); }

Tensor BatchNorm2d::ForwardRelu(const Tensor& x) { return Normalize(x, /*relu=*/true); }

Tensor BatchNorm2d::Normalize(const Tensor& x, bool relu) {
  if (x.ok() && x.dim() != 4) {
    return Tensor::Error(absl::InvalidArgumentError(absl::StrFormat(
        "BatchNorm2d: expected an input [N, C, H, W], got one of rank %d", x.dim())));
  }
  // Without running statistics, evaluation normalizes by the batch's, as PyTorch.
  const bool batch_stats = is_training() || !running_mean_.ok();
  return (relu ? BatchNormRelu : BatchNorm)(x, running_mean_, running_var_, weight_,
                                            bias_, batch_stats, momentum_, eps_);
}

std::string BatchNorm2d::ToString() const {
  return absl::StrFormat(
      "BatchNorm2d(%d, eps=%g, momentum=%g, affine=%s, track_running_stats=%s)",
      features_, eps_, momentum_, weight_.ok() ? "True" : "False",
      running_mean_.ok() ? "True" : "False");
}

LayerNorm::LayerNorm(std::vector<int64_t> normalized_shape, double eps,
                     bool elementwise_affine, DType dtype)
    : shape_(std::move(normalized_shape)), eps_(eps) {
  if (elementwise_affine) {
    weight_ = Tensor::Ones(shape_, dtype);
    bias_ = Tensor::Zeros(shape_, dtype);
    RegisterParameter("weight", &weight_);
    RegisterParameter("bias", &bias_);
  }
}

Tensor LayerNorm::Forward(const Tensor& x) {
  return tapegrad::LayerNorm(x, static_cast<int>(shape_.size()), weight_, bias_, eps_);
}

std::string LayerNorm::ToString() const {
  return absl::StrFormat("LayerNorm((%s,), eps=%g, elementwise_affine=%s)",
                         absl::StrJoin(shape_, ", "), eps_,
                         weight_.ok() ? "True" : "False");
}

Embedding::Embedding(int64_t num_embeddings, int64_t embedding_dim, Random& rng,
                     DType dtype)
    : weight_(Tensor::Randn({num_embeddings, embedding_dim}, rng, dtype)) {
  RegisterParameter("weight", &weight_);
}

Tensor Embedding::Forward(const Tensor& indices) {
  return tapegrad::Embedding(weight_, indices);
}

std::string Embedding::ToString() const {
  return absl::StrFormat("Embedding(%d, %d)", weight_.size(0), weight_.size(1));
}

}  // namespace tapegrad::nn
