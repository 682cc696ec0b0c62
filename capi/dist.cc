// The C ABI's data-parallel calls (capi/tapegrad_dist.h): argument checks, then
// dist::ProcessGroup and dist::DataParallel. Linked only into libtapegrad_dist.so.
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "capi/internal.h"
#include "capi/tapegrad_dist.h"
#include "dist/data_parallel.h"
#include "dist/process_group.h"

struct tg_process_group {
  std::unique_ptr<tapegrad::dist::ProcessGroup> group;
};
struct tg_data_parallel {
  std::unique_ptr<tapegrad::dist::DataParallel> ddp;
};

using tapegrad::Tensor;
using tapegrad::capi::Fail;
using tapegrad::capi::Guard;
using tapegrad::capi::Live;
using tapegrad::capi::NullArgument;

namespace {

// Names the model's tensors for DataParallel's check across ranks: by position.
std::vector<tapegrad::nn::NamedTensor> Named(const char* kind,
                                             std::vector<Tensor> tensors) {
  std::vector<tapegrad::nn::NamedTensor> named;
  for (size_t i = 0; i < tensors.size(); ++i) {
    named.push_back({absl::StrCat(kind, i), std::move(tensors[i])});
  }
  return named;
}

// Makes a group with `make(options)` into *out, after checking the timeout.
template <class Make>
tg_status MakeGroup(const char* call, int64_t timeout_ms, tg_process_group** out,
                    const Make& make) {
  if (timeout_ms < 0) {
    return Fail(absl::StatusCode::kInvalidArgument,
                absl::StrCat(call, ": timeout_ms = ", timeout_ms, " is negative"));
  }
  return Guard(call, [&]() -> tg_status {
    tapegrad::dist::ProcessGroupOptions options;
    if (timeout_ms > 0) options.timeout = std::chrono::milliseconds(timeout_ms);
    absl::StatusOr<std::unique_ptr<tapegrad::dist::ProcessGroup>> group = make(options);
    if (!group.ok()) return Fail(group.status());
    *out = new tg_process_group{std::move(*group)};
    return TG_OK;
  });
}

}  // namespace

extern "C" {

tg_status tg_process_group_mpi(int64_t timeout_ms, tg_process_group** out) {
  constexpr char kCall[] = "tg_process_group_mpi";
  TG_CAPI_NOT_NULL(kCall, out);
  return MakeGroup(kCall, timeout_ms, out, [](tapegrad::dist::ProcessGroupOptions o) {
    return tapegrad::dist::ProcessGroup::Mpi(o);
  });
}

tg_status tg_process_group_nccl(tg_process_group* bootstrap, int cuda_index,
                                int64_t timeout_ms, tg_process_group** out) {
  constexpr char kCall[] = "tg_process_group_nccl";
  TG_CAPI_NOT_NULL(kCall, bootstrap);
  TG_CAPI_NOT_NULL(kCall, out);
  if (cuda_index < 0) {
    return Fail(absl::StatusCode::kInvalidArgument,
                absl::StrCat(kCall, ": cuda_index = ", cuda_index, " is negative"));
  }
  return MakeGroup(kCall, timeout_ms, out, [&](tapegrad::dist::ProcessGroupOptions o) {
    return tapegrad::dist::ProcessGroup::Nccl(*bootstrap->group,
                                              tapegrad::Device::Cuda(cuda_index), o);
  });
}

void tg_process_group_destroy(tg_process_group* group) { delete group; }

tg_status tg_process_group_rank(const tg_process_group* group, int* rank, int* size) {
  constexpr char kCall[] = "tg_process_group_rank";
  TG_CAPI_NOT_NULL(kCall, group);
  TG_CAPI_NOT_NULL(kCall, rank);
  TG_CAPI_NOT_NULL(kCall, size);
  *rank = group->group->rank();
  *size = group->group->size();
  return TG_OK;
}

tg_status tg_process_group_allreduce(tg_process_group* group, tg_tensor* t, int mean) {
  constexpr char kCall[] = "tg_process_group_allreduce";
  TG_CAPI_NOT_NULL(kCall, group);
  if (tg_status s = Live(kCall, "t", t)) return s;
  return Guard(kCall, [&] {
    return Fail(group->group->AllReduce(
        t->tensor, mean ? tapegrad::dist::Reduce::kMean : tapegrad::dist::Reduce::kSum));
  });
}

tg_status tg_process_group_broadcast(tg_process_group* group, tg_tensor* t, int root) {
  constexpr char kCall[] = "tg_process_group_broadcast";
  TG_CAPI_NOT_NULL(kCall, group);
  if (tg_status s = Live(kCall, "t", t)) return s;
  return Guard(kCall, [&] { return Fail(group->group->Broadcast(t->tensor, root)); });
}

tg_status tg_process_group_barrier(tg_process_group* group) {
  constexpr char kCall[] = "tg_process_group_barrier";
  TG_CAPI_NOT_NULL(kCall, group);
  return Guard(kCall, [&] { return Fail(group->group->Barrier()); });
}

tg_status tg_data_parallel_create(tg_process_group* group, tg_tensor* const* parameters,
                                  size_t num_parameters, tg_tensor* const* buffers,
                                  size_t num_buffers, int64_t bucket_bytes, int overlap,
                                  tg_data_parallel** out) {
  constexpr char kCall[] = "tg_data_parallel_create";
  TG_CAPI_NOT_NULL(kCall, group);
  TG_CAPI_NOT_NULL(kCall, out);
  if (bucket_bytes < 0) {
    return Fail(absl::StatusCode::kInvalidArgument,
                absl::StrCat(kCall, ": bucket_bytes = ", bucket_bytes, " is negative"));
  }
  return Guard(kCall, [&]() -> tg_status {
    std::vector<Tensor> params, bufs;
    if (tg_status s = tapegrad::capi::CollectParameters(
            kCall, parameters, num_parameters, &params, "parameter", "parameters")) {
      return s;
    }
    if (tg_status s = tapegrad::capi::CollectParameters(kCall, buffers, num_buffers,
                                                        &bufs, "buffer", "buffers")) {
      return s;
    }
    tapegrad::dist::DataParallelOptions options;
    if (bucket_bytes > 0) options.bucket_bytes = bucket_bytes;
    options.overlap = overlap != 0;
    absl::StatusOr<std::unique_ptr<tapegrad::dist::DataParallel>> ddp =
        tapegrad::dist::DataParallel::Create(*group->group,
                                             Named("parameter ", std::move(params)),
                                             Named("buffer ", std::move(bufs)), options);
    if (!ddp.ok()) return Fail(ddp.status());
    *out = new tg_data_parallel{std::move(*ddp)};
    return TG_OK;
  });
}

void tg_data_parallel_destroy(tg_data_parallel* ddp) { delete ddp; }

tg_status tg_data_parallel_average_gradients(tg_data_parallel* ddp) {
  constexpr char kCall[] = "tg_data_parallel_average_gradients";
  TG_CAPI_NOT_NULL(kCall, ddp);
  return Guard(kCall, [&] { return Fail(ddp->ddp->AverageGradients()); });
}

}  // extern "C"
