#include "examples/fashion_cnn_model.h"

#include <utility>

#include "nn/activation.h"
#include "nn/conv.h"
#include "nn/linear.h"
#include "nn/normalization.h"

namespace tapegrad::examples {

FashionCnn::FashionCnn(Random& rng, DType dtype) {
  Conv2dOptions same;
  same.padding = {1, 1};
  for (auto [in, out] : {std::pair{1, 32}, std::pair{32, 64}}) {
    net_.Emplace<nn::Conv2d>(in, out, 3, rng, same, /*bias=*/true, dtype);
    net_.Emplace<nn::BatchNorm2d>(out, 1e-5, 0.1, true, true, dtype);
    net_.Emplace<nn::ReLU>();
    net_.Emplace<nn::MaxPool2d>(2);
  }
  net_.Emplace<nn::Flatten>();
  net_.Emplace<nn::Linear>(64 * 7 * 7, 128, rng, /*bias=*/true, dtype);
  net_.Emplace<nn::ReLU>();
  net_.Emplace<nn::Linear>(128, 10, rng, /*bias=*/true, dtype);
  RegisterModule("net", &net_);
}

// The data set's rows are 784 pixels; the convolutions want [N, 1, 28, 28].
Tensor FashionCnn::Forward(const Tensor& x) { return net_(x.Reshape({-1, 1, 28, 28})); }

std::string FashionCnn::ToString() const { return "FashionCnn(" + net_.ToString() + ")"; }

}  // namespace tapegrad::examples
