// The convolution, pooling, normalization and embedding cases of Cases()
// (tests/tensor_cases.h): strides, paddings, dilations, groups, odd sizes, batch 1,
// strided operands, and a small CNN.
#include <array>
#include <string>
#include <utility>
#include <vector>

#include "tests/tensor_case_inputs.h"
#include "tests/tensor_cases.h"

namespace tapegrad::testing {

using inputs::Distinct;
using inputs::Labels;
using inputs::N;
using inputs::P;

namespace {

using Pair = std::array<int64_t, 2>;

Conv2dOptions ConvOpts(Pair stride, Pair padding = {0, 0}, Pair dilation = {1, 1},
                       int64_t groups = 1) {
  Conv2dOptions o;
  o.stride = stride;
  o.padding = padding;
  o.dilation = dilation;
  o.groups = groups;
  return o;
}

Pool2dOptions PoolOpts(Pair kernel, Pair stride = {0, 0}, Pair padding = {0, 0},
                       Pair dilation = {1, 1}, bool count_include_pad = true) {
  Pool2dOptions o;
  o.kernel = kernel;
  o.stride = stride;
  o.padding = padding;
  o.dilation = dilation;
  o.count_include_pad = count_include_pad;
  return o;
}

}  // namespace

void AddWindowCases(std::vector<Case>* c) {
  using S = absl::Span<const Tensor>;
  auto add = [&](std::string name, Fn f, std::function<Inputs(Random&)> in) {
    c->push_back(Case{std::move(name), std::move(f), std::move(in)});
  };
  auto conv = [&](std::string name, std::vector<int64_t> x, std::vector<int64_t> w,
                  Conv2dOptions o) {
    add(
        std::move(name), [o](S t) { return Conv2d(t[0], t[1], o); },
        [x, w](Random& r) {
          return Inputs{Tensor::Randn(x, r, DType::kF64),
                        Tensor::Randn(w, r, DType::kF64)};
        });
  };
  conv("conv2d_3x3", {2, 3, 5, 5}, {4, 3, 3, 3}, {});
  conv("conv2d_stride_padding", {1, 2, 6, 7}, {3, 2, 3, 2}, ConvOpts({2, 1}, {1, 1}));
  conv("conv2d_dilation", {1, 2, 7, 6}, {2, 2, 3, 3}, ConvOpts({1, 1}, {2, 1}, {2, 1}));
  conv("conv2d_groups", {2, 4, 5, 5}, {6, 2, 3, 3}, ConvOpts({1, 1}, {1, 1}, {1, 1}, 2));
  conv("conv2d_depthwise", {1, 3, 4, 4}, {3, 1, 3, 3},
       ConvOpts({1, 1}, {1, 1}, {1, 1}, 3));
  conv("conv2d_1x1", {2, 3, 4, 3}, {5, 3, 1, 1}, {});
  conv("conv2d_1x1_strided", {1, 3, 5, 5}, {2, 3, 1, 1}, ConvOpts({2, 2}));
  conv("conv2d_kernel_fills_input", {1, 2, 3, 3}, {2, 2, 3, 3}, {});
  add(
      "conv2d_bias_transposed_input",
      [](S t) {
        return Conv2d(t[0].Transpose(2, 3), t[1], t[2], ConvOpts({2, 2}, {1, 0}));
      },
      [](Random& r) {
        return Inputs{N(r, {2, 2, 5, 4}), N(r, {3, 2, 2, 3}), N(r, {3})};
      });
  // Pooling; max pooling on distinct values (no ties to split).
  auto pool = [&](std::string name, bool max, std::vector<int64_t> x, Pool2dOptions o) {
    add(
        std::move(name),
        [max, o](S t) { return max ? MaxPool2d(t[0], o) : AvgPool2d(t[0], o); },
        [x](Random& r) {
          Tensor d = Distinct(r, {x[0] * x[1] * x[2] * x[3]});
          return Inputs{d.Reshape(x)};
        });
  };
  pool("max_pool2d_2x2", true, {2, 3, 6, 6}, {});
  pool("max_pool2d_2x2_odd_sizes", true, {2, 3, 7, 5}, {});  // a row and column left out
  // Rows of 7 and 9 windows: four at a time, the last block overlapping.
  pool("max_pool2d_2x2_long_rows", true, {2, 3, 4, 14}, {});
  pool("max_pool2d_2x2_long_odd_rows", true, {1, 2, 5, 19}, {});
  pool("max_pool2d_3x3_stride2_padding1", true, {1, 2, 7, 5},
       PoolOpts({3, 3}, {2, 2}, {1, 1}));
  pool("max_pool2d_dilation", true, {1, 2, 7, 7},
       PoolOpts({2, 3}, {1, 2}, {1, 1}, {2, 2}));
  pool("avg_pool2d_2x2", false, {2, 3, 6, 5}, {});
  pool("avg_pool2d_padding_counts", false, {1, 2, 5, 5},
       PoolOpts({3, 3}, {2, 2}, {1, 1}));
  pool("avg_pool2d_padding_excluded", false, {1, 2, 5, 6},
       PoolOpts({3, 2}, {2, 1}, {1, 1}, {1, 1}, false));
  add(
      "adaptive_avg_pool2d_global",
      [](S t) {
        return AdaptiveAvgPool2d(t[0], {1, 1});
      },
      [](Random& r) {
        return Inputs{N(r, {2, 3, 4, 5})};
      });
  add(
      "adaptive_avg_pool2d_uneven",
      [](S t) {
        return AdaptiveAvgPool2d(t[0], {3, 2});
      },
      [](Random& r) {
        return Inputs{N(r, {1, 2, 7, 5})};
      });
  add(
      "flatten", [](S t) { return Flatten(t[0].Transpose(1, 3)); },
      [](Random& r) {
        return Inputs{N(r, {2, 3, 2, 4})};
      });
  // Normalization.
  add(
      "batch_norm_training",
      [](S t) {
        Tensor none;
        return BatchNorm(t[0], none, none, t[1], t[2], /*training=*/true);
      },
      [](Random& r) {
        return Inputs{N(r, {4, 3, 2, 3}), P(r, {3}), N(r, {3})};
      });
  // The ReLU fused into the kernels, with a shift that leaves about a third of
  // each channel's outputs at zero.
  add(
      "batch_norm_relu_training",
      [](S t) {
        Tensor none;
        return BatchNormRelu(t[0], none, none, t[1], t[2], /*training=*/true);
      },
      [](Random& r) {
        return Inputs{N(r, {4, 3, 2, 3}), P(r, {3}), N(r, {3})};
      });
  add(
      "batch_norm_relu_evaluation",
      [](S t) {
        Tensor mean = Tensor::FromData({0.5, -0.25}, {2}, t[0].dtype()).To(t[0].device());
        Tensor var = Tensor::FromData({2.0, 0.5}, {2}, t[0].dtype()).To(t[0].device());
        return BatchNormRelu(t[0], mean, var, t[1], t[2], /*training=*/false);
      },
      [](Random& r) {
        return Inputs{N(r, {3, 2, 2, 2}), P(r, {2}), N(r, {2})};
      });
  add(
      "batch_norm_training_2d_no_affine",
      [](S t) {
        Tensor none;
        return BatchNorm(t[0], none, none, Tensor(), Tensor(), /*training=*/true);
      },
      [](Random& r) {
        return Inputs{N(r, {5, 3})};
      });
  add(
      "batch_norm_evaluation",
      [](S t) {
        Tensor mean =
            Tensor::FromData({0.5, -0.25, 1.0}, {3}, t[0].dtype()).To(t[0].device());
        Tensor var =
            Tensor::FromData({2.0, 0.5, 1.5}, {3}, t[0].dtype()).To(t[0].device());
        return BatchNorm(t[0], mean, var, t[1], t[2], /*training=*/false);
      },
      [](Random& r) {
        return Inputs{N(r, {2, 3, 2, 2}), P(r, {3}), N(r, {3})};
      });
  add(
      "layer_norm_last_two_axes", [](S t) { return LayerNorm(t[0], 2, t[1], t[2]); },
      [](Random& r) {
        return Inputs{N(r, {3, 4, 5}), P(r, {4, 5}), N(r, {4, 5})};
      });
  add(
      "embedding_repeated_indices",
      [](S t) {
        return Embedding(t[0], t[1].Reshape({2, 3}));
      },
      [](Random& r) {
        return Inputs{N(r, {5, 3}), Labels({4, 0, 4, 2, 0, 4})};
      });
  // A small CNN: conv, batch norm, relu, max pool, flatten, linear, cross entropy.
  add(
      "cnn_cross_entropy",
      [](S t) {
        Tensor none;
        Tensor h = Conv2d(t[0], t[1], t[2], ConvOpts({1, 1}, {1, 1}));
        h = Relu(BatchNorm(h, none, none, t[3], t[4], /*training=*/true));
        h = Flatten(MaxPool2d(h, {}));
        return CrossEntropy(MatMul(h, t[5]), t[6]);
      },
      [](Random& r) {
        return Inputs{N(r, {3, 2, 4, 4}), N(r, {4, 2, 3, 3}), N(r, {4}),        P(r, {4}),
                      N(r, {4}),          N(r, {16, 3}),      Labels({2, 0, 1})};
      });
}

}  // namespace tapegrad::testing
