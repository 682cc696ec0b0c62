// Sequences of C ABI calls picked by the fuzzer's bytes: tapes with small byte
// limits, scalar values (live, stale and made up), tensors of fuzzed shapes,
// dtypes and devices, every op, views, joins, losses, marks, rewinds, compaction,
// DLPack round trips, modules and optimizers, NULL handles. The contract under
// test is the C ABI's: any call returns a status, and nothing crashes, leaks or
// touches memory it should not (ASan + UBSan report those).
//
// Tapes are destroyed mid-sequence too: the tensors and marks on them must become
// stale handles, not dangling ones.
#include <fuzzer/FuzzedDataProvider.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "capi/tapegrad.h"
#include "dlpack/dlpack.h"
#include "tests/fuzz/fuzz_input.h"

namespace {

constexpr size_t kMaxTensors = 12;
constexpr size_t kMaxValues = 32;

// Large sizes start at 2^31, so that a tensor that has one either is refused or
// is too large for fuzz_limits.cc's memory cap: legitimate but slow work (filling
// a 200 MB tensor) is not what this target is for.
constexpr int kLargeFrom = 31;

int64_t PickSize(FuzzedDataProvider& in) {
  return tapegrad::fuzz::PickSize(in, kLargeFrom);
}

double PickNumber(FuzzedDataProvider& in) {
  static constexpr double kSpecial[] = {0.0,
                                        -0.0,
                                        1.0,
                                        -1.0,
                                        0.5,
                                        3.0,
                                        1e300,
                                        -1e-300,
                                        std::numeric_limits<double>::infinity(),
                                        -std::numeric_limits<double>::infinity(),
                                        std::numeric_limits<double>::quiet_NaN()};
  return in.ConsumeBool() ? in.PickValueInArray(kSpecial)
                          : in.ConsumeFloatingPointInRange<double>(-4.0, 4.0);
}

class Session {
 public:
  explicit Session(FuzzedDataProvider& in) : in_(in) {}

  ~Session() {
    tg_tape_set_current(nullptr);
    while (tg_is_grad_enabled() == 0 && tg_no_grad_exit() == TG_OK) {
    }
    for (tg_tensor* t : tensors_) tg_tensor_destroy(t);
    for (tg_mark* m : marks_) tg_mark_destroy(m);
    tg_optimizer_destroy(optimizer_);
    tg_module_destroy(module_);
    for (tg_tape* t : tapes_) tg_tape_destroy(t);
  }

  void Step() {
    switch (in_.ConsumeIntegralInRange<int>(0, 15)) {
      case 0:
        return NewTape();
      case 1:
        return SetCurrent();
      case 2:
        return ScalarOp();
      case 3:
        return ScalarQueries();
      case 4:
        return MarkRewindCompact();
      case 5:
        return NewTensor();
      case 6:
        return TensorOp();
      case 7:
        return View();
      case 8:
        return Join();
      case 9:
        return TensorQueries();
      case 10:
        return Backward();
      case 11:
        return DLPack();
      case 12:
        return Module();
      case 13:
        return Optimizer();
      case 14:
        return DestroyTensor();
      default:
        return NoGrad();
    }
  }

 private:
  tg_tape* AnyTape() {
    if (tapes_.empty() || in_.ConsumeIntegralInRange<int>(0, 15) == 0) return nullptr;
    return tapes_[in_.ConsumeIntegralInRange<size_t>(0, tapes_.size() - 1)];
  }
  tg_value AnyValue() {
    if (values_.empty() || in_.ConsumeIntegralInRange<int>(0, 9) == 0) {
      return in_.ConsumeIntegral<uint64_t>();  // made up: stale, or another tape's
    }
    return values_[in_.ConsumeIntegralInRange<size_t>(0, values_.size() - 1)];
  }
  tg_tensor* AnyTensor() {
    if (tensors_.empty() || in_.ConsumeIntegralInRange<int>(0, 15) == 0) return nullptr;
    return tensors_[in_.ConsumeIntegralInRange<size_t>(0, tensors_.size() - 1)];
  }
  void Keep(tg_status s, tg_tensor* t) {
    if (s != TG_OK) return;
    if (tensors_.size() >= kMaxTensors) {
      tg_tensor_destroy(t);
      return;
    }
    tensors_.push_back(t);
  }
  void KeepValue(tg_status s, tg_value v) {
    if (s != TG_OK) return;
    if (values_.size() >= kMaxValues) values_.erase(values_.begin());
    values_.push_back(v);
  }
  std::vector<int64_t> Shape(size_t max_rank = 9) {
    return tapegrad::fuzz::PickShape(in_, kLargeFrom, max_rank);
  }

