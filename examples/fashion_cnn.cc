// A small CNN on Fashion-MNIST (Debian's dataset-fashion-mnist): two blocks of
// conv 3x3, batch norm, ReLU and 2x2 max pooling (32 and 64 channels), then
// linear 3136-128-10; Adam, batch 64. Reaches at least 91% test accuracy in 5
// epochs. Prints one line per epoch: loss, accuracies, time.
//
//   bazel run -c opt //examples:fashion_cnn [-- EPOCHS]
#include <cstdio>
#include <cstdlib>
#include <string>

#include "examples/classify.h"
#include "nn/activation.h"
#include "nn/conv.h"
#include "nn/linear.h"
#include "nn/normalization.h"
#include "nn/sequential.h"

namespace {

using namespace tapegrad;

// The data set's rows are 784 pixels; the convolutions want [N, 1, 28, 28]. A
// module of one's own: register the children, write Forward.
class FashionCnn : public nn::Module {
 public:
  explicit FashionCnn(Random& rng) {
    Conv2dOptions same;
    same.padding = {1, 1};
    for (auto [in, out] : {std::pair{1, 32}, std::pair{32, 64}}) {
      net_.Emplace<nn::Conv2d>(in, out, 3, rng, same);
      net_.Emplace<nn::BatchNorm2d>(out);
      net_.Emplace<nn::ReLU>();
      net_.Emplace<nn::MaxPool2d>(2);
    }
    net_.Emplace<nn::Flatten>();
    net_.Emplace<nn::Linear>(64 * 7 * 7, 128, rng);
    net_.Emplace<nn::ReLU>();
    net_.Emplace<nn::Linear>(128, 10, rng);
    RegisterModule("net", &net_);
  }
  Tensor Forward(const Tensor& x) override { return net_(x.Reshape({-1, 1, 28, 28})); }
  std::string ToString() const override { return "FashionCnn(" + net_.ToString() + ")"; }

 private:
  nn::Sequential net_;
};

}  // namespace

int main(int argc, char** argv) {
  const int epochs = argc > 1 ? std::atoi(argv[1]) : 5;
  Random rng(0);
  FashionCnn model(rng);
  std::printf("%s\n", model.ToString().c_str());
  return examples::RunFashionMnist(model, epochs, 0.91);
}
