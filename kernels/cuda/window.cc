// Convolution and pooling on CUDA: direct kernels, one thread per element of the
// result, each summing what reaches it. Contract: core/internal/registry.h
// (windows): contiguous NCHW operands, weights [O, C / groups, KH, KW].
//
// Every kernel gathers (the input gradients walk the windows that cover their
// element) instead of scattering, so results are deterministic and need no
// atomics. They are the backend's correct baseline, not its fast path: a
// convolution does C / groups * KH * KW multiply-adds per thread, and the weight
// gradient N * OH * OW; cuDNN or an im2col + cuBLAS path is what speed needs.
#include <cstring>

#include "absl/strings/str_cat.h"
#include "core/internal/registry.h"
#include "kernels/cuda/compiler.h"
#include "kernels/cuda/sources.h"

namespace tapegrad::cuda {
namespace {

// The sizes of one window op: image [n, c, h, w], pooled or convolved [n, o, oh, ow].
struct WinArgs {
  int64_t n, c, h, w, o, oh, ow;
  int32_t kh, kw, sh, sw, ph, pw, dh, dw, groups, count_include_pad;
  const void* a;
  const void* b;
  void* out;
  void* out2;
  const void* bias;  // kConv2d's optional third input
};

constexpr char kCommon[] = R"(
struct WinArgs {
  i64 n, c, h, w, o, oh, ow;
  int kh, kw, sh, sw, ph, pw, dh, dw, groups, count_include_pad;
  const void* a;
  const void* b;
  void* out;
  void* out2;
  const void* bias;
};
// Calls f(oy, ox, ki, kj) for every output (oy, ox) whose window has tap (ki, kj)
// at input (iy, ix), taps dh and dw apart: the outputs the input reaches.
template <class F>
__device__ __forceinline__ void tg_windows_covering(const WinArgs& p, i64 iy, i64 ix, int dh,
                                                    int dw, F f) {
  // oy * sh - ph + ki * dh = iy for some ki in [0, kh): oy in [lo, hi].
  const i64 ty = iy + p.ph, tx = ix + p.pw;
  const i64 span_y = (i64)(p.kh - 1) * dh, span_x = (i64)(p.kw - 1) * dw;
  const i64 lo_y = ty - span_y <= 0 ? 0 : (ty - span_y + p.sh - 1) / p.sh;
  const i64 lo_x = tx - span_x <= 0 ? 0 : (tx - span_x + p.sw - 1) / p.sw;
  const i64 hi_y = ty / p.sh < p.oh - 1 ? ty / p.sh : p.oh - 1;
  const i64 hi_x = tx / p.sw < p.ow - 1 ? tx / p.sw : p.ow - 1;
  for (i64 oy = lo_y; oy <= hi_y; ++oy) {
    const i64 dy = ty - oy * p.sh;
    if (dy % dh != 0) continue;
    for (i64 ox = lo_x; ox <= hi_x; ++ox) {
      const i64 dx = tx - ox * p.sw;
      if (dx % dw == 0) f(oy, ox, (int)(dy / dh), (int)(dx / dw));
    }
  }
}
// The offset, in its plane, of the input element that tap (ki, kj) of output
// (oy, ox) reads, or -1 where the tap lies in the padding.
__device__ __forceinline__ i64 tg_tap_input(const WinArgs& p, i64 oy, i64 ox, int ki, int kj) {
  const i64 iy = oy * p.sh - p.ph + (i64)ki * p.dh, ix = ox * p.sw - p.pw + (i64)kj * p.dw;
  return iy < 0 || iy >= p.h || ix < 0 || ix >= p.w ? -1 : iy * p.w + ix;
}
// Average pooling's window of output (y, x), clipped, and its divisor.
__device__ __forceinline__ void tg_avg_window(const WinArgs& p, i64 y, i64 x, i64* y0, i64* y1,
                                              i64* x0, i64* x1, i64* divisor) {
  i64 a0 = y * p.sh - p.ph, b0 = x * p.sw - p.pw;
  i64 a1 = a0 + p.kh < p.h + p.ph ? a0 + p.kh : p.h + p.ph;
  i64 b1 = b0 + p.kw < p.w + p.pw ? b0 + p.kw : p.w + p.pw;
  const i64 padded = (a1 - a0) * (b1 - b0);
  a0 = a0 < 0 ? 0 : a0;
  b0 = b0 < 0 ? 0 : b0;
  a1 = a1 < p.h ? a1 : p.h;
  b1 = b1 < p.w ? b1 : p.w;
  *y0 = a0; *y1 = a1; *x0 = b0; *x1 = b1;
  *divisor = p.count_include_pad ? padded : (a1 - a0) * (b1 - b0);
}
)";

constexpr char kConv2d[] = R"(
// a = x, b = w, out = y, and bias [o] if not null.
extern "C" __global__ void tg_conv2d(WinArgs p) {
  const T* x = (const T*)p.a;
  const T* w = (const T*)p.b;
  const i64 cg = p.c / p.groups, og = p.o / p.groups;
  TG_FOR(i, p.n * p.o * p.oh * p.ow) {
    const i64 ox = i % p.ow, oy = (i / p.ow) % p.oh, oc = (i / (p.ow * p.oh)) % p.o;
    const i64 n = i / (p.ow * p.oh * p.o), g = oc / og;
    double acc = p.bias != 0 ? (double)((const T*)p.bias)[oc] : 0.0;
    for (i64 ci = 0; ci < cg; ++ci) {
      const T* plane = x + ((n * p.c + g * cg + ci) * p.h) * p.w;
      const T* taps = w + ((oc * cg + ci) * p.kh) * p.kw;
      for (int ki = 0; ki < p.kh; ++ki) {
        for (int kj = 0; kj < p.kw; ++kj) {
          const i64 at = tg_tap_input(p, oy, ox, ki, kj);
          if (at >= 0) acc += (double)plane[at] * (double)taps[ki * p.kw + kj];
        }
      }
    }
    ((T*)p.out)[i] = (T)acc;
  }
}
)";

