// The strided loop that every CPU elementwise kernel runs on.
//
//   // out[i] = a[i] + b[i] over any strides (broadcast operands have stride 0):
//   Loop<3>({out, &a, &b}).Run(/*parallel=*/true, [](int64_t n, char** p, const int64_t*
//   s) {
//     ...  // n elements; operand k starts at p[k] and steps s[k] bytes
//   });
//
// Operands share one shape. The loop first drops size-1 axes and merges axes that
// are contiguous in every operand, so a contiguous tensor of any rank becomes one
// flat row and the row function sees unit strides, where its typed fast path
// vectorises. Long loops are split across threads by element ranges.
//
// Thread safety: Run may be called from any thread; with parallel=true the row
// function must tolerate running on several threads on disjoint ranges.
#ifndef TAPEGRAD_KERNELS_CPU_LOOPS_H_
#define TAPEGRAD_KERNELS_CPU_LOOPS_H_

#include <algorithm>
#include <cstdint>
#include <initializer_list>

#include "core/internal/tensor_impl.h"
#include "kernels/cpu/parallel.h"

namespace tapegrad::cpu {

// Elements per thread below which a loop stays on one thread (Note [Parallel
// grain]).
//
// Note [Parallel grain]: a share must be worth handing to another thread. In a
// training step the hand-off goes to an OpenMP team still spinning after the
// previous kernel or oneDNN call: 0.86 us on the Intel Xeon this was measured on
// (`BM_ParallelHandOff` in bench/tensor_benchmark.cc), where an f32 add of 16k
// elements takes 1.6 us in L2. So the smallest split, 32k elements in two shares,
// gains 12% there and 64k gains 30% (`BM_AddNearCut`); a CPU with a hand-off
// twice as slow would lose about a microsecond on the smallest splits and still
// gain from 64k. On the 2-thread training steps (bench/train_benchmark, 3
// alternated runs) 1 << 13 and 1 << 14 measured within noise of each other, and
// 1 << 16 6-7% slower on the MLP at batch 64 and 256 and 4% on the CNN: their
// 256-wide activations and the 65k-parameter layer's Adam ran on one thread
// while the other spun.
inline constexpr int64_t kParallelGrain = 1 << 14;

template <int N>
class Loop {
 public:
  explicit Loop(std::initializer_list<const TensorImpl*> operands) {
    const TensorImpl* const* ops = operands.begin();
    const Layout& shape = ops[0]->layout;
    rank_ = 0;
    numel_ = shape.numel();
    for (int k = 0; k < N; ++k) {
      base_[k] = ops[k]->data();
      elem_[k] = static_cast<int64_t>(DTypeSize(ops[k]->dtype));
    }
    // Keep non-trivial axes, merging each into the previous kept one when every
    // operand steps through both as one.
    for (int d = 0; d < shape.rank; ++d) {
      if (shape.sizes[d] == 1) continue;
      bool merge = rank_ > 0;
      for (int k = 0; merge && k < N; ++k) {
        merge = strides_[k][rank_ - 1] == ops[k]->layout.strides[d] * shape.sizes[d];
      }
      if (merge) {
        sizes_[rank_ - 1] *= shape.sizes[d];
        for (int k = 0; k < N; ++k) strides_[k][rank_ - 1] = ops[k]->layout.strides[d];
        continue;
      }
      sizes_[rank_] = shape.sizes[d];
      for (int k = 0; k < N; ++k) strides_[k][rank_] = ops[k]->layout.strides[d];
      ++rank_;
    }
    if (rank_ == 0) {
      sizes_[0] = 1;
      for (int k = 0; k < N; ++k) strides_[k][0] = 0;
      rank_ = 1;
    }
  }

  int64_t numel() const { return numel_; }

  template <class RowFn>
  void Run(bool parallel, const RowFn& row) const {
    if (numel_ == 0) return;
    if (!parallel || numel_ < 2 * kParallelGrain) {
      Range(0, numel_, row);
      return;
    }
    ParallelFor(numel_, kParallelGrain,
                [&](int64_t begin, int64_t end) { Range(begin, end, row); });
  }

 private:
  // Elements [begin, end) in row-major order, one row call per stretch of the
  // innermost axis.
  template <class RowFn>
  void Range(int64_t begin, int64_t end, const RowFn& row) const {
    const int last = rank_ - 1;
    int64_t index[kMaxRank];
    int64_t rest = begin;
    for (int d = last; d >= 0; --d) {
      index[d] = rest % sizes_[d];
      rest /= sizes_[d];
    }
    char* p[N];
    int64_t step[N];
    for (int k = 0; k < N; ++k) {
      int64_t offset = 0;
      for (int d = 0; d <= last; ++d) offset += index[d] * strides_[k][d];
      p[k] = base_[k] + offset * elem_[k];
      step[k] = strides_[k][last] * elem_[k];
    }
    int64_t pos = begin;
    while (pos < end) {
      const int64_t n = std::min(end - pos, sizes_[last] - index[last]);
      row(n, p, step);
      pos += n;
      // Advance to the next row: carry into the outer axes.
      for (int k = 0; k < N; ++k) p[k] += n * step[k];
      index[last] += n;
      for (int d = last; d > 0 && index[d] == sizes_[d]; --d) {
        index[d] = 0;
        ++index[d - 1];
        for (int k = 0; k < N; ++k) {
          p[k] += (strides_[k][d - 1] - sizes_[d] * strides_[k][d]) * elem_[k];
        }
      }
    }
  }

  int rank_;
  int64_t numel_;
  int64_t sizes_[kMaxRank];
  int64_t strides_[N][kMaxRank];
  char* base_[N];
  int64_t elem_[N];
};

}  // namespace tapegrad::cpu

#endif  // TAPEGRAD_KERNELS_CPU_LOOPS_H_
