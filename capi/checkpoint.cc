// Checkpoints: named tensors and modules in the safetensors format (nn/checkpoint.h).
#include "nn/checkpoint.h"

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_format.h"
#include "capi/internal.h"
#include "capi/tapegrad.h"

struct tg_tensor_list {
  std::vector<tapegrad::nn::NamedTensor> tensors;
};

using tapegrad::capi::Fail;
using tapegrad::capi::Guard;

extern "C" {

tg_status tg_tensors_save(const char* path, const char* const* names,
                          const tg_tensor* const* tensors, size_t count) {
  constexpr char kCall[] = "tg_tensors_save";
  TG_CAPI_NOT_NULL(kCall, path);
  if (count != 0 && (names == nullptr || tensors == nullptr)) {
    return tapegrad::capi::NullArgument(kCall, "names or tensors");
  }
  std::vector<tapegrad::nn::NamedTensor> named;
  for (size_t i = 0; i < count; ++i) {
    if (names[i] == nullptr) return tapegrad::capi::NullArgument(kCall, "a name");
    if (tg_status s = tapegrad::capi::Live(kCall, names[i], tensors[i])) return s;
    named.push_back({names[i], tensors[i]->tensor});
  }
  return Guard(kCall, [&] { return Fail(tapegrad::nn::SaveTensors(path, named)); });
}

tg_status tg_tensors_load(const char* path, tg_tensor_list** out) {
  constexpr char kCall[] = "tg_tensors_load";
  TG_CAPI_NOT_NULL(kCall, path);
  TG_CAPI_NOT_NULL(kCall, out);
  return Guard(kCall, [&] {
    absl::StatusOr<std::vector<tapegrad::nn::NamedTensor>> read =
        tapegrad::nn::LoadTensors(path);
    if (!read.ok()) return Fail(read.status());
    *out = new tg_tensor_list{*std::move(read)};
    return TG_OK;
  });
}

tg_status tg_tensor_list_size(const tg_tensor_list* list, size_t* out) {
  TG_CAPI_NOT_NULL("tg_tensor_list_size", list);
  TG_CAPI_NOT_NULL("tg_tensor_list_size", out);
  *out = list->tensors.size();
  return TG_OK;
}

tg_status tg_tensor_list_get(const tg_tensor_list* list, size_t i, const char** name,
                             tg_tensor** tensor) {
  constexpr char kCall[] = "tg_tensor_list_get";
  TG_CAPI_NOT_NULL(kCall, list);
  TG_CAPI_NOT_NULL(kCall, name);
  TG_CAPI_NOT_NULL(kCall, tensor);
  if (i >= list->tensors.size()) {
    return Fail(absl::StatusCode::kOutOfRange,
                absl::StrFormat("%s: index %d of a list of %d tensors", kCall, i,
                                list->tensors.size()));
  }
  *name = list->tensors[i].name.c_str();
  return tapegrad::capi::NewTensor(kCall, list->tensors[i].tensor, tensor);
}

void tg_tensor_list_destroy(tg_tensor_list* list) { delete list; }

tg_status tg_module_save(const tg_module* m, const tg_optimizer* opt, const char* path) {
  constexpr char kCall[] = "tg_module_save";
  TG_CAPI_NOT_NULL(kCall, m);
  TG_CAPI_NOT_NULL(kCall, path);
  return Guard(kCall, [&] {
    return Fail(tapegrad::nn::SaveCheckpoint(
        path, *m->module, opt != nullptr ? opt->optimizer.get() : nullptr));
  });
}

tg_status tg_module_load(tg_module* m, tg_optimizer* opt, const char* path) {
  constexpr char kCall[] = "tg_module_load";
  TG_CAPI_NOT_NULL(kCall, m);
  TG_CAPI_NOT_NULL(kCall, path);
  return Guard(kCall, [&] {
    return Fail(tapegrad::nn::LoadCheckpoint(
        path, *m->module, opt != nullptr ? opt->optimizer.get() : nullptr));
  });
}

}  // extern "C"