constexpr char kConv2dInputGrad[] = R"(
// a = gy, b = w, out = gx.
extern "C" __global__ void tg_conv2d_input_grad(WinArgs p) {
  const T* gy = (const T*)p.a;
  const T* w = (const T*)p.b;
  const i64 cg = p.c / p.groups, og = p.o / p.groups;
  TG_FOR(i, p.n * p.c * p.h * p.w) {
    const i64 ix = i % p.w, iy = (i / p.w) % p.h, ci = (i / (p.w * p.h)) % p.c;
    const i64 n = i / (p.w * p.h * p.c), g = ci / cg;
    double acc = 0;
    tg_windows_covering(p, iy, ix, p.dh, p.dw, [&](i64 oy, i64 ox, int ki, int kj) {
      for (i64 oc = g * og; oc < (g + 1) * og; ++oc) {
        acc += (double)gy[((n * p.o + oc) * p.oh + oy) * p.ow + ox] *
               (double)w[((oc * cg + ci - g * cg) * p.kh + ki) * p.kw + kj];
      }
    });
    ((T*)p.out)[i] = (T)acc;
  }
}
)";

constexpr char kConv2dWeightGrad[] = R"(
// a = gy, b = x, out = gw, and out2 = gbias (gy summed over n, y, x) if not null.
extern "C" __global__ void tg_conv2d_weight_grad(WinArgs p) {
  const T* gy = (const T*)p.a;
  const T* x = (const T*)p.b;
  const i64 cg = p.c / p.groups, og = p.o / p.groups;
  TG_FOR(i, p.o * cg * p.kh * p.kw) {
    const int kj = (int)(i % p.kw), ki = (int)((i / p.kw) % p.kh);
    const i64 ci = (i / (p.kw * p.kh)) % cg, oc = i / (p.kw * p.kh * cg), g = oc / og;
    double acc = 0;
    for (i64 n = 0; n < p.n; ++n) {
      const T* plane = x + ((n * p.c + g * cg + ci) * p.h) * p.w;
      const T* grad = gy + ((n * p.o + oc) * p.oh) * p.ow;
      for (i64 oy = 0; oy < p.oh; ++oy) {
        for (i64 ox = 0; ox < p.ow; ++ox) {
          const i64 at = tg_tap_input(p, oy, ox, ki, kj);
          if (at >= 0) acc += (double)grad[oy * p.ow + ox] * (double)plane[at];
        }
      }
    }
    ((T*)p.out)[i] = (T)acc;
    if (p.out2 != 0 && ci == 0 && ki == 0 && kj == 0) {  // one thread per filter
      double sum = 0;
      for (i64 n = 0; n < p.n; ++n) {
        const T* grad = gy + ((n * p.o + oc) * p.oh) * p.ow;
        for (i64 k = 0; k < p.oh * p.ow; ++k) sum += (double)grad[k];
      }
      ((T*)p.out2)[oc] = (T)sum;
    }
  }
}
)";

