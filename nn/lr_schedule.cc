#include "nn/lr_schedule.h"

#include <cmath>

namespace tapegrad::nn {

double StepLr::operator()(int64_t epoch) const {
  return base_lr_ * std::pow(gamma_, static_cast<double>(epoch / step_size_));
}

double CosineLr::operator()(int64_t epoch) const {
  const double phase = M_PI * static_cast<double>(epoch) / static_cast<double>(period_);
  return min_lr_ + (base_lr_ - min_lr_) * (1.0 + std::cos(phase)) / 2.0;
}

}  // namespace tapegrad::nn
