// Optimizer updates: one pass over a parameter, its gradient and its state, in
// place. The loops are `omp simd`: a parameter, its gradient and its state
// never alias, and vectorised sqrt and division are what make Adam cheap. Contract
// (core/internal/registry.h): inputs[0] is the gradient; outputs are the parameter then
// its state tensors; all contiguous, one shape, one dtype. The hyperparameters arrive in
// call.scalars, in the order core/internal/parameter_update.h writes them. Formulas are
// PyTorch's (torch.optim, single-tensor path), but for subnormal values, which
// the updates flush to zero (flush_subnormals.h says why).
#include <cmath>

#include "core/internal/parameter_update.h"
#include "core/internal/registry.h"
#include "kernels/cpu/flush_subnormals.h"
#include "kernels/cpu/loops.h"

namespace tapegrad::cpu {
namespace {

// scalars: lr, momentum, dampening, weight_decay, nesterov (0/1), first (0/1:
// the velocity is uninitialised and becomes the gradient, as in PyTorch's first
// step). outputs: param, and the velocity when momentum != 0.
template <class T>
absl::Status SgdStep(const KernelCall& c) {
  const T lr = T(c.scalars[0]), momentum = T(c.scalars[1]);
  const T dampening = T(c.scalars[2]), decay = T(c.scalars[3]);
  const bool nesterov = c.scalars[4] != 0, first = c.scalars[5] != 0;
  const T* g = c.inputs[0]->data_as<T>();
  T* p = c.outputs[0]->data_as<T>();
  T* v = c.outputs.size() > 1 ? c.outputs[1]->data_as<T>() : nullptr;
  ParallelFor(c.outputs[0]->numel(), kParallelGrain, [&](int64_t begin, int64_t end) {
    const FlushSubnormals flush;
    if (v == nullptr) {
      for (int64_t i = begin; i < end; ++i) p[i] -= lr * (g[i] + decay * p[i]);
      return;
    }
#pragma omp simd
    for (int64_t i = begin; i < end; ++i) {
      const T d = g[i] + decay * p[i];
      const T vel = first ? d : momentum * v[i] + (T(1) - dampening) * d;
      v[i] = vel;
      p[i] -= lr * (nesterov ? d + momentum * vel : vel);
    }
  });
  return absl::OkStatus();
}

// scalars: lr, alpha, eps, weight_decay. outputs: param, square_avg.
template <class T>
absl::Status RmspropStep(const KernelCall& c) {
  const T lr = T(c.scalars[0]), alpha = T(c.scalars[1]);
  const T eps = T(c.scalars[2]), decay = T(c.scalars[3]);
  const T* g = c.inputs[0]->data_as<T>();
  T* p = c.outputs[0]->data_as<T>();
  T* sq = c.outputs[1]->data_as<T>();
  ParallelFor(c.outputs[0]->numel(), kParallelGrain, [&](int64_t begin, int64_t end) {
    const FlushSubnormals flush;
#pragma omp simd
    for (int64_t i = begin; i < end; ++i) {
      const T d = g[i] + decay * p[i];
      const T s = alpha * sq[i] + (T(1) - alpha) * d * d;
      sq[i] = s;
      p[i] -= lr * d / (std::sqrt(s) + eps);
    }
  });
  return absl::OkStatus();
}

// scalars: lr, beta1, beta2, eps, weight_decay, decoupled (0: Adam's L2 added to
// the gradient; 1: AdamW's decay of the parameter), step (1 on the first update).
// outputs: param, exp_avg, exp_avg_sq.
template <class T>
absl::Status AdamStep(const KernelCall& c) {
  const AdamFactors f = FoldAdamScalars(c.scalars);
  const T b1 = T(c.scalars[1]), b2 = T(c.scalars[2]), eps = T(c.scalars[3]);
  const T l2 = T(f.l2), shrink = T(f.shrink);
  const T step_size = T(f.step_size), inv_sqrt_bc2 = T(f.inv_sqrt_bc2);
  const T* g = c.inputs[0]->data_as<T>();
  T* p = c.outputs[0]->data_as<T>();
  T* m = c.outputs[1]->data_as<T>();
  T* v = c.outputs[2]->data_as<T>();
  ParallelFor(c.outputs[0]->numel(), kParallelGrain, [&](int64_t begin, int64_t end) {
    const FlushSubnormals flush;
#pragma omp simd
    for (int64_t i = begin; i < end; ++i) {
      const T pi = p[i] * shrink;
      const T d = g[i] + l2 * p[i];
      const T mi = b1 * m[i] + (T(1) - b1) * d;
      const T vi = b2 * v[i] + (T(1) - b2) * d * d;
      m[i] = mi;
      v[i] = vi;
      p[i] = pi - step_size * mi / (std::sqrt(vi) * inv_sqrt_bc2 + eps);
    }
  });
  return absl::OkStatus();
}

TAPEGRAD_REGISTER_FLOAT_KERNELS(kSgdStep, kCpu, SgdStep);
TAPEGRAD_REGISTER_FLOAT_KERNELS(kRmspropStep, kCpu, RmspropStep);
TAPEGRAD_REGISTER_FLOAT_KERNELS(kAdamStep, kCpu, AdamStep);

}  // namespace
}  // namespace tapegrad::cpu
