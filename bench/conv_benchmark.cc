// Convolution forward and backward through tapegrad against the same oneDNN
// primitives called directly, each measured in this binary:
//
//   bazel run -c opt //bench:conv_benchmark
//
// BM_Conv2d_Tapegrad/S   Sum(Conv2d(x, w)).Backward() on a tape, rewound each
//                        iteration: forward, the sum, its gradient (ones), and
//                        the input and weight gradients.
// BM_Conv2d_OneDnn/S     the same work with oneDNN's C++ API on preallocated
//                        memory: forward, backward-data and backward-weights
//                        primitives created once with layouts oneDNN chooses,
//                        reorders from and to NCHW around each, the sum and the
//                        ones as plain loops. Target: tapegrad within 1.1x.
// S indexes kShapes: the two convolutions of examples/fashion_cnn_model.h at
// batch 64, then a wider one.
// BM_BatchNormRelu_Tapegrad/S/T  Sum(BatchNormRelu(x, ...)).Backward() in training
//                        mode on T threads, x the activations of the CNN's two
//                        convolutions (S indexes kNormShapes).
// BM_BatchNormRelu_OneDnn/S/T/B  the same work on oneDNN's batch normalization
//                        primitives (ReLU fused, scale and shift), on NCHW memory
//                        (B = 0) or on its blocked nChw16c layout (B = 1), the
//                        sum and the ones as plain loops.
#include <omp.h>

#include <numeric>
#include <oneapi/dnnl/dnnl.hpp>
#include <vector>

#include "absl/strings/str_format.h"
#include "benchmark/benchmark.h"
#include "kernels/cpu/parallel.h"
#include "tapegrad.h"

