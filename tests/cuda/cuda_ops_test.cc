// Every tensor op on a GPU against the CPU backend, forward and backward: the
// cases of tensor_grad_test (broadcast, strided and composite graphs) in f64 and
// f32 against the CPU's f64, by relative L2 error; shapes large enough for the
// multi-block paths; dropout masks equal to the CPU's; optimizer updates; and a
// training step that stops asking the driver for memory; the caching allocator
// across threads. Skips without a GPU.
#include <cmath>
#include <functional>
#include <future>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/internal/registry.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "kernels/cuda/cuda.h"
#ifdef TAPEGRAD_CUDASIM
#include "kernels/cuda/sim/module_registry.h"
#endif
#include "nn/loss.h"
#include "nn/optimizer.h"
#include "nn/sequential.h"
#include "tapegrad.h"
#include "tests/tensor_cases.h"
#include "tests/tensor_gradient_check.h"

namespace tapegrad {
namespace {

using testing::Case;
using ::testing::HasSubstr;
using testing::RunWithGradients;
using testing::TensorRun;

const Device kGpu = Device::Cuda(0);

#ifdef TAPEGRAD_CUDASIM
// On the simulator, once the whole suite has run (a filtered run checks
// nothing), every kernel of every module must have been launched: a kernel no
// test launches is code that CI never executes.
class EveryKernelRan : public ::testing::Environment {
 public:
  void TearDown() override {
    if (::testing::GTEST_FLAG(filter) != "*") return;
    const std::vector<std::string> missing = cuda::sim::UnlaunchedEntries();
    EXPECT_TRUE(missing.empty())
        << missing.size() << " kernels never launched: " << absl::StrJoin(missing, " ");
  }
};
::testing::Environment* const every_kernel_ran =
    ::testing::AddGlobalTestEnvironment(new EveryKernelRan);
#endif

#define SKIP_WITHOUT_GPU() \
  if (!cuda::IsAvailable()) GTEST_SKIP() << cuda::UnavailableReason()

// ||a - b|| / max(||b||, 1): the relative L2 error of `a` against `b`, absolute
// where b is small. A gradient that is zero in exact arithmetic (a bias before
// batch normalisation) is rounding noise in both runs; relative to its own norm
// one noise would be compared with the other.
double RelativeL2(const std::vector<double>& a, const std::vector<double>& b) {
  if (a.size() != b.size()) return INFINITY;
  double diff = 0, norm = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    diff += (a[i] - b[i]) * (a[i] - b[i]);
    norm += b[i] * b[i];
  }
  return std::sqrt(diff) / std::max(std::sqrt(norm), 1.0);
}

void ExpectClose(const TensorRun& run, const TensorRun& reference, double bound,
                 const char* what) {
  ASSERT_TRUE(run.status.ok()) << what << ": " << run.status;
  EXPECT_LT(RelativeL2(run.output, reference.output), bound) << what << " output";
  ASSERT_EQ(run.grads.size(), reference.grads.size());
  for (size_t k = 0; k < run.grads.size(); ++k) {
    EXPECT_LT(RelativeL2(run.grads[k], reference.grads[k]), bound)
        << what << " gradient of input " << k;
  }
}

class CudaOpTest : public ::testing::TestWithParam<Case> {};

// Case `c` on the CPU in f64 against `on_gpu` (c.f, or a variant of it) on the GPU
// in f64 and f32, outputs and gradients.
void ExpectMatchesTheCpu(const Case& c, const testing::TensorFunction& on_gpu) {
  Random rng(7);
  const std::vector<Tensor> inputs = c.inputs(rng);
  const TensorRun cpu = RunWithGradients(c.f, inputs, DType::kF64);
  ASSERT_TRUE(cpu.status.ok()) << cpu.status;
  ExpectClose(RunWithGradients(on_gpu, inputs, DType::kF64, kGpu), cpu, 1e-10, "f64");
  ExpectClose(RunWithGradients(on_gpu, inputs, DType::kF32, kGpu), cpu, 1e-4, "f32");
}

TEST_P(CudaOpTest, MatchesTheCpu) {
  SKIP_WITHOUT_GPU();
  ExpectMatchesTheCpu(GetParam(), GetParam().f);
}

// The same values as `t` through a view whose elements are two apart, so that
// the op reading it takes its strided kernel. Labels and scalars stay as they are.
Tensor Spread(const Tensor& t, bool labels_too = false) {
  const int64_t rank = t.dim();
  if ((t.dtype() == DType::kI64 && !labels_too) || rank < 1 || t.numel() < 2) {
    return t;
  }
  return Stack({t, t}, rank).Slice(rank, 0, 1).Squeeze(rank);
}

// Each case again with every float input read through a strided view on the
// GPU: the strided kernels of the ops and of their gradients run.
TEST_P(CudaOpTest, MatchesTheCpuOnStridedOperands) {
  SKIP_WITHOUT_GPU();
  const Case& c = GetParam();
  if (c.name == "reshape") return;  // of strided data, an error by design
  ExpectMatchesTheCpu(c, [&c](absl::Span<const Tensor> x) {
    std::vector<Tensor> views;
    for (const Tensor& t : x) views.push_back(Spread(t));
    return c.f(views);
  });
}

INSTANTIATE_TEST_SUITE_P(AllOps, CudaOpTest, ::testing::ValuesIn(testing::Cases()),
                         [](const ::testing::TestParamInfo<Case>& info) {
                           return info.param.name;
                         });

// Every elementwise kernel called through the registry, on both devices, with
// contiguous operands (the flat kernel) and with every operand, the outputs too,
// read and written through strided views (the strided kernel): the kernels that
// no composed op reaches that way (gradients that read their op's contiguous
// output, sign's zero gradient, axpy, fill) run too. Values in [0.5, 2) suit every
// op's domain; scalar0 and scalar1 are every op's parameters.
struct ElementwiseKind {
  OpKind op;
  int inputs, outputs;
};

std::vector<ElementwiseKind> ElementwiseKinds() {
  std::vector<ElementwiseKind> kinds = {
      {OpKind::kWhere, 3, 1},       {OpKind::kNeg, 1, 1},
      {OpKind::kClamp, 1, 1},       {OpKind::kClampGrad, 2, 1},
      {OpKind::kPow, 1, 1},         {OpKind::kPowGrad, 2, 1},
      {OpKind::kScale, 1, 1},       {OpKind::kCopy, 1, 1},
      {OpKind::kFill, 0, 1},        {OpKind::kAxpy, 1, 1},
      {OpKind::kMaximumGrad, 3, 2}, {OpKind::kBceWithLogits, 2, 1}};
#define TG_BINARY_KIND(Y, Name, ...) kinds.push_back({OpKind::k##Name, 2, 1});
  TAPEGRAD_BINARY_MATH_OPS(TG_BINARY_KIND, )
#undef TG_BINARY_KIND
#define TG_UNARY_KINDS(Y, Name, ...)        \
  kinds.push_back({OpKind::k##Name, 1, 1}); \
  kinds.push_back({OpKind::k##Name##Grad, 2, 1});
  TAPEGRAD_UNARY_MATH_OPS(TG_UNARY_KINDS, )
#undef TG_UNARY_KINDS
  return kinds;
}

// Runs `kind`'s kernel on `device` over operands made from `values` (one tensor
// per operand, outputs first), viewed through strided views if `strided`.
std::vector<std::vector<double>> RunKernel(const ElementwiseKind& kind, DType dtype,
                                           Device device, bool strided,
                                           const std::vector<Tensor>& values) {
  std::vector<Tensor> operands;
  for (const Tensor& v : values) {
    const Tensor on = Tensor::FromData(v.ToVector(), v.shape(), dtype).To(device);
    operands.push_back(strided ? Spread(on, /*labels_too=*/true) : on);
  }
  std::vector<TensorImpl*> outputs;
  std::vector<const TensorImpl*> inputs;
  for (int k = 0; k < kind.outputs; ++k) outputs.push_back(operands[k].impl());
  for (int k = 0; k < kind.inputs; ++k)
    inputs.push_back(operands[kind.outputs + k].impl());
  OpAttrs attrs;
  attrs.scalar0 = 0.7;
  attrs.scalar1 = 1.6;
  absl::StatusOr<KernelFn> fn =
      KernelRegistry::Global().Find(kind.op, dtype, device.type);
  EXPECT_TRUE(fn.ok()) << fn.status();
  if (!fn.ok()) return {};
  const absl::Status s = (*fn)(KernelCall{kind.op, inputs, outputs, attrs});
  EXPECT_TRUE(s.ok()) << OpKindName(kind.op) << ": " << s;
  std::vector<std::vector<double>> results;
  for (int k = 0; k < kind.outputs; ++k) results.push_back(operands[k].ToVector());
  return results;
}

TEST(CudaKernels, EveryElementwiseKernelMatchesTheCpuFlatAndStrided) {
  SKIP_WITHOUT_GPU();
  Random rng(13);
  std::vector<ElementwiseKind> kinds = ElementwiseKinds();
  // i64 tensors (labels, indices) are only copied and filled.
  const std::vector<ElementwiseKind> integer = {{OpKind::kCopy, 1, 1},
                                                {OpKind::kFill, 0, 1}};
  kinds.insert(kinds.end(), integer.begin(), integer.end());
  for (size_t i = 0; i < kinds.size(); ++i) {
    const ElementwiseKind& kind = kinds[i];
    const bool as_integers = i >= kinds.size() - integer.size();
    std::vector<Tensor> values;
    for (int k = 0; k < kind.outputs + kind.inputs; ++k) {
      values.push_back(Tensor::Rand({37, 29}, rng, DType::kF64, 0.5, 2.0));
    }
    for (DType dtype : as_integers ? std::vector<DType>{DType::kI64}
                                   : std::vector<DType>{DType::kF32, DType::kF64}) {
      for (bool strided : {false, true}) {
        const auto cpu = RunKernel(kind, dtype, Device::Cpu(), strided, values);
        const auto gpu = RunKernel(kind, dtype, kGpu, strided, values);
        ASSERT_EQ(gpu.size(), cpu.size()) << OpKindName(kind.op);
        for (size_t k = 0; k < cpu.size(); ++k) {
          EXPECT_LE(RelativeL2(gpu[k], cpu[k]), dtype == DType::kF32 ? 1e-5 : 1e-12)
              << OpKindName(kind.op) << " " << DTypeName(dtype)
              << (strided ? " strided" : " flat") << " output " << k;
        }
      }
    }
  }
}

// Large operands: many blocks, the flat kernel's tail, rows and columns kernels.
TEST(CudaLarge, ReductionsSoftmaxAndMatMulMatchTheCpu) {
  SKIP_WITHOUT_GPU();
  Random rng(3);
  const Tensor x = Tensor::Randn({1000, 517}, rng, DType::kF32);
  const Tensor w = Tensor::Randn({517, 300}, rng, DType::kF32);
  const Tensor g = x.To(kGpu), gw = w.To(kGpu);
  const auto check = [](const Tensor& on_gpu, const Tensor& on_cpu, double bound,
                        const char* what) {
    ASSERT_TRUE(on_gpu.ok()) << what << ": " << on_gpu.status();
    EXPECT_EQ(on_gpu.device(), kGpu) << what;
    EXPECT_LE(RelativeL2(on_gpu.ToVector(), on_cpu.ToVector()), bound) << what;
  };
  check(Sum(g, {0}), Sum(x, {0}), 1e-5, "sum over rows (columns kernel)");
  check(Sum(g, {1}), Sum(x, {1}), 1e-5, "sum over columns (rows kernel)");
  check(Max(g, {1}), Max(x, {1}), 0, "max");
  check(Min(g.T(), {0}), Min(x.T(), {0}), 0, "min of a transposed view");
  check(Softmax(g, 1), Softmax(x, 1), 1e-5, "softmax");
  check(LogSoftmax(g.T(), 0), LogSoftmax(x.T(), 0), 1e-5, "log_softmax, strided");
  check(MatMul(g, gw), MatMul(x, w), 1e-5, "matmul");
  check(MatMul(gw.T(), g.T()), MatMul(w.T(), x.T()), 1e-5, "matmul of transposes");
  check(MatMul(g.Slice(1, 0, 517, 2), gw.Slice(0, 0, 517, 2)),
        MatMul(x.Slice(1, 0, 517, 2), w.Slice(0, 0, 517, 2)), 1e-5,
        "matmul of packed operands");
  const Tensor a = Tensor::Randn({4, 3, 50, 20}, rng, DType::kF32);
  const Tensor b = Tensor::Randn({3, 20, 40}, rng, DType::kF32);
  check(MatMul(a.To(kGpu), b.To(kGpu)), MatMul(a, b), 1e-5, "batched, broadcast");
  const Tensor big = Tensor::Randn({(1 << 20) + 3}, rng, DType::kF32);
  check(Exp(big.To(kGpu)) * big.To(kGpu), Exp(big) * big, 1e-6, "flat tail");
}

// Rows of up to 1024 classes take 32 threads each, longer rows a block; the
// cross-entropy's row losses are averaged by a second launch. Both segment
// sizes, rows that leave the last block part-empty, and the gradients, in f64
// against the CPU.
TEST(CudaLarge, SoftmaxAndCrossEntropyRowsMatchTheCpu) {
  SKIP_WITHOUT_GPU();
  Random rng(11);
  for (const auto& [rows, classes] :
       std::vector<std::pair<int64_t, int64_t>>{{5003, 10}, {37, 1024}, {5, 3001}}) {
    const Tensor logits = Tensor::Randn({rows, classes}, rng, DType::kF64);
    std::vector<int64_t> labels(rows);
    for (int64_t r = 0; r < rows; ++r) labels[r] = (r * 7919) % classes;
    const Tensor targets = Tensor::FromData(absl::MakeConstSpan(labels), {rows});
    const std::string what = absl::StrCat(rows, " x ", classes);
    const auto loss = [&](absl::Span<const Tensor> x) {
      return CrossEntropy(x[0], targets.To(x[0].device()));
    };
    ExpectClose(RunWithGradients(loss, {logits}, DType::kF64, kGpu),
                RunWithGradients(loss, {logits}, DType::kF64), 1e-12, what.c_str());
    const Tensor on_gpu = logits.To(kGpu);
    EXPECT_LE(RelativeL2(Softmax(on_gpu, 1).ToVector(), Softmax(logits, 1).ToVector()),
              1e-12)
        << what;
    EXPECT_LE(RelativeL2(LogSoftmax(on_gpu.T(), 0).ToVector(),
                         LogSoftmax(logits.T(), 0).ToVector()),
              1e-12)
        << what;
  }
}

// Broadcast inputs whose non-zero strides form one band of axes take the flat
// kernel ((i / div) % mod); others the strided one. Both against the CPU.
TEST(CudaLarge, BroadcastOperandsMatchTheCpu) {
  SKIP_WITHOUT_GPU();
  Random rng(9);
  const Tensor x = Tensor::Randn({1000, 517}, rng, DType::kF64);
  const Tensor cube = Tensor::Randn({4, 3, 5}, rng, DType::kF64);
  const Tensor bias = Tensor::Randn({517}, rng, DType::kF64);
  const Tensor column = Tensor::Randn({1000, 1}, rng, DType::kF64);
  const Tensor middle = Tensor::Randn({3, 1}, rng, DType::kF64);
  const Tensor corner = Tensor::Randn({3, 5}, rng, DType::kF64);
  const Tensor gaps = Tensor::Randn({4, 1, 5}, rng, DType::kF64);
  const auto check = [](const Tensor& on_gpu, const Tensor& on_cpu, const char* what) {
    ASSERT_TRUE(on_gpu.ok()) << what << ": " << on_gpu.status();
    EXPECT_EQ(on_gpu.ToVector(), on_cpu.ToVector()) << what;
  };
  const Tensor gx = x.To(kGpu), gc = cube.To(kGpu);
  check(gx + bias.To(kGpu), x + bias, "row bias [517] over [1000, 517]");
  check(column.To(kGpu) * gx, column * x, "column [1000, 1]");
  check(gc - middle.To(kGpu), cube - middle, "middle band [3, 1] over [4, 3, 5]");
  check(gc * corner.To(kGpu), cube * corner, "trailing band [3, 5]");
  check(gc + gaps.To(kGpu), cube + gaps, "two bands (strided kernel)");
  check(gx.T() + bias.To(kGpu).Reshape({517, 1}), x.T() + bias.Reshape({517, 1}),
        "transposed input with a column");
}

// Reductions whose outputs are too few to fill the device split each output's
// elements into chunks reduced in parallel, then combine the partials: full
// reductions (rows) and a bias gradient's sum over many rows (columns), in f64 so
// that only the order of additions differs from the CPU.
TEST(CudaLarge, SplitReductionsMatchTheCpu) {
  SKIP_WITHOUT_GPU();
  Random rng(5);
  const Tensor flat = Tensor::Randn({(1 << 20) + 3}, rng, DType::kF64);
  const Tensor tall = Tensor::Randn({4099, 64}, rng, DType::kF64);
  const Tensor cube = Tensor::Randn({3, 1, 4096, 5}, rng, DType::kF64);
  const auto check = [](const Tensor& on_gpu, const Tensor& on_cpu, const char* what) {
    ASSERT_TRUE(on_gpu.ok()) << what << ": " << on_gpu.status();
    EXPECT_LE(RelativeL2(on_gpu.ToVector(), on_cpu.ToVector()), 1e-12) << what;
  };
  const Tensor f = flat.To(kGpu), t = tall.To(kGpu), c = cube.To(kGpu);
  check(Sum(f), Sum(flat), "full sum");
  check(Mean(f), Mean(flat), "full mean (the scale applied once, after combining)");
  check(Max(f), Max(flat), "full max");
  check(Min(f.Slice(0, 1, (1 << 20) + 3, 3)), Min(flat.Slice(0, 1, (1 << 20) + 3, 3)),
        "min of a strided view");
  check(Sum(t, {0}), Sum(tall, {0}), "sum over rows (bias gradient)");
  check(Max(t, {0}, true), Max(tall, {0}, true), "max over rows, keepdim");
  check(Sum(t.T(), {1}), Sum(tall.T(), {1}), "sum over the transposed view's columns");
  check(Mean(c, {0, 2}), Mean(cube, {0, 2}), "mean over two separated axes");
  check(Sum(c, {2, 3}), Sum(cube, {2, 3}), "sum over two merged axes");
}

TEST(CudaRandom, DropoutMaskEqualsTheCpu) {
  SKIP_WITHOUT_GPU();
  const Tensor ones = Tensor::Ones({10007}, DType::kF32);
  EXPECT_EQ(Dropout(ones.To(kGpu), 0.3, 99).ToVector(),
            Dropout(ones, 0.3, 99).ToVector());
}

// Three steps of each optimizer's fused update on the GPU against the CPU's, in
// f32 and f64.
TEST(CudaOptimizers, StepsMatchTheCpu) {
  SKIP_WITHOUT_GPU();
  Random rng(5);
  AdamOptions adam;
  adam.weight_decay = 0.01;
  SgdOptions sgd;
  sgd.momentum = 0.9;
  sgd.nesterov = true;
  sgd.weight_decay = 0.01;
  RmspropOptions rmsprop;
  rmsprop.weight_decay = 0.01;
  const std::vector<std::pair<
      const char*, std::function<std::unique_ptr<nn::Optimizer>(std::vector<Tensor>)>>>
      optimizers = {
          {"adam",
           [&](std::vector<Tensor> p) { return std::make_unique<nn::Adam>(p, adam); }},
          {"sgd",
           [&](std::vector<Tensor> p) { return std::make_unique<nn::Sgd>(p, sgd); }},
          {"rmsprop",
           [&](std::vector<Tensor> p) {
             return std::make_unique<nn::RmsProp>(p, rmsprop);
           }},
      };
  for (const auto& [name, make] : optimizers) {
    for (DType dtype : {DType::kF32, DType::kF64}) {
      const Tensor start = Tensor::Randn({257, 33}, rng, dtype);
      const Tensor grad = Tensor::Randn({257, 33}, rng, dtype);
      std::vector<double> results[2];
      for (int on_gpu = 0; on_gpu < 2; ++on_gpu) {
        const Device device = on_gpu ? kGpu : Device::Cpu();
        Tensor p = start.To(device).Detach().RequiresGrad();
        const std::unique_ptr<nn::Optimizer> optimizer = make({p});
        for (int step = 0; step < 3; ++step) {
          Tape tape;
          TapeScope scope(&tape);
          optimizer->ZeroGrad();
          ASSERT_TRUE(Sum(p * grad.To(device)).Backward().ok());
          ASSERT_TRUE(optimizer->Step().ok()) << name;
        }
        results[on_gpu] = p.ToVector();
      }
      EXPECT_LT(RelativeL2(results[1], results[0]), dtype == DType::kF32 ? 1e-6 : 1e-12)
          << name << " " << DTypeName(dtype);
    }
  }
}

TEST(CudaErrors, MixingDevicesNamesBoth) {
  SKIP_WITHOUT_GPU();
  const Tensor e = Tensor::Ones({2}) + Tensor::Ones({2}, DType::kF32, kGpu);
  EXPECT_THAT(e.status().message(),
              HasSubstr("add: operands are on different devices; copy one with "
                        "to(device) first (operands: f32[2] on cpu, f32[2] on cuda:0)"));
  const Tensor far = Tensor::Ones({2}, DType::kF32, Device::Cuda(99));
  EXPECT_THAT(far.status().message(), HasSubstr("cuda:99: no such CUDA device"));
}

// A block that thread T's queued work still reads, freed by T, must not go to
// the thread that allocated it: that thread's next allocation of the same size
// would be written while T's work runs. T queues matrix products reading a and b
// (allocated here), drops them and signals; this thread then allocates and
// fills blocks of their size at once. T's products must still read ones.
TEST(CudaMemory, ABlockFreedByAnotherThreadWaitsForItsWork) {
  SKIP_WITHOUT_GPU();
  constexpr int64_t n = 1024;
  Tensor a = Tensor::Ones({n, n}, DType::kF32, kGpu);
  Tensor b = Tensor::Ones({n, n}, DType::kF32, kGpu);
  ASSERT_TRUE(cuda::Synchronize(kGpu).ok());
  std::promise<void> dropped;
  std::vector<double> sums;
  absl::Status status;
  std::thread reader([&, a = std::move(a), b = std::move(b)]() mutable {
    std::vector<Tensor> products;
    for (int i = 0; i < 16; ++i) products.push_back(MatMul(a, b));
    a = Tensor();
    b = Tensor();
    dropped.set_value();
    status = cuda::Synchronize(kGpu);
    for (const Tensor& p : products) sums.push_back(Sum(p).item());
  });
  dropped.get_future().wait();
  std::vector<Tensor> fillers;
  for (int i = 0; i < 4; ++i)
    fillers.push_back(Tensor::Full({n, n}, -7.0, DType::kF32, kGpu));
  reader.join();
  ASSERT_TRUE(status.ok()) << status;
  for (double sum : sums) EXPECT_EQ(sum, double(n) * n * n);
}

// Between two GPUs (the simulator has two): the copy waits for the work that
// wrote its source and later work on the source's stream waits for the copy, so
// overwriting the source right after cannot change what arrives; gradients
// come back across.
TEST(CudaMemory, CopiesBetweenDevicesAreOrderedBothWays) {
  SKIP_WITHOUT_GPU();
  if (cuda::DeviceCount() < 2) GTEST_SKIP() << "one CUDA device";
  const Device second = Device::Cuda(1);
  Random rng(4);
  const Tensor x = Tensor::Randn({512, 512}, rng, DType::kF64);
  Tensor on_first = MatMul(x.To(kGpu), x.To(kGpu));  // queued work writes the source
  // Work queued on the destination first holds the copy back behind it.
  const Tensor wide = Tensor::Ones({1024, 1024}, DType::kF64, second);
  std::vector<Tensor> busy;
  for (int i = 0; i < 4; ++i) busy.push_back(MatMul(wide, wide));
  const Tensor on_second = on_first.To(second);
  // Queued on the source's stream after the copy.
  ASSERT_TRUE(on_first.CopyFrom(std::vector<double>(512 * 512, -1.0)).ok());
  ASSERT_TRUE(on_second.ok()) << on_second.status();
  EXPECT_EQ(on_second.device(), second);
  EXPECT_LE(RelativeL2(on_second.ToVector(), MatMul(x, x).ToVector()), 1e-12);
  Tensor leaf = x.To(kGpu);  // a heap leaf: no tape is current yet
  leaf.RequiresGrad();
  Tape tape;
  TapeScope scope(&tape);
  const Tensor loss = Sum(leaf.To(second) * 3.0);
  const absl::Status backward = loss.Backward();
  ASSERT_TRUE(backward.ok()) << backward;
  EXPECT_EQ(leaf.grad().device(), kGpu);
  EXPECT_EQ(Sum(leaf.grad()).item(), 3.0 * 512 * 512);
}

// A cached block serves a smaller request up to half its size, not below: blocks
// are never split, so a small tensor must not pin a large block.
TEST(CudaMemory, ACachedBlockServesRequestsDownToHalfItsSize) {
  SKIP_WITHOUT_GPU();
  ASSERT_TRUE(cuda::EmptyCache().ok());
  const auto mib = [](int64_t n) { return Tensor::Ones({n << 18}, DType::kF32, kGpu); };
  { const Tensor large = mib(26); }
  const int64_t before = cuda::GetMemoryStats().driver_allocations;
  { const Tensor smaller = mib(14); }
  EXPECT_EQ(cuda::GetMemoryStats().driver_allocations, before);
  { const Tensor small = mib(6); }
  EXPECT_EQ(cuda::GetMemoryStats().driver_allocations, before + 1);
}

// A thread's blocks outlive it: after it exits, another thread's allocation of
// the same size takes one back instead of asking the driver.
TEST(CudaMemory, AnExitedThreadsBlocksAreReused) {
  SKIP_WITHOUT_GPU();
  constexpr int64_t n = (int64_t{3} << 20) + 17;  // a size no other test uses
  std::thread([] {
    const Tensor t = Tensor::Ones({n}, DType::kF32, kGpu);
    ASSERT_TRUE(cuda::Synchronize(kGpu).ok());
  }).join();
  const int64_t before = cuda::GetMemoryStats().driver_allocations;
  const Tensor again = Tensor::Zeros({n}, DType::kF32, kGpu);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(cuda::GetMemoryStats().driver_allocations, before);
  EXPECT_EQ(Sum(again).item(), 0.0);
}

// A model moved while a tape is current (as Python's bindings always have one)
// still gets heap parameters, which outlive the tape's Rewind.
TEST(CudaTraining, ModuleToUnderATapeMakesHeapParameters) {
  SKIP_WITHOUT_GPU();
  Random rng(0);
  nn::MLP model(3, {4, 2}, rng);
  Tape tape;
  const TapeMark mark = tape.Mark();
  {
    TapeScope scope(&tape);
    ASSERT_TRUE(model.To(kGpu).ok());
  }
  ASSERT_TRUE(tape.Rewind(mark).ok());
  for (const Tensor& p : model.parameters()) {
    EXPECT_EQ(p.tape(), nullptr);
    EXPECT_EQ(p.device(), kGpu);
    EXPECT_TRUE(p.requires_grad());
    EXPECT_TRUE(p.Cpu().ok()) << p.status();
  }
  EXPECT_TRUE(nn::Adam(model.parameters(), AdamOptions()).Step().ok());
}

TEST(CudaTraining, StepsStopAskingTheDriverForMemory) {
  SKIP_WITHOUT_GPU();
  Random rng(0);
  nn::MLP model(784, {256, 256, 10}, rng);
  ASSERT_TRUE(model.To(kGpu).ok());
  nn::Adam adam(model.parameters(), AdamOptions());
  const Tensor x = Tensor::Randn({256, 784}, rng).To(kGpu);
  std::vector<int64_t> labels(256);
  for (size_t i = 0; i < labels.size(); ++i) labels[i] = static_cast<int64_t>(i % 10);
  const Tensor y = Tensor::FromData(absl::MakeConstSpan(labels), {256}).To(kGpu);
  Tape tape;
  const TapeMark mark = tape.Mark();
  std::vector<double> losses;
  int64_t allocations_after_warmup = 0;
  for (int step = 0; step < 20; ++step) {
    if (step == 3) allocations_after_warmup = cuda::GetMemoryStats().driver_allocations;
    TapeScope scope(&tape);
    const Tensor loss = nn::CrossEntropyLoss(model(x), y);
    adam.ZeroGrad();
    ASSERT_TRUE(loss.Backward().ok()) << loss.status();
    ASSERT_TRUE(adam.Step().ok());
    losses.push_back(loss.item());
    ASSERT_TRUE(tape.Rewind(mark).ok());
  }
  EXPECT_EQ(cuda::GetMemoryStats().driver_allocations, allocations_after_warmup);
  EXPECT_LT(losses.back(), 0.5 * losses.front());
}

}  // namespace
}  // namespace tapegrad
