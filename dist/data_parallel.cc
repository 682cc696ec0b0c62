#include "dist/data_parallel.h"

#include <algorithm>
#include <cstring>
#include <string>

#include "absl/strings/str_cat.h"
#include "core/internal/stable_hash.h"
#include "core/internal/tensor_impl.h"

namespace tapegrad::dist {
namespace {

// "name dtype[shape] ..." of every parameter and buffer, in order.
std::string Describe(const nn::Module& model) {
  std::string text;
  for (const auto& list : {model.named_parameters(), model.named_buffers()}) {
    for (const nn::NamedTensor& n : list) {
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
  absl::StatusOr<bool> same =
      group.AllAgree(internal::StableHash(Describe(model)), "the model");
  if (!same.ok()) return same.status();
  if (!*same) {
    return absl::InvalidArgumentError(absl::StrCat(
        "dist: DataParallel: the ranks built different models (parameter and buffer "
        "names, shapes or dtypes differ); rank ",
        group.rank(), " has:\n", Describe(model)));
  }
  std::vector<Tensor> parameters = model.parameters();
  for (Tensor& p : parameters) {
    if (absl::Status s = group.Broadcast(p, 0); !s.ok()) return s;
  }
  for (Tensor b : model.buffers()) {
    if (absl::Status s = group.Broadcast(b, 0); !s.ok()) return s;
  }
  return std::unique_ptr<DataParallel>(
      new DataParallel(group, std::move(parameters), options));
}

DataParallel::DataParallel(ProcessGroup& group, std::vector<Tensor> parameters,
                           DataParallelOptions options)
    : group_(&group), parameters_(std::move(parameters)), options_(options) {
  int64_t largest = 0, total = 0;
  for (const Tensor& p : parameters_) {
    const int64_t bytes = p.numel() * (p.dtype() == DType::kF32 ? 4 : 8);
    largest = std::max(largest, bytes);
    total += bytes;
  }
  // A bucket holds at least the largest parameter, at most all of them.
  const int64_t bytes =
      std::min(total, std::max(largest, std::max<int64_t>(options_.bucket_bytes, 8)));
  bucket_.resize(static_cast<size_t>((bytes + 7) / 8));
}

template <class T>
absl::Status DataParallel::AverageGradientsOf(DType dtype) {
  T* bucket = reinterpret_cast<T*>(bucket_.data());
  const size_t capacity = bucket_.size() * sizeof(double) / sizeof(T);
  // Parameters [first, last) are packed in the bucket, `used` elements.
  size_t first = 0, used = 0;
  auto flush = [&](size_t last) -> absl::Status {
    if (used == 0) return absl::OkStatus();
    if (absl::Status s = group_->AllReduce(absl::MakeSpan(bucket, used), Reduce::kMean,
                                           "a bucket of gradients");
        !s.ok()) {
      return s;
    }
    size_t at = 0;
    for (size_t i = first; i < last; ++i) {
      const Tensor& p = parameters_[i];
      if (p.dtype() != dtype) continue;
      const size_t n = static_cast<size_t>(p.numel());
      if (T* g = GradientData<T>(p)) std::memcpy(g, bucket + at, n * sizeof(T));
      at += n;
    }
    used = 0;
    return absl::OkStatus();
  };
  for (size_t i = 0; i < parameters_.size(); ++i) {
    const Tensor& p = parameters_[i];
    if (p.dtype() != dtype) continue;
    const size_t n = static_cast<size_t>(p.numel());
    if (used + n > capacity) {
      if (absl::Status s = flush(i); !s.ok()) return s;
      first = i;
    }
    if (const T* g = GradientData<T>(p)) {
      std::memcpy(bucket + used, g, n * sizeof(T));
    } else {
      std::fill(bucket + used, bucket + used + n, T(0));
    }
    used += n;
  }
  return flush(parameters_.size());
}

absl::Status DataParallel::AverageGradients() {
  if (group_->size() == 1) return absl::OkStatus();  // the mean of one
  if (absl::Status s = AverageGradientsOf<float>(DType::kF32); !s.ok()) return s;
  return AverageGradientsOf<double>(DType::kF64);
}

nn::BatchOptions ShardOptions(const ProcessGroup& group, nn::BatchOptions options) {
  options.shard = group.rank();
  options.num_shards = group.size();
  return options;
}

}  // namespace tapegrad::dist