namespace tapegrad::bench {
namespace {

struct ConvShape {
  int64_t n, c, h, w, o;  // 3x3 kernel, stride 1, padding 1
};
constexpr ConvShape kShapes[] = {
    {64, 1, 28, 28, 32}, {64, 32, 14, 14, 64}, {8, 64, 56, 56, 64}};

void Label(benchmark::State& state, const ConvShape& s) {
  state.SetLabel(absl::StrFormat("x [%d, %d, %d, %d], w [%d, %d, 3, 3]", s.n, s.c, s.h,
                                 s.w, s.o, s.c));
}

void BM_Conv2d_Tapegrad(benchmark::State& state) {
  const ConvShape& s = kShapes[state.range(0)];
  Random rng(1);
  Tensor x = Tensor::Randn({s.n, s.c, s.h, s.w}, rng).RequiresGrad();
  Tensor w = Tensor::Randn({s.o, s.c, 3, 3}, rng).RequiresGrad();
  Conv2dOptions same;
  same.padding = {1, 1};
  Tape tape;
  TapeScope scope(&tape);
  const TapeMark mark = tape.Mark();
  for (auto _ : state) {
    const absl::Status done = Sum(Conv2d(x, w, same)).Backward();
    if (!done.ok()) state.SkipWithError(done.ToString().c_str());
    x.ZeroGrad();
    w.ZeroGrad();
    (void)tape.Rewind(mark);
  }
  Label(state, s);
}

using dnnl::memory;
using Tag = memory::format_tag;

// A primitive's operand: the user's NCHW/OIHW memory, and the layout the
// primitive chose (the same memory, or a copy that a reorder fills or empties).
// The reorders are made once, as tapegrad makes its own.
struct Operand {
  Operand(const dnnl::engine& engine, const memory::desc& chosen, const memory& user)
      : user(user), inner(chosen == user.get_desc() ? user : memory(chosen, engine)) {
    if (inner != user) {
      fill = dnnl::reorder(user, inner);
      empty = dnnl::reorder(inner, user);
    }
  }
  void In(dnnl::stream& stream) {
    if (inner != user) fill.execute(stream, user, inner);
  }
  void Out(dnnl::stream& stream) {
    if (inner != user) empty.execute(stream, inner, user);
  }
  memory user, inner;
  dnnl::reorder fill, empty;
};

void BM_Conv2d_OneDnn(benchmark::State& state) {
  const ConvShape& s = kShapes[state.range(0)];
  omp_set_num_threads(cpu::NumThreads());
  const dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  dnnl::stream stream(engine);
  const memory::dims xd = {s.n, s.c, s.h, s.w}, wd = {s.o, s.c, 3, 3},
                     yd = {s.n, s.o, s.h, s.w}, one = {1, 1}, pad = {1, 1};
  auto any = [](const memory::dims& d) {
    return memory::desc(d, memory::data_type::f32, Tag::any);
  };
  auto plain = [&](const memory::dims& d, Tag tag) {
    return memory(memory::desc(d, memory::data_type::f32, tag), engine);
  };
  memory x = plain(xd, Tag::nchw), w = plain(wd, Tag::oihw), y = plain(yd, Tag::nchw);
  memory gx = plain(xd, Tag::nchw), gw = plain(wd, Tag::oihw), gy = plain(yd, Tag::nchw);
  Random rng(1);
  const std::vector<float> xv = Tensor::Randn({s.n, s.c, s.h, s.w}, rng).ToFloatVector();
  const std::vector<float> wv = Tensor::Randn({s.o, s.c, 3, 3}, rng).ToFloatVector();
  std::copy(xv.begin(), xv.end(), static_cast<float*>(x.get_data_handle()));
  std::copy(wv.begin(), wv.end(), static_cast<float*>(w.get_data_handle()));
  const auto alg = dnnl::algorithm::convolution_direct;
  const dnnl::convolution_forward::primitive_desc fwd(
      dnnl::convolution_forward::desc(dnnl::prop_kind::forward_training, alg, any(xd),
                                      any(wd), any(yd), one, pad, pad),
      engine);
  const dnnl::convolution_backward_data::primitive_desc bwd_data(
      dnnl::convolution_backward_data::desc(alg, any(xd), any(wd), any(yd), one, pad,
                                            pad),
      engine, fwd);
  const dnnl::convolution_backward_weights::primitive_desc bwd_weights(
      dnnl::convolution_backward_weights::desc(alg, any(xd), any(wd), any(yd), one, pad,
                                               pad),
      engine, fwd);
  Operand fx(engine, fwd.src_desc(), x), fw(engine, fwd.weights_desc(), w),
      fy(engine, fwd.dst_desc(), y);
  Operand dgy(engine, bwd_data.diff_dst_desc(), gy),
      dw(engine, bwd_data.weights_desc(), w), dgx(engine, bwd_data.diff_src_desc(), gx);
  Operand wgy(engine, bwd_weights.diff_dst_desc(), gy),
      wx(engine, bwd_weights.src_desc(), x),
      wgw(engine, bwd_weights.diff_weights_desc(), gw);
  const dnnl::convolution_forward conv_fwd(fwd);
  const dnnl::convolution_backward_data conv_bwd_data(bwd_data);
  const dnnl::convolution_backward_weights conv_bwd_weights(bwd_weights);
  const size_t out_count = static_cast<size_t>(s.n * s.o * s.h * s.w);
  for (auto _ : state) {
    fx.In(stream);
    fw.In(stream);
    conv_fwd.execute(stream, {{DNNL_ARG_SRC, fx.inner},
                              {DNNL_ARG_WEIGHTS, fw.inner},
                              {DNNL_ARG_DST, fy.inner}});
    fy.Out(stream);
    const float* yp = static_cast<const float*>(y.get_data_handle());
    benchmark::DoNotOptimize(std::accumulate(yp, yp + out_count, 0.0));
    float* gyp = static_cast<float*>(gy.get_data_handle());
    std::fill(gyp, gyp + out_count, 1.0f);
    dgy.In(stream);
    dw.In(stream);
    conv_bwd_data.execute(stream, {{DNNL_ARG_DIFF_DST, dgy.inner},
                                   {DNNL_ARG_WEIGHTS, dw.inner},
                                   {DNNL_ARG_DIFF_SRC, dgx.inner}});
    dgx.Out(stream);
    wgy.In(stream);
    wx.In(stream);
    conv_bwd_weights.execute(stream, {{DNNL_ARG_DIFF_DST, wgy.inner},
                                      {DNNL_ARG_SRC, wx.inner},
                                      {DNNL_ARG_DIFF_WEIGHTS, wgw.inner}});
    wgw.Out(stream);
    stream.wait();
  }
  Label(state, s);
}

// Batch norm with its ReLU, training mode, on the activations of the CNN's two
// convolutions: Sum(BatchNormRelu(x, ...)).Backward() through tapegrad, against
// oneDNN's batch normalization primitives (fused ReLU, scale and shift), with the
// sum and the ones as plain loops.
constexpr ConvShape kNormShapes[] = {{64, 32, 28, 28, 0}, {64, 64, 14, 14, 0}};

void NormLabel(benchmark::State& state, const ConvShape& s) {
  state.SetLabel(absl::StrFormat("x [%d, %d, %d, %d]", s.n, s.c, s.h, s.w));
}

void BM_BatchNormRelu_Tapegrad(benchmark::State& state) {
  const ConvShape& s = kNormShapes[state.range(0)];
  cpu::SetNumThreads(static_cast<int>(state.range(1)));
  Random rng(1);
  Tensor x = Tensor::Randn({s.n, s.c, s.h, s.w}, rng).RequiresGrad();
  Tensor weight = Tensor::Ones({s.c}).RequiresGrad();
  Tensor bias = Tensor::Zeros({s.c}).RequiresGrad();
  Tensor running_mean = Tensor::Zeros({s.c}), running_var = Tensor::Ones({s.c});
  Tape tape;
  TapeScope scope(&tape);
  const TapeMark mark = tape.Mark();
  for (auto _ : state) {
    const Tensor y = BatchNormRelu(x, running_mean, running_var, weight, bias, true);
    const absl::Status done = Sum(y).Backward();
    if (!done.ok()) state.SkipWithError(done.ToString().c_str());
    x.ZeroGrad();
    weight.ZeroGrad();
    bias.ZeroGrad();
    (void)tape.Rewind(mark);
  }
  NormLabel(state, s);
}

// state.range(2): the layout oneDNN's primitives run on, 0 for NCHW (tapegrad's
// own, the same work) or 1 for nChw16c (oneDNN's blocked layout, where its JIT
// kernels run; no reorders: a floor for a framework that keeps activations
// blocked).
void BM_BatchNormRelu_OneDnn(benchmark::State& state) {
  const ConvShape& s = kNormShapes[state.range(0)];
  const int threads = static_cast<int>(state.range(1));
  cpu::SetNumThreads(threads);
  omp_set_num_threads(threads);
  const dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  dnnl::stream stream(engine);
  const memory::desc data(memory::dims{s.n, s.c, s.h, s.w}, memory::data_type::f32,
                          state.range(2) == 0 ? Tag::nchw : Tag::nChw16c);
  const auto flags = dnnl::normalization_flags::use_scale |
                     dnnl::normalization_flags::use_shift |
                     dnnl::normalization_flags::fuse_norm_relu;
  const float eps = 1e-5f;
  const dnnl::batch_normalization_forward::primitive_desc fwd(
      dnnl::batch_normalization_forward::desc(dnnl::prop_kind::forward_training, data,
                                              eps, flags),
      engine);
  const dnnl::batch_normalization_backward::primitive_desc bwd(
      dnnl::batch_normalization_backward::desc(dnnl::prop_kind::backward, data, data, eps,
                                               flags),
      engine, fwd);
  memory x(data, engine), y(data, engine), gx(data, engine), gy(data, engine);
  memory mean(fwd.mean_desc(), engine), var(fwd.variance_desc(), engine);
  memory workspace(fwd.workspace_desc(), engine);
  const memory::desc channel(memory::dims{s.c}, memory::data_type::f32, Tag::a);
  memory scale(channel, engine), shift(channel, engine);
  memory gscale(channel, engine), gshift(channel, engine);
  Random rng(1);
  // The same numbers as tapegrad's x, in whichever layout.
  const std::vector<float> xv = Tensor::Randn({s.n, s.c, s.h, s.w}, rng).ToFloatVector();
  memory x_nchw(memory::desc(data.dims(), memory::data_type::f32, Tag::nchw), engine);
  std::copy(xv.begin(), xv.end(), static_cast<float*>(x_nchw.get_data_handle()));
  dnnl::reorder(x_nchw, x).execute(stream, x_nchw, x);
  stream.wait();
  std::fill_n(static_cast<float*>(scale.get_data_handle()), s.c, 1.0f);
  std::fill_n(static_cast<float*>(shift.get_data_handle()), s.c, 0.0f);
  const dnnl::batch_normalization_forward norm_fwd(fwd);
  const dnnl::batch_normalization_backward norm_bwd(bwd);
  const size_t count = xv.size();
  for (auto _ : state) {
    norm_fwd.execute(stream, {{DNNL_ARG_SRC, x},
                              {DNNL_ARG_SCALE, scale},
                              {DNNL_ARG_SHIFT, shift},
                              {DNNL_ARG_DST, y},
                              {DNNL_ARG_MEAN, mean},
                              {DNNL_ARG_VARIANCE, var},
                              {DNNL_ARG_WORKSPACE, workspace}});
    const float* yp = static_cast<const float*>(y.get_data_handle());
    benchmark::DoNotOptimize(std::accumulate(yp, yp + count, 0.0));
    float* gyp = static_cast<float*>(gy.get_data_handle());
    std::fill(gyp, gyp + count, 1.0f);
    norm_bwd.execute(stream, {{DNNL_ARG_SRC, x},
                              {DNNL_ARG_MEAN, mean},
                              {DNNL_ARG_VARIANCE, var},
                              {DNNL_ARG_DIFF_DST, gy},
                              {DNNL_ARG_SCALE, scale},
                              // Not inputs of the formula; the NCHW kernel
                              // fails with "invalid arguments" without them.
                              {DNNL_ARG_SHIFT, shift},
                              {DNNL_ARG_DST, y},
                              {DNNL_ARG_WORKSPACE, workspace},
                              {DNNL_ARG_DIFF_SRC, gx},
                              {DNNL_ARG_DIFF_SCALE, gscale},
                              {DNNL_ARG_DIFF_SHIFT, gshift}});
    stream.wait();
  }
  NormLabel(state, s);
}

BENCHMARK(BM_BatchNormRelu_Tapegrad)
    ->ArgNames({"shape", "threads"})
    ->ArgsProduct({{0, 1}, {1, 2}})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK(BM_BatchNormRelu_OneDnn)
    ->ArgNames({"shape", "threads", "blocked"})
    ->ArgsProduct({{0, 1}, {1, 2}, {0, 1}})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK(BM_Conv2d_Tapegrad)
    ->DenseRange(0, 2)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK(BM_Conv2d_OneDnn)
    ->DenseRange(0, 2)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

}  // namespace
}  // namespace tapegrad::bench

BENCHMARK_MAIN();