  void NewTape() {
    if (!tapes_.empty() && (tapes_.size() >= 3 || in_.ConsumeBool())) {
      const size_t i = in_.ConsumeIntegralInRange<size_t>(0, tapes_.size() - 1);
      tg_tape_destroy(tapes_[i]);
      tapes_.erase(tapes_.begin() + static_cast<ptrdiff_t>(i));
      return;
    }
    static constexpr uint64_t kLimits[] = {0,      1000,    282687, 282688,
                                           300000, 1 << 20, 4 << 20};
    tg_tape* t = nullptr;
    if (tg_tape_create(in_.PickValueInArray(kLimits), &t) == TG_OK) tapes_.push_back(t);
  }

  void SetCurrent() { tg_tape_set_current(AnyTape()); }

  void ScalarOp() {
    tg_tape* tape = AnyTape();
    tg_value out = 0;
    const tg_value a = AnyValue(), b = AnyValue();
    tg_status s;
    switch (in_.ConsumeIntegralInRange<int>(0, 11)) {
      case 0:
        s = tg_value_leaf(tape, PickNumber(in_), &out);
        break;
      case 1:
        s = tg_value_add(tape, a, b, &out);
        break;
      case 2:
        s = tg_value_sub(tape, a, b, &out);
        break;
      case 3:
        s = tg_value_mul(tape, a, b, &out);
        break;
      case 4:
        s = tg_value_div(tape, a, b, &out);
        break;
      case 5:
        s = tg_value_pow(tape, a, PickNumber(in_), &out);
        break;
      case 6:
        s = tg_value_neg(tape, a, &out);
        break;
      case 7:
        s = tg_value_relu(tape, a, &out);
        break;
      case 8:
        s = tg_value_tanh(tape, a, &out);
        break;
      case 9:
        s = tg_value_exp(tape, a, &out);
        break;
      case 10:
        s = tg_value_log(tape, a, &out);
        break;
      default:
        s = tg_value_sigmoid(tape, a, in_.ConsumeBool() ? &out : nullptr);
        break;
    }
    KeepValue(s, out);
  }

  void ScalarQueries() {
    tg_tape* tape = AnyTape();
    const tg_value v = AnyValue();
    double x = 0;
    tg_value inputs[4];
    size_t count = 0;
    switch (in_.ConsumeIntegralInRange<int>(0, 7)) {
      case 0:
        tg_value_data(tape, v, &x);
        break;
      case 1:
        tg_value_grad(tape, v, &x);
        break;
      case 2:
        tg_value_set_data(tape, v, PickNumber(in_));
        break;
      case 3:
        tg_value_set_grad(tape, v, PickNumber(in_));
        break;
      case 4:
        tg_value_backward(tape, v);
        break;
      case 5:
        tg_value_inputs(tape, v, inputs, in_.ConsumeIntegralInRange<size_t>(0, 4),
                        &count);
        break;
      case 6:
        tg_tape_zero_grad(tape);
        break;
      default: {
        tg_tape_stats stats;
        tg_tape_stats_get(tape, &stats);
        tg_tape_error(tape);
      }
    }
  }

  void MarkRewindCompact() {
    tg_tape* tape = AnyTape();
    const int what = in_.ConsumeIntegralInRange<int>(0, 4);
    if (what == 0 || marks_.empty()) {
      tg_mark* m = nullptr;
      if (marks_.size() < 8 && tg_tape_mark(tape, &m) == TG_OK) marks_.push_back(m);
      return;
    }
    const size_t i = in_.ConsumeIntegralInRange<size_t>(0, marks_.size() - 1);
    uint64_t first = 0;
    switch (what) {
      case 1:
        tg_tape_rewind(tape, marks_[i]);
        break;
      case 2:
        tg_mark_first_value(marks_[i], &first);
        break;
      case 3: {
        std::vector<tg_mark*> keep(marks_.begin() + static_cast<ptrdiff_t>(i),
                                   marks_.end());
        tg_tape_compact(tape, marks_[in_.ConsumeIntegralInRange<size_t>(0, i)],
                        keep.size(), keep.data());
        break;
      }
      default:
        if (in_.ConsumeBool()) {
          tg_tape_reset(tape);
        } else {
          tg_mark_destroy(marks_[i]);
          marks_.erase(marks_.begin() + static_cast<ptrdiff_t>(i));
        }
    }
  }

