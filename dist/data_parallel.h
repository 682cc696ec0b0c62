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
// parameters and buffers to the others. Gradients are averaged in buckets of at
// most options.bucket_bytes (buffers made once), so a step makes a few large
// allreduces rather than one per parameter, and allocates nothing. The buckets
// hold the parameters last first, the order in which the reverse sweep finishes
// their gradients: with options.overlap, a bucket's allreduce starts during the
// backward as soon as its gradients are final (Tensor::SetGradReadyHook), so that
// communication overlaps the rest of the sweep; AverageGradients starts what is
// left, waits and writes the means back. Buckets start in one order on every
// rank. Every rank's backward must reach the same parameters (a parameter
// without a gradient counts as zeros there and is left without one).
//
// The parameters live on the group's device: the CPU for an MPI group, the
// rank's GPU for a NCCL group (ProcessGroup::Nccl), where the buckets are GPU
// memory and the gradients never visit the host.
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
  // Start buckets during the backward (the parameters' grad-ready hooks, which
  // DataParallel takes over). Every backward then starts them: to accumulate
  // gradients over several backwards per step, set false, and AverageGradients
  // averages after the last (a second backward with overlap is an error).
  bool overlap = true;
};

class DataParallel {
 public:
  static absl::StatusOr<std::unique_ptr<DataParallel>> Create(
      ProcessGroup& group, nn::Module& model, DataParallelOptions options = {});
  // The same for a model given as its tensors (the C ABI's and Python's models):
  // parameters, then buffers, named as the model's check compares them.
  static absl::StatusOr<std::unique_ptr<DataParallel>> Create(
      ProcessGroup& group, std::vector<nn::NamedTensor> parameters,
      std::vector<nn::NamedTensor> buffers, DataParallelOptions options = {});
  ~DataParallel();
  DataParallel(const DataParallel&) = delete;
  DataParallel& operator=(const DataParallel&) = delete;

  // Gradients of every parameter, averaged over the ranks in place: finishes the
  // buckets the backward started and does the rest.
  absl::Status AverageGradients();

  ProcessGroup& group() { return *group_; }
  const DataParallelOptions& options() const { return options_; }
  // Buckets whose allreduce the last backward started (before AverageGradients).
  int buckets_started_in_backward() const { return started_in_backward_; }
  int buckets() const { return static_cast<int>(buckets_.size()); }

 private:
  // Gradients of one dtype, a run of parameters (last first), packed together.
  struct Bucket {
    explicit Bucket(DType d) : dtype(d) {}
    DType dtype;
    size_t first = 0, last = 0;   // slots_[first, last)
    size_t offset = 0, size = 0;  // in its dtype's buffer, in elements
    size_t unpacked = 0;          // parameters of this step not yet packed
    std::unique_ptr<ProcessGroup::Pending> allreduce;  // made once
  };
  // A parameter's place in the buckets; the context of its hook.
  struct Slot {
    DataParallel* owner;
    size_t parameter;  // index into parameters_
    size_t bucket;
    size_t offset;  // in the bucket's dtype's buffer
    bool packed = false;
  };

  DataParallel(ProcessGroup& group, std::vector<Tensor> parameters,
               DataParallelOptions options);
  static void OnGradReady(void* slot);
  // The bucket's elements, and a parameter's place among them, on the group's
  // device.
  char* Data(const Bucket& bucket, size_t offset) const;
  absl::Status Pack(Slot& slot);
  // Starts buckets in order while the next one is complete.
  void StartCompleteBuckets(bool in_backward);
  void ResetStep();

  ProcessGroup* group_;
  std::vector<Tensor> parameters_;
  DataParallelOptions options_;
  std::vector<Slot> slots_;  // the parameters, last first
  std::vector<Bucket> buckets_;
  Tensor f32_, f64_;        // the buckets' elements, on the group's device
  size_t next_bucket_ = 0;  // the first bucket not started this step
  int started_in_backward_ = 0;
  absl::Status error_;  // from a hook, returned by AverageGradients
};

// `options` with this rank's shard of a dataset: shard = rank, num_shards = size.
// Every rank must use the same seed; each then reads ceil(N / size) rows an epoch,
// disjoint from the others' but for padding (nn/dataset.h), in as many batches.
//
//   nn::BatchIterator batches(train, dist::ShardOptions(*group, options));
nn::BatchOptions ShardOptions(const ProcessGroup& group, nn::BatchOptions options);

}  // namespace tapegrad::dist

#endif  // TAPEGRAD_DIST_DATA_PARALLEL_H_
