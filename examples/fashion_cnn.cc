// A small CNN on Fashion-MNIST (Debian's dataset-fashion-mnist): two blocks of
// conv 3x3, batch norm, ReLU and 2x2 max pooling (32 and 64 channels), then
// linear 3136-128-10 (examples/fashion_cnn_model.h); Adam, batch 64. Reaches at
// least 91% test accuracy in 5 epochs. Prints one line per epoch: loss,
// accuracies, time.
//
//   bazel run -c opt //examples:fashion_cnn [-- EPOCHS]
#include <cstdio>
#include <cstdlib>

#include "examples/classify.h"
#include "examples/fashion_cnn_model.h"

int main(int argc, char** argv) {
  const int epochs = argc > 1 ? std::atoi(argv[1]) : 5;
  tapegrad::Random rng(0);
  tapegrad::examples::FashionCnn model(rng);
  std::printf("%s\n", model.ToString().c_str());
  return tapegrad::examples::RunFashionMnist(model, epochs, 0.91);
}
