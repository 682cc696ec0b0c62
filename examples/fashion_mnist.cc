// An MLP 784-256-256-10 on Fashion-MNIST (Debian's dataset-fashion-mnist), Adam,
// batch 64; reaches at least 87% test accuracy in a few epochs. With "cuda" as
// the second argument it trains on the first GPU (a --config=cuda build).
//
//   bazel run -c opt //examples:fashion_mnist [-- EPOCHS [cuda]]
#include <cstdio>
#include <cstdlib>
#include <string>

#include "examples/classify.h"
#include "nn/data_files.h"
#include "nn/optimizer.h"
#include "nn/sequential.h"

int main(int argc, char** argv) {
  using namespace tapegrad;
  const int epochs = argc > 1 ? std::atoi(argv[1]) : 5;
  absl::StatusOr<nn::Dataset> train = nn::LoadFashionMnist(nn::FashionMnistSplit::kTrain);
  absl::StatusOr<nn::Dataset> test = nn::LoadFashionMnist(nn::FashionMnistSplit::kTest);
  if (!train.ok() || !test.ok()) {
    std::fprintf(stderr, "%s\n",
                 (train.ok() ? test.status() : train.status()).ToString().c_str());
    return 1;
  }
  std::printf("fashion-mnist: %lld training and %lld test images of 28x28\n",
              (long long)train->size(), (long long)test->size());

  Random rng(0);
  nn::MLP model(784, {256, 256, 10}, rng);
  if (argc > 2 && std::string(argv[2]) == "cuda") {
    if (absl::Status s = model.To(Device::Cuda(0)); !s.ok()) {
      std::fprintf(stderr, "%s\n", s.ToString().c_str());
      return 1;
    }
    std::printf("training on cuda:0\n");
  }
  nn::Adam adam(model.parameters(), AdamOptions());
  nn::BatchOptions batches;
  batches.batch_size = 64;
  batches.seed = 1;
  const double accuracy =
      examples::RunClassifier(model, adam, *train, *test, batches, epochs);
  if (accuracy < 0) return 1;
  std::printf("test accuracy %.2f%% (target: at least 87%%)\n", 100 * accuracy);
  return accuracy >= 0.87 ? 0 : 2;
}
