// What the convolution kernels share: a convolution's sizes, and the reference
// kernels (im2col + BLAS, kernels/cpu/window.cc) that serve f64 and any f32
// convolution oneDNN has no implementation for.
//
//   const ConvShape s(x, y, call.attrs.window);   // x [n, c, h, w], y [n, o, oh, ow]
//   TG_RETURN_IF_ERROR(ReferenceConv2d<float>(call, ConvPass::kInputGrad));
//
// Thread safety: ReferenceConv2d may run on many threads at once.
#ifndef TAPEGRAD_KERNELS_CPU_CONV_H_
#define TAPEGRAD_KERNELS_CPU_CONV_H_

#include <cstdint>

#include "absl/status/status.h"
#include "core/internal/registry.h"

namespace tapegrad::cpu {

// Sizes of one convolution: input x [n, c, h, w], output [n, o, oh, ow].
struct ConvShape {
  int64_t n, c, h, w, o, oh, ow;
  int64_t kh, kw, sh, sw, ph, pw, dh, dw, groups;

  ConvShape(const TensorImpl& x, const TensorImpl& y, const Window2d& win)
      : n(x.layout.sizes[0]),
        c(x.layout.sizes[1]),
        h(x.layout.sizes[2]),
        w(x.layout.sizes[3]),
        o(y.layout.sizes[1]),
        oh(y.layout.sizes[2]),
        ow(y.layout.sizes[3]),
        kh(win.kernel[0]),
        kw(win.kernel[1]),
        sh(win.stride[0]),
        sw(win.stride[1]),
        ph(win.padding[0]),
        pw(win.padding[1]),
        dh(win.dilation[0]),
        dw(win.dilation[1]),
        groups(win.groups) {}

  int64_t group_channels() const { return c / groups; }
  int64_t group_filters() const { return o / groups; }
  int64_t col_rows() const { return group_channels() * kh * kw; }
  int64_t positions() const { return oh * ow; }
  // The image is its own column matrix.
  bool direct() const {
    return kh == 1 && kw == 1 && sh == 1 && sw == 1 && ph == 0 && pw == 0;
  }
  // Offsets of image i's group g in the input and output.
  int64_t in_offset(int64_t i, int64_t g) const {
    return (i * c + g * group_channels()) * h * w;
  }
  int64_t out_offset(int64_t i, int64_t g) const {
    return (i * o + g * group_filters()) * positions();
  }
  int64_t weight_offset(int64_t g) const { return g * group_filters() * col_rows(); }
};

// The three kernels of a convolution: kConv2d, kConv2dInputGrad, kConv2dWeightGrad.
enum class ConvPass { kForward, kInputGrad, kWeightGrad };

// The pass's input x and output y of the convolution (not of the kernel call).
inline ConvShape ShapeOf(const KernelCall& call, ConvPass pass) {
  switch (pass) {
    case ConvPass::kForward:
      return ConvShape(*call.inputs[0], *call.outputs[0], call.attrs.window);
    case ConvPass::kInputGrad:
      return ConvShape(*call.outputs[0], *call.inputs[0], call.attrs.window);
    case ConvPass::kWeightGrad:
      break;
  }
  return ConvShape(*call.inputs[1], *call.inputs[0], call.attrs.window);
}

// The kernel of `pass` for T = float or double (kernels/cpu/window.cc).
template <class T>
absl::Status ReferenceConv2d(const KernelCall& call, ConvPass pass);

}  // namespace tapegrad::cpu

#endif  // TAPEGRAD_KERNELS_CPU_CONV_H_
