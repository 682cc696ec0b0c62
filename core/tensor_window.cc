// Convolution and pooling: windows over the last two axes of NCHW tensors, and
// their backward formulas. The kernels (kConv2d, kMaxPool2d, ...) see contiguous
// operands only; a strided operand is copied first, through a recorded copy, so
// its gradient flows back through the view.
#include <algorithm>
#include <array>
#include <limits>
#include <string>
#include <vector>

#include "absl/container/inlined_vector.h"
#include "absl/strings/str_format.h"
#include "core/internal/tensor_internal.h"
#include "core/status_macros.h"
#include "core/tensor_ops.h"

namespace tapegrad {
namespace {

using internal::GradOp;

std::string PairString(const std::array<int64_t, 2>& p) {
  return absl::StrFormat("(%d, %d)", p[0], p[1]);
}

// The geometry for a kernel, or an error naming `op` and its operands when an
// argument is out of range (sizes that do not fit the kernels' 32-bit fields
// included). Pooling also asks for padding <= kernel / 2.
absl::Status MakeWindow(const char* op, absl::Span<const TensorImpl* const> operands,
                        const std::array<int64_t, 2>& kernel,
                        const std::array<int64_t, 2>& stride,
                        const std::array<int64_t, 2>& padding,
                        const std::array<int64_t, 2>& dilation, int64_t groups,
                        bool pooling, Window2d* w) {
  constexpr int64_t kMax = std::numeric_limits<int32_t>::max();
  const struct {
    const char* name;
    const std::array<int64_t, 2>& sizes;
    int64_t least;
    int32_t* out;
  } fields[] = {{"kernel size", kernel, 1, w->kernel},
                {"stride", stride, 1, w->stride},
                {"dilation", dilation, 1, w->dilation},
                {"padding", padding, 0, w->padding}};
  for (const auto& f : fields) {
    for (int a = 0; a < 2; ++a) {
      if (f.sizes[a] < f.least || f.sizes[a] > kMax) {
        return internal::OpError(
            op, operands,
            absl::StrFormat("%s %s must %s", f.name, PairString(f.sizes),
                            f.least == 0 ? "not be negative" : "be positive"));
      }
      f.out[a] = static_cast<int32_t>(f.sizes[a]);
    }
  }
  if (pooling && (padding[0] > kernel[0] / 2 || padding[1] > kernel[1] / 2)) {
    return internal::OpError(op, operands,
                             "padding " + PairString(padding) +
                                 " must be at most half the kernel size " +
                                 PairString(kernel));
  }
  w->groups = static_cast<int32_t>(std::min(groups, kMax));
  return absl::OkStatus();
}

// The output's spatial sizes, or an error if the window does not fit the padded
// input.
absl::Status OutputSizes(const char* op, absl::Span<const TensorImpl* const> operands,
                         const TensorImpl& x, const Window2d& w, int64_t* oh,
                         int64_t* ow) {
  *oh = w.OutputSize(0, x.layout.sizes[2]);
  *ow = w.OutputSize(1, x.layout.sizes[3]);
  if (*oh < 1 || *ow < 1) {
    return internal::OpError(
        op, operands,
        absl::StrFormat("the window (kernel (%d, %d), dilation (%d, %d)) is larger than "
                        "the padded input (%d, %d)",
                        w.kernel[0], w.kernel[1], w.dilation[0], w.dilation[1],
                        x.layout.sizes[2] + 2 * w.padding[0],
                        x.layout.sizes[3] + 2 * w.padding[1]));
  }
  return absl::OkStatus();
}

// Contiguous copies of the operands where they are not (recorded, so gradients
// flow back through the copy); false with *error set if one fails.
bool MakeContiguous(Tensor* t, Tensor* error) {
  if (t->is_contiguous()) return true;
  *t = t->Contiguous();
  if (t->ok()) return true;
  *error = *t;
  return false;
}

Tensor Pool(const char* name, OpKind kernel, GradOp grad_op, const Tensor& input,
            const Pool2dOptions& o, bool max) {
  Tape* tape;
  TensorImpl* in[1];
  if (!internal::Prepare({&input}, &tape, in))
    return internal::Unprepared(name, {&input});
  const TensorImpl* const impls[] = {in[0]};
  if (input.dim() != 4) {
    return internal::Fail(
        tape, internal::OpError(name, impls, "needs an input of rank 4 (N, C, H, W)"));
  }
  const std::array<int64_t, 2> stride = {o.stride[0] == 0 ? o.kernel[0] : o.stride[0],
                                         o.stride[1] == 0 ? o.kernel[1] : o.stride[1]};
  Window2d w;
  w.count_include_pad = o.count_include_pad;
  if (absl::Status s = MakeWindow(name, impls, o.kernel, stride, o.padding,
                                  max ? o.dilation : std::array<int64_t, 2>{1, 1}, 1,
                                  /*pooling=*/true, &w);
      !s.ok()) {
    return internal::Fail(tape, s);
  }
  int64_t oh, ow;
  if (absl::Status s = OutputSizes(name, impls, *in[0], w, &oh, &ow); !s.ok()) {
    return internal::Fail(tape, s);
  }
  Tensor x = input, error;
  if (!MakeContiguous(&x, &error)) return error;
  const int64_t shape[] = {x.size(0), x.size(1), oh, ow};
  absl::StatusOr<TensorImpl*> out =
      internal::NewResult(tape, shape, x.dtype(), x.device());
  if (!out.ok()) return internal::Fail(tape, out.status());
  OpAttrs attrs;
  attrs.window = w;
  if (!max) {
    if (absl::Status s = internal::Run(kernel, {x.impl()}, {*out}, attrs); !s.ok()) {
      return internal::Fail(tape, internal::Discard(*out, s));
    }
    return internal::Finish(tape, *out, grad_op, {x.impl()}, attrs);
  }
  absl::StatusOr<TensorImpl*> where =
      internal::NewResult(tape, shape, DType::kI64, x.device());
  if (!where.ok()) return internal::Fail(tape, internal::Discard(*out, where.status()));
  if (absl::Status s = internal::Run(kernel, {x.impl()}, {*out, *where}, attrs);
      !s.ok()) {
    internal::Discard(*where, s).IgnoreError();
    return internal::Fail(tape, internal::Discard(*out, s));
  }
  Tensor y = internal::Finish(tape, *out, grad_op, {x.impl(), *where}, attrs);
  if (tape == nullptr) internal::Discard(*where, absl::OkStatus()).IgnoreError();
  return y;
}

// conv2d, with `bias` added to every filter's plane unless it is null: one
// kernel and one record either way (kConv2d's optional third input).
Tensor Convolve(const Tensor& input, const Tensor& weight, const Tensor* bias,
                const Conv2dOptions& o) {
  Tape* tape;
  TensorImpl* in[3];
  const Tensor* const operands[] = {&input, &weight, bias};
  const size_t count = bias != nullptr ? 3 : 2;
  if (!internal::Prepare({operands, count}, &tape, in)) {
    return internal::Unprepared("conv2d", {operands, count});
  }
  const TensorImpl* const impls_storage[] = {in[0], in[1], in[2]};
  const absl::Span<const TensorImpl* const> impls(impls_storage, count);
  auto fail = [&](const std::string& what) {
    return internal::Fail(tape, internal::OpError("conv2d", impls, what));
  };
  if (bias != nullptr &&
      (bias->dim() != 1 || weight.dim() < 1 || bias->size(0) != weight.size(0))) {
    return fail("the bias must be a vector of one value per filter");
  }
  if (input.dim() != 4 || weight.dim() != 4) {
    return fail("needs an input (N, C, H, W) and a weight (O, C / groups, KH, KW)");
  }
  const int64_t channels = input.size(1), filters = weight.size(0);
  if (o.groups < 1 || channels % o.groups != 0 || filters % o.groups != 0) {
    return fail(
        absl::StrFormat("groups = %d must divide the input's %d channels and the "
                        "weight's %d filters",
                        o.groups, channels, filters));
  }
  if (weight.size(1) * o.groups != channels) {
    return fail(
        absl::StrFormat("the input has %d channels; the weight expects %d (%d per "
                        "group, %d groups)",
                        channels, weight.size(1) * o.groups, weight.size(1), o.groups));
  }
  Window2d w;
  if (absl::Status s =
          MakeWindow("conv2d", impls, {weight.size(2), weight.size(3)}, o.stride,
                     o.padding, o.dilation, o.groups, /*pooling=*/false, &w);
      !s.ok()) {
    return internal::Fail(tape, s);
  }
  int64_t oh, ow;
  if (absl::Status s = OutputSizes("conv2d", impls, *in[0], w, &oh, &ow); !s.ok()) {
    return internal::Fail(tape, s);
  }
  Tensor x = input, k = weight, b = bias != nullptr ? *bias : Tensor(), error;
  if (!MakeContiguous(&x, &error) || !MakeContiguous(&k, &error) ||
      (bias != nullptr && !MakeContiguous(&b, &error))) {
    return error;
  }
  const int64_t shape[] = {x.size(0), filters, oh, ow};
  absl::StatusOr<TensorImpl*> out =
      internal::NewResult(tape, shape, x.dtype(), x.device());
  if (!out.ok()) return internal::Fail(tape, out.status());
  OpAttrs attrs;
  attrs.window = w;
  const absl::Status ran =
      bias != nullptr
          ? internal::Run(OpKind::kConv2d, {x.impl(), k.impl(), b.impl()}, {*out}, attrs)
          : internal::Run(OpKind::kConv2d, {x.impl(), k.impl()}, {*out}, attrs);
  if (!ran.ok()) return internal::Fail(tape, internal::Discard(*out, ran));
  return bias != nullptr
             ? internal::Finish(tape, *out, GradOp::kConv2d,
                                {x.impl(), k.impl(), b.impl()}, attrs)
             : internal::Finish(tape, *out, GradOp::kConv2d, {x.impl(), k.impl()}, attrs);
}

}  // namespace

Tensor Conv2d(const Tensor& input, const Tensor& weight, const Conv2dOptions& options) {
  return Convolve(input, weight, nullptr, options);
}

Tensor Conv2d(const Tensor& input, const Tensor& weight, const Tensor& bias,
              const Conv2dOptions& options) {
  return Convolve(input, weight, &bias, options);
}

Tensor MaxPool2d(const Tensor& x, const Pool2dOptions& options) {
  return Pool("max_pool2d", OpKind::kMaxPool2d, GradOp::kMaxPool2d, x, options, true);
}

Tensor AvgPool2d(const Tensor& x, const Pool2dOptions& options) {
  return Pool("avg_pool2d", OpKind::kAvgPool2d, GradOp::kAvgPool2d, x, options, false);
}

Tensor AdaptiveAvgPool2d(const Tensor& x, std::array<int64_t, 2> size) {
  if (x.ok() && x.dim() == 4 && size[0] >= 1 && size[1] >= 1 &&
      x.size(2) % size[0] == 0 && x.size(3) % size[1] == 0) {
    // Equal bins: one pooling window per output element.
    Pool2dOptions o;
    o.kernel = {x.size(2) / size[0], x.size(3) / size[1]};
    return AvgPool2d(x, o);
  }
  Tape* tape;
  TensorImpl* in[1];
  if (!internal::Prepare({&x}, &tape, in)) {
    return internal::Unprepared("adaptive_avg_pool2d", {&x});
  }
  const TensorImpl* const impls[] = {in[0]};
  if (x.dim() != 4 || size[0] < 1 || size[1] < 1) {
    return internal::Fail(
        tape,
        internal::OpError("adaptive_avg_pool2d", impls,
                          "needs an input of rank 4 (N, C, H, W) and an output size "
                          "of at least (1, 1), not " +
                              PairString(size)));
  }
  if (size[0] > x.size(2) || size[1] > x.size(3)) {
    // Larger outputs repeat input cells; refused so that the composition below
    // stays within as many ops as the input has rows and columns.
    return internal::Fail(
        tape, internal::OpError("adaptive_avg_pool2d", impls,
                                "an uneven output size " + PairString(size) +
                                    " must not exceed the input's height and width"));
  }
  // PyTorch's bins, [floor(i H / n), ceil((i + 1) H / n)). A bin's mean is the
  // mean over its rows of the means over its columns, so the rows are pooled
  // first (one mean per row bin), then the columns: size[0] + size[1] ops.
  auto pool_axis = [](const Tensor& t, int axis, int64_t n) {
    const int64_t in_size = t.size(axis);
    std::vector<Tensor> bins;
    for (int64_t i = 0; i < n; ++i) {
      const int64_t begin = i * in_size / n, end = ((i + 1) * in_size + n - 1) / n;
      bins.push_back(Mean(t.Slice(axis, begin, end), {axis}, /*keepdim=*/true));
    }
    return Concatenate(bins, axis);
  };
  return pool_axis(pool_axis(x, 2, size[0]), 3, size[1]);
}

Tensor Flatten(const Tensor& x, int64_t start, int64_t end) {
  Tape* tape;
  const Tensor* operands[] = {&x};
  if (absl::Status s = internal::Place("flatten", operands, &tape); !s.ok()) {
    return internal::Fail(tape, s);
  }
  int first = 0, last = 0;
  const int rank = std::max(x.dim(), 1);
  if (!NormalizeAxis(start, rank, &first) || !NormalizeAxis(end, rank, &last) ||
      first > last) {
    const TensorImpl* const impls[] = {x.impl()};
    return internal::Fail(
        tape, internal::OpError("flatten", impls,
                                absl::StrFormat("axes %d to %d do not name a run of axes",
                                                start, end)));
  }
  absl::InlinedVector<int64_t, kMaxRank> shape;
  for (int i = 0; i < first; ++i) shape.push_back(x.size(i));
  int64_t merged = 1;
  for (int i = first; i <= last && i < x.dim(); ++i) merged *= x.size(i);
  shape.push_back(merged);
  for (int i = last + 1; i < x.dim(); ++i) shape.push_back(x.size(i));
  return x.Contiguous().Reshape(shape);
}

namespace internal {
namespace {

using R = TensorRecord;

// A fresh, contiguous result of `like`'s shape, overwritten by `kernel`.
absl::StatusOr<TensorImpl*> RunInto(Tape& tape, OpKind kernel, const TensorImpl& like,
                                    std::initializer_list<const TensorImpl*> inputs,
                                    const OpAttrs& attrs) {
  TG_ASSIGN_OR_RETURN(TensorImpl * out,
                      NewResult(&tape, like.layout.shape(), like.dtype, like.device));
  if (absl::Status s = Run(kernel, inputs, {out}, attrs); !s.ok()) return Discard(out, s);
  return out;
}

}  // namespace

absl::Status Conv2dBackward(R& r, Tape& tape, TensorImpl& g) {
  TensorImpl& x = *r.inputs[0];
  TensorImpl& w = *r.inputs[1];
  TensorImpl* const b = r.num_inputs > 2 ? r.inputs[2] : nullptr;
  if (Wanted(x)) {
    TG_ASSIGN_OR_RETURN(TensorImpl * dx,
                        RunInto(tape, OpKind::kConv2dInputGrad, x, {&g, &w}, r.attrs));
    TG_RETURN_IF_ERROR(Accumulate(tape, x, *dx, /*owned=*/true));
  }
  const bool bias_wanted = b != nullptr && Wanted(*b);
  if (Wanted(w) && bias_wanted && w.numel() > 0) {  // one pass writes both
    TG_ASSIGN_OR_RETURN(TensorImpl * dw,
                        NewResult(&tape, w.layout.shape(), w.dtype, w.device));
    TG_ASSIGN_OR_RETURN(TensorImpl * db,
                        NewResult(&tape, b->layout.shape(), b->dtype, b->device));
    if (absl::Status s = Run(OpKind::kConv2dWeightGrad, {&g, &x}, {dw, db}, r.attrs);
        !s.ok()) {
      return Discard(dw, Discard(db, s));
    }
    TG_RETURN_IF_ERROR(Accumulate(tape, w, *dw, /*owned=*/true));
    return Accumulate(tape, *b, *db, /*owned=*/true);
  }
  if (Wanted(w)) {
    TG_ASSIGN_OR_RETURN(TensorImpl * dw,
                        RunInto(tape, OpKind::kConv2dWeightGrad, w, {&g, &x}, r.attrs));
    TG_RETURN_IF_ERROR(Accumulate(tape, w, *dw, /*owned=*/true));
  }
  if (bias_wanted) {  // g summed over all but O
    TG_ASSIGN_OR_RETURN(TensorImpl * summed,
                        RunReduce(&tape, OpKind::kSum, g, 1u | 4u | 8u));
    TensorImpl db;
    InitView(&db, *summed, Layout::Contiguous(b->layout.shape()));
    TG_RETURN_IF_ERROR(Accumulate(tape, *b, db, /*owned=*/true));
  }
  return absl::OkStatus();
}

absl::Status MaxPool2dBackward(R& r, Tape& tape, TensorImpl& g) {
  TensorImpl& x = *r.inputs[0];
  if (!x.requires_grad) return absl::OkStatus();
  TG_ASSIGN_OR_RETURN(TensorImpl * dx, RunInto(tape, OpKind::kMaxPool2dGrad, x,
                                               {&g, r.inputs[1]}, r.attrs));
  return Accumulate(tape, x, *dx, /*owned=*/true);
}

absl::Status AvgPool2dBackward(R& r, Tape& tape, TensorImpl& g) {
  TensorImpl& x = *r.inputs[0];
  if (!x.requires_grad) return absl::OkStatus();
  TG_ASSIGN_OR_RETURN(TensorImpl * dx,
                      RunInto(tape, OpKind::kAvgPool2dGrad, x, {&g}, r.attrs));
  return Accumulate(tape, x, *dx, /*owned=*/true);
}

}  // namespace internal
}  // namespace tapegrad
