// Dataset and BatchIterator: labelled examples in host memory, served in
// (optionally shuffled) mini-batches, as torch.utils.data's TensorDataset and
// DataLoader do for the common case.
//
//   absl::StatusOr<tapegrad::nn::Dataset> train = tapegrad::nn::LoadDigits();
//   tapegrad::nn::BatchOptions options;
//   options.batch_size = 64;
//   tapegrad::nn::BatchIterator batches(*train, options);
//   for (int epoch = 0; epoch < 10; ++epoch) {
//     for (batches.Reset(); batches.Next();) {
//       Tensor loss = CrossEntropyLoss(model(batches.x()), batches.y());
//       ...
//     }
//   }
//
// A Dataset is a features tensor [N, ...] (f32 or f64) and an i64 labels tensor
// [N], both heap tensors on the CPU. The iterator copies each batch's rows into
// buffers it made up front, so iterating allocates nothing; x() and y() are valid
// until the next Next() or Reset(). Shuffling is a Fisher-Yates permutation per
// epoch drawn from (seed, epoch), reproducible run to run.
//
// Thread safety: a Dataset is immutable and may be shared; a BatchIterator belongs
// to one thread.
#ifndef TAPEGRAD_NN_DATASET_H_
#define TAPEGRAD_NN_DATASET_H_

#include <cstdint>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "core/tensor.h"

namespace tapegrad::nn {

class Dataset {
 public:
  // Checks that features [N, ...] and labels i64 [N] are CPU heap tensors with
  // the same N; non-contiguous ones are copied.
  static absl::StatusOr<Dataset> Create(Tensor features, Tensor labels);

  int64_t size() const { return labels_.numel(); }
  const Tensor& features() const { return features_; }
  const Tensor& labels() const { return labels_; }

  // A new Dataset of the given rows, in that order (copied). Rows must be in
  // [0, size()).
  absl::StatusOr<Dataset> Select(absl::Span<const int64_t> rows) const;
  // The rows shuffled with `seed`, cut in two: the first `fraction` of them and
  // the rest (a fixed train/test split).
  absl::StatusOr<std::pair<Dataset, Dataset>> Split(double fraction, uint64_t seed) const;

  // Copies row `row` of the features and its label into row `slot` of `x` and `y`
  // (contiguous CPU tensors of the dataset's row shape and dtypes).
  void CopyRow(int64_t row, const Tensor& x, const Tensor& y, int64_t slot) const;

 private:
  Dataset(Tensor features, Tensor labels)
      : features_(std::move(features)), labels_(std::move(labels)) {}
  Tensor features_;
  Tensor labels_;
};

// A permutation of [0, n) from (seed, epoch).
void ShuffledIndices(uint64_t seed, uint64_t epoch, std::vector<int64_t>* indices);

struct BatchOptions {
  int64_t batch_size = 64;
  bool shuffle = true;
  uint64_t seed = 0;
  // Skip the last batch when it is smaller than batch_size.
  bool drop_last = false;
  // Data-parallel training reads shard `shard` of `num_shards` (one per process;
  // dist::ShardOptions sets both from a process group). Each epoch's permutation,
  // the same in every process, is padded by wrapping around to a multiple of
  // num_shards and dealt round-robin, as PyTorch's DistributedSampler does: every
  // shard gets ceil(N / num_shards) rows and the same number of batches, and the
  // shards are disjoint but for the padding. num_shards below 1 is taken as 1 and
  // shard as shard modulo num_shards, as batch_size is clamped.
  int64_t num_shards = 1;
  int64_t shard = 0;
};

class BatchIterator {
 public:
  // `data` must outlive the iterator. A batch_size below 1 is taken as 1.
  BatchIterator(const Dataset& data, BatchOptions options);

  // Starts the next epoch (the first call starts epoch 0), reshuffling.
  void Reset();
  // Loads the next batch into x() and y(); false when the epoch is over.
  bool Next();
  const Tensor& x() const { return *x_; }
  const Tensor& y() const { return *y_; }
  // Batches per epoch.
  int64_t num_batches() const;
  // Rows per epoch: the dataset's, or its shard's.
  int64_t num_rows() const { return static_cast<int64_t>(order_.size()); }

 private:
  void Deal();

  const Dataset& data_;
  BatchOptions options_;
  std::vector<int64_t> permutation_;  // the whole dataset's, this epoch
  std::vector<int64_t> order_;        // this shard's rows, in the order served
  int64_t position_ = 0;
  int64_t epoch_ = -1;
  Tensor full_x_, full_y_;  // batch_size rows
  Tensor tail_x_, tail_y_;  // the smaller last batch, if any
  const Tensor* x_ = &full_x_;
  const Tensor* y_ = &full_y_;
};

}  // namespace tapegrad::nn

#endif  // TAPEGRAD_NN_DATASET_H_
