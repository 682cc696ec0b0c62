// Convolution and pooling modules, as torch.nn's of the same names, over NCHW
// images: each holds its op's arguments (core/tensor_ops.h) and, for Conv2d, its
// parameters.
//
//   tapegrad::Random rng(0);
//   tapegrad::nn::Sequential net;
//   net.Emplace<tapegrad::nn::Conv2d>(1, 32, 3, rng, tapegrad::Conv2dOptions{{1, 1}, {1,
//   1}}); net.Emplace<tapegrad::nn::ReLU>(); net.Emplace<tapegrad::nn::MaxPool2d>(2);
//   net.Emplace<tapegrad::nn::Flatten>();
//
// Conv2d's weight [out, in / groups, kh, kw] and bias [out] start as PyTorch's,
// U(-1/sqrt(fan_in), 1/sqrt(fan_in)) with fan_in = in / groups * kh * kw.
//
// Thread safety: as nn::Module.
#ifndef TAPEGRAD_NN_CONV_H_
#define TAPEGRAD_NN_CONV_H_

#include <array>
#include <cstdint>
#include <string>

#include "core/dtype.h"
#include "core/random.h"
#include "core/tensor.h"
#include "core/tensor_ops.h"
#include "nn/module.h"

namespace tapegrad::nn {

class Conv2d : public Module {
 public:
  Conv2d(int64_t in_channels, int64_t out_channels, std::array<int64_t, 2> kernel_size,
         Random& rng, const Conv2dOptions& options = {}, bool bias = true,
         DType dtype = DType::kF32);
  // A square kernel.
  Conv2d(int64_t in_channels, int64_t out_channels, int64_t kernel_size, Random& rng,
         const Conv2dOptions& options = {}, bool bias = true, DType dtype = DType::kF32)
      : Conv2d(in_channels, out_channels, {kernel_size, kernel_size}, rng, options, bias,
               dtype) {}

  Tensor Forward(const Tensor& x) override;
  std::string ToString() const override;

  Tensor& weight() { return weight_; }  // [out, in / groups, kh, kw]
  Tensor& bias() { return bias_; }      // [out], or empty without bias
  const Conv2dOptions& options() const { return options_; }

 private:
  Conv2dOptions options_;
  Tensor weight_;
  Tensor bias_;
};

class MaxPool2d : public Module {
 public:
  explicit MaxPool2d(const Pool2dOptions& options) : options_(options) {}
  // A square window whose stride is its size, as MaxPool2d(k) in PyTorch.
  explicit MaxPool2d(int64_t kernel_size) : options_(Square(kernel_size)) {}
  Tensor Forward(const Tensor& x) override { return tapegrad::MaxPool2d(x, options_); }
  std::string ToString() const override;
  static Pool2dOptions Square(int64_t kernel_size);

 private:
  Pool2dOptions options_;
};

class AvgPool2d : public Module {
 public:
  explicit AvgPool2d(const Pool2dOptions& options) : options_(options) {}
  explicit AvgPool2d(int64_t kernel_size) : options_(MaxPool2d::Square(kernel_size)) {}
  Tensor Forward(const Tensor& x) override { return tapegrad::AvgPool2d(x, options_); }
  std::string ToString() const override;

 private:
  Pool2dOptions options_;
};

class AdaptiveAvgPool2d : public Module {
 public:
  explicit AdaptiveAvgPool2d(std::array<int64_t, 2> output_size) : size_(output_size) {}
  Tensor Forward(const Tensor& x) override {
    return tapegrad::AdaptiveAvgPool2d(x, size_);
  }
  std::string ToString() const override;

 private:
  std::array<int64_t, 2> size_;
};

class Flatten : public Module {
 public:
  explicit Flatten(int64_t start = 1, int64_t end = -1) : start_(start), end_(end) {}
  Tensor Forward(const Tensor& x) override { return tapegrad::Flatten(x, start_, end_); }
  std::string ToString() const override;

 private:
  int64_t start_, end_;
};

}  // namespace tapegrad::nn

#endif  // TAPEGRAD_NN_CONV_H_
