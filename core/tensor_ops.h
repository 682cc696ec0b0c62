// Differentiable tensor ops: NumPy broadcasting, results recorded on the tape.
//
//   using namespace tapegrad;
//   Tensor h = Relu(MatMul(x, w1) + b1);             // x [64, 784], w1 [784, 256]
//   Tensor loss = CrossEntropy(MatMul(h, w2) + b2, labels);   // labels: i64 [64]
//   absl::Status s = loss.Backward();
//
// Every op checks its operands and returns an error tensor (see core/tensor.h) whose
// status names the op and every operand's shape, dtype and device when they do not
// fit: shapes that do not broadcast, mixed dtypes, mixed devices, bad axes, indices
// out of range. Operands of one op must share dtype and device (class indices are
// i64); nothing is converted or copied implicitly.
//
// Semantics follow PyTorch: reductions take a list of axes (empty = all) and
// keepdim; max/min send the gradient to every tied maximum in equal shares; gelu
// is the exact (erf) form; maximum/minimum split the gradient of ties in half;
// matmul handles 1-D operands and broadcast batch dimensions like torch.matmul;
// cross_entropy takes logits [N, C] and class indices [N] and averages over N.
// Deliberate differences: elu's negative side is alpha * expm1(x) (PyTorch 1.13
// computes exp(x) - 1, which loses every digit for tiny |x|); sign is a constant,
// so an input reached only through it gets no gradient where PyTorch gives zeros.
//
// Thread safety: as for the tape the results are recorded on (one thread at a time).
#ifndef TAPEGRAD_CORE_TENSOR_OPS_H_
#define TAPEGRAD_CORE_TENSOR_OPS_H_

#include <array>
#include <cstdint>
#include <optional>

#include "absl/types/span.h"
#include "core/tensor.h"

