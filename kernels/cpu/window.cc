// Convolution and pooling on the CPU, for f32 and f64: the reference kernels (the
// f64 gradient oracle). Contract: core/internal/registry.h (windows).
//
// A convolution is a GEMM per image and group over the image's column matrix
// (im2col: one row per (channel, kh, kw), one column per output position), with
// the transposed products for the gradients; a 1x1 window of stride 1 without
// padding needs no column matrix (the image is its own). The column buffer is
// per thread and kept, so a steady state allocates nothing.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <type_traits>
#include <vector>

#include "core/internal/registry.h"
#include "core/status_macros.h"
#include "kernels/cpu/conv.h"
#include "kernels/cpu/gemm.h"
#include "kernels/cpu/parallel.h"

namespace tapegrad::cpu {
namespace {

// The calling thread's column buffer, at least `size` elements.
template <class T>
T* ColumnBuffer(int64_t size) {
  thread_local std::vector<T> buffer;
  if (buffer.size() < static_cast<size_t>(size)) buffer.resize(static_cast<size_t>(size));
  return buffer.data();
}

// Calls f(entry, at) for every entry of the column matrix [col_rows, positions] of
// one group of one image, in order: `at` is the offset, in the group's channels,
// of the image element the entry copies, or -1 where the window is in the padding.
template <class F>
void ForEachColumnEntry(const ConvShape& s, const F& f) {
  int64_t entry = 0;
  for (int64_t ch = 0; ch < s.group_channels(); ++ch) {
    for (int64_t i = 0; i < s.kh; ++i) {
      for (int64_t j = 0; j < s.kw; ++j) {
        for (int64_t y = 0; y < s.oh; ++y) {
          const int64_t in_y = y * s.sh - s.ph + i * s.dh;
          for (int64_t x = 0; x < s.ow; ++x, ++entry) {
            const int64_t in_x = x * s.sw - s.pw + j * s.dw;
            const bool inside = in_y >= 0 && in_y < s.h && in_x >= 0 && in_x < s.w;
            f(entry, inside ? (ch * s.h + in_y) * s.w + in_x : -1);
          }
        }
      }
    }
  }
}

// col from one group of one image's channels at x.
template <class T>
void Im2col(const T* x, const ConvShape& s, T* col) {
  ForEachColumnEntry(
      s, [&](int64_t entry, int64_t at) { col[entry] = at < 0 ? T(0) : x[at]; });
}

// The adjoint of Im2col: adds col's entries into the group's channels at gx.
template <class T>
void Col2imAdd(const T* col, const ConvShape& s, T* gx) {
  ForEachColumnEntry(s, [&](int64_t entry, int64_t at) {
    if (at >= 0) gx[at] += col[entry];
  });
}

template <class T>
const T* Data(const TensorImpl& t) {
  return reinterpret_cast<const T*>(t.data());
}

// y[n, o] += bias[o] over every plane, for kConv2d's (x, w, bias) form.
template <class T>
void AddBias(const KernelCall& c, const ConvShape& s) {
  if (c.inputs.size() < 3) return;
  const T* bias = Data<T>(*c.inputs[2]);
  T* y = c.outputs[0]->data_as<T>();
  for (int64_t i = 0; i < s.n; ++i) {
    for (int64_t o = 0; o < s.o; ++o, y += s.positions()) {
      for (int64_t p = 0; p < s.positions(); ++p) y[p] += bias[o];
    }
  }
}

// (x, w[, bias]) -> y.
template <class T>
absl::Status Conv2dForward(const KernelCall& c) {
  TensorImpl& yi = *c.outputs[0];
  const ConvShape s = ShapeOf(c, ConvPass::kForward);
  const T* x = Data<T>(*c.inputs[0]);
  const T* w = Data<T>(*c.inputs[1]);
  T* y = yi.data_as<T>();
  if (s.col_rows() == 0) {
    std::fill(y, y + yi.numel(), T(0));
    AddBias<T>(c, s);
    return absl::OkStatus();
  }
  T* col = s.direct() ? nullptr : ColumnBuffer<T>(s.col_rows() * s.positions());
  for (int64_t i = 0; i < s.n; ++i) {
    for (int64_t g = 0; g < s.groups; ++g) {
      const T* xg = x + s.in_offset(i, g);
      if (!s.direct()) Im2col(xg, s, col);
      TG_RETURN_IF_ERROR(Gemm<T>(CblasNoTrans, CblasNoTrans, s.group_filters(),
                                 s.positions(), s.col_rows(), w + s.weight_offset(g),
                                 s.col_rows(), s.direct() ? xg : col, s.positions(),
                                 y + s.out_offset(i, g), s.positions()));
    }
  }
  AddBias<T>(c, s);
  return absl::OkStatus();
}

// (gy, w) -> gx.
template <class T>
absl::Status Conv2dInputGrad(const KernelCall& c) {
  TensorImpl& gxi = *c.outputs[0];
  const ConvShape s = ShapeOf(c, ConvPass::kInputGrad);
  const T* gy = Data<T>(*c.inputs[0]);
  const T* w = Data<T>(*c.inputs[1]);
  T* gx = gxi.data_as<T>();
  std::fill(gx, gx + gxi.numel(), T(0));
  if (s.col_rows() == 0 || s.group_filters() == 0) return absl::OkStatus();
  T* col = s.direct() ? nullptr : ColumnBuffer<T>(s.col_rows() * s.positions());
  for (int64_t i = 0; i < s.n; ++i) {
    for (int64_t g = 0; g < s.groups; ++g) {
      T* gxg = gx + s.in_offset(i, g);
      // col = w_g^T gy_g: [col_rows, positions]; direct, it is gx_g itself.
      TG_RETURN_IF_ERROR(Gemm<T>(CblasTrans, CblasNoTrans, s.col_rows(), s.positions(),
                                 s.group_filters(), w + s.weight_offset(g), s.col_rows(),
                                 gy + s.out_offset(i, g), s.positions(),
                                 s.direct() ? gxg : col, s.positions()));
      if (!s.direct()) Col2imAdd(col, s, gxg);
    }
  }
  return absl::OkStatus();
}

// (gy, x) -> gw[, gbias].
template <class T>
absl::Status Conv2dWeightGrad(const KernelCall& c) {
  TensorImpl& gwi = *c.outputs[0];
  const ConvShape s = ShapeOf(c, ConvPass::kWeightGrad);
  const T* gy = Data<T>(*c.inputs[0]);
  const T* x = Data<T>(*c.inputs[1]);
  T* gw = gwi.data_as<T>();
  std::fill(gw, gw + gwi.numel(), T(0));
  T* col = s.direct() || s.col_rows() == 0 || s.group_filters() == 0
               ? nullptr
               : ColumnBuffer<T>(s.col_rows() * s.positions());
  for (int64_t i = 0; i < s.n && s.col_rows() != 0 && s.group_filters() != 0; ++i) {
    for (int64_t g = 0; g < s.groups; ++g) {
      const T* xg = x + s.in_offset(i, g);
      if (!s.direct()) Im2col(xg, s, col);
      // gw_g += gy_g col^T: [group_filters, col_rows].
      TG_RETURN_IF_ERROR(Gemm<T>(CblasNoTrans, CblasTrans, s.group_filters(),
                                 s.col_rows(), s.positions(), gy + s.out_offset(i, g),
                                 s.positions(), s.direct() ? xg : col, s.positions(),
                                 gw + s.weight_offset(g), s.col_rows(), T(1)));
    }
  }
  if (c.outputs.size() > 1) {  // the bias gradient: gy summed over N, H and W
    T* gb = c.outputs[1]->data_as<T>();
    std::fill(gb, gb + s.o, T(0));
    const T* plane = gy;
    for (int64_t i = 0; i < s.n; ++i) {
      for (int64_t o = 0; o < s.o; ++o, plane += s.positions()) {
        for (int64_t p = 0; p < s.positions(); ++p) gb[o] += plane[p];
      }
    }
  }
  return absl::OkStatus();
}

// One pooling window's bounds in its plane, clipped to the input, as PyTorch
// computes them; `divisor` is average pooling's.
struct PoolWindow {
  int64_t y0, y1, x0, x1, divisor;
};

PoolWindow AverageWindow(const Window2d& win, int64_t h, int64_t w, int64_t y,
                         int64_t x) {
  int64_t y0 = y * win.stride[0] - win.padding[0];
  int64_t x0 = x * win.stride[1] - win.padding[1];
  int64_t y1 = std::min<int64_t>(y0 + win.kernel[0], h + win.padding[0]);
  int64_t x1 = std::min<int64_t>(x0 + win.kernel[1], w + win.padding[1]);
  const int64_t padded = (y1 - y0) * (x1 - x0);
  y0 = std::max<int64_t>(y0, 0);
  x0 = std::max<int64_t>(x0, 0);
  y1 = std::min(y1, h);
  x1 = std::min(x1, w);
  return {y0, y1, x0, x1, win.count_include_pad ? padded : (y1 - y0) * (x1 - x0)};
}

// Runs fn(plane) for the n * c planes of a pooled tensor, spread over threads.
template <class F>
void ForEachPlane(const TensorImpl& out, int64_t window, const F& fn) {
  const int64_t planes = out.layout.sizes[0] * out.layout.sizes[1];
  const int64_t work =
      std::max<int64_t>(1, out.layout.sizes[2] * out.layout.sizes[3] * window);
  ParallelFor(planes, std::max<int64_t>(1, (int64_t{1} << 16) / work),
              [&](int64_t begin, int64_t end) {
                for (int64_t p = begin; p < end; ++p) fn(p);
              });
}

// PyTorch's rule for the running maximum of a window: the first strict maximum,
// but any NaN takes over. Replaces(v, best): whether v becomes the maximum.
template <class T>
inline bool Replaces(T v, T best) {
  return (v > best) | (v != v);
}

template <class T>
inline void TakeIfLarger(T v, int64_t position, T* best, int64_t* at) {
  const bool take = Replaces(v, *best);
  *best = take ? v : *best;
  *at = take ? position : *at;
}

// Whether `win` is 2x2 windows at stride 2 without padding or dilation, the
// usual pooling, which has straight-line paths each way.
bool IsTwoByTwo(const Window2d& win) {
  return win.kernel[0] == 2 && win.kernel[1] == 2 && win.stride[0] == 2 &&
         win.stride[1] == 2 && win.padding[0] == 0 && win.padding[1] == 0 &&
         win.dilation[0] == 1 && win.dilation[1] == 1;
}

// 2x2 windows at stride 2 without padding, the usual pooling after a convolution,
// four windows at a time in GCC/clang vector extensions. Pooled rows are short (14
// or 7 windows after a 28 x 28 convolution), and the compiler's own vector loop
// left most of them to its scalar tail. A row runs as blocks of four windows, the
// last block overlapping the one before (a window's outputs depend on it alone);
// a row of fewer than four windows runs one window at a time.
template <class T>
struct FourWindows {
  typedef T Values __attribute__((vector_size(4 * sizeof(T))));
  typedef T Pairs __attribute__((vector_size(8 * sizeof(T))));
  // What comparing Values gives: integers of T's size.
  typedef std::conditional_t<sizeof(T) == 4, int32_t, int64_t> Int;
  typedef Int Ints __attribute__((vector_size(4 * sizeof(T))));
  typedef int64_t Positions __attribute__((vector_size(4 * sizeof(int64_t))));

