// Parameter initialisation, as torch.nn.init: Kaiming (He) and Xavier (Glorot),
// uniform and normal, drawn from a seedable tapegrad::Random in row-major order.
//
//   tapegrad::Random rng(0);
//   tapegrad::Tensor w = tapegrad::Tensor::Zeros({784, 256});
//   absl::Status s = tapegrad::nn::KaimingUniform(w, rng);   // for a ReLU layer
//
// Fans follow tapegrad's weight layout [in, out] (Linear computes x @ w, the
// transpose of PyTorch's [out, in]): fan_in = size(0), fan_out = size(1); a 1-D
// tensor has fan_in = fan_out = its length. A tensor of rank 3 or more is a
// convolution weight in PyTorch's layout [out, in / groups, kh, kw]: fan_in =
// size(1) kh kw, fan_out = size(0) kh kw. Gains are PyTorch's: sqrt(2) for ReLU
// (Kaiming's default), 1 for linear layers (Xavier's default).
//
// Errors: an empty, stale or tape tensor, or a 0-d one, is InvalidArgument.
//
// Thread safety: writes `w` in place and advances `rng`; neither may be shared.
#ifndef TAPEGRAD_NN_INIT_H_
#define TAPEGRAD_NN_INIT_H_

#include <cmath>

#include "absl/status/status.h"
#include "core/random.h"
#include "core/tensor.h"

namespace tapegrad::nn {

enum class FanMode { kFanIn, kFanOut };

// U(-b, b) with b = gain * sqrt(3 / fan).
absl::Status KaimingUniform(Tensor& w, Random& rng, double gain = std::sqrt(2.0),
                            FanMode mode = FanMode::kFanIn);
// N(0, std^2) with std = gain / sqrt(fan).
absl::Status KaimingNormal(Tensor& w, Random& rng, double gain = std::sqrt(2.0),
                           FanMode mode = FanMode::kFanIn);
// U(-b, b) with b = gain * sqrt(6 / (fan_in + fan_out)).
absl::Status XavierUniform(Tensor& w, Random& rng, double gain = 1.0);
// N(0, std^2) with std = gain * sqrt(2 / (fan_in + fan_out)).
absl::Status XavierNormal(Tensor& w, Random& rng, double gain = 1.0);
// U(low, high): micrograd's U(-1, 1) and PyTorch's default Linear init
// U(-1/sqrt(in), 1/sqrt(in)).
absl::Status Uniform(Tensor& w, Random& rng, double low, double high);

}  // namespace tapegrad::nn

#endif  // TAPEGRAD_NN_INIT_H_