namespace tapegrad {

// ---- Elementwise, broadcasting.
Tensor Add(const Tensor& a, const Tensor& b);
Tensor Sub(const Tensor& a, const Tensor& b);
Tensor Mul(const Tensor& a, const Tensor& b);
Tensor Div(const Tensor& a, const Tensor& b);
Tensor Maximum(const Tensor& a, const Tensor& b);
Tensor Minimum(const Tensor& a, const Tensor& b);
// cond != 0 ? a : b; cond has the dtype of a and b and gets no gradient.
Tensor Where(const Tensor& cond, const Tensor& a, const Tensor& b);

// ---- Comparisons, broadcast: 1 where the relation holds, else 0, in the
// operands' dtype (NaN compares false, and unequal), ready for Where or as a mask.
// Constants: no gradient flows through them, as none does through PyTorch's
// boolean results.
Tensor Greater(const Tensor& a, const Tensor& b);       // a > b
Tensor GreaterEqual(const Tensor& a, const Tensor& b);  // a >= b
Tensor Less(const Tensor& a, const Tensor& b);          // a < b
Tensor LessEqual(const Tensor& a, const Tensor& b);     // a <= b
Tensor Equal(const Tensor& a, const Tensor& b);         // a == b
Tensor NotEqual(const Tensor& a, const Tensor& b);      // a != b

// ---- Elementwise math, as torch's functions of the same names (formulas:
// core/internal/elementwise_math.h).
Tensor Neg(const Tensor& x);
Tensor Exp(const Tensor& x);
Tensor Expm1(const Tensor& x);  // exp(x) - 1, accurate near 0
Tensor Log(const Tensor& x);
Tensor Log1p(const Tensor& x);  // log(1 + x), accurate near 0
Tensor Sqrt(const Tensor& x);
Tensor Rsqrt(const Tensor& x);  // 1 / sqrt(x)
Tensor Square(const Tensor& x);
Tensor Abs(const Tensor& x);
Tensor Sign(const Tensor& x);  // -1, 0 or 1; a constant: no gradient flows through it
Tensor Sin(const Tensor& x);
Tensor Cos(const Tensor& x);
Tensor Tanh(const Tensor& x);
Tensor Erf(const Tensor& x);

// ---- Activations.
Tensor Relu(const Tensor& x);
Tensor Sigmoid(const Tensor& x);
Tensor Gelu(const Tensor& x);  // the exact (erf) form
Tensor Silu(const Tensor& x);  // x * sigmoid(x)
// log(1 + exp(beta x)) / beta; x itself where beta x > threshold.
Tensor Softplus(const Tensor& x, double beta = 1.0, double threshold = 20.0);
// x where x > 0, else slope * x.
Tensor LeakyRelu(const Tensor& x, double slope = 0.01);
// x where x > 0, else alpha * (exp(x) - 1).
Tensor Elu(const Tensor& x, double alpha = 1.0);

Tensor Clamp(const Tensor& x, double low, double high);
Tensor Pow(const Tensor& x, double exponent);
// x * factor.
Tensor Scale(const Tensor& x, double factor);

// ---- Reductions over `axes` (empty: all axes).
Tensor Sum(const Tensor& x, absl::Span<const int64_t> axes = {}, bool keepdim = false);
Tensor Mean(const Tensor& x, absl::Span<const int64_t> axes = {}, bool keepdim = false);
Tensor Max(const Tensor& x, absl::Span<const int64_t> axes = {}, bool keepdim = false);
Tensor Min(const Tensor& x, absl::Span<const int64_t> axes = {}, bool keepdim = false);
// The i64 index of the first largest (smallest) element along `axis`, or in the
// row-major flattened tensor when there is no axis (keepdim then keeps every axis,
// at size 1). NaN counts as largest and as smallest, as in PyTorch and NumPy. No
// gradient; an empty reduction is an error.
Tensor ArgMax(const Tensor& x, std::optional<int64_t> axis = std::nullopt,
              bool keepdim = false);
Tensor ArgMin(const Tensor& x, std::optional<int64_t> axis = std::nullopt,
              bool keepdim = false);

// ---- Linear algebra and friends.
Tensor MatMul(const Tensor& a, const Tensor& b);
Tensor Softmax(const Tensor& x, int64_t axis = -1);
Tensor LogSoftmax(const Tensor& x, int64_t axis = -1);
// Mean over rows of -log_softmax(logits)[row, target[row]]; logits [N, C], targets
// i64 [N] with values in [0, C).
Tensor CrossEntropy(const Tensor& logits, const Tensor& targets);
// Mean of (pred - target)^2 over all elements; shapes broadcast.
Tensor Mse(const Tensor& pred, const Tensor& target);
// Mean of -[y log sigmoid(x) + (1 - y) log(1 - sigmoid(x))] over all elements,
// computed from the logits x without overflow (torch's
// binary_cross_entropy_with_logits); targets y in [0, 1], shapes broadcast.
Tensor BinaryCrossEntropyWithLogits(const Tensor& logits, const Tensor& targets);

// ---- Convolution, pooling and normalization, as torch.nn.functional's functions
// of the same names. Images are NCHW: x [N, C, H, W]. Sizes along (height, width).
struct Conv2dOptions {
  std::array<int64_t, 2> stride = {1, 1};
  std::array<int64_t, 2> padding = {0, 0};  // zeros on both sides
  std::array<int64_t, 2> dilation = {1, 1};
  int64_t groups = 1;  // divides C and O; each group sees C / groups channels
};
// x [N, C, H, W], weight [O, C / groups, KH, KW] (, bias [O]) -> [N, O, OH, OW],
// OH = (H + 2 padding - dilation (KH - 1) - 1) / stride + 1 (likewise OW).
Tensor Conv2d(const Tensor& x, const Tensor& weight, const Conv2dOptions& options = {});
Tensor Conv2d(const Tensor& x, const Tensor& weight, const Tensor& bias,
              const Conv2dOptions& options = {});

struct Pool2dOptions {
  std::array<int64_t, 2> kernel = {2, 2};
  std::array<int64_t, 2> stride = {0, 0};    // 0: the kernel size (PyTorch's default)
  std::array<int64_t, 2> padding = {0, 0};   // at most half the kernel size
  std::array<int64_t, 2> dilation = {1, 1};  // max pooling only
  bool count_include_pad = true;             // average pooling: padding counts
};
// Sizes as Conv2d's; no ceil mode. The gradient of a window goes to its first
// maximum (a NaN counts as the maximum), the position PyTorch picks.
Tensor MaxPool2d(const Tensor& x, const Pool2dOptions& options);
Tensor AvgPool2d(const Tensor& x, const Pool2dOptions& options);
// Means over PyTorch's bins: output element i of n covers [floor(i H / n),
// ceil((i + 1) H / n)); {1, 1} is global average pooling.
Tensor AdaptiveAvgPool2d(const Tensor& x, std::array<int64_t, 2> output_size);
// Axes start..end (inclusive, negative from the back) merged into one.
Tensor Flatten(const Tensor& x, int64_t start = 1, int64_t end = -1);

// Normalizes x [N, C, ...] per channel: with `training`, by the batch's mean and
// biased variance over every axis but 1, and updates the running statistics
// (heap tensors [C], not recorded) as running = (1 - momentum) running + momentum
// stat, with the unbiased variance, as PyTorch; without, by the running
// statistics. weight and bias [C] scale and shift the result; pass empty tensors
// (Tensor()) for none. The running statistics may be empty when training.
Tensor BatchNorm(const Tensor& x, Tensor& running_mean, Tensor& running_var,
                 const Tensor& weight, const Tensor& bias, bool training,
                 double momentum = 0.1, double eps = 1e-5);
// Relu(BatchNorm(...)) with the same arguments. In training with weight and bias
// the ReLU runs inside the normalization's kernel each way, which saves two passes
// over x forward and three backward (nn::Sequential uses it for a BatchNorm2d
// followed by a ReLU).
Tensor BatchNormRelu(const Tensor& x, Tensor& running_mean, Tensor& running_var,
                     const Tensor& weight, const Tensor& bias, bool training,
                     double momentum = 0.1, double eps = 1e-5);
// Normalizes over the last `normalized_axes` axes by their mean and biased
// variance, then weight * x + bias (both of those axes' shape, or empty).
Tensor LayerNorm(const Tensor& x, int normalized_axes, const Tensor& weight,
                 const Tensor& bias, double eps = 1e-5);
// Rows of weight [V, D] picked by i64 indices of any shape -> [*indices, D]; the
// gradient adds up over repeated indices.
Tensor Embedding(const Tensor& weight, const Tensor& indices);

// ---- Randomness.
// Inverted dropout: each element of x is zeroed with probability p and the rest
// scaled by 1/(1-p). The mask is drawn from (seed, element index) only (see
// CounterUniform in core/random.h): same seed, same mask, on every device. The
// gradient flows through the kept elements. p must be in [0, 1]; p = 0 returns x.
Tensor Dropout(const Tensor& x, double p, uint64_t seed);

// ---- Indexing and joining.
// Rows of x (axis 0) picked by i64 `indices` (1-D); negative indices are errors.
Tensor IndexSelect(const Tensor& x, const Tensor& indices);
Tensor Concatenate(absl::Span<const Tensor> tensors, int64_t axis = 0);
Tensor Stack(absl::Span<const Tensor> tensors, int64_t axis = 0);

// ---- Operators; a double operand becomes a 0-d tensor of the other's dtype.
Tensor operator+(const Tensor& a, const Tensor& b);
Tensor operator-(const Tensor& a, const Tensor& b);
Tensor operator*(const Tensor& a, const Tensor& b);
Tensor operator/(const Tensor& a, const Tensor& b);
Tensor operator-(const Tensor& x);
Tensor operator+(const Tensor& a, double b);
Tensor operator+(double a, const Tensor& b);
Tensor operator-(const Tensor& a, double b);
Tensor operator-(double a, const Tensor& b);
Tensor operator*(const Tensor& a, double b);
Tensor operator*(double a, const Tensor& b);
Tensor operator/(const Tensor& a, double b);
Tensor operator/(double a, const Tensor& b);

}  // namespace tapegrad

#endif  // TAPEGRAD_CORE_TENSOR_OPS_H_
