// Linear: y = x @ weight + bias, as torch.nn.Linear.
//
//   tapegrad::Random rng(0);
//   tapegrad::nn::Linear fc(784, 256, rng);        // weight [784, 256], bias [256]
//   tapegrad::Tensor y = fc(x);                    // x [batch, 784] -> [batch, 256]
//
// The weight is stored [in, out], the transpose of PyTorch's [out, in], so that
// the forward pass is one GEMM on contiguous data and the weight's gradient
// x^T @ dy lands in its layout with no transposed copy. Both are initialised as
// PyTorch does, U(-1/sqrt(in), 1/sqrt(in)); reinitialise with nn/init.h. x may
// have any leading dimensions ([..., in]).
//
// Thread safety: as nn::Module.
#ifndef TAPEGRAD_NN_LINEAR_H_
#define TAPEGRAD_NN_LINEAR_H_

#include <cstdint>
#include <string>

#include "core/dtype.h"
#include "core/random.h"
#include "core/tensor.h"
#include "nn/module.h"

namespace tapegrad::nn {

class Linear : public Module {
 public:
  Linear(int64_t in_features, int64_t out_features, Random& rng, bool bias = true,
         DType dtype = DType::kF32);

  Tensor Forward(const Tensor& x) override;
  std::string ToString() const override;

  Tensor& weight() { return weight_; }  // [in, out]
  Tensor& bias() { return bias_; }      // [out], or empty without bias
  int64_t in_features() const { return weight_.size(0); }
  int64_t out_features() const { return weight_.size(1); }

 private:
  Tensor weight_;
  Tensor bias_;
};

}  // namespace tapegrad::nn

#endif  // TAPEGRAD_NN_LINEAR_H_
