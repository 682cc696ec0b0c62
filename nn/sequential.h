// Sequential: modules applied in order, as torch.nn.Sequential; and MLP, the
// common stack of Linear layers with an activation between them.
//
//   tapegrad::Random rng(0);
//   tapegrad::nn::Sequential net;
//   net.Emplace<tapegrad::nn::Linear>(784, 256, rng);
//   net.Emplace<tapegrad::nn::ReLU>();
//   net.Emplace<tapegrad::nn::Linear>(256, 10, rng);
//
//   tapegrad::nn::MLP same(784, {256, 10}, rng);   // the same shape in one line
//
// Children are named by position ("0", "1", ...), so parameters are named
// "0.weight", "2.bias" as in PyTorch.
//
// Thread safety: as nn::Module.
#ifndef TAPEGRAD_NN_SEQUENTIAL_H_
#define TAPEGRAD_NN_SEQUENTIAL_H_

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/types/span.h"
#include "core/dtype.h"
#include "core/random.h"
#include "core/tensor.h"
#include "nn/module.h"

namespace tapegrad::nn {

class Sequential : public Module {
 public:
  Sequential() = default;

  // Appends `module` and returns it.
  Module& Add(std::unique_ptr<Module> module);
  // Constructs a T from `args`, appends it and returns it.
  template <class T, class... Args>
  T& Emplace(Args&&... args) {
    auto module = std::make_unique<T>(std::forward<Args>(args)...);
    T& ref = *module;
    Add(std::move(module));
    return ref;
  }

  Tensor Forward(const Tensor& x) override;
  std::string ToString() const override;

  size_t size() const { return modules_.size(); }
  Module& operator[](size_t i) { return *modules_[i]; }

 private:
  std::vector<std::unique_ptr<Module>> modules_;
};

enum class Nonlinearity { kReLU, kTanh, kSigmoid, kGELU };

// Linear(nin, nouts[0]), act, Linear(nouts[0], nouts[1]), act, ..., Linear(.., nouts
// .back()): the last layer is linear, as in micrograd's MLP.
class MLP : public Sequential {
 public:
  MLP(int64_t nin, absl::Span<const int64_t> nouts, Random& rng,
      Nonlinearity nonlinearity = Nonlinearity::kReLU, DType dtype = DType::kF32);
  MLP(int64_t nin, std::initializer_list<int64_t> nouts, Random& rng,
      Nonlinearity nonlinearity = Nonlinearity::kReLU, DType dtype = DType::kF32)
      : MLP(nin, absl::MakeConstSpan(nouts.begin(), nouts.size()), rng, nonlinearity,
            dtype) {}
};

}  // namespace tapegrad::nn

#endif  // TAPEGRAD_NN_SEQUENTIAL_H_
