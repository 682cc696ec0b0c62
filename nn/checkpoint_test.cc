// Checkpoints: safetensors round trips bit for bit, a resumed run continues as an
// uninterrupted one, saves are atomic, and every corrupt or mismatched file is a
// clear error that changes nothing.
#include "nn/checkpoint.h"

#include <dirent.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "core/random.h"
#include "core/tape.h"
#include "core/tensor.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nn/loss.h"
#include "nn/normalization.h"
#include "nn/optimizer.h"
#include "nn/sequential.h"

namespace tapegrad::nn {
namespace {

using ::testing::HasSubstr;

#define ASSERT_OK(expr)                    \
  do {                                     \
    const absl::Status s_ = (expr);        \
    ASSERT_TRUE(s_.ok()) << s_.ToString(); \
  } while (0)

std::string Dir() {
  const char* dir = std::getenv("TEST_TMPDIR");
  return dir != nullptr ? dir : "/tmp";
}

std::string Path(const std::string& name) { return Dir() + "/" + name; }

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

void WriteFile(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary) << bytes;
}

std::vector<std::vector<double>> Values(const Module& m) {
  std::vector<std::vector<double>> out;
  for (const NamedTensor& p : m.named_parameters()) out.push_back(p.tensor.ToVector());
  for (const NamedTensor& b : m.named_buffers()) out.push_back(b.tensor.ToVector());
  return out;
}

// Adam steps of an MLP on fixed random data (f64 so that equality is exact).
struct TrainingRun {
  explicit TrainingRun(uint64_t seed)
      : rng(seed), model(4, {8, 3}, rng, Nonlinearity::kTanh, DType::kF64) {
    AdamOptions options;
    options.lr = 0.01;
    adam = std::make_unique<Adam>(model.parameters(), options);
  }
  void Steps(int n, uint64_t data_seed) {
    Tape tape;
    TapeScope scope(&tape);
    Random data(data_seed);
    for (int k = 0; k < n; ++k) {
      const Tensor x = Tensor::Randn({16, 4}, data, DType::kF64);
      const Tensor y = Tensor::Randn({16, 3}, data, DType::kF64);
      const TapeMark mark = tape.Mark();
      Tensor loss = MseLoss(model(x), y);
      adam->ZeroGrad();
      ASSERT_OK(loss.Backward());
      ASSERT_TRUE(adam->Step().ok());
      ASSERT_TRUE(tape.Rewind(mark).ok());
    }
  }
  Random rng;
  MLP model;
  std::unique_ptr<Adam> adam;
};

TEST(Checkpoint, TensorsRoundTripBitForBit) {
  Random rng(1);
  const std::vector<NamedTensor> tensors = {
      {"a.weight", Tensor::Randn({3, 5}, rng)},
      {"b", Tensor::Randn({2, 2, 2}, rng, DType::kF64)},
      {"steps", Tensor::FromData(std::vector<int64_t>{-7, 1, 1 << 30}, {3})},
      {"scalar", Tensor::Scalar(0.1, DType::kF64)},
      {"empty", Tensor::Zeros({0, 4})},
      {"strided", Tensor::Randn({4, 3}, rng).T()},  // a view: saved row-major
  };
  const std::string path = Path("round_trip.safetensors");
  ASSERT_OK(SaveTensors(path, tensors));
  absl::StatusOr<std::vector<NamedTensor>> read = LoadTensors(path);
  ASSERT_TRUE(read.ok()) << read.status();
  ASSERT_EQ(read->size(), tensors.size());
  for (size_t k = 0; k < tensors.size(); ++k) {
    EXPECT_EQ((*read)[k].name, tensors[k].name);
    EXPECT_EQ((*read)[k].tensor.dtype(), tensors[k].tensor.dtype());
    EXPECT_EQ((*read)[k].tensor.shape(), tensors[k].tensor.shape());
    EXPECT_EQ((*read)[k].tensor.ToVector(), tensors[k].tensor.ToVector());
  }
  // Written again from what was read: the same bytes.
  const std::string again = Path("round_trip_again.safetensors");
  ASSERT_OK(SaveTensors(again, *read));
  EXPECT_EQ(ReadFile(again), ReadFile(path));
  // The layout is safetensors': header length, JSON, 8-aligned data.
  const std::string bytes = ReadFile(path);
  uint64_t length;
  std::memcpy(&length, bytes.data(), 8);
  EXPECT_EQ(length % 8, 0u);
  EXPECT_THAT(
      bytes.substr(8, length),
      HasSubstr(R"("a.weight":{"data_offsets":[0,60],"dtype":"F32","shape":[3,5]})"));
}

TEST(Checkpoint, ResumedTrainingContinuesExactly) {
  TrainingRun straight(3);
  straight.Steps(6, 100);
  straight.Steps(6, 200);

  TrainingRun first(3);
  first.Steps(6, 100);
  const std::string path = Path("resume.safetensors");
  ASSERT_OK(SaveCheckpoint(path, first.model, first.adam.get()));
  TrainingRun resumed(99);  // other initial weights, fresh optimizer state
  ASSERT_OK(LoadCheckpoint(path, resumed.model, resumed.adam.get()));
  EXPECT_EQ(resumed.adam->steps(), 6);
  resumed.Steps(6, 200);
  EXPECT_EQ(Values(resumed.model), Values(straight.model));
}

TEST(Checkpoint, BuffersAndSgdMomentumAreSaved) {
  BatchNorm2d norm(3);
  Random rng(4);
  {
    Tape tape;
    TapeScope scope(&tape);
    (void)norm(Tensor::Randn({2, 3, 4, 4}, rng));  // updates the running statistics
  }
  SgdOptions options;
  options.momentum = 0.9;
  Sgd sgd(norm.parameters(), options);
  const std::string path = Path("norm.safetensors");
  ASSERT_OK(SaveCheckpoint(path, norm, &sgd));
  absl::StatusOr<std::vector<NamedTensor>> read = LoadTensors(path);
  ASSERT_TRUE(read.ok());
  std::vector<std::string> names;
  for (const NamedTensor& t : *read) names.push_back(t.name);
  EXPECT_THAT(names,
              ::testing::ElementsAre(
                  "weight", "bias", "running_mean", "running_var", "optimizer.steps",
                  "optimizer.state.0.momentum_buffer", "optimizer.state.0.started",
                  "optimizer.state.1.momentum_buffer", "optimizer.state.1.started"));
  BatchNorm2d fresh(3);
  Sgd fresh_sgd(fresh.parameters(), options);
  ASSERT_OK(LoadCheckpoint(path, fresh, &fresh_sgd));
  EXPECT_EQ(Values(fresh), Values(norm));
}

TEST(Checkpoint, SavesAreAtomic) {
  const std::string path = Path("atomic.safetensors");
  Random rng(5);
  ASSERT_OK(SaveTensors(path, {{"w", Tensor::Randn({4}, rng)}}));
  const std::string before = ReadFile(path);
  // A tensor that cannot be saved: the old file stays, whole.
  const absl::Status bad =
      SaveTensors(path, {{"w", Tensor::Randn({4}, rng)},
                         {"broken", Tensor::Error(absl::InternalError("x"))}});
  EXPECT_THAT(bad.message(), HasSubstr("'broken'"));
  EXPECT_EQ(ReadFile(path), before);
  const absl::Status twice =
      SaveTensors(path, {{"w", Tensor::Zeros({1})}, {"w", Tensor::Zeros({1})}});
  EXPECT_THAT(twice.message(), HasSubstr("'w'"));
  EXPECT_EQ(ReadFile(path), before);
  // A directory that does not exist: an error, and no file anywhere.
  EXPECT_FALSE(SaveTensors(Path("no/such/dir/x.safetensors"), {}).ok());
  // No temporary file is left behind.
  DIR* dir = opendir(Dir().c_str());
  ASSERT_NE(dir, nullptr);
  while (dirent* e = readdir(dir))
    EXPECT_THAT(e->d_name, ::testing::Not(HasSubstr(".tmp.")));
  closedir(dir);
}

TEST(Checkpoint, CorruptFilesAreClearErrorsNeverCrashes) {
  Random rng(6);
  const std::string good_path = Path("good.safetensors");
  ASSERT_TRUE(SaveTensors(good_path, {{"layer.weight", Tensor::Randn({3, 2}, rng)},
                                      {"layer.bias", Tensor::Randn({2}, rng)}})
                  .ok());
  const std::string good = ReadFile(good_path);
  const std::string path = Path("corrupt.safetensors");
  // Every truncation.
  for (size_t n = 0; n < good.size(); ++n) {
    WriteFile(path, good.substr(0, n));
    EXPECT_FALSE(LoadTensors(path).ok()) << n;
  }
  auto load_error = [&](const std::string& bytes) {
    WriteFile(path, bytes);
    absl::StatusOr<std::vector<NamedTensor>> r = LoadTensors(path);
    EXPECT_FALSE(r.ok());
    return std::string(r.status().message());
  };
  auto with_header = [](const std::string& json, const std::string& data) {
    const uint64_t n = json.size();
    return std::string(reinterpret_cast<const char*>(&n), 8) + json + data;
  };
  std::string huge = good;
  huge[7] = '\x7f';
  EXPECT_THAT(load_error(huge), HasSubstr("header of"));
  EXPECT_THAT(load_error(with_header("{not json", "")), HasSubstr("not a JSON object"));
  EXPECT_THAT(load_error(with_header(
                  R"({"x":{"dtype":"BF16","shape":[1],"data_offsets":[0,2]}})", "ab")),
              ::testing::AllOf(HasSubstr("'x'"), HasSubstr("BF16")));
  EXPECT_THAT(load_error(with_header(
                  R"({"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", "abcd")),
              ::testing::AllOf(HasSubstr("'x'"), HasSubstr("4-byte data section")));
  EXPECT_THAT(load_error(with_header(
                  R"({"x":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}})", "abcd")),
              HasSubstr("'x' has a shape"));
  EXPECT_THAT(load_error(with_header(R"({"x":{"dtype":"F64","shape":[1]}})", "abcdefgh")),
              HasSubstr("'x' lacks"));
  EXPECT_THAT(LoadTensors(Path("missing.safetensors")).status().message(),
              HasSubstr("cannot open"));
}

TEST(Checkpoint, MismatchedModelsLoadNothing) {
  Random rng(7);
  MLP model(4, {8, 3}, rng);
  const std::vector<std::vector<double>> before = Values(model);
  const std::string path = Path("mismatch.safetensors");

  MLP wider(4, {9, 3}, rng);
  ASSERT_OK(SaveCheckpoint(path, wider));
  absl::Status s = LoadCheckpoint(path, model);
  EXPECT_THAT(s.message(), ::testing::AllOf(HasSubstr("'0.weight'"), HasSubstr("[4, 9]"),
                                            HasSubstr("[4, 8]")));
  EXPECT_EQ(Values(model), before);

  MLP deeper(4, {8, 8, 3}, rng);
  ASSERT_OK(SaveCheckpoint(path, deeper));
  EXPECT_THAT(LoadCheckpoint(path, model).message(), HasSubstr("'2.weight'"));
  EXPECT_EQ(Values(model), before);

  MLP f64(4, {8, 3}, rng, Nonlinearity::kReLU, DType::kF64);
  ASSERT_OK(SaveCheckpoint(path, f64));
  EXPECT_THAT(LoadCheckpoint(path, model).message(), HasSubstr("f64"));

  MLP same(4, {8, 3}, rng);
  Adam adam(same.parameters(), AdamOptions());
  ASSERT_OK(SaveCheckpoint(path, same, &adam));
  EXPECT_THAT(LoadCheckpoint(path, model).message(), HasSubstr("no optimizer was given"));
  EXPECT_EQ(Values(model), before);
  Sgd sgd(model.parameters(), SgdOptions());
  EXPECT_THAT(LoadCheckpoint(path, model, &sgd).message(), HasSubstr("has no place"));
  EXPECT_EQ(Values(model), before);
}

}  // namespace
}  // namespace tapegrad::nn
