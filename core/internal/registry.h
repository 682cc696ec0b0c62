// The kernel registry: (OpKind, DType, DeviceType) -> one kernel function.
//
//   // In a kernels/<device>/ file, at namespace scope:
//   TAPEGRAD_REGISTER_KERNEL(kAdd, kF32, kCpu, AddKernel<float>);
//   TAPEGRAD_REGISTER_FLOAT_KERNELS(kMul, kCpu, MulKernel);   // f32 and f64
//
//   // In core, to run it:
//   TG_ASSIGN_OR_RETURN(KernelFn fn, KernelRegistry::Global().Find(
//       OpKind::kAdd, DType::kF32, DeviceType::kCpu));
//   TG_RETURN_IF_ERROR(fn(KernelCall{OpKind::kAdd, inputs, outputs, attrs}));
//
// Lookup indexes a flat array; it never hashes or locks. A missing kernel is an
// Unimplemented status naming the op, dtype and device and listing where the op
// does exist. Registering a key twice is an AlreadyExists status that names both
// places; registrations made by the macro at static-initialisation time keep their
// first such error in `registration_status()`, which the tests check.
//
// The kernel contract for each OpKind is written next to its kernels (kernels/cpu)
// and summarised here:
//  - Every kernel writes outputs[0..] and reads inputs[0..]; the key's dtype is
//    outputs[0]'s, but for kArgMax and kArgMin, whose output is always i64: theirs
//    is inputs[0]'s. Operands of elementwise kernels already have one shape (the
//    caller expands broadcast operands with stride-0 views); any strides are
//    allowed, and an output may alias an input with the same layout.
//  - Reductions write a keepdim-shaped contiguous output; attrs.axes is the bit set
//    of reduced axes, attrs.scalar0 scales a sum (1 for sum, 1/n for mean). The
//    index reductions write the row-major position, within the reduced axes, of
//    the first largest (kArgMax) or smallest (kArgMin) element; NaN is both.
//  - kIndexAdd and kCopy into a view accumulate/write in place into outputs[0].
//  - kDropoutMask fills outputs[0] with 0 or 1/(1-p) (p = attrs.scalar0), keeping
//    element i when a hash of (attrs.seed, i) says so: any device draws the same mask.
//  - Windows (kConv2d, the pools and their gradients) read attrs.window; every
//    operand is contiguous NCHW (weights [O, C / groups, KH, KW]). kConv2d is
//    (x, w) -> y, or (x, w, bias) -> y with bias [O] added to every filter's
//    plane; kConv2dInputGrad (gy, w) -> gx and kConv2dWeightGrad (gy, x) -> gw,
//    or -> (gw, gbias) with gbias [O] the sum of gy over N, H and W, overwrite
//    their outputs, whose shapes say the sizes. kMaxPool2d writes y and, as outputs[1],
//    the i64 position (h * W + w) of each window's maximum in its plane, the first one in
//    a tie, a NaN winning; kMaxPool2dGrad (gy, positions) -> gx and kAvgPool2dGrad gy ->
//    gx overwrite gx.
//  - kBatchNorm (x, weight, bias) -> (y, mean, var) normalizes a contiguous
//    [N, C, ...] over every axis but 1 with the batch's statistics: mean and var
//    (biased) are [C]; y = (x - mean) / sqrt(var + eps) * weight + bias, eps =
//    attrs.scalar0; with attrs.scalar1 != 0, y = relu(that) (BatchNormRelu).
//    kBatchNormGrad (gy, x, weight, mean, var) -> (gx, gweight, gbias) overwrites
//    its outputs; with attrs.scalar1 != 0 it takes the forward's bias as inputs[5]
//    and propagates gy through the ReLU first (0 where the ReLU's input, recomputed
//    from x and the statistics exactly as the forward computed it, is <= 0).
//  - Optimizer steps (kSgdStep, kRmspropStep, kAdamStep) read the gradient as
//    inputs[0] and update outputs[0] (the parameter) and their state tensors in
//    place; all are contiguous and of one shape; call.scalars holds the
//    hyperparameters (core/internal/parameter_update.h lists them).
//
// Thread safety: lookups are lock-free and may run on any thread at any time.
// Registration is meant for static initialisation; a later Register is safe
// against concurrent lookups of other keys.
#ifndef TAPEGRAD_CORE_INTERNAL_REGISTRY_H_
#define TAPEGRAD_CORE_INTERNAL_REGISTRY_H_

#include <atomic>
#include <string>
#include <vector>

#include "absl/base/optimization.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/types/span.h"
#include "core/device.h"
#include "core/dtype.h"
#include "core/internal/op_kind.h"
#include "core/internal/tensor_impl.h"

namespace tapegrad {

// The geometry of a window over the last two axes (convolution, pooling), as
// PyTorch's arguments: [0] is the height's, [1] the width's. Dilation is 1 for
// a dense window (PyTorch's convention, not oneDNN's 0).
struct Window2d {
  int32_t kernel[2] = {0, 0};
  int32_t stride[2] = {1, 1};
  int32_t padding[2] = {0, 0};
  int32_t dilation[2] = {1, 1};
  int32_t groups = 1;
  // Average pooling: padded elements count in the divisor (PyTorch's default).
  bool count_include_pad = true;

