#include "nn/dataset.h"

#include <algorithm>
#include <cstring>
#include <numeric>

#include "absl/strings/str_format.h"
#include "core/random.h"
#include "core/status_macros.h"

namespace tapegrad::nn {
namespace {

std::vector<int64_t> RowShape(const Tensor& features, int64_t rows) {
  std::vector<int64_t> shape(features.shape().begin(), features.shape().end());
  shape[0] = rows;
  return shape;
}

int64_t RowBytes(const Tensor& features) {
  return (features.size(0) == 0 ? 0 : features.numel() / features.size(0)) *
         static_cast<int64_t>(DTypeSize(features.dtype()));
}

}  // namespace

absl::StatusOr<Dataset> Dataset::Create(Tensor features, Tensor labels) {
  TG_RETURN_IF_ERROR(features.status());
  TG_RETURN_IF_ERROR(labels.status());
  const bool fits = features.dim() >= 1 && labels.dim() == 1 &&
                    features.size(0) == labels.size(0) && IsFloating(features.dtype()) &&
                    labels.dtype() == DType::kI64 && !features.on_tape() &&
                    !labels.on_tape() && features.device() == Device::Cpu() &&
                    labels.device() == Device::Cpu();
  if (!fits) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "dataset: needs CPU heap features [N, ...] (f32 or f64) and i64 labels [N]; "
        "got features %s and labels %s",
        Describe(features), Describe(labels)));
  }
  return Dataset(features.Contiguous(), labels.Contiguous());
}

void Dataset::CopyRow(int64_t row, const Tensor& x, const Tensor& y, int64_t slot) const {
  const int64_t bytes = RowBytes(features_);
  std::memcpy(x.impl()->data() + slot * bytes, features_.impl()->data() + row * bytes,
              static_cast<size_t>(bytes));
  y.impl()->data_as<int64_t>()[slot] = labels_.impl()->data_as<int64_t>()[row];
}

absl::StatusOr<Dataset> Dataset::Select(absl::Span<const int64_t> rows) const {
  const int64_t n = static_cast<int64_t>(rows.size());
  Tensor x = Tensor::Zeros(RowShape(features_, n), features_.dtype());
  Tensor y = Tensor::Zeros({n}, DType::kI64);
  for (int64_t i = 0; i < n; ++i) {
    if (rows[i] < 0 || rows[i] >= size()) {
      return absl::OutOfRangeError(absl::StrFormat(
          "dataset select: row %d is out of range for %d examples", rows[i], size()));
    }
    CopyRow(rows[i], x, y, i);
  }
  return Dataset(std::move(x), std::move(y));
}

absl::StatusOr<std::pair<Dataset, Dataset>> Dataset::Split(double fraction,
                                                           uint64_t seed) const {
  if (!(fraction >= 0.0 && fraction <= 1.0)) {
    return absl::InvalidArgumentError(
        absl::StrFormat("dataset split: fraction %g is not in [0, 1]", fraction));
  }
  std::vector<int64_t> order(static_cast<size_t>(size()));
  ShuffledIndices(seed, 0, &order);
  const size_t cut = static_cast<size_t>(fraction * static_cast<double>(size()) + 0.5);
  const absl::Span<const int64_t> rows(order);
  TG_ASSIGN_OR_RETURN(Dataset first, Select(rows.subspan(0, cut)));
  TG_ASSIGN_OR_RETURN(Dataset rest, Select(rows.subspan(cut)));
  return std::make_pair(std::move(first), std::move(rest));
}

void ShuffledIndices(uint64_t seed, uint64_t epoch, std::vector<int64_t>* indices) {
  std::iota(indices->begin(), indices->end(), int64_t{0});
  Random rng(CounterHash(seed, epoch));
  for (size_t i = indices->size(); i > 1; --i) {
    const size_t j = std::min(static_cast<size_t>(rng.Uniform(0.0, double(i))), i - 1);
    std::swap((*indices)[i - 1], (*indices)[j]);
  }
}

BatchIterator::BatchIterator(const Dataset& data, BatchOptions options)
    : data_(data), options_(options), permutation_(static_cast<size_t>(data.size())) {
  options_.batch_size = std::max<int64_t>(options_.batch_size, 1);
  options_.num_shards = std::max<int64_t>(options_.num_shards, 1);
  options_.shard = ((options_.shard % options_.num_shards) + options_.num_shards) %
                   options_.num_shards;
  const int64_t rows = (data.size() + options_.num_shards - 1) / options_.num_shards;
  order_.resize(static_cast<size_t>(rows));
  const Tensor& features = data.features();
  full_x_ = Tensor::Zeros(RowShape(features, options_.batch_size), features.dtype());
  full_y_ = Tensor::Zeros({options_.batch_size}, DType::kI64);
  const int64_t tail = rows % options_.batch_size;
  if (tail != 0 && !options_.drop_last) {
    tail_x_ = Tensor::Zeros(RowShape(features, tail), features.dtype());
    tail_y_ = Tensor::Zeros({tail}, DType::kI64);
  }
  std::iota(permutation_.begin(), permutation_.end(), int64_t{0});
  Deal();
}

int64_t BatchIterator::num_batches() const {
  const int64_t n = num_rows(), b = options_.batch_size;
  return options_.drop_last ? n / b : (n + b - 1) / b;
}

void BatchIterator::Reset() {
  ++epoch_;
  position_ = 0;
  if (options_.shuffle) {
    ShuffledIndices(options_.seed, uint64_t(epoch_), &permutation_);
    Deal();
  }
}

// This shard's rows of the permutation: positions shard, shard + num_shards, ...
// of it, wrapping around past its end.
void BatchIterator::Deal() {
  const size_t n = permutation_.size();
  for (size_t i = 0; i < order_.size(); ++i) {
    order_[i] = permutation_[(static_cast<size_t>(options_.shard) +
                              i * static_cast<size_t>(options_.num_shards)) %
                             n];
  }
}

bool BatchIterator::Next() {
  if (epoch_ < 0) Reset();
  const int64_t left = num_rows() - position_;
  if (left <= 0 || (left < options_.batch_size && options_.drop_last)) return false;
  const bool full = left >= options_.batch_size;
  x_ = full ? &full_x_ : &tail_x_;
  y_ = full ? &full_y_ : &tail_y_;
  const int64_t rows = full ? options_.batch_size : left;
  for (int64_t i = 0; i < rows; ++i) data_.CopyRow(order_[position_ + i], *x_, *y_, i);
  position_ += rows;
  return true;
}

}  // namespace tapegrad::nn
