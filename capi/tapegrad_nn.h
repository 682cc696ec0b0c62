/* tapegrad's C ABI, nn: Linear and MLP modules, SGD and Adam optimizers. Part of
 * capi/tapegrad.h (include that), whose conventions hold here.
 *
 *   const int64_t nouts[2] = {16, 1};
 *   tg_module* mlp;
 *   tg_mlp_create(2, nouts, 2, TG_ACT_RELU, TG_F32, 42, &mlp);
 *   tg_module_forward(mlp, x, &y);                 // x: a tg_tensor [N, 2]
 *
 * Thread safety: a module or optimizer is used by one thread at a time.
 */
#ifndef TAPEGRAD_CAPI_TAPEGRAD_NN_H_
#define TAPEGRAD_CAPI_TAPEGRAD_NN_H_

#include "capi/tapegrad.h"
#include "capi/tapegrad_tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- nn: modules and optimizers --------------------------------------------- */

typedef struct tg_module tg_module;
typedef struct tg_optimizer tg_optimizer;

typedef enum tg_activation TG_ENUM_INT {
  TG_ACT_RELU = 0,
  TG_ACT_TANH = 1,
  TG_ACT_SIGMOID = 2,
  TG_ACT_GELU = 3
} tg_activation;

/* nn::Linear(in, out) with PyTorch's default init drawn from `seed`. */
TG_API tg_status tg_linear_create(int64_t in_features, int64_t out_features, int bias,
                                  tg_dtype dtype, uint64_t seed, tg_module** out);
/* nn::MLP(nin, nouts): Linear layers with `activation` between them. */
TG_API tg_status tg_mlp_create(int64_t nin, const int64_t* nouts, size_t n_layers,
                               tg_activation activation, tg_dtype dtype, uint64_t seed,
                               tg_module** out);
TG_API void tg_module_destroy(tg_module* m);
TG_API tg_status tg_module_forward(tg_module* m, const tg_tensor* x, tg_tensor** out);
/* New handles to the parameters (PyTorch's order); writes at most `capacity`,
 * the full number to *count. The caller destroys the handles. */
TG_API tg_status tg_module_parameters(const tg_module* m, tg_tensor** out,
                                      size_t capacity, size_t* count);
TG_API tg_status tg_module_zero_grad(tg_module* m);
/* Moves the parameters and buffers to (device, index), as nn::Module::To; make
 * optimizers after moving. An unavailable device is an error that changes nothing. */
TG_API tg_status tg_module_to(tg_module* m, tg_device_type device, int index);
TG_API tg_status tg_module_train(tg_module* m, int training);
/* PyTorch's repr into buf, as tg_tensor_format. */
TG_API tg_status tg_module_format(const tg_module* m, char* buf, size_t capacity,
                                  size_t* length);

/* Optimizers over `n` parameter tensors (handles are copied). */
TG_API tg_status tg_sgd_create(tg_tensor* const* params, size_t n, double lr,
                               double momentum, double weight_decay, int nesterov,
                               tg_optimizer** out);
TG_API tg_status tg_adam_create(tg_tensor* const* params, size_t n, double lr,
                                double beta1, double beta2, double eps,
                                double weight_decay, int decoupled, tg_optimizer** out);
TG_API void tg_optimizer_destroy(tg_optimizer* opt);
TG_API tg_status tg_optimizer_step(tg_optimizer* opt);
TG_API tg_status tg_optimizer_zero_grad(tg_optimizer* opt);
TG_API tg_status tg_optimizer_set_lr(tg_optimizer* opt, double lr);
TG_API tg_status tg_optimizer_lr(const tg_optimizer* opt, double* out);

/* ---- Checkpoints: the safetensors format (nn/checkpoint.h) ------------------ */

/* Named tensors read from a file. */
typedef struct tg_tensor_list tg_tensor_list;

/* Writes tensors[i] under names[i] (unique; any device or layout) to `path`,
 * atomically: a crash leaves the old file or the new one, never a part. */
TG_API tg_status tg_tensors_save(const char* path, const char* const* names,
                                 const tg_tensor* const* tensors, size_t count);
/* Reads every tensor of a safetensors file (F32, F64, I64) as new heap tensors, in
 * file order. A truncated or malformed file is TG_DATA_LOSS naming the tensor. */
TG_API tg_status tg_tensors_load(const char* path, tg_tensor_list** out);
TG_API tg_status tg_tensor_list_size(const tg_tensor_list* list, size_t* out);
/* Tensor i: its name (valid until the list is destroyed) and a new handle. */
TG_API tg_status tg_tensor_list_get(const tg_tensor_list* list, size_t i,
                                    const char** name, tg_tensor** tensor);
TG_API void tg_tensor_list_destroy(tg_tensor_list* list);
/* A module's parameters and buffers (PyTorch's state_dict names), and the
 * optimizer's state unless `opt` is NULL. */
TG_API tg_status tg_module_save(const tg_module* m, const tg_optimizer* opt,
                                const char* path);
/* Restores what tg_module_save wrote into a module (and optimizer) of the same
 * structure; nothing changes unless every tensor matches. */
TG_API tg_status tg_module_load(tg_module* m, tg_optimizer* opt, const char* path);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* TAPEGRAD_CAPI_TAPEGRAD_NN_H_ */