  // The output's size along axis a (0: height, 1: width) for an input of size n.
  // 0 where the window does not fit (a negative span, which C++'s division would
  // round up to 0 and count as one position).
  int64_t OutputSize(int a, int64_t n) const {
    const int64_t span =
        n + 2 * int64_t{padding[a]} - int64_t{dilation[a]} * (kernel[a] - 1) - 1;
    return span < 0 ? 0 : span / stride[a] + 1;
  }
};

// Scalar arguments of a kernel; which fields an op reads is part of its contract.
struct OpAttrs {
  double scalar0 = 0.0;  // pow exponent, clamp low, fill value, scale factor, matmul beta
  double scalar1 = 0.0;  // clamp high
  uint32_t axes = 0;     // reductions: bit i set = axis i reduced
  int32_t axis = 0;      // softmax and friends
  uint64_t seed = 0;     // random kernels: the counter-based stream's key
  Window2d window;       // convolution and pooling
};

struct KernelCall {
  OpKind op;
  absl::Span<const TensorImpl* const> inputs;
  absl::Span<TensorImpl* const> outputs;
  const OpAttrs& attrs;
  // Optimizer hyperparameters, in the order kernels/cpu/optimizer.cc documents.
  absl::Span<const double> scalars = {};
};

using KernelFn = absl::Status (*)(const KernelCall& call);

struct KernelKey {
  OpKind op;
  DType dtype;
  DeviceType device;
};

class KernelRegistry {
 public:
  static KernelRegistry& Global();

  // Adds a kernel; `where` ("file:line") is kept for duplicate reports.
  absl::Status Register(KernelKey key, KernelFn fn, const char* where);

  // The kernel for `key`, or null. The fast path of every op.
  KernelFn FindOrNull(OpKind op, DType dtype, DeviceType device) const {
    return table_[Index(op, dtype, device)].fn.load(std::memory_order_acquire);
  }
  // The kernel, or Unimplemented naming the key and where the op does exist.
  absl::StatusOr<KernelFn> Find(OpKind op, DType dtype, DeviceType device) const {
    KernelFn fn = FindOrNull(op, dtype, device);
    if (ABSL_PREDICT_TRUE(fn != nullptr)) return fn;
    return Missing(op, dtype, device);
  }
  absl::Status Missing(OpKind op, DType dtype, DeviceType device) const;

  // Every registered key, in (op, dtype, device) order.
  std::vector<KernelKey> List() const;
  // The first error of a registration made at static-initialisation time.
  absl::Status registration_status() const;

  // A registry of its own (tests); Global() is the one ops use.
  KernelRegistry() = default;
  KernelRegistry(const KernelRegistry&) = delete;
  KernelRegistry& operator=(const KernelRegistry&) = delete;

 private:
  struct Entry {
    std::atomic<KernelFn> fn{nullptr};
    const char* where = nullptr;
  };
  static constexpr size_t Index(OpKind op, DType dtype, DeviceType device) {
    return (static_cast<size_t>(op) * kNumDTypes + static_cast<size_t>(dtype)) *
               kNumDeviceTypes +
           static_cast<size_t>(device);
  }
  friend struct KernelRegistration;

  Entry table_[kNumOpKinds * kNumDTypes * kNumDeviceTypes];
  mutable absl::Mutex mu_;
  absl::Status registration_status_ ABSL_GUARDED_BY(mu_);
};

// Registers at static-initialisation time (see TAPEGRAD_REGISTER_KERNEL).
struct KernelRegistration {
  KernelRegistration(KernelKey key, KernelFn fn, const char* where);
};

#define TAPEGRAD_REGISTER_KERNEL(op, dtype, device, fn) \
  TAPEGRAD_REGISTER_KERNEL_I(__COUNTER__, op, dtype, device, fn)
#define TAPEGRAD_REGISTER_KERNEL_I(n, op, dtype, device, fn) \
  TAPEGRAD_REGISTER_KERNEL_II(n, op, dtype, device, fn)
#define TAPEGRAD_REGISTER_KERNEL_II(n, op, dtype, device, fn)                   \
  static const ::tapegrad::KernelRegistration tapegrad_kernel_registration_##n( \
      ::tapegrad::KernelKey{::tapegrad::OpKind::op, ::tapegrad::DType::dtype,   \
                            ::tapegrad::DeviceType::device},                    \
      (fn), __FILE__ ":" TAPEGRAD_STRINGIFY(__LINE__))
// Registers kernel<float> for f32 and kernel<double> for f64.
#define TAPEGRAD_REGISTER_FLOAT_KERNELS(op, device, kernel)  \
  TAPEGRAD_REGISTER_KERNEL(op, kF32, device, kernel<float>); \
  TAPEGRAD_REGISTER_KERNEL(op, kF64, device, kernel<double>)
#define TAPEGRAD_STRINGIFY(x) TAPEGRAD_STRINGIFY_I(x)
#define TAPEGRAD_STRINGIFY_I(x) #x

}  // namespace tapegrad

#endif  // TAPEGRAD_CORE_INTERNAL_REGISTRY_H_
