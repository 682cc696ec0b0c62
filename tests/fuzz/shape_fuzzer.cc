// The shape and view algebra on its own: chains of views (reshape, transpose,
// permute, slice, expand, squeeze, unsqueeze) with fuzzed arguments over a small
// tensor, then ops that read every element. The property: a view that is made
// never reaches outside its storage and never claims more than kMaxElements
// elements (Note [Size limits]); everything else is an error status. A breach
// traps, so the fuzzer reports it even without a sanitizer.
#include <fuzzer/FuzzedDataProvider.h>

#include <algorithm>
#include <cstdint>
#include <vector>

#include "tapegrad.h"
#include "tests/fuzz/fuzz_input.h"

namespace {

using tapegrad::Tensor;

// Large sizes from 2^16: views over them are cheap, and ops on them are skipped.
int64_t PickSize(FuzzedDataProvider& in) { return tapegrad::fuzz::PickSize(in, 16); }

// Traps unless `t` (if ok) stays inside its storage and the size limit.
void CheckInside(const Tensor& t) {
  if (!t.ok()) return;
  const tapegrad::TensorImpl& impl = *t.impl();
  if (impl.numel() < 0 || impl.numel() > tapegrad::kMaxElements) __builtin_trap();
  if (impl.numel() == 0) return;
  int64_t lowest, end;
  impl.layout.Extent(&lowest, &end);
  const int64_t capacity =
      static_cast<int64_t>(impl.storage->bytes / tapegrad::DTypeSize(impl.dtype));
  if (lowest < 0 || end > capacity) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzedDataProvider in(data, size);
  tapegrad::Tape tape;
  tapegrad::TapeScope scope(in.ConsumeBool() ? &tape : nullptr);
  std::vector<int64_t> shape;
  for (int i = in.ConsumeIntegralInRange<int>(0, 4); i > 0; --i) {
    shape.push_back(in.ConsumeIntegralInRange<int64_t>(0, 5));
  }
  Tensor t = Tensor::Ones(
      shape, in.ConsumeBool() ? tapegrad::DType::kF32 : tapegrad::DType::kF64);
  if (in.ConsumeBool()) t.RequiresGrad();
  // The reverse sweep gives every view in the chain a gradient of its own
  // shape, as PyTorch's does: a small slice of a huge expanded view is cheap to
  // make and legitimately slow to differentiate, so that is not tried.
  int64_t largest_view = t.numel();
  for (int step = 0; step < 12 && in.remaining_bytes() > 0; ++step) {
    const std::vector<int64_t> args = tapegrad::fuzz::PickShape(in, 16, 9);
    Tensor v;
    switch (in.ConsumeIntegralInRange<int>(0, 7)) {
      case 0:
        v = t.Reshape(args);
        break;
      case 1:
        v = t.Transpose(PickSize(in), PickSize(in));
        break;
      case 2:
        v = t.Permute(args);
        break;
      case 3:
        v = t.Slice(PickSize(in), in.ConsumeIntegral<int64_t>(),
                    in.ConsumeIntegral<int64_t>(), PickSize(in));
        break;
      case 4:
        v = t.Expand(args);
        break;
      case 5:
        v = t.Squeeze(PickSize(in));
        break;
      case 6:
        v = t.Unsqueeze(PickSize(in));
        break;
      default:  // a copy: of a large expanded view, legitimate and slow, so not tried
        if (t.numel() <= (int64_t{1} << 20)) v = t.Contiguous();
        break;
    }
    CheckInside(v);
    if (v.ok()) {
      t = v;
      largest_view = std::max(largest_view, t.numel());
    }
  }
  // Read what the views claim, in ways that walk every element, if that is cheap.
  if (t.ok() && t.numel() <= 4096) {
    (void)t.ToString();
    const Tensor total = tapegrad::Sum(t * 2.0);
    CheckInside(total);
    if (total.ok() && t.requires_grad() && largest_view <= (int64_t{1} << 20)) {
      (void)total.Backward();
    }
  } else if (t.ok()) {
    // Summarized, it reads only what it shows: up to 6 per axis, which at rank 6
    // and over (6^8 elements at rank 8) is correct and too slow for a fuzzer.
    if (t.dim() < 6) (void)t.ToString();
  }
  return 0;
}
