// Tensor printing, after NumPy's str(): "[[1. 2.]\n [3. 4.]]", elements right-aligned
// to a common width, and "..." in place of the middle of axes longer than 6 when
// the tensor has more than 1000 elements.
#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "core/tensor.h"

namespace tapegrad {
namespace {

constexpr int64_t kSummaryThreshold = 1000;
constexpr int64_t kEdgeItems = 3;

std::string FormatElement(double v, DType dtype, bool all_integral) {
  if (dtype == DType::kI64) return absl::StrFormat("%.0f", v);
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  if (all_integral) return absl::StrFormat("%.0f.", v);
  return absl::StrFormat("%.6g", v);
}

bool Skipped(bool summarize, int64_t i, int64_t size) {
  return summarize && size > 2 * kEdgeItems && i >= kEdgeItems && i < size - kEdgeItems;
}

// The elements str() shows, in row-major order: all of them, or without the middle
// of long axes when summarizing. Read one by one, so that a large (or expanded)
// tensor costs what is printed, not what it holds.
void CollectShown(const Tensor& t, bool summarize, int axis, int64_t* index,
                  std::vector<double>* out) {
  if (axis == t.dim()) {
    out->push_back(t.at({index, size_t(t.dim())}));
    return;
  }
  const int64_t size = t.shape()[axis];
  for (int64_t i = 0; i < size; ++i) {
    if (Skipped(summarize, i, size)) i = size - kEdgeItems;  // past the "..."
    index[axis] = i;
    CollectShown(t, summarize, axis + 1, index, out);
  }
}

// Prints the shown cells (in CollectShown's order) as nested brackets.
struct Printer {
  const Tensor& t;
  bool summarize;
  int width;
  const std::vector<std::string>* cells;
  size_t next = 0;  // the next cell to print

  void Print(int axis, std::string* out) {
    const int rank = t.dim();
    if (axis == rank) {
      const std::string& cell = (*cells)[next++];
      out->append(width - cell.size(), ' ');
      out->append(cell);
      return;
    }
    const int64_t size = t.shape()[axis];
    out->push_back('[');
    bool first = true;
    for (int64_t i = 0; i < size; ++i) {
      if (Skipped(summarize, i, size)) {  // once, at kEdgeItems; then past the rest
        absl::StrAppend(
            out, axis + 1 == rank ? " ..." : "\n" + std::string(axis + 1, ' ') + "...");
        i = size - kEdgeItems - 1;
        continue;
      }
      if (!first) {
        if (axis + 1 == rank) {
          out->push_back(' ');
        } else {
          out->append(std::string(rank - axis - 1, '\n'));
          out->append(std::string(axis + 1, ' '));
        }
      }
      first = false;
      Print(axis + 1, out);
    }
    out->push_back(']');
  }
};

}  // namespace

std::string Tensor::ToString() const {
  if (!ok()) return absl::StrCat("Tensor(<", status().ToString(), ">)");
  // As NumPy: an empty tensor is "[]", whatever its other axes (which may be long).
  if (numel() == 0) return "[]";
  const bool summarize = numel() > kSummaryThreshold;
  std::vector<double> values;
  int64_t index[kMaxRank] = {};
  CollectShown(*this, summarize, 0, index, &values);
  const bool all_integral = std::all_of(values.begin(), values.end(), [](double v) {
    return std::isfinite(v) && v == std::floor(v) && std::fabs(v) < 1e16;
  });
  std::vector<std::string> cells;
  cells.reserve(values.size());
  size_t width = 0;
  for (double v : values) {
    cells.push_back(FormatElement(v, dtype(), all_integral));
    width = std::max(width, cells.back().size());
  }
  std::string body;
  if (dim() == 0) {
    body = cells.empty() ? "" : cells[0];
  } else {
    Printer printer{*this, summarize, static_cast<int>(width), &cells};
    printer.Print(0, &body);
  }
  return body;
}

}  // namespace tapegrad
