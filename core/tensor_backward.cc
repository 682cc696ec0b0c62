// The backward formula of every differentiable tensor op, one entry per GradOp.
// Each reads the output's gradient `g` (contiguous, the output's shape) and adds
// each input's share with Accumulate, which also undoes broadcasting. All work is
// done by registry kernels on the tensors' device, in the tape's arena.
#include <numeric>

#include "absl/strings/str_cat.h"
#include "core/internal/tensor_internal.h"
#include "core/status_macros.h"

namespace tapegrad::internal {
namespace {

using R = TensorRecord;

TensorImpl& In(R& r, int i) { return *r.inputs[i]; }
bool Wants(R& r, int i) { return Wanted(*r.inputs[i]); }

// A stack view of `base` with `layout`.
struct ViewOf : TensorImpl {
  ViewOf(const TensorImpl& base, const Layout& layout) { InitView(this, base, layout); }
};

// `g` seen with the reduced axes of record `r` kept (size 1), as the kernels
// produced it before keepdim=false dropped them.
Layout KeepdimLayout(R& r, const TensorImpl& g) {
  Layout keep = In(r, 0).layout;
  for (int i = 0; i < keep.rank; ++i) {
    if (r.attrs.axes & (1u << i)) keep.sizes[i] = 1;
  }
  keep = Layout::Contiguous(keep.shape());
  keep.offset = g.layout.offset;
  return keep;
}

absl::Status AddProduct(Tape& tape, R& r, int i, OpKind op, const TensorImpl& x,
                        const TensorImpl& y, const OpAttrs& attrs = {}) {
  if (!Wants(r, i)) return absl::OkStatus();
  TG_ASSIGN_OR_RETURN(TensorImpl * c, RunBinary(&tape, op, x, y, attrs));
  return Accumulate(tape, In(r, i), *c, /*owned=*/true);
}

absl::Status AddUnary(Tape& tape, R& r, int i, OpKind op, const TensorImpl& x,
                      const OpAttrs& attrs) {
  if (!Wants(r, i)) return absl::OkStatus();
  TG_ASSIGN_OR_RETURN(TensorImpl * c, RunUnary(&tape, op, x, attrs));
  return Accumulate(tape, In(r, i), *c, /*owned=*/true);
}

absl::Status PassThrough(R& r, Tape& tape, TensorImpl& g) {
  return Accumulate(tape, In(r, 0), g, false);
}

absl::Status AddBackward(R& r, Tape& tape, TensorImpl& g) {
  TG_RETURN_IF_ERROR(Accumulate(tape, In(r, 0), g, false));
  return Accumulate(tape, In(r, 1), g, false);
}

absl::Status SubBackward(R& r, Tape& tape, TensorImpl& g) {
  TG_RETURN_IF_ERROR(Accumulate(tape, In(r, 0), g, false));
  return AddUnary(tape, r, 1, OpKind::kNeg, g, {});
}

absl::Status MulBackward(R& r, Tape& tape, TensorImpl& g) {
  TG_RETURN_IF_ERROR(AddProduct(tape, r, 0, OpKind::kMul, g, In(r, 1)));
  return AddProduct(tape, r, 1, OpKind::kMul, g, In(r, 0));
}

absl::Status DivBackward(R& r, Tape& tape, TensorImpl& g) {
  TG_RETURN_IF_ERROR(AddProduct(tape, r, 0, OpKind::kDiv, g, In(r, 1)));
  if (!Wants(r, 1)) return absl::OkStatus();
  // d(a/b)/db = -(a/b)/b
  TG_ASSIGN_OR_RETURN(TensorImpl * t, RunBinary(&tape, OpKind::kMul, g, *r.out));
  TG_ASSIGN_OR_RETURN(TensorImpl * u, RunBinary(&tape, OpKind::kDiv, *t, In(r, 1)));
  return AddUnary(tape, r, 1, OpKind::kNeg, *u, {});
}

// maximum: ties split the gradient in half (as PyTorch). minimum is maximum with
// the operands' roles swapped.
absl::Status ExtremumBackward(R& r, Tape& tape, TensorImpl& g, bool is_max) {
  const Shape shape = g.layout.shape();
  const TensorImpl& a = In(r, is_max ? 0 : 1);
  const TensorImpl& b = In(r, is_max ? 1 : 0);
  ViewOf va(a, a.layout.Expanded(shape)), vb(b, b.layout.Expanded(shape));
  TG_ASSIGN_OR_RETURN(TensorImpl * ga, NewResult(&tape, shape, g.dtype, g.device));
  TG_ASSIGN_OR_RETURN(TensorImpl * gb, NewResult(&tape, shape, g.dtype, g.device));
  TG_RETURN_IF_ERROR(Run(OpKind::kMaximumGrad, {&va, &vb, &g}, {ga, gb}));
  // Either way the first output is the first input's share.
  TG_RETURN_IF_ERROR(Accumulate(tape, In(r, 0), *ga, true));
  return Accumulate(tape, In(r, 1), *gb, true);
}

absl::Status MaximumBackward(R& r, Tape& tape, TensorImpl& g) {
  return ExtremumBackward(r, tape, g, true);
}
absl::Status MinimumBackward(R& r, Tape& tape, TensorImpl& g) {
  return ExtremumBackward(r, tape, g, false);
}

absl::Status WhereBackward(R& r, Tape& tape, TensorImpl& g) {
  const Shape shape = g.layout.shape();
  TG_ASSIGN_OR_RETURN(TensorImpl * zero, NewResult(&tape, {}, g.dtype, g.device));
  TG_RETURN_IF_ERROR(Run(OpKind::kFill, {}, {zero}, {}));
  const TensorImpl& cond = In(r, 0);
  ViewOf vc(cond, cond.layout.Expanded(shape)), vz(*zero, zero->layout.Expanded(shape));
  for (int i = 1; i <= 2; ++i) {
    if (!Wants(r, i)) continue;
    TG_ASSIGN_OR_RETURN(TensorImpl * c, NewResult(&tape, shape, g.dtype, g.device));
    if (i == 1) {
      TG_RETURN_IF_ERROR(Run(OpKind::kWhere, {&vc, &g, &vz}, {c}));
    } else {
      TG_RETURN_IF_ERROR(Run(OpKind::kWhere, {&vc, &vz, &g}, {c}));
    }
    TG_RETURN_IF_ERROR(Accumulate(tape, In(r, i), *c, true));
  }
  return absl::OkStatus();
}

// d/dx = sigmoid(x) - y, d/dy = -x: the stable form's derivative, exact at x = 0.
absl::Status BceWithLogitsBackward(R& r, Tape& tape, TensorImpl& g) {
  if (Wants(r, 0)) {
    TG_ASSIGN_OR_RETURN(TensorImpl * s, RunUnary(&tape, OpKind::kSigmoid, In(r, 0)));
    TG_ASSIGN_OR_RETURN(TensorImpl * d, RunBinary(&tape, OpKind::kSub, *s, In(r, 1)));
    TG_RETURN_IF_ERROR(AddProduct(tape, r, 0, OpKind::kMul, g, *d));
  }
  if (!Wants(r, 1)) return absl::OkStatus();
  TG_ASSIGN_OR_RETURN(TensorImpl * t, RunBinary(&tape, OpKind::kMul, g, In(r, 0)));
  return AddUnary(tape, r, 1, OpKind::kNeg, *t, {});
}

absl::Status NegBackward(R& r, Tape& tape, TensorImpl& g) {
  return AddUnary(tape, r, 0, OpKind::kNeg, g, {});
}
absl::Status ClampBackward(R& r, Tape& tape, TensorImpl& g) {
  return AddProduct(tape, r, 0, OpKind::kClampGrad, In(r, 0), g, r.attrs);
}
absl::Status PowBackward(R& r, Tape& tape, TensorImpl& g) {
  return AddProduct(tape, r, 0, OpKind::kPowGrad, In(r, 0), g, r.attrs);
}
absl::Status ScaleBackward(R& r, Tape& tape, TensorImpl& g) {
  return AddUnary(tape, r, 0, OpKind::kScale, g, r.attrs);
}

absl::Status SumBackward(R& r, Tape& tape, TensorImpl& g) {
  if (!Wants(r, 0)) return absl::OkStatus();
  const TensorImpl* source = &g;
  if (r.attrs.scalar0 != 1.0) {
    TG_ASSIGN_OR_RETURN(source, RunUnary(&tape, OpKind::kScale, g, r.attrs));
  }
  const Layout keep = KeepdimLayout(r, *source);
  ViewOf spread(*source, keep.Expanded(In(r, 0).layout.shape()));
  return Accumulate(tape, In(r, 0), spread, false);
}

// Every element equal to the extremum gets an equal share of its gradient.
absl::Status ExtremeReductionBackward(R& r, Tape& tape, TensorImpl& g) {
  if (!Wants(r, 0)) return absl::OkStatus();
  TensorImpl& x = In(r, 0);
  ViewOf out_keep(*r.out, KeepdimLayout(r, *r.out));
  ViewOf g_keep(g, KeepdimLayout(r, g));
  TG_ASSIGN_OR_RETURN(TensorImpl * mask, RunBinary(&tape, OpKind::kEqual, x, out_keep));
  TG_ASSIGN_OR_RETURN(TensorImpl * count,
                      RunReduce(&tape, OpKind::kSum, *mask, r.attrs.axes));
  TG_ASSIGN_OR_RETURN(TensorImpl * share, RunBinary(&tape, OpKind::kDiv, g_keep, *count));
  return AddProduct(tape, r, 0, OpKind::kMul, *mask, *share);
}

// Adds x @ y, a share of matmul record r's input i whose batch axes are g's, to
// that input's grad. Where the grad has a buffer of its own (a parameter's, or one
// an earlier rule made), the GEMM writes into it: with beta 1, or 0 over a lazily
// zeroed grad (Note [Lazy zero grads]). Otherwise the product is a fresh tape
// tensor that becomes the grad, or is summed over the batch axes the input
// broadcast along (Accumulate).
absl::Status AddMatMul(Tape& tape, R& r, int i, const TensorImpl& x, const TensorImpl& y,
                       const TensorImpl& g) {
  if (!Wants(r, i)) return absl::OkStatus();
  TensorImpl& input = In(r, i);
  const bool adoptable = TakesFreshGrad(tape, input);
  const Shape product_batch = g.layout.shape().subspan(0, g.layout.rank - 2);
  const Shape input_batch = input.layout.shape().subspan(0, input.layout.rank - 2);
  if (adoptable || product_batch != input_batch) {
    TG_ASSIGN_OR_RETURN(TensorImpl * product, RunMatMul(&tape, x, y));
    return Accumulate(tape, input, *product, true);
  }
  TG_ASSIGN_OR_RETURN(const bool adds, AddsTo(input));
  if (!adds) return absl::OkStatus();
  bool zero;
  TG_ASSIGN_OR_RETURN(TensorImpl * grad, GradBuffer(tape, input, &zero));
  TG_RETURN_IF_ERROR(RunMatMulInto(x, y, *grad, /*accumulate=*/!zero));
  GradWritten(input);
  input.grad_epoch = tape.sweep_epoch();
  return absl::OkStatus();
}

absl::Status MatMulBackward(R& r, Tape& tape, TensorImpl& g) {
  const TensorImpl& a = In(r, 0);
  const TensorImpl& b = In(r, 1);
  const int ra = a.layout.rank, rb = b.layout.rank;
  ViewOf bt(b, b.layout.Transposed(rb - 2, rb - 1));
  TG_RETURN_IF_ERROR(AddMatMul(tape, r, 0, g, bt, g));
  ViewOf at(a, a.layout.Transposed(ra - 2, ra - 1));
  return AddMatMul(tape, r, 1, at, g, g);
}

// dx = y * (g - sum(g * y, axis))
absl::Status SoftmaxBackward(R& r, Tape& tape, TensorImpl& g) {
  if (!Wants(r, 0)) return absl::OkStatus();
  const TensorImpl& y = *r.out;
  TG_ASSIGN_OR_RETURN(TensorImpl * gy, RunBinary(&tape, OpKind::kMul, g, y));
  TG_ASSIGN_OR_RETURN(TensorImpl * s,
                      RunReduce(&tape, OpKind::kSum, *gy, 1u << r.attrs.axis));
  TG_ASSIGN_OR_RETURN(TensorImpl * d, RunBinary(&tape, OpKind::kSub, g, *s));
  return AddProduct(tape, r, 0, OpKind::kMul, y, *d);
}

// dx = g - exp(y) * sum(g, axis)
absl::Status LogSoftmaxBackward(R& r, Tape& tape, TensorImpl& g) {
  if (!Wants(r, 0)) return absl::OkStatus();
  TG_ASSIGN_OR_RETURN(TensorImpl * p, RunUnary(&tape, OpKind::kExp, *r.out));
  TG_ASSIGN_OR_RETURN(TensorImpl * s,
                      RunReduce(&tape, OpKind::kSum, g, 1u << r.attrs.axis));
  TG_ASSIGN_OR_RETURN(TensorImpl * ps, RunBinary(&tape, OpKind::kMul, *p, *s));
  return AddProduct(tape, r, 0, OpKind::kSub, g, *ps);
}

absl::Status CrossEntropyBackward(R& r, Tape& tape, TensorImpl& g) {
  if (!Wants(r, 0)) return absl::OkStatus();
  const TensorImpl& logits = In(r, 0);
  TG_ASSIGN_OR_RETURN(TensorImpl * d, NewResult(&tape, logits.layout.shape(),
                                                logits.dtype, logits.device));
  TG_RETURN_IF_ERROR(Run(OpKind::kCrossEntropyGrad, {&logits, &In(r, 1), &g}, {d}));
  return Accumulate(tape, In(r, 0), *d, true);
}

absl::Status IndexSelectBackward(R& r, Tape& tape, TensorImpl& g) {
  TG_ASSIGN_OR_RETURN(const bool adds, AddsTo(In(r, 0)));
  if (!adds) return absl::OkStatus();
  TG_ASSIGN_OR_RETURN(TensorImpl * grad, GradOf(tape, In(r, 0)));
  TG_RETURN_IF_ERROR(Run(OpKind::kIndexAdd, {&g, &In(r, 1)}, {grad}));
  In(r, 0).grad_epoch = tape.sweep_epoch();
  return absl::OkStatus();
}

absl::Status ConcatBackward(R& r, Tape& tape, TensorImpl& g) {
  const int axis = static_cast<int>(r.extra[0]);
  int64_t start = 0;
  for (int i = 0; i < r.num_inputs; ++i) {
    const int64_t size = In(r, i).layout.sizes[axis];
    ViewOf part(g, g.layout.Sliced(axis, start, start + size, 1));
    TG_RETURN_IF_ERROR(Accumulate(tape, In(r, i), part, false));
    start += size;
  }
  return absl::OkStatus();
}

absl::Status PermuteBackward(R& r, Tape& tape, TensorImpl& g) {
  int inverse[kMaxRank];
  for (int i = 0; i < g.layout.rank; ++i) inverse[r.extra[i]] = i;
  ViewOf back(g, g.layout.Permuted({inverse, size_t(g.layout.rank)}));
  return Accumulate(tape, In(r, 0), back, false);
}

absl::Status ReshapeBackward(R& r, Tape& tape, TensorImpl& g) {
  Layout back = Layout::Contiguous(In(r, 0).layout.shape());
  back.offset = g.layout.offset;
  ViewOf view(g, back);
  return Accumulate(tape, In(r, 0), view, false);
}

absl::Status SliceBackward(R& r, Tape& tape, TensorImpl& g) {
  TG_ASSIGN_OR_RETURN(const bool adds, AddsTo(In(r, 0)));
  if (!adds) return absl::OkStatus();
  TG_ASSIGN_OR_RETURN(TensorImpl * grad, GradOf(tape, In(r, 0)));
  ViewOf part(*grad, grad->layout.Sliced(static_cast<int>(r.extra[0]), r.extra[1],
                                         r.extra[2], r.extra[3]));
  TG_RETURN_IF_ERROR(Run(OpKind::kAdd, {&part, &g}, {&part}));
  In(r, 0).grad_epoch = tape.sweep_epoch();
  return absl::OkStatus();
}

// to(device): the gradient goes back to the input's device.
absl::Status ToDeviceBackward(R& r, Tape& tape, TensorImpl& g) {
  if (!Wants(r, 0)) return absl::OkStatus();
  TG_ASSIGN_OR_RETURN(TensorImpl * c, CopyToDevice(&tape, g, In(r, 0).device));
  return Accumulate(tape, In(r, 0), *c, /*owned=*/true);
}

// A row of TAPEGRAD_UNARY_MATH_OPS: one kernel computes dL/dx from g and the
// saved input or output. Rows that save nothing record their result as a
// constant (no inputs), so their rule never runs.
template <OpKind kGrad, Saved kSaved>
absl::Status UnaryMathBackward(R& r, Tape& tape, TensorImpl& g) {
  if constexpr (kSaved == Saved::kNone) {
    return absl::InternalError(absl::StrCat(OpKindName(kGrad), " ran for a constant"));
  } else {
    const TensorImpl& saved = kSaved == Saved::kOutput ? *r.out : In(r, 0);
    return AddProduct(tape, r, 0, kGrad, saved, g, r.attrs);
  }
}

// Indexed by GradOp: both come from TAPEGRAD_GRAD_OPS and TAPEGRAD_UNARY_MATH_OPS,
// so each op has its own row.
constexpr BackwardFn kBackward[] = {
#define TAPEGRAD_GRAD_OP_RULE(op, backward) backward,
    TAPEGRAD_GRAD_OPS(TAPEGRAD_GRAD_OP_RULE)
#undef TAPEGRAD_GRAD_OP_RULE
#define TAPEGRAD_GRAD_OP_RULE(Y, Name, name, enumerator, saved, ...) \
  UnaryMathBackward<OpKind::k##Name##Grad, Saved::saved>,
        TAPEGRAD_UNARY_MATH_OPS(TAPEGRAD_GRAD_OP_RULE, )
#undef TAPEGRAD_GRAD_OP_RULE
};
static_assert(sizeof(kBackward) / sizeof(kBackward[0]) == size_t(GradOp::kCount));

}  // namespace

BackwardFn BackwardFor(GradOp op) { return kBackward[static_cast<int>(op)]; }

}  // namespace tapegrad::internal
