#include "dist/process_group.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "core/internal/tensor_impl.h"

namespace tapegrad::dist {

ProcessGroup::ProcessGroup(int rank, int size, Device device, ProcessGroupOptions options)
    : rank_(rank), size_(size), device_(device), options_(options) {}

ProcessGroup::~ProcessGroup() = default;

std::string ProcessGroup::Operation::Name() const {
  if (tensor != nullptr) return absl::StrCat(collective, " of ", Describe(*tensor));
  if (label.empty()) return collective;
  return absl::StrCat(collective, " of ", label);
}

absl::Status ProcessGroup::Fail(absl::StatusCode code, const Operation& what,
                                absl::string_view why) const {
  return absl::Status(code, absl::StrFormat("dist: %s on rank %d of %d: %s", what.Name(),
                                            rank_, size_, why));
}

absl::Status ProcessGroup::TimedOut(const Operation& what) const {
  return Fail(absl::StatusCode::kDeadlineExceeded, what,
              absl::StrFormat("the other ranks did not join within %d ms (one may have "
                              "failed, exited or taken another path); this group "
                              "refuses further collectives",
                              options_.timeout.count()));
}

absl::StatusOr<ProcessGroup::Buffer> ProcessGroup::Operand(const Operation& what,
                                                           const Tensor& t) const {
  if (!t.ok()) return t.status();
  if (t.device() != device_ || !t.is_contiguous() ||
      (t.dtype() != DType::kF32 && t.dtype() != DType::kF64)) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "%s: a %s group needs a contiguous f32 or f64 tensor on %s, got %s",
        what.collective, backend(), device_.ToString(), Describe(t)));
  }
  return Buffer{t.impl()->data(), t.numel(), t.dtype()};
}

absl::Status ProcessGroup::Broadcast(Tensor& t, int root) {
  const Operation what{"broadcast", &t};
  absl::StatusOr<Buffer> data = Operand(what, t);
  if (!data.ok()) return data.status();
  if (root < 0 || root >= size_) {
    return Fail(absl::StatusCode::kInvalidArgument, what,
                absl::StrFormat("root %d is not a rank", root));
  }
  return BroadcastBuffer(*data, root, what);
}

absl::Status ProcessGroup::AllReduce(Tensor& t, Reduce op) {
  const Operation what{"allreduce", &t};
  absl::StatusOr<Buffer> data = Operand(what, t);
  if (!data.ok()) return data.status();
  return AllReduceBuffer(*data, op, what);
}

template <class T>
absl::Status ProcessGroup::AllReduceHost(absl::Span<T> data, Reduce op,
                                         absl::string_view label) {
  const Operation what{"allreduce", nullptr, label};
  if (!device_.is_cpu()) {
    return Fail(
        absl::StatusCode::kInvalidArgument, what,
        absl::StrCat("host memory, but a ", backend(),
                     " group's collectives take tensors on ", device_.ToString()));
  }
  const DType dtype = sizeof(T) == 4 ? DType::kF32 : DType::kF64;
  return AllReduceBuffer(Buffer{data.data(), static_cast<int64_t>(data.size()), dtype},
                         op, what);
}

absl::Status ProcessGroup::AllReduce(absl::Span<float> data, Reduce op,
                                     absl::string_view what) {
  return AllReduceHost(data, op, what);
}

absl::Status ProcessGroup::AllReduce(absl::Span<double> data, Reduce op,
                                     absl::string_view what) {
  return AllReduceHost(data, op, what);
}

}  // namespace tapegrad::dist