constexpr char kMaxPool2d[] = R"(
// a = x, out = y, out2 = positions (i64): PyTorch's first maximum, a NaN winning.
extern "C" __global__ void tg_max_pool2d(WinArgs p) {
  const T* x = (const T*)p.a;
  TG_FOR(i, p.n * p.c * p.oh * p.ow) {
    const i64 ox = i % p.ow, oy = (i / p.ow) % p.oh, plane = i / (p.ow * p.oh);
    i64 y0 = oy * p.sh - p.ph, x0 = ox * p.sw - p.pw;
    const i64 y1 = y0 + (i64)(p.kh - 1) * p.dh + 1 < p.h ? y0 + (i64)(p.kh - 1) * p.dh + 1 : p.h;
    const i64 x1 = x0 + (i64)(p.kw - 1) * p.dw + 1 < p.w ? x0 + (i64)(p.kw - 1) * p.dw + 1 : p.w;
    while (y0 < 0) y0 += p.dh;
    while (x0 < 0) x0 += p.dw;
    const T* in = x + plane * p.h * p.w;
    T best = (T)__longlong_as_double(0xfff0000000000000ULL);
    i64 at = y0 * p.w + x0;
    for (i64 yy = y0; yy < y1; yy += p.dh) {
      for (i64 xx = x0; xx < x1; xx += p.dw) {
        const T v = in[yy * p.w + xx];
        if (v > best || v != v) { best = v; at = yy * p.w + xx; }
      }
    }
    ((T*)p.out)[i] = best;
    ((i64*)p.out2)[i] = at;
  }
}
)";

constexpr char kMaxPool2dGrad[] = R"(
// a = gy, b = positions, out = gx: each input adds the outputs that chose it.
extern "C" __global__ void tg_max_pool2d_grad(WinArgs p) {
  const T* gy = (const T*)p.a;
  const i64* where = (const i64*)p.b;
  TG_FOR(i, p.n * p.c * p.h * p.w) {
    const i64 ix = i % p.w, iy = (i / p.w) % p.h, plane = i / (p.w * p.h);
    const i64 self = iy * p.w + ix;
    double acc = 0;
    tg_windows_covering(p, iy, ix, p.dh, p.dw, [&](i64 oy, i64 ox, int, int) {
      const i64 k = (plane * p.oh + oy) * p.ow + ox;
      if (where[k] == self) acc += (double)gy[k];
    });
    ((T*)p.out)[i] = (T)acc;
  }
}
)";

constexpr char kAvgPool2d[] = R"(
// a = x, out = y.
extern "C" __global__ void tg_avg_pool2d(WinArgs p) {
  const T* x = (const T*)p.a;
  TG_FOR(i, p.n * p.c * p.oh * p.ow) {
    const i64 ox = i % p.ow, oy = (i / p.ow) % p.oh, plane = i / (p.ow * p.oh);
    i64 y0, y1, x0, x1, divisor;
    tg_avg_window(p, oy, ox, &y0, &y1, &x0, &x1, &divisor);
    const T* in = x + plane * p.h * p.w;
    double sum = 0;
    for (i64 yy = y0; yy < y1; ++yy) {
      for (i64 xx = x0; xx < x1; ++xx) sum += (double)in[yy * p.w + xx];
    }
    ((T*)p.out)[i] = (T)(sum / (double)divisor);
  }
}
)";

constexpr char kAvgPool2dGrad[] = R"(
// a = gy, out = gx: each input adds its share of every window that covers it.
extern "C" __global__ void tg_avg_pool2d_grad(WinArgs p) {
  const T* gy = (const T*)p.a;
  TG_FOR(i, p.n * p.c * p.h * p.w) {
    const i64 ix = i % p.w, iy = (i / p.w) % p.h, plane = i / (p.w * p.h);
    double acc = 0;
    tg_windows_covering(p, iy, ix, 1, 1, [&](i64 oy, i64 ox, int, int) {
      i64 y0, y1, x0, x1, divisor;
      tg_avg_window(p, oy, ox, &y0, &y1, &x0, &x1, &divisor);
      acc += (double)gy[(plane * p.oh + oy) * p.ow + ox] / (double)divisor;
    });
    ((T*)p.out)[i] = (T)acc;
  }
}
)";

