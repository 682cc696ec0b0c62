// Normalization modules and the embedding table, as torch.nn's BatchNorm2d,
// LayerNorm and Embedding (the ops are core/tensor_ops.h's).
//
//   tapegrad::nn::BatchNorm2d bn(32);   // weight 1, bias 0, running mean 0, var 1
//   tapegrad::Tensor y = bn(x);         // x [N, 32, H, W]; updates the running stats
//   bn.eval();                          // now normalizes by the running stats
//   tapegrad::nn::LayerNorm ln({128});  // over the last axis
//   tapegrad::nn::Embedding emb(1000, 64, rng);   // weight ~ N(0, 1)
//   tapegrad::Tensor e = emb(tokens);        // i64 [B, T] -> [B, T, 64]
//
// BatchNorm2d's running statistics are buffers (named_buffers(): "running_mean",
// "running_var"); PyTorch's num_batches_tracked is not kept (it only matters with
// momentum=None, which is not offered).
//
// Thread safety: as nn::Module; BatchNorm2d's Forward in training mode writes its
// running statistics, so it needs exclusive access then.
#ifndef TAPEGRAD_NN_NORMALIZATION_H_
#define TAPEGRAD_NN_NORMALIZATION_H_

#include <cstdint>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "core/random.h"
#include "core/tensor.h"
#include "nn/module.h"

namespace tapegrad::nn {

class BatchNorm2d : public Module {
 public:
  explicit BatchNorm2d(int64_t num_features, double eps = 1e-5, double momentum = 0.1,
                       bool affine = true, bool track_running_stats = true,
                       DType dtype = DType::kF32);
  Tensor Forward(const Tensor& x) override;
  // Relu(Forward(x)), the ReLU inside the normalization's kernel where it has one
  // (BatchNormRelu); Sequential calls it for a BatchNorm2d followed by a ReLU.
  Tensor ForwardRelu(const Tensor& x);
  std::string ToString() const override;

  Tensor& weight() { return weight_; }  // [C], or empty without affine
  Tensor& bias() { return bias_; }
  Tensor& running_mean() { return running_mean_; }  // [C], or empty if not tracked
  Tensor& running_var() { return running_var_; }

 private:
  Tensor Normalize(const Tensor& x, bool relu);

  int64_t features_;
  double eps_, momentum_;
  Tensor weight_, bias_, running_mean_, running_var_;
};

class LayerNorm : public Module {
 public:
  // Normalizes over the last normalized_shape.size() axes, which must have that
  // shape.
  explicit LayerNorm(std::vector<int64_t> normalized_shape, double eps = 1e-5,
                     bool elementwise_affine = true, DType dtype = DType::kF32);
  Tensor Forward(const Tensor& x) override;
  std::string ToString() const override;

  Tensor& weight() { return weight_; }  // normalized_shape, or empty
  Tensor& bias() { return bias_; }

 private:
  std::vector<int64_t> shape_;
  double eps_;
  Tensor weight_, bias_;
};

class Embedding : public Module {
 public:
  Embedding(int64_t num_embeddings, int64_t embedding_dim, Random& rng,
            DType dtype = DType::kF32);
  // indices: i64 of any shape, values in [0, num_embeddings).
  Tensor Forward(const Tensor& indices) override;
  std::string ToString() const override;

  Tensor& weight() { return weight_; }  // [num_embeddings, embedding_dim]

 private:
  Tensor weight_;
};

}  // namespace tapegrad::nn

#endif  // TAPEGRAD_NN_NORMALIZATION_H_
