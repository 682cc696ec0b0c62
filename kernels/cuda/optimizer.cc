// Optimizer updates on CUDA: one pass over a parameter, its gradient and its
// state, in place. Contract and formulas: kernels/cpu/optimizer.cc (PyTorch's
// single-tensor path); the hyperparameters arrive in call.scalars in the order
// core/internal/parameter_update.h writes them. Adam's constants are folded in double on
// the host by core's FoldAdamScalars, as on the CPU.
#include <cstring>

#include "absl/strings/str_cat.h"
#include "core/internal/parameter_update.h"
#include "core/internal/registry.h"
#include "kernels/cuda/compiler.h"
#include "kernels/cuda/sources.h"

namespace tapegrad::cuda {
namespace {

constexpr int kMaxScalars = 8;

struct StepArgs {
  int64_t n;
  const void* g;
  void* state[3];  // param, then its state tensors
  double s[kMaxScalars];
};

constexpr char kArgs[] = R"(
struct StepArgs {
  i64 n;
  const void* g;
  void* state[3];
  double s[8];
};
)";

// s: lr, momentum, dampening, weight_decay, nesterov, first.
constexpr char kSgd[] = R"(
extern "C" __global__ void tg_sgd_step(StepArgs a) {
  const T lr = (T)a.s[0], momentum = (T)a.s[1], dampening = (T)a.s[2], decay = (T)a.s[3];
  const bool nesterov = a.s[4] != 0, first = a.s[5] != 0;
  const T* g = (const T*)a.g;
  T* p = (T*)a.state[0];
  T* v = (T*)a.state[1];
  TG_FOR(i, a.n) {
    const T d = g[i] + decay * p[i];
    if (v == 0) { p[i] -= lr * d; continue; }
    const T vel = first ? d : momentum * v[i] + (T(1) - dampening) * d;
    v[i] = vel;
    p[i] -= lr * (nesterov ? d + momentum * vel : vel);
  }
}
)";

// s: lr, alpha, eps, weight_decay.
constexpr char kRmsprop[] = R"(
extern "C" __global__ void tg_rmsprop_step(StepArgs a) {
  const T lr = (T)a.s[0], alpha = (T)a.s[1], eps = (T)a.s[2], decay = (T)a.s[3];
  const T* g = (const T*)a.g;
  T* p = (T*)a.state[0];
  T* sq = (T*)a.state[1];
  TG_FOR(i, a.n) {
    const T d = g[i] + decay * p[i];
    const T s = alpha * sq[i] + (T(1) - alpha) * d * d;
    sq[i] = s;
    p[i] -= lr * d / (sqrt(s) + eps);
  }
}
)";

// s (after the host's folding): beta1, beta2, eps, l2, shrink, step_size,
// inv_sqrt_bc2.
constexpr char kAdam[] = R"(
extern "C" __global__ void tg_adam_step(StepArgs a) {
  const T b1 = (T)a.s[0], b2 = (T)a.s[1], eps = (T)a.s[2], l2 = (T)a.s[3];
  const T shrink = (T)a.s[4], step_size = (T)a.s[5], inv_sqrt_bc2 = (T)a.s[6];
  const T* g = (const T*)a.g;
  T* p = (T*)a.state[0];
  T* m = (T*)a.state[1];
  T* v = (T*)a.state[2];
  TG_FOR(i, a.n) {
    const T pi = p[i] * shrink;
    const T d = g[i] + l2 * p[i];
    const T mi = b1 * m[i] + (T(1) - b1) * d;
    const T vi = b2 * v[i] + (T(1) - b2) * d * d;
    m[i] = mi;
    v[i] = vi;
    p[i] = pi - step_size * mi / (sqrt(vi) * inv_sqrt_bc2 + eps);
  }
}
)";

StepArgs Args(const KernelCall& c) {
  StepArgs args;
  std::memset(&args, 0, sizeof(args));
  args.n = c.outputs[0]->numel();
  args.g = c.inputs[0]->data();
  for (size_t k = 0; k < c.outputs.size() && k < 3; ++k)
    args.state[k] = c.outputs[k]->data();
  for (size_t k = 0; k < c.scalars.size() && k < kMaxScalars; ++k)
    args.s[k] = c.scalars[k];
  return args;
}

absl::Status Run(const KernelCall& c, StepArgs& args) {
  const TensorImpl& p = *c.outputs[0];
  if (args.n == 0) return absl::OkStatus();
  return Launch(c.op, p.dtype, 0, p.device, GridFor(args.n, p.device), &args);
}

absl::Status Step(const KernelCall& c) {
  StepArgs args = Args(c);
  return Run(c, args);
}

absl::Status AdamStep(const KernelCall& c) {
  StepArgs args = Args(c);
  const AdamFactors f = FoldAdamScalars(c.scalars);
  const double folded[] = {c.scalars[1], c.scalars[2], c.scalars[3],  f.l2,
                           f.shrink,     f.step_size,  f.inv_sqrt_bc2};
  std::memcpy(args.s, folded, sizeof(folded));
  return Run(c, args);
}

TAPEGRAD_REGISTER_KERNEL(kSgdStep, kF32, kCuda, Step);
TAPEGRAD_REGISTER_KERNEL(kSgdStep, kF64, kCuda, Step);
TAPEGRAD_REGISTER_KERNEL(kRmspropStep, kF32, kCuda, Step);
TAPEGRAD_REGISTER_KERNEL(kRmspropStep, kF64, kCuda, Step);
TAPEGRAD_REGISTER_KERNEL(kAdamStep, kF32, kCuda, AdamStep);
TAPEGRAD_REGISTER_KERNEL(kAdamStep, kF64, kCuda, AdamStep);

}  // namespace

void AppendOptimizerSources(std::vector<KernelSource>* out) {
  for (DType dtype : {DType::kF32, DType::kF64}) {
    out->push_back(
        MakeSource(OpKind::kSgdStep, dtype, absl::StrCat(kArgs, kSgd), {"tg_sgd_step"}));
    out->push_back(MakeSource(OpKind::kRmspropStep, dtype, absl::StrCat(kArgs, kRmsprop),
                              {"tg_rmsprop_step"}));
    out->push_back(MakeSource(OpKind::kAdamStep, dtype, absl::StrCat(kArgs, kAdam),
                              {"tg_adam_step"}));
  }
}

}  // namespace tapegrad::cuda
