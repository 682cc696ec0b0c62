#include "dist/data_parallel.h"

#include <algorithm>
#include <cstring>
#include <string>
#include <type_traits>

#include "absl/strings/str_cat.h"
#include "core/internal/stable_hash.h"
#include "core/internal/tensor_impl.h"

namespace tapegrad::dist {
namespace {

// "name dtype[shape] ..." of every parameter and buffer, in order.
std::string Describe(const std::vector<nn::NamedTensor>& parameters,
                     const std::vector<nn::NamedTensor>& buffers) {
  std::string text;
  for (const auto* list : {&parameters, &buffers}) {
    for (const nn::NamedTensor& n : *list) {
      absl::StrAppend(&text, n.name, " ", tapegrad::Describe(n.tensor), "\n");
    }
  }
  return text;
}

// The elements of p's gradient, or null if it has none that can be read as such.
template <class T>
T* GradientData(const Tensor& p) {
  const Tensor g = p.grad();
  if (!g.ok() || g.impl() == nullptr || !g.is_contiguous()) return nullptr;
  return g.impl()->data_as<T>();
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
      group.AllAgree(internal::StableHash(description), "the model");
  if (!same.ok()) return same.status();
  if (!*same) {
    return absl::InvalidArgumentError(absl::StrCat(
        "dist: DataParallel: the ranks built different models (parameter and buffer "
        "names, shapes or dtypes differ); rank ",
        group.rank(), " has:\n", description));
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
      buckets_.push_back(Bucket{p.dtype()});
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
  size_t requests = 0;
  for (size_t i = 0; i < slots_.size(); ++i) {
    Bucket& b = buckets_[slots_[i].bucket];
    if (b.last == 0) b.first = i;
    b.last = i + 1;
  }
  for (Bucket& b : buckets_) {
    b.unpacked = b.last - b.first;
    b.chunks = ProcessGroup::ChunkCount(b.size, b.dtype == DType::kF32 ? 4 : 8);
    b.requests = requests;
    requests += b.chunks;
  }
  f32_.resize(f32_size);
  f64_.resize(f64_size);
  requests_.assign(requests, MPI_REQUEST_NULL);
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

template <class T>
T* DataParallel::Buffer(const Bucket& bucket) {
  if constexpr (std::is_same_v<T, float>) {
    return f32_.data() + bucket.offset;
  } else {
    return f64_.data() + bucket.offset;
  }
}

void DataParallel::Pack(Slot& slot) {
  const Tensor& p = parameters_[slot.parameter];
  const size_t n = static_cast<size_t>(p.numel());
  const auto copy = [&](auto* buffer) {
    using T = std::remove_pointer_t<decltype(buffer)>;
    T* to = buffer + slot.offset;
    if (const T* g = GradientData<T>(p)) {
      std::memcpy(to, g, n * sizeof(T));
    } else {
      std::fill(to, to + n, T(0));
    }
  };
  if (p.dtype() == DType::kF32) {
    copy(f32_.data());
  } else {
    copy(f64_.data());
  }
  slot.packed = true;
  --buckets_[slot.bucket].unpacked;
}

void DataParallel::StartCompleteBuckets(bool in_backward) {
  for (; next_bucket_ < buckets_.size() && error_.ok(); ++next_bucket_) {
    Bucket& b = buckets_[next_bucket_];
    if (b.unpacked > 0) break;
    const absl::Span<MPI_Request> requests =
        absl::MakeSpan(requests_).subspan(b.requests, b.chunks);
    error_ = b.dtype == DType::kF32
                 ? group_->StartAllReduce(absl::MakeSpan(Buffer<float>(b), b.size),
                                          requests, "a bucket of gradients")
                 : group_->StartAllReduce(absl::MakeSpan(Buffer<double>(b), b.size),
                                          requests, "a bucket of gradients");
    b.started = true;
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
  self.Pack(slot);
  self.StartCompleteBuckets(/*in_backward=*/true);
  // Open MPI moves the started allreduces on only inside MPI calls.
  const Bucket* started_end = self.buckets_.data() + self.next_bucket_;
  if (self.next_bucket_ > 0) {
    const size_t requests = started_end[-1].requests + started_end[-1].chunks;
    self.group_->Progress(absl::MakeSpan(self.requests_).subspan(0, requests));
  }
}

void DataParallel::ResetStep() {
  for (Slot& slot : slots_) slot.packed = false;
  for (Bucket& b : buckets_) {
    b.unpacked = b.last - b.first;
    b.started = false;
  }
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
    if (!slot.packed) Pack(slot);
  }
  StartCompleteBuckets(/*in_backward=*/false);
  absl::Status status = error_;
  error_ = absl::OkStatus();
  for (size_t i = 0; i < buckets_.size() && status.ok(); ++i) {
    Bucket& b = buckets_[i];
    status = group_->Finish(absl::MakeSpan(requests_).subspan(b.requests, b.chunks),
                            "a bucket of gradients");
    if (!status.ok()) break;
    const auto unpack = [&](auto* buffer) {
      using T = std::remove_pointer_t<decltype(buffer)>;
      const T scale = T(1) / static_cast<T>(group_->size());
      for (size_t k = 0; k < b.size; ++k) buffer[k] *= scale;
      for (size_t s = b.first; s < b.last; ++s) {
        const Tensor& p = parameters_[slots_[s].parameter];
        const size_t n = static_cast<size_t>(p.numel());
        if (T* g = GradientData<T>(p)) {
          std::memcpy(g, buffer + (slots_[s].offset - b.offset), n * sizeof(T));
        }
      }
    };
    if (b.dtype == DType::kF32) {
      unpack(Buffer<float>(b));
    } else {
      unpack(Buffer<double>(b));
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
