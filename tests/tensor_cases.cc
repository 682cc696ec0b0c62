#include "tests/tensor_cases.h"

#include <string>
#include <utility>
#include <vector>

#include "tests/tensor_case_inputs.h"

namespace tapegrad::testing {

using inputs::Distinct;
using inputs::Labels;
using inputs::N;

// In tensor_cases_elementwise.cc and tensor_cases_window.cc.
void AddElementwiseCases(std::vector<Case>* c);
void AddWindowCases(std::vector<Case>* c);

std::vector<Case> Cases() {
  std::vector<Case> cases;
  std::vector<Case>* const c = &cases;
  AddElementwiseCases(c);
  AddWindowCases(c);
  using S = absl::Span<const Tensor>;
  auto add = [&](std::string name, Fn f, std::function<Inputs(Random&)> in) {
    c->push_back(Case{std::move(name), std::move(f), std::move(in)});
  };
  // Reductions.
  add(
      "sum_all", [](S x) { return Sum(x[0]); },
      [](Random& r) {
        return Inputs{N(r, {2, 3})};
      });
  add(
      "sum_axis0", [](S x) { return Sum(x[0], {0}); },
      [](Random& r) {
        return Inputs{N(r, {2, 3})};
      });
  add(
      "sum_axis1_keepdim", [](S x) { return Sum(x[0], {1}, true); },
      [](Random& r) {
        return Inputs{N(r, {2, 3})};
      });
  add(
      "sum_axes_0_2",
      [](S x) {
        return Sum(x[0], {0, -1});
      },
      [](Random& r) {
        return Inputs{N(r, {2, 3, 4})};
      });
  add(
      "mean_axis1", [](S x) { return Mean(x[0], {1}); },
      [](Random& r) {
        return Inputs{N(r, {3, 4})};
      });
  add(
      "mean_all", [](S x) { return Mean(x[0]); },
      [](Random& r) {
        return Inputs{N(r, {3, 4})};
      });
  add(
      "max_axis1", [](S x) { return Max(x[0], {1}); },
      [](Random& r) {
        return Inputs{Distinct(r, {3, 4})};
      });
  add(
      "max_all", [](S x) { return Max(x[0]); },
      [](Random& r) {
        return Inputs{Distinct(r, {3, 4})};
      });
  add(
      "min_axis0_keepdim", [](S x) { return Min(x[0], {0}, true); },
      [](Random& r) {
        return Inputs{Distinct(r, {3, 4})};
      });
  // Matrix products.
  add(
      "matmul_2d", [](S x) { return MatMul(x[0], x[1]); },
      [](Random& r) {
        return Inputs{N(r, {3, 4}), N(r, {4, 5})};
      });
  add(
      "matmul_vec_mat", [](S x) { return MatMul(x[0], x[1]); },
      [](Random& r) {
        return Inputs{N(r, {4}), N(r, {4, 5})};
      });
  add(
      "matmul_mat_vec", [](S x) { return MatMul(x[0], x[1]); },
      [](Random& r) {
        return Inputs{N(r, {3, 4}), N(r, {4})};
      });
  add(
      "matmul_dot", [](S x) { return MatMul(x[0], x[1]); },
      [](Random& r) {
        return Inputs{N(r, {4}), N(r, {4})};
      });
  add(
      "matmul_batched", [](S x) { return MatMul(x[0], x[1]); },
      [](Random& r) {
        return Inputs{N(r, {2, 3, 4}), N(r, {2, 4, 5})};
      });
  add(
      "matmul_broadcast_batch", [](S x) { return MatMul(x[0], x[1]); },
      [](Random& r) {
        return Inputs{N(r, {3, 4}), N(r, {2, 4, 5})};
      });
  add(
      "matmul_transposed_operands", [](S x) { return MatMul(x[0].T(), x[1].T()); },
      [](Random& r) {
        return Inputs{N(r, {4, 3}), N(r, {5, 4})};
      });
  // Along an axis.
  add(
      "softmax_last", [](S x) { return Softmax(x[0]); },
      [](Random& r) {
        return Inputs{N(r, {3, 4})};
      });
  add(
      "softmax_axis0", [](S x) { return Softmax(x[0], 0); },
      [](Random& r) {
        return Inputs{N(r, {3, 4})};
      });
  add(
      "log_softmax", [](S x) { return LogSoftmax(x[0], 1); },
      [](Random& r) {
        return Inputs{N(r, {3, 4})};
      });
  add(
      "cross_entropy", [](S x) { return CrossEntropy(x[0], x[1]); },
      [](Random& r) {
        return Inputs{N(r, {4, 3}), Labels({2, 0, 1, 2})};
      });
  add(
      "cross_entropy_large_logits", [](S x) { return CrossEntropy(x[0] * 100.0, x[1]); },
      [](Random& r) {
        return Inputs{N(r, {2, 3}), Labels({1, 0})};
      });
  add(
      "mse", [](S x) { return Mse(x[0], x[1]); },
      [](Random& r) {
        return Inputs{N(r, {2, 3}), N(r, {2, 3})};
      });
  // Indexing and joining.
  add(
      "index_select_repeats", [](S x) { return IndexSelect(x[0], x[1]); },
      [](Random& r) {
        return Inputs{N(r, {4, 3}), Labels({3, 0, 3, 1})};
      });
  add(
      "concatenate_axis1",
      [](S x) {
        return Concatenate({x[0], x[1]}, 1);
      },
      [](Random& r) {
        return Inputs{N(r, {2, 3}), N(r, {2, 2})};
      });
  add(
      "stack",
      [](S x) {
        return Stack({x[0], x[1], x[0]}, 1);
      },
      [](Random& r) {
        return Inputs{N(r, {2, 3}), N(r, {2, 3})};
      });
  // Views.
  add(
      "transpose", [](S x) { return x[0].T() * x[1]; },
      [](Random& r) {
        return Inputs{N(r, {2, 3}), N(r, {3, 2})};
      });
  add(
      "permute",
      [](S x) {
        return x[0].Permute({2, 0, 1}) * x[1];
      },
      [](Random& r) {
        return Inputs{N(r, {2, 3, 4}), N(r, {4, 2, 3})};
      });
  add(
      "reshape",
      [](S x) {
        return x[0].Reshape({3, -1}) * x[1];
      },
      [](Random& r) {
        return Inputs{N(r, {2, 3}), N(r, {3, 2})};
      });
  add(
      "slice_step", [](S x) { return x[0].Slice(1, 0, 5, 2) * x[1]; },
      [](Random& r) {
        return Inputs{N(r, {2, 5}), N(r, {2, 3})};
      });
  add(
      "slice_negative_bounds", [](S x) { return x[0].Slice(0, -2, 100); },
      [](Random& r) {
        return Inputs{N(r, {4, 2})};
      });
  add(
      "expand",
      [](S x) {
        return x[0].Expand({3, 2, 4}) * x[1];
      },
      [](Random& r) {
        return Inputs{N(r, {2, 1}), N(r, {3, 2, 4})};
      });
  add(
      "squeeze_unsqueeze", [](S x) { return x[0].Squeeze(1).Unsqueeze(0) * 2.0; },
      [](Random& r) {
        return Inputs{N(r, {3, 1, 2})};
      });
  add(
      "contiguous_of_transpose", [](S x) { return x[0].T().Contiguous().Reshape({-1}); },
      [](Random& r) {
        return Inputs{N(r, {2, 3})};
      });
  // Non-contiguous operands into every kind of kernel.
  add(
      "strided_operands_elementwise",
      [](S x) { return Tanh(x[0].T()) * x[1].Slice(0, 0, 4, 2); },
      [](Random& r) {
        return Inputs{N(r, {3, 2}), N(r, {4, 3})};
      });
  add(
      "strided_reduction",
      [](S x) { return Sum(x[0].T(), {1}) + Max(x[0].T().Slice(1, -2, 2), {1}); },
      [](Random& r) {
        return Inputs{Distinct(r, {2, 3})};
      });
  add(
      "strided_softmax", [](S x) { return LogSoftmax(x[0].T(), 1); },
      [](Random& r) {
        return Inputs{N(r, {4, 3})};
      });
  add(
      "expanded_into_matmul",
      [](S x) {
        return MatMul(x[0].Expand({3, 4}), x[1]);
      },
      [](Random& r) {
        return Inputs{N(r, {1, 4}), N(r, {4, 2})};
      });
  add(
      "bce_with_logits_broadcast_targets",
      [](S x) { return BinaryCrossEntropyWithLogits(x[0], x[1]); },
      [](Random& r) {
        return Inputs{N(r, {3, 4}), Tensor::Rand({4}, r, DType::kF64)};
      });
  add(
      "dropout_fixed_seed", [](S x) { return Dropout(x[0], 0.4, 42) * x[1]; },
      [](Random& r) {
        return Inputs{N(r, {4, 5}), N(r, {4, 5})};
      });
  // Composite graphs.
  add(
      "mlp_cross_entropy",
      [](S x) {
        return CrossEntropy(MatMul(Relu(MatMul(x[0], x[1]) + x[2]), x[3]), x[4]);
      },
      [](Random& r) {
        return Inputs{N(r, {5, 4}), N(r, {4, 6}), N(r, {6}), N(r, {6, 3}),
                      Labels({0, 2, 1, 1, 0})};
      });
  add(
      "residual_reuse",
      [](S x) {
        const Tensor h = Tanh(MatMul(x[0], x[1]));
        return Sum(h * h + h, {1}) / (Sum(Abs(x[0]), {1}) + 1.0);
      },
      [](Random& r) {
        return Inputs{N(r, {3, 4}), N(r, {4, 4})};
      });
  add(
      "attention_like",
      [](S x) { return MatMul(Softmax(MatMul(x[0], x[0].T()) * 0.5), x[0]); },
      [](Random& r) {
        return Inputs{N(r, {3, 2})};
      });
  return cases;
}

void PrintTo(const Case& c, std::ostream* os) { *os << c.name; }

}  // namespace tapegrad::testing
