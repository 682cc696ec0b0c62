// Dataset, BatchIterator and the readers of Debian's data sets: real files,
// missing files, corrupt files.
#include "nn/dataset.h"

#include <sys/stat.h>
#include <zlib.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <set>
#include <string>
#include <vector>

#include "core/tensor.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nn/data_files.h"

namespace tapegrad::nn {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

Dataset Counting(int64_t n) {
  std::vector<double> x(static_cast<size_t>(2 * n));
  std::vector<int64_t> y(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i)
    x[2 * i] = double(i), x[2 * i + 1] = -double(i), y[i] = i;
  absl::StatusOr<Dataset> d = Dataset::Create(
      Tensor::FromData(x, {n, 2}), Tensor::FromData(absl::MakeConstSpan(y), {n}));
  EXPECT_TRUE(d.ok()) << d.status();
  return *std::move(d);
}

TEST(Dataset, CreateChecksShapesAndDtypes) {
  absl::StatusOr<Dataset> d =
      Dataset::Create(Tensor::Zeros({3, 2}), Tensor::Zeros({4}, DType::kI64));
  EXPECT_EQ(d.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(d.status().message()),
              HasSubstr("got features f32[3, 2] on cpu and labels i64[4] on cpu"));
  EXPECT_FALSE(Dataset::Create(Tensor::Zeros({3, 2}), Tensor::Zeros({3})).ok());
}

TEST(BatchIterator, CoversEveryRowOncePerEpochWithARemainder) {
  const Dataset data = Counting(10);
  BatchOptions options;
  options.batch_size = 4;
  options.seed = 3;
  BatchIterator batches(data, options);
  EXPECT_EQ(batches.num_batches(), 3);
  std::vector<std::vector<int64_t>> epochs;
  for (int epoch = 0; epoch < 2; ++epoch) {
    std::vector<int64_t> seen;
    std::vector<int64_t> sizes;
    for (batches.Reset(); batches.Next();) {
      sizes.push_back(batches.y().numel());
      for (int64_t i = 0; i < batches.y().numel(); ++i) {
        const int64_t label = int64_t(batches.y().at({i}));
        seen.push_back(label);
        EXPECT_EQ(batches.x().at({i, 0}), double(label));  // rows stay paired
        EXPECT_EQ(batches.x().at({i, 1}), -double(label));
      }
    }
    EXPECT_THAT(sizes, ElementsAre(4, 4, 2));
    EXPECT_EQ(std::set<int64_t>(seen.begin(), seen.end()).size(), 10u);
    epochs.push_back(seen);
  }
  EXPECT_NE(epochs[0], epochs[1]);  // reshuffled

  BatchIterator again(data, options);
  std::vector<int64_t> first;
  while (again.Next()) {
    for (double v : again.y().ToVector()) first.push_back(int64_t(v));
  }
  EXPECT_EQ(first, epochs[0]);  // same seed, same order
}

TEST(BatchIterator, DropLastAndNoShuffle) {
  const Dataset data = Counting(10);
  BatchOptions options;
  options.batch_size = 4;
  options.shuffle = false;
  options.drop_last = true;
  BatchIterator batches(data, options);
  EXPECT_EQ(batches.num_batches(), 2);
  std::vector<double> labels;
  while (batches.Next()) {
    for (double v : batches.y().ToVector()) labels.push_back(v);
  }
  EXPECT_THAT(labels, ElementsAre(0, 1, 2, 3, 4, 5, 6, 7));
}

// Three processes' shards of 10 rows: 4 rows each (the permutation padded by
// wrapping to 12), the same number of batches, disjoint but for the 2 padded
// rows, covering every row, reshuffled each epoch; a shard outside the range
// is taken modulo.
TEST(BatchIterator, ShardsAreDisjointAndEvenAcrossProcesses) {
  const Dataset data = Counting(10);
  for (int epoch = 0; epoch < 2; ++epoch) {
    std::vector<int64_t> all;
    for (int64_t shard = 0; shard < 3; ++shard) {
      BatchOptions options;
      options.batch_size = 3;
      options.seed = 5;
      options.num_shards = 3;
      options.shard = shard;
      BatchIterator batches(data, options);
      EXPECT_EQ(batches.num_rows(), 4);
      EXPECT_EQ(batches.num_batches(), 2);
      for (int e = 0; e <= epoch; ++e) batches.Reset();
      std::vector<int64_t> sizes;
      while (batches.Next()) {
        sizes.push_back(batches.y().numel());
        for (double v : batches.y().ToVector()) all.push_back(int64_t(v));
      }
      EXPECT_THAT(sizes, ElementsAre(3, 1));
    }
    ASSERT_EQ(all.size(), 12u);
    EXPECT_EQ(std::set<int64_t>(all.begin(), all.end()).size(), 10u);
    // The two padded places repeat the permutation's first two rows.
    std::vector<int64_t> counts(10, 0);
    for (int64_t r : all) ++counts[r];
    EXPECT_EQ(std::count(counts.begin(), counts.end(), 2), 2);
  }
  BatchOptions wrapped;
  wrapped.shuffle = false;
  wrapped.batch_size = 10;
  wrapped.num_shards = 3;
  wrapped.shard = -2;  // taken as shard 1
  BatchIterator batches(data, wrapped);
  ASSERT_TRUE(batches.Next());
  EXPECT_THAT(batches.y().ToVector(), ElementsAre(1, 4, 7, 0));
}

TEST(Dataset, SplitIsAFixedPartition) {
  const Dataset data = Counting(10);
  absl::StatusOr<std::pair<Dataset, Dataset>> split = data.Split(0.8, 5);
  ASSERT_TRUE(split.ok());
  EXPECT_EQ(split->first.size(), 8);
  EXPECT_EQ(split->second.size(), 2);
  std::set<double> all;
  for (double v : split->first.labels().ToVector()) all.insert(v);
  for (double v : split->second.labels().ToVector()) all.insert(v);
  EXPECT_EQ(all.size(), 10u);
  EXPECT_EQ(data.Split(0.8, 5)->second.labels().ToVector(),
            split->second.labels().ToVector());
  EXPECT_FALSE(data.Split(1.5, 0).ok());
}

TEST(DataFiles, DigitsFromScikitLearn) {
  absl::StatusOr<Dataset> digits = LoadDigits();
  ASSERT_TRUE(digits.ok()) << digits.status();
  EXPECT_THAT(digits->features().shape(), ElementsAre(1797, 64));
  std::set<double> classes;
  for (double v : digits->labels().ToVector()) classes.insert(v);
  EXPECT_EQ(classes.size(), 10u);
  double max = 0;
  for (double v : digits->features().ToVector()) max = std::max(max, v);
  EXPECT_EQ(max, 1.0);  // 16 / 16
}

TEST(DataFiles, FashionMnistTestSplit) {
  absl::StatusOr<Dataset> test = LoadFashionMnist(FashionMnistSplit::kTest);
  ASSERT_TRUE(test.ok()) << test.status();
  EXPECT_THAT(test->features().shape(), ElementsAre(10000, 784));
  std::vector<int> counts(10);
  for (double v : test->labels().ToVector()) ++counts[int(v)];
  for (int c : counts) EXPECT_EQ(c, 1000);  // the test split is balanced
}

TEST(DataFiles, MissingFilesAreNotFoundNamingThePath) {
  absl::StatusOr<Dataset> d = LoadDigits("/nonexistent/digits.csv.gz");
  EXPECT_EQ(d.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(d.status().message()), HasSubstr("/nonexistent/digits.csv.gz"));
  d = LoadFashionMnist(FashionMnistSplit::kTrain, "/nonexistent");
  EXPECT_THAT(std::string(d.status().message()),
              HasSubstr("/nonexistent/train-images-idx3-ubyte.gz"));
}

std::string WriteTemp(const std::string& name, const std::string& bytes) {
  const std::string path = std::string(::testing::TempDir()) + "/" + name;
  std::ofstream(path, std::ios::binary) << bytes;
  return path;
}

TEST(DataFiles, CorruptFilesAreDataLossNamingThePath) {
  const std::string csv = WriteTemp("bad_digits.csv", "1,2,3\n");
  absl::StatusOr<Dataset> d = LoadDigits(csv);
  EXPECT_EQ(d.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(std::string(d.status().message()), HasSubstr(csv + ": line 1"));

  const std::string dir = ::testing::TempDir();
  WriteTemp("t10k-images-idx3-ubyte.gz", std::string("\0\0\x08\x03\0\0\0\x02", 8));
  WriteTemp("t10k-labels-idx1-ubyte.gz", std::string("\0\0\x08\x01\0\0\0\x02\1\2", 10));
  d = LoadFashionMnist(FashionMnistSplit::kTest, dir);
  EXPECT_EQ(d.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(std::string(d.status().message()), HasSubstr("t10k-images-idx3-ubyte.gz"));
  // A gzip header followed by garbage.
  const std::string gz =
      WriteTemp("broken.gz", std::string("\x1f\x8b\x08\0\0\0\0\0\0\x03garbage", 18));
  absl::StatusOr<std::string> bytes = ReadGzipFile(gz);
  EXPECT_EQ(bytes.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(std::string(bytes.status().message()), HasSubstr(gz));
}

// An IDX header whose dimensions multiply past 2^64 (2^22 x 2^21 x 2^21 wraps to 0,
// which a payload of 0 bytes would match) is corrupt, not a dataset of no pixels.
TEST(DataFiles, IdxDimensionsThatOverflowAreCorrupt) {
  const std::string dir = ::testing::TempDir() + "/overflow";
  mkdir(dir.c_str(), 0755);
  std::ofstream(dir + "/t10k-images-idx3-ubyte.gz", std::ios::binary)
      << std::string("\0\0\x08\x03\x00\x40\0\0\x00\x20\0\0\x00\x20\0\0", 16);
  std::ofstream(dir + "/t10k-labels-idx1-ubyte.gz", std::ios::binary)
      << std::string("\0\0\x08\x01\0\0\0\0", 8);
  absl::StatusOr<Dataset> d = LoadFashionMnist(FashionMnistSplit::kTest, dir);
  EXPECT_EQ(d.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(std::string(d.status().message()),
              HasSubstr("t10k-images-idx3-ubyte.gz: its header's dimensions [4194304, "
                        "2097152, 2097152] make more than"));
  // No images of 2^32 - 1 squared pixels: the size of one image overflows too.
  std::ofstream(dir + "/t10k-images-idx3-ubyte.gz", std::ios::binary)
      << std::string("\0\0\x08\x03\0\0\0\0\xff\xff\xff\xff\xff\xff\xff\xff", 16);
  d = LoadFashionMnist(FashionMnistSplit::kTest, dir);
  EXPECT_EQ(d.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(std::string(d.status().message()), HasSubstr("t10k-images-idx3-ubyte.gz"));
}

TEST(DataFiles, TruncatedGzipIsCorrupt) {
  const std::string whole = ::testing::TempDir() + "/whole.gz";
  gzFile out = gzopen(whole.c_str(), "wb");
  ASSERT_NE(out, nullptr);
  std::string payload(100000, '\0');
  for (size_t i = 0; i < payload.size(); ++i) payload[i] = char(i * 7919 % 251);
  ASSERT_EQ(gzwrite(out, payload.data(), unsigned(payload.size())), int(payload.size()));
  ASSERT_EQ(gzclose(out), Z_OK);
  ASSERT_EQ(ReadGzipFile(whole).value(), payload);

  std::ifstream in(whole, std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(in)), {});
  const std::string half = WriteTemp("half.gz", bytes.substr(0, bytes.size() / 2));
  absl::StatusOr<std::string> read = ReadGzipFile(half);
  EXPECT_EQ(read.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(std::string(read.status().message()),
              HasSubstr(half + ": gzip data is truncated"));
}

}  // namespace
}  // namespace tapegrad::nn
