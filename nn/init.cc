#include "nn/init.h"

#include <vector>

#include "absl/strings/str_format.h"
#include "core/status_macros.h"

namespace tapegrad::nn {
namespace {

struct Fans {
  double in, out;
};

absl::StatusOr<Fans> FansOf(const char* name, const Tensor& w) {
  TG_RETURN_IF_ERROR(w.status());
  if (w.on_tape() || w.dim() < 1) {
    return absl::InvalidArgumentError(
        absl::StrFormat("%s: needs a heap tensor of rank 1 or more, got %s%s", name,
                        Describe(w), w.on_tape() ? " recorded on a tape" : ""));
  }
  if (w.dim() <= 2) {
    const double in = static_cast<double>(w.size(0));
    return Fans{in, w.dim() == 2 ? static_cast<double>(w.size(1)) : in};
  }
  // [out, in, receptive field...], as PyTorch's convolution weights.
  double receptive = 1;
  for (int i = 2; i < w.dim(); ++i) receptive *= static_cast<double>(w.size(i));
  return Fans{static_cast<double>(w.size(1)) * receptive,
              static_cast<double>(w.size(0)) * receptive};
}

template <class Draw>
absl::Status Fill(Tensor& w, Draw draw) {
  std::vector<double> values(static_cast<size_t>(w.numel()));
  for (double& v : values) v = draw();
  return w.CopyFrom(values);
}

absl::Status Normal(Tensor& w, Random& rng, double stddev) {
  return Fill(w, [&] { return stddev * rng.Normal(); });
}

}  // namespace

absl::Status Uniform(Tensor& w, Random& rng, double low, double high) {
  TG_RETURN_IF_ERROR(FansOf("uniform", w).status());
  return Fill(w, [&] { return rng.Uniform(low, high); });
}

absl::Status KaimingUniform(Tensor& w, Random& rng, double gain, FanMode mode) {
  TG_ASSIGN_OR_RETURN(const Fans fans, FansOf("kaiming_uniform", w));
  const double bound =
      gain * std::sqrt(3.0 / (mode == FanMode::kFanIn ? fans.in : fans.out));
  return Uniform(w, rng, -bound, bound);
}

absl::Status KaimingNormal(Tensor& w, Random& rng, double gain, FanMode mode) {
  TG_ASSIGN_OR_RETURN(const Fans fans, FansOf("kaiming_normal", w));
  return Normal(w, rng, gain / std::sqrt(mode == FanMode::kFanIn ? fans.in : fans.out));
}

absl::Status XavierUniform(Tensor& w, Random& rng, double gain) {
  TG_ASSIGN_OR_RETURN(const Fans fans, FansOf("xavier_uniform", w));
  const double bound = gain * std::sqrt(6.0 / (fans.in + fans.out));
  return Uniform(w, rng, -bound, bound);
}

absl::Status XavierNormal(Tensor& w, Random& rng, double gain) {
  TG_ASSIGN_OR_RETURN(const Fans fans, FansOf("xavier_normal", w));
  return Normal(w, rng, gain * std::sqrt(2.0 / (fans.in + fans.out)));
}

}  // namespace tapegrad::nn
