// capi_fuzzer's module and optimizer steps.
#include <cstdint>

#include "tests/fuzz/capi_fuzz_session.h"

namespace tapegrad::fuzz {

void Session::Module() {
  tg_tensor* out = nullptr;
  switch (in_.ConsumeIntegralInRange<int>(0, 4)) {
    case 0: {
      tg_module* m = nullptr;
      if (tg_linear_create(PickSize(in_), PickSize(in_), in_.ConsumeBool(),
                           static_cast<tg_dtype>(in_.ConsumeIntegralInRange<int>(0, 3)),
                           1, &m) == TG_OK) {
        tg_module_destroy(module_);
        module_ = m;
      }
      break;
    }
    case 1: {
      const std::vector<int64_t> nouts = Shape(3);
      tg_module* m = nullptr;
      if (tg_mlp_create(PickSize(in_), nouts.data(), nouts.size(),
                        static_cast<tg_activation>(in_.ConsumeIntegralInRange<int>(0, 4)),
                        TG_F64, 2, &m) == TG_OK) {
        tg_module_destroy(module_);
        module_ = m;
      }
      break;
    }
    case 2:
      Keep(tg_module_forward(module_, AnyTensor(), &out), out);
      break;
    case 3: {
      char text[128];
      size_t n;
      tg_module_format(module_, text, sizeof(text), &n);
      tg_module_train(module_, in_.ConsumeBool());
      break;
    }
    default:
      tg_module_zero_grad(module_);
  }
}

void Session::Optimizer() {
  if (in_.ConsumeBool()) {
    std::vector<tg_tensor*> params(in_.ConsumeIntegralInRange<size_t>(0, 3));
    for (tg_tensor*& p : params) p = AnyTensor();
    tg_optimizer* o = nullptr;
    const tg_status s =
        in_.ConsumeBool()
            ? tg_sgd_create(params.data(), params.size(), PickNumber(in_),
                            PickNumber(in_), PickNumber(in_), in_.ConsumeBool(), &o)
            : tg_adam_create(params.data(), params.size(), PickNumber(in_),
                             PickNumber(in_), PickNumber(in_), PickNumber(in_),
                             PickNumber(in_), in_.ConsumeBool(), &o);
    if (s == TG_OK) {
      tg_optimizer_destroy(optimizer_);
      optimizer_ = o;
    }
    return;
  }
  double lr;
  tg_optimizer_step(optimizer_);
  tg_optimizer_zero_grad(optimizer_);
  tg_optimizer_set_lr(optimizer_, PickNumber(in_));
  tg_optimizer_lr(optimizer_, &lr);
}

}  // namespace tapegrad::fuzz
