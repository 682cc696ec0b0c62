#include "nn/sequential.h"

#include <typeinfo>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "nn/activation.h"
#include "nn/linear.h"
#include "nn/normalization.h"

namespace tapegrad::nn {

Module& Sequential::Add(std::unique_ptr<Module> module) {
  RegisterModule(absl::StrCat(modules_.size()), module.get());
  modules_.push_back(std::move(module));
  if (!is_training()) modules_.back()->eval();
  return *modules_.back();
}

Tensor Sequential::Forward(const Tensor& x) {
  Tensor y = x;
  for (size_t i = 0; i < modules_.size(); ++i) {
    // A BatchNorm2d and the ReLU after it run as one op (BatchNormRelu): the same
    // numbers, and two passes fewer over the activations each way.
    if (i + 1 < modules_.size() && typeid(*modules_[i]) == typeid(BatchNorm2d) &&
        typeid(*modules_[i + 1]) == typeid(ReLU)) {
      y = static_cast<BatchNorm2d&>(*modules_[i]).ForwardRelu(y);
      ++i;
      continue;
    }
    y = modules_[i]->Forward(y);
  }
  return y;
}

std::string Sequential::ToString() const {
  std::string out = "Sequential(\n";
  for (size_t i = 0; i < modules_.size(); ++i) {
    // Nested containers indent their own lines one level further.
    absl::StrAppend(&out, "  (", i,
                    "): ", absl::StrReplaceAll(modules_[i]->ToString(), {{"\n", "\n  "}}),
                    "\n");
  }
  return out + ")";
}

namespace {

std::unique_ptr<Module> MakeNonlinearity(Nonlinearity n) {
  switch (n) {
    case Nonlinearity::kReLU:
      return std::make_unique<ReLU>();
    case Nonlinearity::kTanh:
      return std::make_unique<Tanh>();
    case Nonlinearity::kSigmoid:
      return std::make_unique<Sigmoid>();
    case Nonlinearity::kGELU:
      return std::make_unique<GELU>();
  }
  return nullptr;
}

}  // namespace

MLP::MLP(int64_t nin, absl::Span<const int64_t> nouts, Random& rng,
         Nonlinearity nonlinearity, DType dtype) {
  int64_t in = nin;
  for (size_t i = 0; i < nouts.size(); ++i) {
    Emplace<Linear>(in, nouts[i], rng, /*bias=*/true, dtype);
    if (i + 1 < nouts.size()) Add(MakeNonlinearity(nonlinearity));
    in = nouts[i];
  }
}

}  // namespace tapegrad::nn
