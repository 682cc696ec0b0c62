#include "dist/data_parallel.h"

#include <algorithm>
#include <cstring>
#include <string>
#include <type_traits>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "core/internal/stable_hash.h"
#include "core/internal/tensor_impl.h"
#include "dist/internal/device_bytes.h"

namespace tapegrad::dist {
namespace {

// "name dtype[shape] on device-type" of every parameter and buffer, in order;
// not the device's index, which differs between ranks on one machine's GPUs.
std::string Describe(const std::vector<nn::NamedTensor>& parameters,
                     const std::vector<nn::NamedTensor>& buffers) {
  std::string text;
  for (const auto* list : {&parameters, &buffers}) {
    for (const nn::NamedTensor& n : *list) {
      absl::StrAppend(&text, n.name, " ", DTypeName(n.tensor.dtype()), "[",
                      absl::StrJoin(n.tensor.shape(), ", "), "] on ",
                      DeviceTypeName(n.tensor.device().type), "\n");
    }
  }
  return text;
}

// The elements of p's gradient, or null if it has none that can be read as such.
char* GradientData(const Tensor& p) {
  const Tensor g = p.grad();
  if (!g.ok() || g.impl() == nullptr || !g.is_contiguous()) return nullptr;
  return g.impl()->data();
}

}  // namespace

absl::StatusOr<std::unique_ptr<DataParallel>> DataParallel::Create(
    ProcessGroup& group, nn::Module& model, DataParallelOptions options) {
  return Create(group, model.named_parameters(), model.named_buffers(), options);
}

absl::StatusOr<std::unique_ptr<DataParallel>> DataParallel::Create(
    ProcessGroup& group, std::vector<nn::NamedTensor> parameters,
    std::vector<nn::NamedTensor> buffers, DataParallelOptions options) {
  const std::string description = Describe(parameters, buffers);
  absl::StatusOr<bool> same =
      group.AllAgree(tapegrad::internal::StableHash(description), "the model");
  if (!same.ok()) return same.status();
  if (!*same) {
    return absl::InvalidArgumentError(absl::StrCat(
        "dist: DataParallel: the ranks built different models (parameter and buffer "
        "names, shapes or dtypes differ); rank ",
        group.rank(), " has:\n", description));
  }
  for (const nn::NamedTensor& p : parameters) {
    if (p.tensor.device() != group.device() ||
        (p.tensor.dtype() != DType::kF32 && p.tensor.dtype() != DType::kF64)) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "dist: DataParallel: parameter %s is %s, but a %s group averages f32 or f64 "
          "gradients on %s",
          p.name, tapegrad::Describe(p.tensor), group.backend(),
          group.device().ToString()));
    }
  }
  std::vector<Tensor> tensors;
  for (nn::NamedTensor& p : parameters) {
    if (absl::Status s = group.Broadcast(p.tensor, 0); !s.ok()) return s;
    tensors.push_back(std::move(p.tensor));
  }
  for (nn::NamedTensor& b : buffers) {
    if (absl::Status s = group.Broadcast(b.tensor, 0); !s.ok()) return s;
  }
  return std::unique_ptr<DataParallel>(
      new DataParallel(group, std::move(tensors), options));
}

DataParallel::DataParallel(ProcessGroup& group, std::vector<Tensor> parameters,
                           DataParallelOptions options)
    : group_(&group), parameters_(std::move(parameters)), options_(options) {
  // Buckets of one dtype each, filled with the parameters last first, each at most
  // bucket_bytes (but one parameter, however large).
  const int64_t cap = std::max<int64_t>(options_.bucket_bytes, 1);
  size_t f32_size = 0, f64_size = 0;
  Bucket* open[2] = {nullptr, nullptr};  // the open bucket of f32, of f64
  buckets_.reserve(parameters_.size());  // at most one each, so `open` stays valid
  for (size_t k = parameters_.size(); k-- > 0;) {
    const Tensor& p = parameters_[k];
    const bool f32 = p.dtype() == DType::kF32;
    const size_t n = static_cast<size_t>(p.numel());
    const int64_t element = f32 ? 4 : 8;
    Bucket*& b = open[f32 ? 0 : 1];
    if (b == nullptr ||
        (b->size > 0 && static_cast<int64_t>(b->size + n) * element > cap)) {
      buckets_.emplace_back(p.dtype());
      b = &buckets_.back();
      b->offset = f32 ? f32_size : f64_size;
    }
    slots_.push_back(
        Slot{this, k, static_cast<size_t>(b - buckets_.data()), b->offset + b->size});
    b->size += n;
    (f32 ? f32_size : f64_size) += n;
  }
  // Slots grouped by bucket, in bucket order (a stable sort keeps last first).
  std::stable_sort(slots_.begin(), slots_.end(),
                   [](const Slot& a, const Slot& b) { return a.bucket < b.bucket; });
  for (size_t i = 0; i < slots_.size(); ++i) {
    Bucket& b = buckets_[slots_[i].bucket];
    if (b.last == 0) b.first = i;
    b.last = i + 1;
  }
  for (Bucket& b : buckets_) {
    b.unpacked = b.last - b.first;
    b.allreduce = group_->NewPending();
  }
  const Device device = group_->device();
  if (f32_size > 0)
    f32_ = Tensor::Zeros({static_cast<int64_t>(f32_size)}, DType::kF32, device);
  if (f64_size > 0)
    f64_ = Tensor::Zeros({static_cast<int64_t>(f64_size)}, DType::kF64, device);
  if (options_.overlap && group_->size() > 1) {
    for (Slot& slot : slots_) {
      // A parameter that does not require grad takes no hook: AverageGradients
      // packs it.
      (void)parameters_[slot.parameter].SetGradReadyHook(&DataParallel::OnGradReady,
                                                         &slot);
    }
  }
}

