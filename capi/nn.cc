// nn modules (Linear, MLP) and optimizers (SGD, Adam) over tensors.
#include <vector>

#include "absl/status/status.h"
#include "capi/internal.h"
#include "capi/tapegrad.h"
#include "core/random.h"
#include "nn/linear.h"
#include "nn/sequential.h"

namespace tapegrad::capi {

tg_status CollectParameters(const char* call, tg_tensor* const* params, size_t n,
                            std::vector<Tensor>* out, const char* kind,
                            const char* argument) {
  if (params == nullptr && n != 0) return NullArgument(call, argument);
  for (size_t i = 0; i < n; ++i) {
    if (params[i] == nullptr || !params[i]->tensor.ok()) {
      return Fail(
          absl::StatusCode::kInvalidArgument,
          absl::StrFormat("%s: %s %d is NULL or not a live tensor", call, kind, i));
    }
    if (params[i]->tensor.tape() != nullptr) {
      return Fail(absl::StatusCode::kInvalidArgument,
                  absl::StrFormat("%s: %s %d was recorded on a tape; %ss are heap "
                                  "tensors (leaves)",
                                  call, kind, i, kind));
    }
    out->push_back(params[i]->tensor);
  }
  return TG_OK;
}

namespace {

absl::Status CheckFloatDType(const char* call, tg_dtype dtype) {
  if (dtype == TG_F32 || dtype == TG_F64) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrFormat(
      "%s: parameters must be f32 or f64, not dtype %d", call, static_cast<int>(dtype)));
}

// A module whose sizes a tensor cannot take (Note [Size limits]) holds error
// tensors as parameters: that error is the call's.
tg_status NewModule(const char* call, std::unique_ptr<nn::Module> module,
                    tg_module** out) {
  for (const nn::NamedTensor& p : module->named_parameters()) {
    if (!p.tensor.ok()) {
      return Fail(absl::Status(p.tensor.status().code(),
                               absl::StrFormat("%s: parameter %s: %s", call, p.name,
                                               p.tensor.status().message())));
    }
  }
  *out = new tg_module{std::move(module)};
  return TG_OK;
}

tg_status NewOptimizer(std::unique_ptr<nn::Optimizer> optimizer, tg_optimizer** out) {
  *out = new tg_optimizer{std::move(optimizer)};
  return TG_OK;
}

}  // namespace
}  // namespace tapegrad::capi

using tapegrad::capi::Fail;
using tapegrad::capi::Guard;