  // Runs block(j) for j = 0, 4, ... and n - 4 (n >= 4).
  template <class Block>
  static void Row(int64_t n, const Block& block) {
    for (int64_t j = 0;; j += 4) {
      j = std::min(j, n - 4);
      block(j);
      if (j == n - 4) return;
    }
  }
};

// One window's maximum by Replaces over its four values in row-major order, and
// the position it came from.
template <class T>
void MaxPool2x2Window(const T* top, const T* bottom, int64_t position, int64_t w, T* y,
                      int64_t* where) {
  const T v[4] = {top[0], top[1], bottom[0], bottom[1]};
  T best = -std::numeric_limits<T>::infinity();
  int64_t offset = 0;
  for (int k = 0; k < 4; ++k) TakeIfLarger(v[k], (k >> 1) * w + (k & 1), &best, &offset);
  *y = best;
  *where = position + offset;
}

// One output row of 2x2 windows: the same rule as MaxPool2x2Window, four windows
// per step.
template <class T>
void MaxPool2x2Row(const T* top, const T* bottom, int64_t top_position, int64_t w,
                   int64_t ow, T* y, int64_t* where) {
  using V = FourWindows<T>;
  if (ow < 4) {
    for (int64_t j = 0; j < ow; ++j) {
      MaxPool2x2Window(top + 2 * j, bottom + 2 * j, top_position + 2 * j, w, y + j,
                       where + j);
    }
    return;
  }
  V::Row(ow, [&](int64_t j) {
    typename V::Pairs t, b;
    std::memcpy(&t, top + 2 * j, sizeof(t));
    std::memcpy(&b, bottom + 2 * j, sizeof(b));
    const typename V::Values v[4] = {__builtin_shufflevector(t, t, 0, 2, 4, 6),
                                     __builtin_shufflevector(t, t, 1, 3, 5, 7),
                                     __builtin_shufflevector(b, b, 0, 2, 4, 6),
                                     __builtin_shufflevector(b, b, 1, 3, 5, 7)};
    // Starting from v[0] with index 0 is starting from -inf: v[0] replaces -inf
    // unless it is -inf, and then either way the maximum is -inf at index 0.
    typename V::Values best = v[0];
    typename V::Ints index = {0, 0, 0, 0};
    for (int k = 1; k < 4; ++k) {
      const typename V::Ints replaces = (v[k] > best) | (v[k] != v[k]);
      best = replaces ? v[k] : best;
      index = replaces ? typename V::Int(k) : index;
    }
    std::memcpy(y + j, &best, sizeof(best));
    const typename V::Positions k = __builtin_convertvector(index, typename V::Positions);
    const typename V::Positions at =
        top_position + 2 * j + typename V::Positions{0, 2, 4, 6} + (k >> 1) * w + (k & 1);
    std::memcpy(where + j, &at, sizeof(at));
  });
}

// x -> (y, positions).
template <class T>
absl::Status MaxPool2dForward(const KernelCall& c) {
  const TensorImpl& xi = *c.inputs[0];
  TensorImpl& yi = *c.outputs[0];
  const Window2d& win = c.attrs.window;
  const int64_t h = xi.layout.sizes[2], w = xi.layout.sizes[3];
  const int64_t oh = yi.layout.sizes[2], ow = yi.layout.sizes[3];
  const T* x = Data<T>(xi);
  T* y = yi.data_as<T>();
  int64_t* where = c.outputs[1]->data_as<int64_t>();
  const bool two_by_two = IsTwoByTwo(win);
  ForEachPlane(yi, int64_t{win.kernel[0]} * win.kernel[1], [&](int64_t p) {
    const T* plane = x + p * h * w;
    if (two_by_two) {
      for (int64_t i = 0; i < oh; ++i) {
        MaxPool2x2Row(plane + 2 * i * w, plane + (2 * i + 1) * w, 2 * i * w, w, ow,
                      y + (p * oh + i) * ow, where + (p * oh + i) * ow);
      }
      return;
    }
    for (int64_t i = 0; i < oh; ++i) {
      int64_t y0 = i * win.stride[0] - win.padding[0];
      const int64_t y1 =
          std::min<int64_t>(y0 + (win.kernel[0] - 1) * win.dilation[0] + 1, h);
      while (y0 < 0) y0 += win.dilation[0];
      for (int64_t j = 0; j < ow; ++j) {
        int64_t x0 = j * win.stride[1] - win.padding[1];
        const int64_t x1 =
            std::min<int64_t>(x0 + (win.kernel[1] - 1) * win.dilation[1] + 1, w);
        while (x0 < 0) x0 += win.dilation[1];
        T best = -std::numeric_limits<T>::infinity();
        int64_t at = y0 * w + x0;
        for (int64_t yy = y0; yy < y1; yy += win.dilation[0]) {
          for (int64_t xx = x0; xx < x1; xx += win.dilation[1])
            TakeIfLarger(plane[yy * w + xx], yy * w + xx, &best, &at);
        }
        y[(p * oh + i) * ow + j] = best;
        where[(p * oh + i) * ow + j] = at;
      }
    }
  });
  return absl::OkStatus();
}

// (gy, positions) -> gx.
// One output row's gradient for 2x2 windows at stride 2 without padding: each of
// a window's four inputs gets gy where the forward took the maximum and 0
// elsewhere, written as selects rather than a fill and a scatter; four windows per
// step (FourWindows) where the row has them and w fits in T-sized integers.
template <class T>
void MaxPool2x2GradRow(const T* gy, const int64_t* where, int64_t top_position, int64_t w,
                       int64_t ow, T* top, T* bottom) {
  using V = FourWindows<T>;
  if (ow < 4 || w + 1 > std::numeric_limits<typename V::Int>::max()) {
    for (int64_t j = 0; j < ow; ++j) {
      const int64_t at = where[j] - (top_position + 2 * j);  // 0, 1, w or w + 1
      const T g = gy[j];
      top[2 * j] = at == 0 ? g : T(0);
      top[2 * j + 1] = at == 1 ? g : T(0);
      bottom[2 * j] = at == w ? g : T(0);
      bottom[2 * j + 1] = at == w + 1 ? g : T(0);
    }
  } else {
    V::Row(ow, [&](int64_t j) {
      typename V::Positions positions;
      std::memcpy(&positions, where + j, sizeof(positions));
      const typename V::Ints at = __builtin_convertvector(
          positions - (top_position + 2 * j + typename V::Positions{0, 2, 4, 6}),
          typename V::Ints);
      typename V::Values g;
      std::memcpy(&g, gy + j, sizeof(g));
      const typename V::Values zero = {};
      const typename V::Int right = typename V::Int(w);
      const typename V::Pairs t = __builtin_shufflevector(
          at == 0 ? g : zero, at == 1 ? g : zero, 0, 4, 1, 5, 2, 6, 3, 7);
      const typename V::Pairs b = __builtin_shufflevector(
          at == right ? g : zero, at == right + 1 ? g : zero, 0, 4, 1, 5, 2, 6, 3, 7);
      std::memcpy(top + 2 * j, &t, sizeof(t));
      std::memcpy(bottom + 2 * j, &b, sizeof(b));
    });
  }
  for (int64_t x = 2 * ow; x < w; ++x) top[x] = bottom[x] = T(0);  // odd width
}

template <class T>
absl::Status MaxPool2dGrad(const KernelCall& c) {
  const TensorImpl& gyi = *c.inputs[0];
  TensorImpl& gxi = *c.outputs[0];
  const int64_t h = gxi.layout.sizes[2], w = gxi.layout.sizes[3];
  const int64_t oh = gyi.layout.sizes[2], ow = gyi.layout.sizes[3];
  const int64_t plane_in = h * w;
  const int64_t plane_out = oh * ow;
  const T* gy = Data<T>(gyi);
  const int64_t* where = Data<int64_t>(*c.inputs[1]);
  T* gx = gxi.data_as<T>();
  const bool two_by_two = IsTwoByTwo(c.attrs.window);
  ForEachPlane(gyi, 1, [&](int64_t p) {
    T* plane = gx + p * plane_in;
    if (two_by_two) {
      for (int64_t i = 0; i < oh; ++i) {
        const int64_t k = (p * oh + i) * ow;
        MaxPool2x2GradRow(gy + k, where + k, 2 * i * w, w, ow, plane + 2 * i * w,
                          plane + (2 * i + 1) * w);
      }
      std::fill(plane + 2 * oh * w, plane + plane_in, T(0));  // odd height
      return;
    }
    std::fill(plane, plane + plane_in, T(0));
    for (int64_t k = p * plane_out; k < (p + 1) * plane_out; ++k)
      plane[where[k]] += gy[k];
  });
  return absl::OkStatus();
}

// Without kGrad, x -> y: each output the mean of its window; with kGrad, gy -> gx:
// each output's gradient spread evenly over its window.
template <class T, bool kGrad>
absl::Status AvgPool2d(const KernelCall& c) {
  const TensorImpl& image = kGrad ? *c.outputs[0] : *c.inputs[0];
  const TensorImpl& pooled = kGrad ? *c.inputs[0] : *c.outputs[0];
  const int64_t h = image.layout.sizes[2], w = image.layout.sizes[3];
  const int64_t oh = pooled.layout.sizes[2], ow = pooled.layout.sizes[3];
  const T* in = Data<T>(*c.inputs[0]);
  T* out = c.outputs[0]->data_as<T>();
  const Window2d& win = c.attrs.window;
  ForEachPlane(pooled, int64_t{win.kernel[0]} * win.kernel[1], [&](int64_t p) {
    const int64_t plane = p * h * w;
    if constexpr (kGrad) std::fill(out + plane, out + plane + h * w, T(0));
    for (int64_t i = 0; i < oh; ++i) {
      for (int64_t j = 0; j < ow; ++j) {
        const PoolWindow b = AverageWindow(win, h, w, i, j);
        const int64_t k = (p * oh + i) * ow + j;
        const T share = kGrad ? in[k] / static_cast<T>(b.divisor) : T(0);
        T sum = 0;
        for (int64_t yy = b.y0; yy < b.y1; ++yy) {
          for (int64_t xx = b.x0; xx < b.x1; ++xx) {
            if constexpr (kGrad) {
              out[plane + yy * w + xx] += share;
            } else {
              sum += in[plane + yy * w + xx];
            }
          }
        }
        if constexpr (!kGrad) out[k] = sum / static_cast<T>(b.divisor);
      }
    }
  });
  return absl::OkStatus();
}
template <class T>
absl::Status AvgPool2dForward(const KernelCall& c) {
  return AvgPool2d<T, false>(c);
}
template <class T>
absl::Status AvgPool2dGrad(const KernelCall& c) {
  return AvgPool2d<T, true>(c);
}

// f32 convolutions run on oneDNN (conv_onednn.cc).
TAPEGRAD_REGISTER_KERNEL(kConv2d, kF64, kCpu, Conv2dForward<double>);
TAPEGRAD_REGISTER_KERNEL(kConv2dInputGrad, kF64, kCpu, Conv2dInputGrad<double>);
TAPEGRAD_REGISTER_KERNEL(kConv2dWeightGrad, kF64, kCpu, Conv2dWeightGrad<double>);
TAPEGRAD_REGISTER_FLOAT_KERNELS(kMaxPool2d, kCpu, MaxPool2dForward);
TAPEGRAD_REGISTER_FLOAT_KERNELS(kMaxPool2dGrad, kCpu, MaxPool2dGrad);
TAPEGRAD_REGISTER_FLOAT_KERNELS(kAvgPool2d, kCpu, AvgPool2dForward);
TAPEGRAD_REGISTER_FLOAT_KERNELS(kAvgPool2dGrad, kCpu, AvgPool2dGrad);

}  // namespace

template <class T>
absl::Status ReferenceConv2d(const KernelCall& call, ConvPass pass) {
  switch (pass) {
    case ConvPass::kForward:
      return Conv2dForward<T>(call);
    case ConvPass::kInputGrad:
      return Conv2dInputGrad<T>(call);
    case ConvPass::kWeightGrad:
      return Conv2dWeightGrad<T>(call);
  }
  return absl::InternalError("conv2d: unknown pass");
}
template absl::Status ReferenceConv2d<float>(const KernelCall&, ConvPass);
template absl::Status ReferenceConv2d<double>(const KernelCall&, ConvPass);

}  // namespace tapegrad::cpu
