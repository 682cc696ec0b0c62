// Activation modules and Dropout, as in torch.nn: each is the matching op of
// core/tensor_ops.h, held as a Module so that it can sit in a Sequential.
//
//   tapegrad::nn::Sequential net;
//   net.Emplace<tapegrad::nn::Linear>(64, 128, rng);
//   net.Emplace<tapegrad::nn::ReLU>();
//   net.Emplace<tapegrad::nn::Dropout>(0.1, /*seed=*/7);
//
// Dropout zeroes each element with probability p and scales the rest by 1/(1-p)
// in training mode; it is the identity after eval(). Its masks are drawn from
// (seed, call number, element) only, so a run is reproducible for a seed, and
// they cost no host-side randomness on a GPU.
//
// Thread safety: as nn::Module; Dropout's call counter makes its Forward
// single-threaded.
#ifndef TAPEGRAD_NN_ACTIVATION_H_
#define TAPEGRAD_NN_ACTIVATION_H_

#include <cstdint>
#include <string>

#include "core/tensor.h"
#include "core/tensor_ops.h"
#include "nn/module.h"

namespace tapegrad::nn {

// An elementwise function without parameters.
template <Tensor (*kFn)(const Tensor&), const char* kName>
class Activation : public Module {
 public:
  Tensor Forward(const Tensor& x) override { return kFn(x); }
  std::string ToString() const override { return std::string(kName) + "()"; }
};

inline constexpr char kReluName[] = "ReLU";
inline constexpr char kTanhName[] = "Tanh";
inline constexpr char kSigmoidName[] = "Sigmoid";
inline constexpr char kGeluName[] = "GELU";

using ReLU = Activation<&tapegrad::Relu, kReluName>;
using Tanh = Activation<&tapegrad::Tanh, kTanhName>;
using Sigmoid = Activation<&tapegrad::Sigmoid, kSigmoidName>;
using GELU = Activation<&tapegrad::Gelu, kGeluName>;

class Dropout : public Module {
 public:
  explicit Dropout(double p = 0.5, uint64_t seed = 0) : p_(p), seed_(seed) {}
  Tensor Forward(const Tensor& x) override;
  std::string ToString() const override;
  double p() const { return p_; }

 private:
  double p_;
  uint64_t seed_;
  uint64_t calls_ = 0;
};

}  // namespace tapegrad::nn

#endif  // TAPEGRAD_NN_ACTIVATION_H_