// Fills the sizes from the image `x` and the windowed `y`.
WinArgs ArgsFor(const KernelCall& c, const TensorImpl& x, const TensorImpl& y) {
  WinArgs a;
  std::memset(&a, 0, sizeof(a));
  a.n = x.layout.sizes[0];
  a.c = x.layout.sizes[1];
  a.h = x.layout.sizes[2];
  a.w = x.layout.sizes[3];
  a.o = y.layout.sizes[1];
  a.oh = y.layout.sizes[2];
  a.ow = y.layout.sizes[3];
  const Window2d& win = c.attrs.window;
  a.kh = win.kernel[0];
  a.kw = win.kernel[1];
  a.sh = win.stride[0];
  a.sw = win.stride[1];
  a.ph = win.padding[0];
  a.pw = win.padding[1];
  a.dh = win.dilation[0];
  a.dw = win.dilation[1];
  a.groups = win.groups;
  a.count_include_pad = win.count_include_pad ? 1 : 0;
  return a;
}

// Which operand is the image and which the windowed result, per kernel.
absl::Status Window(const KernelCall& c) {
  const TensorImpl& out = *c.outputs[0];
  WinArgs a;
  switch (c.op) {
    case OpKind::kConv2d:
    case OpKind::kMaxPool2d:
    case OpKind::kAvgPool2d:
      a = ArgsFor(c, *c.inputs[0], out);
      break;
    case OpKind::kConv2dInputGrad:
    case OpKind::kMaxPool2dGrad:
    case OpKind::kAvgPool2dGrad:
      a = ArgsFor(c, out, *c.inputs[0]);
      break;
    default:  // kConv2dWeightGrad: (gy, x) -> gw
      a = ArgsFor(c, *c.inputs[1], *c.inputs[0]);
  }
  a.a = c.inputs[0]->data();
  a.b = c.inputs.size() > 1 ? c.inputs[1]->data() : nullptr;
  a.out = out.data();
  a.out2 = c.outputs.size() > 1 ? c.outputs[1]->data() : nullptr;
  a.bias = c.op == OpKind::kConv2d && c.inputs.size() > 2 ? c.inputs[2]->data() : nullptr;
  if (out.numel() == 0) return absl::OkStatus();
  return Launch(c.op, out.dtype, 0, out.device, GridFor(out.numel(), out.device), &a);
}

#define TG_WINDOW_KERNELS(op)                        \
  TAPEGRAD_REGISTER_KERNEL(op, kF32, kCuda, Window); \
  TAPEGRAD_REGISTER_KERNEL(op, kF64, kCuda, Window)
TG_WINDOW_KERNELS(kConv2d);
TG_WINDOW_KERNELS(kConv2dInputGrad);
TG_WINDOW_KERNELS(kConv2dWeightGrad);
TG_WINDOW_KERNELS(kMaxPool2d);
TG_WINDOW_KERNELS(kMaxPool2dGrad);
TG_WINDOW_KERNELS(kAvgPool2d);
TG_WINDOW_KERNELS(kAvgPool2dGrad);
#undef TG_WINDOW_KERNELS

}  // namespace

void AppendWindowSources(std::vector<KernelSource>* out) {
  const struct {
    OpKind op;
    const char* body;
    const char* entry;
  } kernels[] = {
      {OpKind::kConv2d, kConv2d, "tg_conv2d"},
      {OpKind::kConv2dInputGrad, kConv2dInputGrad, "tg_conv2d_input_grad"},
      {OpKind::kConv2dWeightGrad, kConv2dWeightGrad, "tg_conv2d_weight_grad"},
      {OpKind::kMaxPool2d, kMaxPool2d, "tg_max_pool2d"},
      {OpKind::kMaxPool2dGrad, kMaxPool2dGrad, "tg_max_pool2d_grad"},
      {OpKind::kAvgPool2d, kAvgPool2d, "tg_avg_pool2d"},
      {OpKind::kAvgPool2dGrad, kAvgPool2dGrad, "tg_avg_pool2d_grad"},
  };
  for (DType dtype : {DType::kF32, DType::kF64}) {
    for (const auto& k : kernels) {
      out->push_back(MakeSource(k.op, dtype, absl::StrCat(kCommon, k.body), {k.entry}));
    }
  }
}

}  // namespace tapegrad::cuda
