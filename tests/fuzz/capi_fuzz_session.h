// The state of one capi_fuzzer run: the handles made so far, and one step per
// call to Step that picks a C ABI call from the fuzzer's bytes and makes it. The
// steps are defined by subject in capi_fuzzer.cc (tapes and scalar values),
// capi_fuzzer_tensor.cc, capi_fuzzer_image.cc and capi_fuzzer_nn.cc.
#ifndef TAPEGRAD_TESTS_FUZZ_CAPI_FUZZ_SESSION_H_
#define TAPEGRAD_TESTS_FUZZ_CAPI_FUZZ_SESSION_H_

#include <fuzzer/FuzzedDataProvider.h>

#include <cstdint>
#include <limits>
#include <vector>

#include "capi/tapegrad.h"
#include "tests/fuzz/fuzz_input.h"

namespace tapegrad::fuzz {

inline constexpr size_t kMaxTensors = 12;
inline constexpr size_t kMaxValues = 32;

// Large sizes start at 2^31, so that a tensor that has one either is refused or
// is too large for fuzz_limits.cc's memory cap: legitimate but slow work (filling
// a 200 MB tensor) is not what this target is for.
inline constexpr int kLargeFrom = 31;

inline int64_t PickSize(FuzzedDataProvider& in) { return PickSize(in, kLargeFrom); }

inline double PickNumber(FuzzedDataProvider& in) {
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
    switch (in_.ConsumeIntegralInRange<int>(0, 16)) {
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
      case 15:
        return Image();
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
    return PickShape(in_, kLargeFrom, max_rank);
  }

  void SetCurrent() { tg_tape_set_current(AnyTape()); }

  // Tapes and scalar values (capi_fuzzer.cc).
  void NewTape();
  void ScalarOp();
  void ScalarQueries();
  void MarkRewindCompact();
  void NoGrad();

  // Tensors (capi_fuzzer_tensor.cc).
  void NewTensor();
  // True if reading every element of `t` would be slow (an expanded view of
  // 2^31 or more elements is legitimate, and a reduction over it takes seconds).
  static bool Huge(const tg_tensor* t);
  void TensorOp();
  void View();
  void Join();
  void TensorQueries();
  void Backward();
  void DLPack();
  void DestroyTensor();

  // Image ops (capi_fuzzer_image.cc).
  void Image();

  // Modules and optimizers (capi_fuzzer_nn.cc).
  void Module();
  void Optimizer();

  FuzzedDataProvider& in_;
  std::vector<tg_tape*> tapes_;
  std::vector<tg_mark*> marks_;
  std::vector<tg_value> values_;
  std::vector<tg_tensor*> tensors_;
  tg_module* module_ = nullptr;
  tg_optimizer* optimizer_ = nullptr;
};

}  // namespace tapegrad::fuzz

#endif  // TAPEGRAD_TESTS_FUZZ_CAPI_FUZZ_SESSION_H_
