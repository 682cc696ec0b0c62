// capi_fuzzer's tensor steps: tensors of fuzzed shapes, dtypes and devices, every
// op, views, joins, queries, backward, DLPack round trips.
#include <algorithm>
#include <cmath>
#include <cstdint>

#include "dlpack/dlpack.h"
#include "tests/fuzz/capi_fuzz_session.h"

namespace tapegrad::fuzz {

void Session::NewTensor() {
  const std::vector<int64_t> shape = Shape();
  // Data for up to 64 elements; a shape that wants more must be refused.
  std::vector<double> data(64);
  for (double& d : data) d = PickNumber(in_);
  std::vector<int64_t> labels(64);
  for (int64_t& l : labels) l = in_.ConsumeIntegralInRange<int64_t>(-1, 4);
  int64_t numel = 1;
  bool fits = true;
  for (int64_t d : shape)
    fits = fits && d >= 0 && !__builtin_mul_overflow(numel, d, &numel);
  if (!fits || numel > 64) return;  // the buffer must hold what the shape says
  const int dtype = in_.ConsumeIntegralInRange<int>(0, 3);
  std::vector<float> floats(data.begin(), data.end());
  const void* buffer = dtype == TG_F32   ? static_cast<const void*>(floats.data())
                       : dtype == TG_I64 ? static_cast<const void*>(labels.data())
                                         : static_cast<const void*>(data.data());
  tg_tensor* t = nullptr;
  const tg_status s = tg_tensor_from_buffer(
      in_.ConsumeBool() ? buffer : nullptr, static_cast<tg_dtype>(dtype), shape.data(),
      shape.size(), static_cast<tg_device_type>(in_.ConsumeIntegralInRange<int>(0, 2)),
      &t);
  if (s == TG_OK && in_.ConsumeBool()) tg_tensor_set_requires_grad(t, 1);
  Keep(s, t);
}

bool Session::Huge(const tg_tensor* t) {
  int64_t numel = 0;
  return tg_tensor_numel(t, &numel) == TG_OK && numel > (int64_t{1} << 20);
}

void Session::TensorOp() {
  tg_tensor* x = AnyTensor();
  tg_tensor* y = AnyTensor();
  tg_tensor* out = nullptr;
  tg_status s;
  const int64_t axis = in_.ConsumeIntegralInRange<int64_t>(-10, 10);
  if (Huge(x) || Huge(y)) return;
  switch (in_.ConsumeIntegralInRange<int>(0, 9)) {
    case 0:
      s = tg_tensor_unary(
          static_cast<tg_unary_op>(in_.ConsumeIntegralInRange<int>(-1, 9)), x, &out);
      break;
    case 1:
      s = tg_tensor_binary(
          static_cast<tg_binary_op>(in_.ConsumeIntegralInRange<int>(-1, 16)), x, y, &out);
      break;
    case 2:
      s = tg_tensor_pow(x, PickNumber(in_), &out);
      break;
    case 3:
      s = tg_tensor_affine(x, PickNumber(in_), PickNumber(in_), &out);
      break;
    case 4: {
      const std::vector<int64_t> axes = Shape(4);
      s = tg_tensor_reduce(
          static_cast<tg_reduce_op>(in_.ConsumeIntegralInRange<int>(-1, 4)), x,
          axes.data(), axes.size(), in_.ConsumeBool(), &out);
      break;
    }
    case 5:
      s = tg_tensor_arg_reduce(
          static_cast<tg_arg_reduce_op>(in_.ConsumeIntegralInRange<int>(0, 2)), x,
          in_.ConsumeBool() ? &axis : nullptr, in_.ConsumeBool(), &out);
      break;
    case 6:
      s = tg_tensor_softmax(x, axis, in_.ConsumeBool(), &out);
      break;
    case 7:
      s = tg_tensor_clamp(x, PickNumber(in_), PickNumber(in_), &out);
      break;
    case 8:
      s = tg_tensor_where(AnyTensor(), x, y, &out);
      break;
    default:
      s = tg_tensor_detach(x, &out);
      break;
  }
  Keep(s, out);
}

void Session::View() {
  tg_tensor* x = AnyTensor();
  tg_tensor* out = nullptr;
  const std::vector<int64_t> shape = Shape();
  tg_status s;
  switch (in_.ConsumeIntegralInRange<int>(0, 7)) {
    case 0:
      s = tg_tensor_reshape(x, shape.data(), shape.size(), &out);
      break;
    case 1:
      s = tg_tensor_transpose(x, PickSize(in_), PickSize(in_), &out);
      break;
    case 2:
      s = tg_tensor_permute(x, shape.data(), shape.size(), &out);
      break;
    case 3:
      s = tg_tensor_slice(x, PickSize(in_), in_.ConsumeIntegral<int64_t>(),
                          in_.ConsumeIntegral<int64_t>(), PickSize(in_), &out);
      break;
    case 4:
      s = tg_tensor_expand(x, shape.data(), shape.size(), &out);
      break;
    case 5:
      s = tg_tensor_squeeze(x, PickSize(in_), &out);
      break;
    case 6:
      s = tg_tensor_unsqueeze(x, PickSize(in_), &out);
      break;
    default:
      s = tg_tensor_contiguous(x, &out);
      break;
  }
  Keep(s, out);
}

void Session::Join() {
  std::vector<const tg_tensor*> parts(in_.ConsumeIntegralInRange<size_t>(0, 4));
  for (const tg_tensor*& p : parts) p = AnyTensor();
  tg_tensor* out = nullptr;
  const int64_t axis = in_.ConsumeIntegralInRange<int64_t>(-4, 4);
  tg_status s;
  switch (in_.ConsumeIntegralInRange<int>(0, 2)) {
    case 0:
      s = tg_tensor_concatenate(parts.data(), parts.size(), axis, &out);
      break;
    case 1:
      s = tg_tensor_stack(parts.data(), parts.size(), axis, &out);
      break;
    default:
      s = tg_tensor_index_select(AnyTensor(), AnyTensor(), &out);
      break;
  }
  Keep(s, out);
}

void Session::TensorQueries() {
  tg_tensor* t = AnyTensor();
  size_t n = 0;
  int64_t shape[10];
  char text[256];
  std::vector<char> bytes(in_.ConsumeIntegralInRange<size_t>(0, 1024));
  tg_dtype dtype;
  tg_device_type device;
  int index;
  switch (in_.ConsumeIntegralInRange<int>(0, 5)) {
    case 0:
      tg_tensor_ndim(t, &n);
      break;
    case 1:
      tg_tensor_shape(t, shape, in_.ConsumeIntegralInRange<size_t>(0, 10));
      break;
    case 2:
      tg_tensor_dtype(t, &dtype), tg_tensor_device(t, &device, &index);
      break;
    case 3:
      tg_tensor_to_buffer(t, bytes.data(), bytes.size());
      break;
    case 4:
      // Summarized as NumPy does, a tensor of rank 8 shows up to 6^8 elements:
      // correct, and too slow to be worth a fuzzer's time.
      if (tg_tensor_ndim(t, &n) == TG_OK && n >= 6 && Huge(t)) break;
      tg_tensor_format(t, text, in_.ConsumeIntegralInRange<size_t>(0, sizeof(text)), &n);
      break;
    default: {
      int64_t numel;
      tg_tensor_numel(t, &numel);
    }
  }
}

void Session::Backward() {
  tg_tensor* t = AnyTensor();
  tg_tensor* out = nullptr;
  switch (in_.ConsumeIntegralInRange<int>(0, 3)) {
    case 0:
      tg_tensor_backward(t);
      break;
    case 1:
      Keep(tg_tensor_grad(t, &out), out);
      break;
    case 2:
      tg_tensor_zero_grad(t);
      break;
    default:
      Keep(tg_tensor_to(
               t, static_cast<tg_device_type>(in_.ConsumeIntegralInRange<int>(0, 2)),
               in_.ConsumeIntegralInRange<int>(-1, 1), &out),
           out);
  }
}

void Session::DLPack() {
  DLManagedTensor* managed = nullptr;
  if (tg_tensor_to_dlpack(AnyTensor(), &managed) != TG_OK) return;
  // A producer may describe a tensor no memory could hold: a negative size or
  // stride, or one whose extent overflows. Such a tensor must be refused. (One
  // that merely claims more memory than its buffer has cannot be detected: the
  // DLPack contract makes that the producer's promise, so it is not tried here.)
  DLTensor& dl = managed->dl_tensor;
  if (dl.ndim > 0 && in_.ConsumeBool()) {
    int64_t* field = dl.strides != nullptr && in_.ConsumeBool() ? dl.strides : dl.shape;
    static constexpr int64_t kImpossible[] = {-1, -(int64_t{1} << 62), int64_t{1} << 62,
                                              std::numeric_limits<int64_t>::max(),
                                              std::numeric_limits<int64_t>::min()};
    field[in_.ConsumeIntegralInRange<int>(0, dl.ndim - 1)] =
        in_.PickValueInArray(kImpossible);
  }
  tg_tensor* t = nullptr;
  if (tg_tensor_from_dlpack(managed, &t) == TG_OK) {
    Keep(TG_OK, t);
  } else {
    managed->deleter(managed);  // the caller still owns it on failure
  }
}

void Session::DestroyTensor() {
  if (tensors_.empty()) return;
  const size_t i = in_.ConsumeIntegralInRange<size_t>(0, tensors_.size() - 1);
  tg_tensor_destroy(tensors_[i]);
  tensors_.erase(tensors_.begin() + static_cast<ptrdiff_t>(i));
}

}  // namespace tapegrad::fuzz
