/* tapegrad's C ABI, images: convolution, pooling, normalization, embedding, as
 * torch.nn.functional's conv2d, max_pool2d, avg_pool2d, adaptive_avg_pool2d,
 * batch_norm, layer_norm, embedding and torch.flatten. Part of capi/tapegrad.h
 * (include that), whose conventions hold here.
 *
 *   const int64_t stride[2] = {1, 1}, padding[2] = {1, 1}, dilation[2] = {1, 1};
 *   tg_tensor* y;
 *   tg_tensor_conv2d(x, w, b, stride, padding, dilation, 1, &y);  // x [N, C, H, W]
 *
 * Images are NCHW; pairs are (height, width). Optional operands (a bias, affine
 * weights, running statistics) may be NULL; every other pointer may not.
 *
 * Thread safety: as the tensors' (one thread at a time per tape).
 */
#ifndef TAPEGRAD_CAPI_TAPEGRAD_IMAGE_H_
#define TAPEGRAD_CAPI_TAPEGRAD_IMAGE_H_

#include "capi/tapegrad.h"
#include "capi/tapegrad_tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* x [N, C, H, W], weight [O, C / groups, KH, KW], bias [O] or NULL. */
TG_API tg_status tg_tensor_conv2d(const tg_tensor* x, const tg_tensor* weight,
                                  const tg_tensor* bias, const int64_t stride[2],
                                  const int64_t padding[2], const int64_t dilation[2],
                                  int64_t groups, tg_tensor** out);
/* Max pooling, or average pooling if `average` (then dilation must be {1, 1}, and
 * count_include_pad says whether padding counts in the divisor). A stride of 0
 * is the kernel's size. */
TG_API tg_status tg_tensor_pool2d(int average, const tg_tensor* x,
                                  const int64_t kernel[2], const int64_t stride[2],
                                  const int64_t padding[2], const int64_t dilation[2],
                                  int count_include_pad, tg_tensor** out);
TG_API tg_status tg_tensor_adaptive_avg_pool2d(const tg_tensor* x, const int64_t size[2],
                                               tg_tensor** out);
/* Normalizes x [N, C, ...] per channel. `training`: by the batch's statistics,
 * updating running_mean and running_var (heap tensors [C], if given) in place;
 * else by the running statistics, which must then be given. */
TG_API tg_status tg_tensor_batch_norm(const tg_tensor* x, tg_tensor* running_mean,
                                      tg_tensor* running_var, const tg_tensor* weight,
                                      const tg_tensor* bias, int training,
                                      double momentum, double eps, tg_tensor** out);
/* relu(batch_norm(...)) with the same arguments; in training with weight and bias
 * the ReLU runs inside the normalization's kernels (fewer passes over x). */
TG_API tg_status tg_tensor_batch_norm_relu(const tg_tensor* x, tg_tensor* running_mean,
                                           tg_tensor* running_var,
                                           const tg_tensor* weight, const tg_tensor* bias,
                                           int training, double momentum, double eps,
                                           tg_tensor** out);
/* Normalizes over the last `normalized_axes` axes; weight and bias have their shape. */
TG_API tg_status tg_tensor_layer_norm(const tg_tensor* x, int64_t normalized_axes,
                                      const tg_tensor* weight, const tg_tensor* bias,
                                      double eps, tg_tensor** out);
/* Rows of weight [V, D] at int64 indices of any shape: [*indices, D]. */
TG_API tg_status tg_tensor_embedding(const tg_tensor* weight, const tg_tensor* indices,
                                     tg_tensor** out);
/* Axes start..end (inclusive; negative counts from the back) merged into one. */
TG_API tg_status tg_tensor_flatten(const tg_tensor* x, int64_t start, int64_t end,
                                   tg_tensor** out);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* TAPEGRAD_CAPI_TAPEGRAD_IMAGE_H_ */
