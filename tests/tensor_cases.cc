#include "tests/tensor_cases.h"

#include <string>
#include <utility>
#include <vector>

namespace tapegrad::testing {
namespace {

Tensor N(Random& rng, std::initializer_list<int64_t> shape) {
  return Tensor::Randn(shape, rng, DType::kF64);
}
// Values bounded away from 0 (log, sqrt, abs, relu kinks), in [0.5, 2).
Tensor P(Random& rng, std::initializer_list<int64_t> shape) {
  return Tensor::Rand(shape, rng, DType::kF64, 0.5, 2.0);
}
// Distinct values spaced 0.1 apart in random order (no ties for max/min).
Tensor Distinct(Random& rng, std::initializer_list<int64_t> shape) {
  Tensor t = Tensor::Zeros(shape, DType::kF64);
  std::vector<double> v(t.numel());
  for (size_t i = 0; i < v.size(); ++i) v[i] = 0.1 * double(i) - 1.0;
  for (size_t i = v.size(); i > 1; --i) {
    std::swap(v[i - 1], v[static_cast<size_t>(rng.Uniform(0, double(i)))]);
  }
  (void)t.CopyFrom(v);
  return t;
}
Tensor Labels(std::initializer_list<int64_t> labels) {
  std::vector<int64_t> v(labels);
  return Tensor::FromData(absl::Span<const int64_t>(v), {int64_t(v.size())});
}
// A random sign pattern without zeros, so relu/abs are differentiable everywhere.
Tensor Signed(Random& rng, std::initializer_list<int64_t> shape) {
  std::vector<double> v = P(rng, shape).ToVector();
  for (double& x : v) x *= rng.Uniform(0, 1) < 0.5 ? -1 : 1;
  return Tensor::FromData(v, shape, DType::kF64);
}

}  // namespace

std::vector<Case> Cases() {
  using S = absl::Span<const Tensor>;
  std::vector<Case> c;
  auto add = [&](std::string name, Fn f, std::function<Inputs(Random&)> in) {
    c.push_back(Case{std::move(name), std::move(f), std::move(in)});
  };
  // Elementwise, same shape and broadcast.
  add(
      "add", [](S x) { return x[0] + x[1]; },
      [](Random& r) {
        return Inputs{N(r, {2, 3}), N(r, {2, 3})};
      });
  add(
      "add_broadcast_row", [](S x) { return x[0] + x[1]; },
      [](Random& r) {
        return Inputs{N(r, {2, 3}), N(r, {3})};
      });
  add(
      "add_broadcast_outer", [](S x) { return x[0] + x[1]; },
      [](Random& r) {
        return Inputs{N(r, {2, 1}), N(r, {1, 3})};
      });
  add(
      "add_scalar_tensor", [](S x) { return x[0] + x[1]; },
      [](Random& r) {
        return Inputs{N(r, {}), N(r, {2, 2})};
      });
  add(
      "sub_broadcast", [](S x) { return x[0] - x[1]; },
      [](Random& r) {
        return Inputs{N(r, {4, 1, 3}), N(r, {2, 3})};
      });
  add(
      "mul_broadcast", [](S x) { return x[0] * x[1]; },
      [](Random& r) {
        return Inputs{N(r, {2, 3}), N(r, {2, 1})};
      });
  add(
      "div_broadcast", [](S x) { return x[0] / x[1]; },
      [](Random& r) {
        return Inputs{N(r, {2, 3}), P(r, {3})};
      });
  add(
      "same_operand_twice", [](S x) { return x[0] * x[0]; },
      [](Random& r) { return Inputs{N(r, {3})}; });
  add(
      "number_operands", [](S x) { return (2.0 - x[0]) * 3.0 + 1.0 / x[0] - x[0] / 4.0; },
      [](Random& r) {
        return Inputs{P(r, {2, 2})};
      });
  add(
      "maximum", [](S x) { return Maximum(x[0], x[1]); },
      [](Random& r) {
        return Inputs{N(r, {2, 3}), N(r, {3})};
      });
  add(
      "minimum", [](S x) { return Minimum(x[0], x[1]); },
      [](Random& r) {
        return Inputs{N(r, {2, 3}), N(r, {2, 3})};
      });
  add(
      "where", [](S x) { return Where(x[0], x[1], x[2]); },
      [](Random& r) {
        return Inputs{Tensor::FromData({1, 0, 1, 0, 0, 1}, {2, 3}, DType::kF64),
                      N(r, {2, 3}), N(r, {3})};
      });
  // Masks are constants; the gradient flows through the products (random
  // normals: no ties, so finite differences never straddle a switch).
  add(
      "comparisons",
      [](S x) {
        return x[0] * Greater(x[0], x[1]) + x[1] * LessEqual(x[0], x[1]) +
               x[0] * x[1] * Less(x[0], x[1]) + x[1] * GreaterEqual(x[0], x[1]) +
               x[0] * NotEqual(x[0], x[1]) - x[1] * Equal(x[1], x[1]);
      },
      [](Random& r) {
        return Inputs{N(r, {2, 3}), N(r, {3})};
      });
  add(
      "argmax_argmin",  // picks rows by index; the indices get no gradient
      [](S x) {
        return Sum(IndexSelect(x[0], ArgMax(x[1], 0)), {0}) +
               Sum(IndexSelect(x[0], ArgMin(x[1].Transpose(0, 1), 0)), {0}) * 2.0 +
               Sum(IndexSelect(x[0], ArgMin(x[2], std::nullopt, true).Reshape({1})), {0});
      },
      [](Random& r) {
        return Inputs{N(r, {4, 3}), Distinct(r, {4, 3}), Distinct(r, {2, 2})};
      });
  add(
      "neg", [](S x) { return -x[0]; },
      [](Random& r) {
        return Inputs{N(r, {2, 3})};
      });
  add(
      "exp", [](S x) { return Exp(x[0]); },
      [](Random& r) {
        return Inputs{N(r, {2, 3})};
      });
  add(
      "log", [](S x) { return Log(x[0]); },
      [](Random& r) {
        return Inputs{P(r, {2, 3})};
      });
  add(
      "tanh", [](S x) { return Tanh(x[0]); },
      [](Random& r) {
        return Inputs{N(r, {2, 3})};
      });
  add(
      "relu", [](S x) { return Relu(x[0]); },
      [](Random& r) {
        return Inputs{Signed(r, {2, 3})};
      });
  add(
      "sigmoid", [](S x) { return Sigmoid(x[0] * 4.0); },
      [](Random& r) {
        return Inputs{N(r, {2, 3})};
      });
  add(
      "gelu", [](S x) { return Gelu(x[0]); },
      [](Random& r) {
        return Inputs{N(r, {2, 3})};
      });
  add(
      "sqrt", [](S x) { return Sqrt(x[0]); },
      [](Random& r) {
        return Inputs{P(r, {2, 3})};
      });
  add(
      "abs", [](S x) { return Abs(x[0]); },
      [](Random& r) {
        return Inputs{Signed(r, {2, 3})};
      });
  add(
      "softplus", [](S x) { return Softplus(x[0]) + Softplus(x[0], 2.0, 1.5); },
      [](Random& r) {  // beta x on both sides of the threshold
        return Inputs{Signed(r, {3, 4})};
      });
  add(
      "silu", [](S x) { return Silu(x[0]); },
      [](Random& r) {
        return Inputs{N(r, {2, 3})};
      });
  add(
      "leaky_relu", [](S x) { return LeakyRelu(x[0]) + LeakyRelu(x[0], 0.25); },
      [](Random& r) {
        return Inputs{Signed(r, {2, 3})};
      });
  add(
      "elu", [](S x) { return Elu(x[0]) + Elu(x[0], 1.5); },
      [](Random& r) {
        return Inputs{Signed(r, {2, 3})};
      });
  add(
      "log1p", [](S x) { return Log1p(x[0]); },
      [](Random& r) {
        return Inputs{P(r, {2, 3})};
      });
  add(
      "expm1", [](S x) { return Expm1(x[0]); },
      [](Random& r) {
        return Inputs{N(r, {2, 3})};
      });
  add(
      "sin_cos", [](S x) { return Sin(x[0]) * Cos(x[1]); },
      [](Random& r) {
        return Inputs{N(r, {2, 3}), N(r, {3})};
      });
  add(
      "square", [](S x) { return Square(x[0]); },
      [](Random& r) {
        return Inputs{N(r, {2, 3})};
      });
  add(
      "rsqrt", [](S x) { return Rsqrt(x[0]); },
      [](Random& r) {
        return Inputs{P(r, {2, 3})};
      });
  add(
      "sign",  // a constant: the gradient flows through the product only
      [](S x) { return x[0] * Sign(x[1]); },
      [](Random& r) {
        return Inputs{N(r, {2, 3}), Signed(r, {2, 3})};
      });
  add(
      "erf", [](S x) { return Erf(x[0]); },
      [](Random& r) {
        return Inputs{N(r, {2, 3})};
      });
  add(
      "clamp", [](S x) { return Clamp(x[0], -0.75, 0.75); },
      [](Random& r) {
        return Inputs{Signed(r, {3, 3})};
      });
  add(
      "pow_fractional", [](S x) { return Pow(x[0], 2.5); },
      [](Random& r) {
        return Inputs{P(r, {2, 3})};
      });
  add(
      "pow_cube_negative_base", [](S x) { return Pow(x[0], 3); },
      [](Random& r) {
        return Inputs{N(r, {2, 3})};
      });
  add(
      "scale", [](S x) { return Scale(x[0], -1.5); },
      [](Random& r) {
        return Inputs{N(r, {2, 3})};
      });
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
  return c;
}

void PrintTo(const Case& c, std::ostream* os) { *os << c.name; }

}  // namespace tapegrad::testing
