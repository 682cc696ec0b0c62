#include "nn/conv.h"

#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "nn/init.h"

namespace tapegrad::nn {
namespace {

// PyTorch's repr of a size pair: "(3, 3)".
std::string Pair(const std::array<int64_t, 2>& p) {
  return absl::StrFormat("(%d, %d)", p[0], p[1]);
}

// Pooling's repr: one number where both sides agree, as PyTorch prints MaxPool2d(2).
std::string Size(const std::array<int64_t, 2>& p) {
  return p[0] == p[1] ? absl::StrCat(p[0]) : Pair(p);
}

}  // namespace

Conv2d::Conv2d(int64_t in_channels, int64_t out_channels,
               std::array<int64_t, 2> kernel_size, Random& rng,
               const Conv2dOptions& options, bool bias, DType dtype)
    : options_(options) {
  const int64_t groups = std::max<int64_t>(options.groups, 1);
  weight_ = Tensor::Zeros(
      {out_channels, in_channels / groups, kernel_size[0], kernel_size[1]}, dtype);
  // PyTorch's kaiming_uniform_(a=sqrt(5)): U(-b, b), b = 1 / sqrt(fan_in). Fails
  // only for sizes that Forward then reports.
  (void)KaimingUniform(weight_, rng, std::sqrt(1.0 / 3.0));
  RegisterParameter("weight", &weight_);
  if (bias) {
    bias_ = Tensor::Zeros({out_channels}, dtype);
    const double fan_in =
        static_cast<double>(in_channels / groups * kernel_size[0] * kernel_size[1]);
    const double bound = fan_in > 0 ? 1.0 / std::sqrt(fan_in) : 0.0;
    (void)Uniform(bias_, rng, -bound, bound);
    RegisterParameter("bias", &bias_);
  }
}

Tensor Conv2d::Forward(const Tensor& x) {
  return bias_.ok() ? tapegrad::Conv2d(x, weight_, bias_, options_)
                    : tapegrad::Conv2d(x, weight_, options_);
}

std::string Conv2d::ToString() const {
  std::string s = absl::StrFormat(
      "Conv2d(%d, %d, kernel_size=%s, stride=%s", weight_.size(1) * options_.groups,
      weight_.size(0), Pair({weight_.size(2), weight_.size(3)}), Pair(options_.stride));
  if (options_.padding != std::array<int64_t, 2>{0, 0}) {
    absl::StrAppend(&s, ", padding=", Pair(options_.padding));
  }
  if (options_.dilation != std::array<int64_t, 2>{1, 1}) {
    absl::StrAppend(&s, ", dilation=", Pair(options_.dilation));
  }
  if (options_.groups != 1) absl::StrAppend(&s, ", groups=", options_.groups);
  if (!bias_.ok()) absl::StrAppend(&s, ", bias=False");
  return s + ")";
}

Pool2dOptions MaxPool2d::Square(int64_t kernel_size) {
  Pool2dOptions o;
  o.kernel = {kernel_size, kernel_size};
  return o;
}

std::string MaxPool2d::ToString() const {
  const Pool2dOptions& o = options_;
  return absl::StrFormat(
      "MaxPool2d(kernel_size=%s, stride=%s, padding=%s, dilation=%s, ceil_mode=False)",
      Size(o.kernel),
      Size(o.stride == std::array<int64_t, 2>{0, 0} ? o.kernel : o.stride),
      Size(o.padding), Size(o.dilation));
}

std::string AvgPool2d::ToString() const {
  const Pool2dOptions& o = options_;
  return absl::StrFormat(
      "AvgPool2d(kernel_size=%s, stride=%s, padding=%s)", Size(o.kernel),
      Size(o.stride == std::array<int64_t, 2>{0, 0} ? o.kernel : o.stride),
      Size(o.padding));
}

std::string AdaptiveAvgPool2d::ToString() const {
  return absl::StrCat("AdaptiveAvgPool2d(output_size=", Size(size_), ")");
}

std::string Flatten::ToString() const {
  return absl::StrFormat("Flatten(start_dim=%d, end_dim=%d)", start_, end_);
}

}  // namespace tapegrad::nn
