// The image ops of the C ABI (capi/tapegrad_image.h) on the session's tensors:
// convolution, pooling, adaptive pooling, batch and layer norm, embedding and
// flatten, with window arguments from small to negative to past int32, and
// running statistics, weights and indices of any shape, dtype or staleness.
#include <cstdint>

#include "tests/fuzz/capi_fuzz_session.h"

namespace tapegrad::fuzz {
namespace {

// A window argument: mostly 0 to 4, sometimes negative, sometimes near or past
// the kernels' int32 fields.
int64_t PickWindow(FuzzedDataProvider& in) { return PickSize(in, 29); }

int64_t Numel(const tg_tensor* t) {
  int64_t numel = 0;
  return tg_tensor_numel(t, &numel) == TG_OK ? numel : 0;
}

}  // namespace

void Session::Image() {
  tg_tensor* x = AnyTensor();
  tg_tensor* w = AnyTensor();
  tg_tensor* b = in_.ConsumeBool() ? AnyTensor() : nullptr;
  if (Huge(x) || Huge(w) || Huge(b)) return;
  int64_t kernel[2], stride[2], padding[2], dilation[2];
  for (int64_t* pair : {kernel, stride, padding, dilation}) {
    pair[0] = PickWindow(in_);
    pair[1] = PickWindow(in_);
  }
  tg_tensor* out = nullptr;
  tg_status s = TG_OK;
  switch (in_.ConsumeIntegralInRange<int>(0, 6)) {
    case 0:
      // A convolution's work grows with both operands: keep each run short.
      if (Numel(x) * Numel(w) > (int64_t{1} << 22)) return;
      s = tg_tensor_conv2d(x, w, b, stride, padding, dilation, PickWindow(in_), &out);
      break;
    case 1:
      s = tg_tensor_pool2d(in_.ConsumeBool(), x, kernel, stride, padding, dilation,
                           in_.ConsumeBool(), &out);
      break;
    case 2:
      s = tg_tensor_adaptive_avg_pool2d(x, kernel, &out);
      break;
    case 3:
      s = (in_.ConsumeBool() ? tg_tensor_batch_norm : tg_tensor_batch_norm_relu)(
          x, AnyTensor(), AnyTensor(), w, b, in_.ConsumeBool(), PickNumber(in_),
          PickNumber(in_), &out);
      break;
    case 4:
      s = tg_tensor_layer_norm(x, PickWindow(in_), w, b, PickNumber(in_), &out);
      break;
    case 5:
      s = tg_tensor_embedding(w, x, &out);
      break;
    default:
      s = tg_tensor_flatten(x, PickWindow(in_), PickWindow(in_), &out);
  }
  Keep(s, out);
}

}  // namespace tapegrad::fuzz
