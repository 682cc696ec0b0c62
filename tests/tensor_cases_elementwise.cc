// The elementwise op cases of Cases() (tests/tensor_cases.h): arithmetic with
// broadcasting, comparisons, the elementwise math and activations.
#include <string>
#include <utility>
#include <vector>

#include "tests/tensor_case_inputs.h"
#include "tests/tensor_cases.h"

namespace tapegrad::testing {

using inputs::Distinct;
using inputs::N;
using inputs::P;
using inputs::Signed;

void AddElementwiseCases(std::vector<Case>* c) {
  using S = absl::Span<const Tensor>;
  auto add = [&](std::string name, Fn f, std::function<Inputs(Random&)> in) {
    c->push_back(Case{std::move(name), std::move(f), std::move(in)});
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
}

}  // namespace tapegrad::testing