DataParallel::~DataParallel() {
  for (const Slot& slot : slots_) {
    (void)parameters_[slot.parameter].SetGradReadyHook(nullptr, nullptr);
  }
}

char* DataParallel::Data(const Bucket& bucket, size_t offset) const {
  const Tensor& buffer = bucket.dtype == DType::kF32 ? f32_ : f64_;
  return buffer.impl()->data() + offset * DTypeSize(bucket.dtype);
}

absl::Status DataParallel::Pack(Slot& slot) {
  const Tensor& p = parameters_[slot.parameter];
  const Bucket& b = buckets_[slot.bucket];
  const size_t bytes = static_cast<size_t>(p.numel()) * DTypeSize(b.dtype);
  char* to = Data(b, slot.offset);
  const Device device = group_->device();
  slot.packed = true;
  --buckets_[slot.bucket].unpacked;
  const char* g = GradientData(p);
  return g != nullptr ? internal::CopyBytes(device, to, g, bytes)
                      : internal::ZeroBytes(device, to, bytes);
}

void DataParallel::StartCompleteBuckets(bool in_backward) {
  for (; next_bucket_ < buckets_.size() && error_.ok(); ++next_bucket_) {
    Bucket& b = buckets_[next_bucket_];
    if (b.unpacked > 0) break;
    error_ = group_->StartAllReduce(
        ProcessGroup::Buffer{Data(b, b.offset), static_cast<int64_t>(b.size), b.dtype},
        Reduce::kMean, *b.allreduce,
        ProcessGroup::Operation{"allreduce", nullptr, "a bucket of gradients"});
    if (in_backward) ++started_in_backward_;
  }
}

void DataParallel::OnGradReady(void* context) {
  Slot& slot = *static_cast<Slot*>(context);
  DataParallel& self = *slot.owner;
  if (!self.error_.ok()) return;
  if (slot.packed) {
    self.error_ = absl::FailedPreconditionError(
        "dist: DataParallel: a parameter's gradient was final twice before "
        "AverageGradients (two backwards in one step?); to accumulate gradients over "
        "several backwards, set DataParallelOptions::overlap = false");
    return;
  }
  self.error_ = self.Pack(slot);
  self.StartCompleteBuckets(/*in_backward=*/true);
  // Open MPI moves the started allreduces on only inside MPI calls.
  for (size_t k = 0; k < self.next_bucket_; ++k) {
    self.group_->Progress(*self.buckets_[k].allreduce);
  }
}

void DataParallel::ResetStep() {
  for (Slot& slot : slots_) slot.packed = false;
  for (Bucket& b : buckets_) b.unpacked = b.last - b.first;
  next_bucket_ = 0;
}

absl::Status DataParallel::AverageGradients() {
  if (group_->size() == 1) {  // the mean of one
    ResetStep();
    started_in_backward_ = 0;
    return absl::OkStatus();
  }
  // What the backward did not start: pack and start, in bucket order.
  for (Slot& slot : slots_) {
    if (!slot.packed && error_.ok()) error_ = Pack(slot);
  }
  StartCompleteBuckets(/*in_backward=*/false);
  absl::Status status = error_;
  error_ = absl::OkStatus();
  const Device device = group_->device();
  // Every started bucket is finished, even after an error, so that none is
  // left in flight over memory the next step reuses.
  for (size_t i = 0; i < next_bucket_; ++i) {
    Bucket& b = buckets_[i];
    absl::Status finished = group_->Finish(*b.allreduce);
    if (status.ok()) status = finished;
    for (size_t s = b.first; s < b.last && status.ok(); ++s) {
      const Tensor& p = parameters_[slots_[s].parameter];
      if (char* g = GradientData(p)) {
        status = internal::CopyBytes(device, g, Data(b, slots_[s].offset),
                                     static_cast<size_t>(p.numel()) * DTypeSize(b.dtype));
      }
    }
  }
  ResetStep();
  started_in_backward_ = 0;
  return status;
}

nn::BatchOptions ShardOptions(const ProcessGroup& group, nn::BatchOptions options) {
  options.shard = group.rank();
  options.num_shards = group.size();
  return options;
}

}  // namespace tapegrad::dist