extern "C" {

tg_status tg_linear_create(int64_t in_features, int64_t out_features, int bias,
                           tg_dtype dtype, uint64_t seed, tg_module** out) {
  constexpr char kCall[] = "tg_linear_create";
  TG_CAPI_NOT_NULL(kCall, out);
  if (tg_status s = Fail(tapegrad::capi::CheckFloatDType(kCall, dtype))) return s;
  if (in_features <= 0 || out_features <= 0) {
    return Fail(absl::StatusCode::kInvalidArgument,
                absl::StrFormat("%s: features must be positive, not (%d, %d)", kCall,
                                in_features, out_features));
  }
  return Guard(kCall, [&] {
    tapegrad::Random rng(seed);
    return tapegrad::capi::NewModule(
        kCall,
        std::make_unique<tapegrad::nn::Linear>(in_features, out_features, rng, bias != 0,
                                               static_cast<tapegrad::DType>(dtype)),
        out);
  });
}

tg_status tg_mlp_create(int64_t nin, const int64_t* nouts, size_t n_layers,
                        tg_activation activation, tg_dtype dtype, uint64_t seed,
                        tg_module** out) {
  constexpr char kCall[] = "tg_mlp_create";
  TG_CAPI_NOT_NULL(kCall, out);
  TG_CAPI_NOT_NULL(kCall, nouts);
  if (tg_status s = Fail(tapegrad::capi::CheckFloatDType(kCall, dtype))) return s;
  if (n_layers == 0 || nin <= 0) {
    return Fail(absl::StatusCode::kInvalidArgument,
                absl::StrFormat("%s: needs nin > 0 and at least one layer (nin %d, %d "
                                "layers)",
                                kCall, nin, n_layers));
  }
  for (size_t i = 0; i < n_layers; ++i) {
    if (nouts[i] <= 0) {
      return Fail(absl::StatusCode::kInvalidArgument,
                  absl::StrFormat("%s: layer %d has %d outputs", kCall, i, nouts[i]));
    }
  }
  if (activation < TG_ACT_RELU || activation > TG_ACT_GELU) {
    return Fail(absl::StatusCode::kInvalidArgument,
                absl::StrFormat("%s: unknown activation %d", kCall,
                                static_cast<int>(activation)));
  }
  return Guard(kCall, [&] {
    tapegrad::Random rng(seed);
    return tapegrad::capi::NewModule(
        kCall,
        std::make_unique<tapegrad::nn::MLP>(
            nin, absl::MakeConstSpan(nouts, n_layers), rng,
            static_cast<tapegrad::nn::Nonlinearity>(activation),
            static_cast<tapegrad::DType>(dtype)),
        out);
  });
}

void tg_module_destroy(tg_module* m) { delete m; }

tg_status tg_module_forward(tg_module* m, const tg_tensor* x, tg_tensor** out) {
  constexpr char kCall[] = "tg_module_forward";
  TG_CAPI_NOT_NULL(kCall, m);
  TG_CAPI_NOT_NULL(kCall, x);
  TG_CAPI_NOT_NULL(kCall, out);
  return Guard(kCall, [&] {
    return tapegrad::capi::NewTensor(kCall, m->module->Forward(x->tensor), out);
  });
}

tg_status tg_module_parameters(const tg_module* m, tg_tensor** out, size_t capacity,
                               size_t* count) {
  constexpr char kCall[] = "tg_module_parameters";
  TG_CAPI_NOT_NULL(kCall, m);
  TG_CAPI_NOT_NULL(kCall, count);
  if (out == nullptr && capacity != 0) return tapegrad::capi::NullArgument(kCall, "out");
  return Guard(kCall, [&] {
    const std::vector<tapegrad::Tensor> params = m->module->parameters();
    *count = params.size();
    for (size_t i = 0; i < params.size() && i < capacity; ++i) {
      out[i] = new tg_tensor{params[i]};
    }
    return TG_OK;
  });
}

tg_status tg_module_zero_grad(tg_module* m) {
  TG_CAPI_NOT_NULL("tg_module_zero_grad", m);
  m->module->zero_grad();
  return TG_OK;
}

tg_status tg_module_to(tg_module* m, tg_device_type device, int index) {
  constexpr char kCall[] = "tg_module_to";
  TG_CAPI_NOT_NULL(kCall, m);
  tapegrad::Device target;
  if (tg_status s = tapegrad::capi::DeviceOf(kCall, device, index, &target)) return s;
  return Guard(kCall, [&] { return Fail(m->module->To(target)); });
}

tg_status tg_module_train(tg_module* m, int training) {
  TG_CAPI_NOT_NULL("tg_module_train", m);
  m->module->train(training != 0);
  return TG_OK;
}

tg_status tg_module_format(const tg_module* m, char* buf, size_t capacity,
                           size_t* length) {
  TG_CAPI_NOT_NULL("tg_module_format", m);
  return Guard("tg_module_format", [&] {
    return tapegrad::capi::WriteText("tg_module_format", m->module->ToString(), buf,
                                     capacity, length);
  });
}

tg_status tg_sgd_create(tg_tensor* const* params, size_t n, double lr, double momentum,
                        double weight_decay, int nesterov, tg_optimizer** out) {
  constexpr char kCall[] = "tg_sgd_create";
  TG_CAPI_NOT_NULL(kCall, out);
  return Guard(kCall, [&] {
    std::vector<tapegrad::Tensor> tensors;
    if (tg_status s = tapegrad::capi::CollectParameters(kCall, params, n, &tensors)) {
      return s;
    }
    tapegrad::SgdOptions options;
    options.lr = lr;
    options.momentum = momentum;
    options.weight_decay = weight_decay;
    options.nesterov = nesterov != 0;
    return tapegrad::capi::NewOptimizer(
        std::make_unique<tapegrad::nn::Sgd>(std::move(tensors), options), out);
  });
}

tg_status tg_adam_create(tg_tensor* const* params, size_t n, double lr, double beta1,
                         double beta2, double eps, double weight_decay, int decoupled,
                         tg_optimizer** out) {
  constexpr char kCall[] = "tg_adam_create";
  TG_CAPI_NOT_NULL(kCall, out);
  return Guard(kCall, [&] {
    std::vector<tapegrad::Tensor> tensors;
    if (tg_status s = tapegrad::capi::CollectParameters(kCall, params, n, &tensors)) {
      return s;
    }
    tapegrad::AdamOptions options;
    options.lr = lr;
    options.beta1 = beta1;
    options.beta2 = beta2;
    options.eps = eps;
    options.weight_decay = weight_decay;
    options.decoupled_weight_decay = decoupled != 0;
    return tapegrad::capi::NewOptimizer(
        std::make_unique<tapegrad::nn::Adam>(std::move(tensors), options), out);
  });
}

void tg_optimizer_destroy(tg_optimizer* opt) { delete opt; }

tg_status tg_optimizer_step(tg_optimizer* opt) {
  TG_CAPI_NOT_NULL("tg_optimizer_step", opt);
  return Guard("tg_optimizer_step", [&] { return Fail(opt->optimizer->Step()); });
}

tg_status tg_optimizer_zero_grad(tg_optimizer* opt) {
  TG_CAPI_NOT_NULL("tg_optimizer_zero_grad", opt);
  opt->optimizer->ZeroGrad();
  return TG_OK;
}

tg_status tg_optimizer_set_lr(tg_optimizer* opt, double lr) {
  TG_CAPI_NOT_NULL("tg_optimizer_set_lr", opt);
  opt->optimizer->set_lr(lr);
  return TG_OK;
}

tg_status tg_optimizer_lr(const tg_optimizer* opt, double* out) {
  TG_CAPI_NOT_NULL("tg_optimizer_lr", opt);
  TG_CAPI_NOT_NULL("tg_optimizer_lr", out);
  *out = opt->optimizer->lr();
  return TG_OK;
}

}  // extern "C"
