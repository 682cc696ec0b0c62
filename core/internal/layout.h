// The view half of a tensor: sizes, strides and offset over a flat buffer, and
// NumPy's broadcasting rules.
//
//   tapegrad::Layout l = tapegrad::Layout::Contiguous({2, 3});  // strides {3, 1}
//   l.numel();                 // 6
//   l.Transposed(0, 1);        // sizes {3, 2}, strides {1, 3}: no data moves
//   ShapeString(l.shape());    // "[2, 3]"
//
// Strides and offset count elements, not bytes; a stride of 0 repeats an element
// (what expand and broadcasting produce). A Layout is a trivially copyable value, so
// tensors made while recording can live in the tape's arena.
//
// Note [Size limits]: every shape a tensor takes passes CheckShape first (factories,
// op results, views, the C ABI, the data readers). So no tensor has more than
// kMaxElements elements, and no product of its sizes, strides or offsets can
// overflow an int64: a contiguous stride is a product of sizes (empty axes count
// as 1 in the check), a view's stride and offset stay inside the extent of the
// buffer it views, and a byte size is at most 8 * 2^48 = 2^51. Arithmetic on
// shapes that come from users before they are checked uses CheckedMul/CheckedAdd.
//
// Thread safety: a plain value type.
#ifndef TAPEGRAD_CORE_INTERNAL_LAYOUT_H_
#define TAPEGRAD_CORE_INTERNAL_LAYOUT_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/types/span.h"

namespace tapegrad {

inline constexpr int kMaxRank = 8;
// The most elements a tensor may have (Note [Size limits]): 2^48, 256 Ti, far past
// any memory, yet small enough that sizes, strides and byte counts never overflow.
inline constexpr int64_t kMaxElements = int64_t{1} << 48;

// a * b and a + b for sizes: false if the result leaves [0, kMaxElements] or an
// operand is negative (then *out is unspecified).
inline bool CheckedMul(int64_t a, int64_t b, int64_t* out) {
  return a >= 0 && b >= 0 && !__builtin_mul_overflow(a, b, out) && *out <= kMaxElements;
}
inline bool CheckedAdd(int64_t a, int64_t b, int64_t* out) {
  return a >= 0 && b >= 0 && !__builtin_add_overflow(a, b, out) && *out <= kMaxElements;
}

// The element count of `shape`, or -1 if a size is negative or the count, with
// empty axes counted as 1, exceeds kMaxElements (Note [Size limits]).
int64_t CheckedNumel(absl::Span<const int64_t> shape);

// OK if `shape` can be a tensor's: rank <= kMaxRank, no negative size, and
// CheckedNumel accepts it. Else InvalidArgument "<op>: shape [..] ..." saying which.
absl::Status CheckShape(const char* op, absl::Span<const int64_t> shape);

struct Layout {
  int32_t rank = 0;
  int64_t offset = 0;
  int64_t sizes[kMaxRank] = {};
  int64_t strides[kMaxRank] = {};

  // Row-major strides for `shape` (CheckShape accepted it; the caller checks).
  static Layout Contiguous(absl::Span<const int64_t> shape) {
    Layout l;
    l.SetContiguous(shape);
    return l;
  }
  // Makes this the row-major layout of `shape` at offset 0, in place.
  void SetContiguous(absl::Span<const int64_t> shape) {
    rank = static_cast<int32_t>(shape.size());
    offset = 0;
    int64_t stride = 1;
    for (int i = rank - 1; i >= 0; --i) {
      sizes[i] = shape[i];
      strides[i] = stride;
      stride *= shape[i];
    }
  }

  absl::Span<const int64_t> shape() const { return {sizes, size_t(rank)}; }
  absl::Span<const int64_t> stride_span() const { return {strides, size_t(rank)}; }
  int64_t numel() const {
    int64_t n = 1;
    for (int i = 0; i < rank; ++i) n *= sizes[i];
    return n;
  }
  // Row-major with no gaps (size-1 dimensions may have any stride). Inline: every
  // kernel asks, for every operand.
  bool IsContiguous() const {
    int64_t expected = 1;
    for (int i = rank - 1; i >= 0; --i) {
      if (sizes[i] == 1) continue;
      if (strides[i] != expected) return false;
      expected *= sizes[i];
    }
    return true;
  }
  // The smallest and one-past-largest element offsets the view touches.
  void Extent(int64_t* lowest, int64_t* end) const;

  // Views. Axes are already normalised (0 <= axis < rank); the callers in
  // core/tensor check arguments and name the op in their errors.
  Layout Transposed(int a, int b) const;
  Layout Permuted(absl::Span<const int> order) const;
  Layout Sliced(int axis, int64_t start, int64_t stop, int64_t step) const;
  Layout Expanded(absl::Span<const int64_t> shape) const;  // right-aligned, like NumPy
  Layout WithoutAxis(int axis) const;                      // squeeze one size-1 axis
  Layout WithAxis(int axis) const;                         // unsqueeze: size 1 at axis
};

inline bool SameShape(const Layout& a, const Layout& b) {
  if (a.rank != b.rank) return false;
  for (int i = 0; i < a.rank; ++i) {
    if (a.sizes[i] != b.sizes[i]) return false;
  }
  return true;
}
std::string ShapeString(absl::Span<const int64_t> shape);

// NumPy broadcasting of two shapes. False if they do not broadcast.
bool BroadcastShapes(absl::Span<const int64_t> a, absl::Span<const int64_t> b,
                     int32_t* rank, int64_t* sizes);

// How a BLAS can read a rows x cols matrix with the given element strides, for
// the matmul kernels of every backend: row-major as is (transposed false) or as
// the transpose of a row-major matrix (true), with leading dimension `ld`. Not
// `ok` if neither stride is unit (the kernel packs such a matrix first).
struct BlasMatrix {
  bool ok = false;
  bool transposed = false;
  int64_t ld = 1;
};
inline BlasMatrix DescribeForBlas(int64_t rows, int64_t cols, int64_t row_stride,
                                  int64_t col_stride) {
  const int64_t min_cols = cols > 1 ? cols : 1, min_rows = rows > 1 ? rows : 1;
  if ((col_stride == 1 || cols == 1) && (rows == 1 || row_stride >= min_cols)) {
    return BlasMatrix{true, false, rows == 1 ? min_cols : row_stride};
  }
  if ((row_stride == 1 || rows == 1) && (cols == 1 || col_stride >= min_rows)) {
    return BlasMatrix{true, true, cols == 1 ? min_rows : col_stride};
  }
  return BlasMatrix{};
}

// For batched matrix products: the element offsets in `a` and `b` of matrix
// `batch`, counted row-major over the output's batch axes (all but the last two;
// `a` and `b` have the output's rank, stride 0 where broadcast).
inline void BatchOffsets(const Layout& out, const Layout& a, const Layout& b,
                         int64_t batch, int64_t* a_offset, int64_t* b_offset) {
  int64_t a_off = 0, b_off = 0;
  for (int d = out.rank - 3; d >= 0; --d) {
    const int64_t i = batch % out.sizes[d];
    batch /= out.sizes[d];
    a_off += i * a.strides[d];
    b_off += i * b.strides[d];
  }
  *a_offset = a_off;
  *b_offset = b_off;
}

// Wraps a possibly negative axis into [0, rank); false if out of range.
inline bool NormalizeAxis(int64_t axis, int rank, int* out) {
  if (axis < -rank || axis >= rank) return false;
  *out = static_cast<int>(axis < 0 ? axis + rank : axis);
  return true;
}

}  // namespace tapegrad

#endif  // TAPEGRAD_CORE_INTERNAL_LAYOUT_H_
