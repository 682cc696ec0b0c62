// Tensors made and read on the host: the factories (Zeros, Arange, FromData,
// Randn, ...) and element access (at, item, ToVector, CopyFrom, AddInPlace).
// Device tensors are staged through host memory.
#include <algorithm>
#include <cmath>
#include <limits>

#include "absl/strings/str_format.h"
#include "core/internal/device_memory.h"
#include "core/internal/tensor_internal.h"
#include "core/status_macros.h"
#include "core/tensor.h"

namespace tapegrad {

using internal::NewResult;
using internal::Run;

// ---- Factories.

namespace {

Tensor NewHeapOrError(Shape shape, DType dtype, Device device) {
  absl::StatusOr<TensorImpl*> impl = NewResult(nullptr, shape, dtype, device);
  if (!impl.ok()) return Tensor::Error(impl.status());
  return Tensor::Wrap(*impl);
}

// Element `offset` of t's storage (not counting t's own offset), as a double.
double ReadElement(const TensorImpl& t, int64_t offset) {
  const char* base = static_cast<const char*>(t.storage->data);
  alignas(8) char staged[8];
  if (!t.device.is_cpu()) {
    const size_t size = DTypeSize(t.dtype);
    DeviceMemory* memory = DeviceMemoryFor(t.device.type);
    if (memory == nullptr ||
        !memory->CopyToHost(staged, t.device, base + offset * size, size).ok()) {
      return std::numeric_limits<double>::quiet_NaN();
    }
    base = staged;
    offset = 0;
  }
  switch (t.dtype) {
    case DType::kF32:
      return reinterpret_cast<const float*>(base)[offset];
    case DType::kF64:
      return reinterpret_cast<const double*>(base)[offset];
    case DType::kI64:
      return static_cast<double>(reinterpret_cast<const int64_t*>(base)[offset]);
  }
  return std::numeric_limits<double>::quiet_NaN();
}

// Stores `v` at element `offset` of t's storage, converted to t's dtype.
void WriteElement(const TensorImpl& t, int64_t offset, double v) {
  char* base = static_cast<char*>(t.storage->data);
  switch (t.dtype) {
    case DType::kF32:
      reinterpret_cast<float*>(base)[offset] = static_cast<float>(v);
      break;
    case DType::kF64:
      reinterpret_cast<double*>(base)[offset] = v;
      break;
    case DType::kI64:
      reinterpret_cast<int64_t*>(base)[offset] = static_cast<int64_t>(v);
      break;
  }
}

// `what` is neither here nor there in `dtype` (an i64 from a NaN, say).
absl::Status Unrepresentable(const char* op, double v, DType dtype) {
  return absl::InvalidArgumentError(
      absl::StrFormat("%s: %g is not a %s value", op, v, DTypeName(dtype)));
}

template <class Fn>
Tensor HostFilled(const char* op, Shape shape, DType dtype, Fn value_at) {
  Tensor t = NewHeapOrError(shape, dtype, Device::Cpu());
  if (!t.ok()) return t;
  TensorImpl* impl = t.impl();
  const int64_t n = impl->numel();
  for (int64_t i = 0; i < n; ++i) {
    const double v = value_at(i);
    if (!Representable(v, dtype)) return Tensor::Error(Unrepresentable(op, v, dtype));
    WriteElement(*impl, i, v);
  }
  return t;
}

absl::Status CheckData(size_t count, Shape shape);

}  // namespace

Tensor Tensor::Full(Shape shape, double value, DType dtype, Device device) {
  if (absl::Status s = CheckShape("full", shape); !s.ok()) return Error(s);
  if (!Representable(value, dtype)) return Error(Unrepresentable("full", value, dtype));
  Tensor t = NewHeapOrError(shape, dtype, device);
  if (!t.ok()) return t;
  OpAttrs attrs;
  attrs.scalar0 = value;
  if (absl::Status s = Run(OpKind::kFill, {}, {t.impl()}, attrs); !s.ok())
    return Error(s);
  return t;
}

Tensor Tensor::Zeros(Shape shape, DType dtype, Device device) {
  return Full(shape, 0.0, dtype, device);
}

Tensor Tensor::Ones(Shape shape, DType dtype, Device device) {
  return Full(shape, 1.0, dtype, device);
}

Tensor Tensor::Arange(double start, double stop, double step, DType dtype) {
  if (step == 0 || !std::isfinite(start) || !std::isfinite(stop) ||
      !std::isfinite(step)) {
    return Error(absl::InvalidArgumentError(absl::StrFormat(
        "arange: need finite bounds and a non-zero step, got (%g, %g, %g)", start, stop,
        step)));
  }
  // Counted in double first: a cast of a count past int64 would be undefined.
  const double count = std::max(0.0, std::ceil((stop - start) / step));
  if (!(count <= static_cast<double>(kMaxElements))) {
    return Error(absl::InvalidArgumentError(absl::StrFormat(
        "arange: (%g, %g, %g) makes %g elements; at most %d are supported", start, stop,
        step, count, kMaxElements)));
  }
  const int64_t shape[] = {static_cast<int64_t>(count)};
  return HostFilled("arange", shape, dtype, [&](int64_t i) { return start + step * i; });
}

Tensor Tensor::Eye(int64_t n, DType dtype) {
  const int64_t shape[] = {n, n};
  if (absl::Status s = CheckShape("eye", shape); !s.ok()) return Error(s);
  return HostFilled("eye", shape, dtype,
                    [&](int64_t i) { return i / n == i % n ? 1.0 : 0.0; });
}

Tensor Tensor::Rand(Shape shape, Random& rng, DType dtype, double low, double high) {
  if (absl::Status s = CheckShape("rand", shape); !s.ok()) return Error(s);
  return HostFilled("rand", shape, dtype,
                    [&](int64_t) { return rng.Uniform(low, high); });
}

Tensor Tensor::Randn(Shape shape, Random& rng, DType dtype) {
  if (absl::Status s = CheckShape("randn", shape); !s.ok()) return Error(s);
  return HostFilled("randn", shape, dtype, [&](int64_t) { return rng.Normal(); });
}

namespace {
absl::Status CheckData(size_t count, Shape shape) {
  TG_RETURN_IF_ERROR(CheckShape("from_data", shape));
  if (CheckedNumel(shape) != static_cast<int64_t>(count)) {
    return absl::InvalidArgumentError(
        absl::StrFormat("from_data: %d values do not fill shape %s (%d elements)", count,
                        ShapeString(shape), CheckedNumel(shape)));
  }
  return absl::OkStatus();
}
}  // namespace

template <class T>
static Tensor FromSpan(absl::Span<const T> data, Shape shape, DType dtype) {
  if (absl::Status s = CheckData(data.size(), shape); !s.ok()) return Tensor::Error(s);
  return HostFilled("from_data", shape, dtype,
                    [&](int64_t i) { return static_cast<double>(data[i]); });
}

Tensor Tensor::FromData(absl::Span<const double> data, Shape shape, DType dtype) {
  return FromSpan(data, shape, dtype);
}
Tensor Tensor::FromData(absl::Span<const float> data, Shape shape) {
  return FromSpan(data, shape, DType::kF32);
}
Tensor Tensor::FromData(absl::Span<const int64_t> data, Shape shape) {
  // Copied exactly: through double, labels above 2^53 would round.
  if (absl::Status s = CheckData(data.size(), shape); !s.ok()) return Error(s);
  Tensor t = NewHeapOrError(shape, DType::kI64, Device::Cpu());
  if (t.ok()) std::copy(data.begin(), data.end(), t.impl()->data_as<int64_t>());
  return t;
}

Tensor Tensor::Of(std::initializer_list<double> data, DType dtype) {
  const int64_t shape[] = {static_cast<int64_t>(data.size())};
  return FromSpan(absl::MakeConstSpan(data.begin(), data.size()), shape, dtype);
}

Tensor Tensor::Scalar(double value, DType dtype) { return Full({}, value, dtype); }

// ---- Elements.

namespace {

// Calls fn(storage offset) for every element in row-major order.
template <class Fn>
void ForEachOffset(const Layout& l, Fn fn) {
  const int64_t n = l.numel();
  int64_t index[kMaxRank] = {};
  int64_t offset = l.offset;
  for (int64_t i = 0; i < n; ++i) {
    fn(offset);
    for (int d = l.rank - 1; d >= 0; --d) {
      if (++index[d] < l.sizes[d]) {
        offset += l.strides[d];
        break;
      }
      offset -= (l.sizes[d] - 1) * l.strides[d];
      index[d] = 0;
    }
  }
}

}  // namespace

double Tensor::at(Shape index) const {
  if (!ok() || index.size() != size_t(dim())) {
    return std::numeric_limits<double>::quiet_NaN();
  }
  int64_t offset = impl_->layout.offset;
  for (int d = 0; d < dim(); ++d) {
    int64_t i = index[d] < 0 ? index[d] + impl_->layout.sizes[d] : index[d];
    if (i < 0 || i >= impl_->layout.sizes[d])
      return std::numeric_limits<double>::quiet_NaN();
    offset += i * impl_->layout.strides[d];
  }
  return ReadElement(*impl_, offset);
}

double Tensor::item() const {
  if (numel() != 1) return std::numeric_limits<double>::quiet_NaN();
  int64_t zeros[kMaxRank] = {};
  return at({zeros, size_t(dim())});
}

std::vector<double> Tensor::ToVector() const {
  std::vector<double> out;
  if (!ok()) return out;
  if (!impl_->device.is_cpu()) {
    absl::StatusOr<TensorImpl*> host =
        internal::CopyToDevice(nullptr, *impl_, Device::Cpu());
    return host.ok() ? Wrap(*host).ToVector() : out;
  }
  out.reserve(numel());
  ForEachOffset(impl_->layout, [&](int64_t o) { out.push_back(ReadElement(*impl_, o)); });
  return out;
}

std::vector<float> Tensor::ToFloatVector() const {
  std::vector<double> v = ToVector();
  return std::vector<float>(v.begin(), v.end());
}

template <class T>
static absl::Status CopyInto(const Tensor& t, absl::Span<const T> data) {
  TG_RETURN_IF_ERROR(t.status());
  TensorImpl* impl = t.impl();
  if (t.on_tape() || !(impl->device.is_cpu() || impl->layout.IsContiguous())) {
    return absl::FailedPreconditionError(absl::StrFormat(
        "copy_from: needs a heap tensor, contiguous if not on the cpu, got %s%s",
        Describe(t), t.on_tape() ? " on a tape" : ""));
  }
  if (static_cast<int64_t>(data.size()) != impl->numel()) {
    return absl::InvalidArgumentError(
        absl::StrFormat("copy_from: %d values for %s (%d elements)", data.size(),
                        Describe(t), impl->numel()));
  }
  if (!impl->device.is_cpu()) {  // written on the host, then copied over
    const Tensor host = NewHeapOrError(t.shape(), t.dtype(), Device::Cpu());
    TG_RETURN_IF_ERROR(CopyInto(host, data));
    return internal::CopyBytes(*impl, *host.impl());
  }
  for (T v : data) {
    if (!Representable(static_cast<double>(v), impl->dtype)) {
      return Unrepresentable("copy_from", static_cast<double>(v), impl->dtype);
    }
  }
  size_t i = 0;
  ForEachOffset(impl->layout, [&](int64_t o) {
    WriteElement(*impl, o, static_cast<double>(data[i++]));
  });
  return absl::OkStatus();
}

absl::Status Tensor::CopyFrom(absl::Span<const double> data) {
  return CopyInto(*this, data);
}
absl::Status Tensor::CopyFrom(absl::Span<const float> data) {
  return CopyInto(*this, data);
}

absl::Status Tensor::AddInPlace(const Tensor& other, double alpha) {
  TG_RETURN_IF_ERROR(status());
  TG_RETURN_IF_ERROR(other.status());
  const TensorImpl* operands[] = {impl_, other.impl_};
  if (on_tape()) {
    return internal::OpError("add_in_place", operands,
                             "the target must be a heap tensor");
  }
  TG_RETURN_IF_ERROR(internal::SameDTypeAndDevice("add_in_place", operands));
  if (!SameShape(impl_->layout, other.impl_->layout)) {
    return internal::OpError("add_in_place", operands, "shapes differ");
  }
  OpAttrs attrs;
  attrs.scalar0 = alpha;
  return Run(OpKind::kAxpy, {other.impl_}, {impl_}, attrs);
}

}  // namespace tapegrad
