// DataParallel: one model replicated on every rank of a ProcessGroup. Each rank
// runs forward and backward on its own shard of the batch; AverageGradients then
// replaces every parameter's gradient by its mean over ranks, so the optimizer
// steps identically everywhere and the replicas stay equal.
//
//   auto group = tapegrad::dist::ProcessGroup::Mpi();
//   tapegrad::nn::MLP model(784, {256, 10}, rng);
//   absl::StatusOr<std::unique_ptr<tapegrad::dist::DataParallel>> ddp =
//       tapegrad::dist::DataParallel::Create(**group, model);   // checks, broadcasts
//   ... loss.Backward();
//   TG_RETURN_IF_ERROR((*ddp)->AverageGradients());
//   TG_RETURN_IF_ERROR(adam.Step());
//
// Create checks that every rank built the same model (parameter and buffer names,
// shapes and dtypes; a mismatch is an error on every rank) and copies rank 0's
// parameters and buffers to the others. AverageGradients packs the gradients into
// buckets of at most options.bucket_bytes (a buffer made once), so a step makes a
// few large allreduces rather than one per parameter, and allocates nothing.
// Every rank's backward must reach the same parameters (a parameter without a
// gradient counts as zeros there and is left without one).
//
// Thread safety: as the model and the group: one thread at a time.
#ifndef TAPEGRAD_DIST_DATA_PARALLEL_H_
#define TAPEGRAD_DIST_DATA_PARALLEL_H_

#include <cstdint>
#include <memory>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "core/tensor.h"
#include "dist/process_group.h"
#include "nn/dataset.h"
#include "nn/module.h"

namespace tapegrad::dist {

struct DataParallelOptions {
  // The largest allreduce of gradients, in bytes (PyTorch's bucket_cap_mb).
  int64_t bucket_bytes = int64_t{25} << 20;
};

class DataParallel {
 public:
  static absl::StatusOr<std::unique_ptr<DataParallel>> Create(
      ProcessGroup& group, nn::Module& model, DataParallelOptions options = {});

  // Gradients of every parameter, averaged over the ranks in place.
  absl::Status AverageGradients();

  ProcessGroup& group() { return *group_; }

 private:
  DataParallel(ProcessGroup& group, std::vector<Tensor> parameters,
               DataParallelOptions options);
  template <class T>
  absl::Status AverageGradientsOf(DType dtype);

  ProcessGroup* group_;
  std::vector<Tensor> parameters_;
  DataParallelOptions options_;
  std::vector<double> bucket_;  // f64 words; f32 gradients use it as floats
};

// `options` with this rank's shard of a dataset: shard = rank, num_shards = size.
// Every rank must use the same seed; each then reads ceil(N / size) rows an epoch,
// disjoint from the others' but for padding (nn/dataset.h), in as many batches.
//
//   nn::BatchIterator batches(train, dist::ShardOptions(*group, options));
nn::BatchOptions ShardOptions(const ProcessGroup& group, nn::BatchOptions options);

}  // namespace tapegrad::dist

#endif  // TAPEGRAD_DIST_DATA_PARALLEL_H_
