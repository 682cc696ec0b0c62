// FashionCnn: the small CNN of examples:fashion_cnn and bench:train_benchmark.
// Two blocks of conv 3x3 (padding 1), batch norm, ReLU and 2x2 max pooling (32
// and 64 channels), then linear 3136-128, ReLU, linear 128-10. Takes rows of 784
// pixels (or [N, 1, 28, 28]) and returns 10 logits per row.
//
//   tapegrad::Random rng(0);
//   tapegrad::examples::FashionCnn model(rng);
//   tapegrad::Tensor logits = model(images);  // [N, 10]
//
// Thread safety: as nn::Module (one thread trains it at a time).
#ifndef TAPEGRAD_EXAMPLES_FASHION_CNN_MODEL_H_
#define TAPEGRAD_EXAMPLES_FASHION_CNN_MODEL_H_

#include <string>

#include "core/random.h"
#include "core/tensor.h"
#include "nn/module.h"
#include "nn/sequential.h"

namespace tapegrad::examples {

class FashionCnn : public nn::Module {
 public:
  explicit FashionCnn(Random& rng, DType dtype = DType::kF32);
  Tensor Forward(const Tensor& x) override;
  std::string ToString() const override;

 private:
  nn::Sequential net_;
};

}  // namespace tapegrad::examples

#endif  // TAPEGRAD_EXAMPLES_FASHION_CNN_MODEL_H_
