#include "core/internal/layout.h"

#include <algorithm>

#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"

namespace tapegrad {

int64_t CheckedNumel(absl::Span<const int64_t> shape) {
  int64_t product = 1;  // empty axes counted as 1: it bounds every contiguous stride
  bool empty = false;
  for (int64_t d : shape) {
    if (d < 0 || !CheckedMul(product, d == 0 ? 1 : d, &product)) return -1;
    empty |= d == 0;
  }
  return empty ? 0 : product;
}

absl::Status CheckShape(const char* op, absl::Span<const int64_t> shape) {
  if (shape.size() > static_cast<size_t>(kMaxRank)) {
    return absl::InvalidArgumentError(
        absl::StrFormat("%s: shape %s has rank %d; at most %d is supported", op,
                        ShapeString(shape), shape.size(), kMaxRank));
  }
  for (int64_t d : shape) {
    if (d < 0) {
      return absl::InvalidArgumentError(
          absl::StrFormat("%s: negative size in shape %s", op, ShapeString(shape)));
    }
  }
  if (CheckedNumel(shape) < 0) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "%s: shape %s has more than %d elements (the most a tensor may have)", op,
        ShapeString(shape), kMaxElements));
  }
  return absl::OkStatus();
}

void Layout::Extent(int64_t* lowest, int64_t* end) const {
  int64_t lo = offset, hi = offset;
  for (int i = 0; i < rank; ++i) {
    if (sizes[i] == 0) {
      *lowest = *end = offset;
      return;
    }
    const int64_t span = (sizes[i] - 1) * strides[i];
    (span < 0 ? lo : hi) += span;
  }
  *lowest = lo;
  *end = hi + 1;
}

Layout Layout::Transposed(int a, int b) const {
  Layout l = *this;
  std::swap(l.sizes[a], l.sizes[b]);
  std::swap(l.strides[a], l.strides[b]);
  return l;
}

Layout Layout::Permuted(absl::Span<const int> order) const {
  Layout l = *this;
  for (int i = 0; i < rank; ++i) {
    l.sizes[i] = sizes[order[i]];
    l.strides[i] = strides[order[i]];
  }
  return l;
}

Layout Layout::Sliced(int axis, int64_t start, int64_t stop, int64_t step) const {
  Layout l = *this;
  l.sizes[axis] = stop > start ? (stop - start - 1) / step + 1 : 0;
  // An empty slice keeps the offset: its start may be the axis's end, and an
  // axis of one element may carry any stride, so start * stride could point far
  // past the storage (and overflow once scaled to bytes).
  if (l.sizes[axis] > 0) l.offset += start * strides[axis];
  // With two or more elements the step is under the axis's size, so the product
  // stays inside the viewed extent (Note [Size limits]); with fewer any stride works,
  // and a huge step must not overflow.
  if (l.sizes[axis] > 1) l.strides[axis] = strides[axis] * step;
  return l;
}

Layout Layout::Expanded(absl::Span<const int64_t> shape) const {
  Layout l;
  l.rank = static_cast<int32_t>(shape.size());
  l.offset = offset;
  const int shift = l.rank - rank;
  for (int i = 0; i < l.rank; ++i) {
    l.sizes[i] = shape[i];
    const int j = i - shift;
    l.strides[i] = (j >= 0 && sizes[j] == shape[i]) ? strides[j] : 0;
  }
  return l;
}

Layout Layout::WithoutAxis(int axis) const {
  Layout l = *this;
  for (int i = axis; i + 1 < rank; ++i) {
    l.sizes[i] = sizes[i + 1];
    l.strides[i] = strides[i + 1];
  }
  --l.rank;
  return l;
}

Layout Layout::WithAxis(int axis) const {
  Layout l = *this;
  for (int i = rank; i > axis; --i) {
    l.sizes[i] = sizes[i - 1];
    l.strides[i] = strides[i - 1];
  }
  l.sizes[axis] = 1;
  l.strides[axis] = axis < rank ? sizes[axis] * strides[axis] : 1;  // any value works
  ++l.rank;
  return l;
}

std::string ShapeString(absl::Span<const int64_t> shape) {
  return "[" + absl::StrJoin(shape, ", ") + "]";
}

bool BroadcastShapes(absl::Span<const int64_t> a, absl::Span<const int64_t> b,
                     int32_t* rank, int64_t* sizes) {
  const int n = static_cast<int>(std::max(a.size(), b.size()));
  if (n > kMaxRank) return false;
  for (int i = 0; i < n; ++i) {
    const int ia = i - (n - static_cast<int>(a.size()));
    const int ib = i - (n - static_cast<int>(b.size()));
    const int64_t da = ia >= 0 ? a[ia] : 1;
    const int64_t db = ib >= 0 ? b[ib] : 1;
    if (da != db && da != 1 && db != 1) return false;
    sizes[i] = da == 1 ? db : da;
  }
  *rank = n;
  return true;
}

}  // namespace tapegrad