  void NewTensor() {
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

  // True if reading every element of `t` would be slow (an expanded view of
  // 2^31 or more elements is legitimate, and a reduction over it takes seconds).
  static bool Huge(const tg_tensor* t) {
    int64_t numel = 0;
    return tg_tensor_numel(t, &numel) == TG_OK && numel > (int64_t{1} << 20);
  }

  void TensorOp() {
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
            static_cast<tg_binary_op>(in_.ConsumeIntegralInRange<int>(-1, 16)), x, y,
            &out);
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

  void View() {
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

  void Join() {
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

  void TensorQueries() {
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
        tg_tensor_format(t, text, in_.ConsumeIntegralInRange<size_t>(0, sizeof(text)),
                         &n);
        break;
      default: {
        int64_t numel;
        tg_tensor_numel(t, &numel);
      }
    }
  }

  void Backward() {
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

  void DLPack() {
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

  void Module() {
    tg_tensor* out = nullptr;
    switch (in_.ConsumeIntegralInRange<int>(0, 4)) {
      case 0: {
        tg_module* m = nullptr;
        if (tg_linear_create(PickSize(in_), PickSize(in_), in_.ConsumeBool(),
                             static_cast<tg_dtype>(in_.ConsumeIntegralInRange<int>(0, 3)),
                             1, &m) == TG_OK) {
          tg_module_destroy(module_);
          module_ = m;
        }
        break;
      }
      case 1: {
        const std::vector<int64_t> nouts = Shape(3);
        tg_module* m = nullptr;
        if (tg_mlp_create(
                PickSize(in_), nouts.data(), nouts.size(),
                static_cast<tg_activation>(in_.ConsumeIntegralInRange<int>(0, 4)), TG_F64,
                2, &m) == TG_OK) {
          tg_module_destroy(module_);
          module_ = m;
        }
        break;
      }
      case 2:
        Keep(tg_module_forward(module_, AnyTensor(), &out), out);
        break;
      case 3: {
        char text[128];
        size_t n;
        tg_module_format(module_, text, sizeof(text), &n);
        tg_module_train(module_, in_.ConsumeBool());
        break;
      }
      default:
        tg_module_zero_grad(module_);
    }
  }

  void Optimizer() {
    if (in_.ConsumeBool()) {
      std::vector<tg_tensor*> params(in_.ConsumeIntegralInRange<size_t>(0, 3));
      for (tg_tensor*& p : params) p = AnyTensor();
      tg_optimizer* o = nullptr;
      const tg_status s =
          in_.ConsumeBool()
              ? tg_sgd_create(params.data(), params.size(), PickNumber(in_),
                              PickNumber(in_), PickNumber(in_), in_.ConsumeBool(), &o)
              : tg_adam_create(params.data(), params.size(), PickNumber(in_),
                               PickNumber(in_), PickNumber(in_), PickNumber(in_),
                               PickNumber(in_), in_.ConsumeBool(), &o);
      if (s == TG_OK) {
        tg_optimizer_destroy(optimizer_);
        optimizer_ = o;
      }
      return;
    }
    double lr;
    tg_optimizer_step(optimizer_);
    tg_optimizer_zero_grad(optimizer_);
    tg_optimizer_set_lr(optimizer_, PickNumber(in_));
    tg_optimizer_lr(optimizer_, &lr);
  }

  void DestroyTensor() {
    if (tensors_.empty()) return;
    const size_t i = in_.ConsumeIntegralInRange<size_t>(0, tensors_.size() - 1);
    tg_tensor_destroy(tensors_[i]);
    tensors_.erase(tensors_.begin() + static_cast<ptrdiff_t>(i));
  }

  void NoGrad() {
    if (in_.ConsumeBool()) {
      tg_no_grad_enter();
    } else {
      tg_no_grad_exit();
    }
  }

  FuzzedDataProvider& in_;
  std::vector<tg_tape*> tapes_;
  std::vector<tg_mark*> marks_;
  std::vector<tg_value> values_;
  std::vector<tg_tensor*> tensors_;
  tg_module* module_ = nullptr;
  tg_optimizer* optimizer_ = nullptr;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzedDataProvider in(data, size);
  Session session(in);
  for (int steps = 0; steps < 64 && in.remaining_bytes() > 0; ++steps) session.Step();
  return 0;
}
