// An MLP 784-256-256-10 on Fashion-MNIST (Debian's dataset-fashion-mnist), Adam,
// batch 64; reaches at least 87% test accuracy in a few epochs. With "cuda" as
// the second argument it trains on the first GPU (a --config=cuda build); with a
// third, it saves the trained model there (a safetensors checkpoint, which
// //examples/server serves).
//
//   bazel run -c opt //examples:fashion_mnist [-- EPOCHS [cpu|cuda] [CHECKPOINT]]
#include <cstdio>
#include <cstdlib>
#include <string>

#include "examples/classify.h"
#include "nn/checkpoint.h"
#include "nn/sequential.h"

int main(int argc, char** argv) {
  using namespace tapegrad;
  const int epochs = argc > 1 ? std::atoi(argv[1]) : 5;
  Random rng(0);
  nn::MLP model(784, {256, 256, 10}, rng);
  if (argc > 2 && std::string(argv[2]) == "cuda") {
    if (absl::Status s = model.To(Device::Cuda(0)); !s.ok()) {
      std::fprintf(stderr, "%s\n", s.ToString().c_str());
      return 1;
    }
    std::printf("training on cuda:0\n");
  }
  const int code = examples::RunFashionMnist(model, epochs, 0.87);
  if (code != 1 && argc > 3) {
    if (absl::Status s = nn::SaveCheckpoint(argv[3], model); !s.ok()) {
      std::fprintf(stderr, "%s\n", s.ToString().c_str());
      return 1;
    }
    std::printf("saved the model to %s\n", argv[3]);
  }
  return code;
}
