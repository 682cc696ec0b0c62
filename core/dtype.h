// Element types of tensors.
//
//   tapegrad::DType t = tapegrad::DType::kF32;
//   size_t bytes = tapegrad::DTypeSize(t);        // 4
//   const char* name = tapegrad::DTypeName(t);    // "f32"
//
// f32 and f64 are the differentiable types (f64 is the oracle for gradient
// checks); i64 holds class labels and row indices, the operands of cross_entropy
// and index_select. New types are appended, never inserted: the numbers are part of
// the C ABI.
//
// Thread safety: constants and pure functions only.
#ifndef TAPEGRAD_CORE_DTYPE_H_
#define TAPEGRAD_CORE_DTYPE_H_

#include <cstddef>
#include <cstdint>

namespace tapegrad {

enum class DType : uint8_t { kF32 = 0, kF64 = 1, kI64 = 2 };
inline constexpr int kNumDTypes = 3;

constexpr size_t DTypeSize(DType t) { return t == DType::kF32 ? 4 : 8; }
constexpr bool IsFloating(DType t) { return t != DType::kI64; }
// True if `v` converts to `t` with a defined result: any double for the floating
// dtypes; for i64 one in [-2^63, 2^63), truncated toward zero as PyTorch does (a
// NaN, an infinity or anything larger is an error for the caller to report).
constexpr bool Representable(double v, DType t) {
  return IsFloating(t) || (v >= -9223372036854775808.0 && v < 9223372036854775808.0);
}
const char* DTypeName(DType t);

// The DType of a C++ element type: DTypeOf<float>() == DType::kF32.
template <class T>
constexpr DType DTypeOf();
template <>
constexpr DType DTypeOf<float>() {
  return DType::kF32;
}
template <>
constexpr DType DTypeOf<double>() {
  return DType::kF64;
}
template <>
constexpr DType DTypeOf<int64_t>() {
  return DType::kI64;
}

}  // namespace tapegrad

#endif  // TAPEGRAD_CORE_DTYPE_H_
