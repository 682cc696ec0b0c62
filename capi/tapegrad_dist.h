/* tapegrad's C ABI, dist: data-parallel training over MPI, and over NCCL for
 * models on GPUs (dist/process_group.h, dist/data_parallel.h). Only in
 * libtapegrad_dist.so, which is libtapegrad.so plus these calls and links Open MPI
 * (and, built with --config=cuda, NCCL); libtapegrad.so stays free of both. Start
 * the job with mpirun; outside it a group is one process. The conventions of
 * capi/tapegrad.h hold.
 *
 *   tg_process_group* group;
 *   tg_process_group_mpi(0, &group);              // 0: the default timeout (5 min)
 *   tg_data_parallel* ddp;                        // checks and broadcasts the model
 *   tg_data_parallel_create(group, params, n, NULL, 0, 0, 1, &ddp);
 *   ... forward and tg_tensor_backward on this rank's shard ...
 *   tg_data_parallel_average_gradients(ddp);      // then the optimizer's step
 *
 * Every rank makes the same calls in the same order. A collective that waits past
 * the timeout (a rank died, hung or took another path) is TG_DEADLINE_EXCEEDED and
 * the group refuses later calls.
 *
 * Thread safety: a group, and a DataParallel over it, is used by one thread at a
 * time.
 */
#ifndef TAPEGRAD_CAPI_TAPEGRAD_DIST_H_
#define TAPEGRAD_CAPI_TAPEGRAD_DIST_H_

#include "capi/tapegrad.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct tg_process_group tg_process_group;
typedef struct tg_data_parallel tg_data_parallel;

/* The job's processes (MPI_COMM_WORLD), initialising MPI on first use; a
 * collective waits at most timeout_ms (0: 5 minutes). */
TG_API tg_status tg_process_group_mpi(int64_t timeout_ms, tg_process_group** out);
/* The same ranks as `bootstrap` (an MPI group, which carries NCCL's set-up; it
 * may be destroyed afterwards), exchanging tensors on CUDA device `cuda_index`
 * (this rank's GPU) through NCCL. Needs a library built with --config=cuda. */
TG_API tg_status tg_process_group_nccl(tg_process_group* bootstrap, int cuda_index,
                                       int64_t timeout_ms, tg_process_group** out);
/* Destroy the DataParallels over a group first. */
TG_API void tg_process_group_destroy(tg_process_group* group);
TG_API tg_status tg_process_group_rank(const tg_process_group* group, int* rank,
                                       int* size);
/* In place on a contiguous tensor of f32 or f64 on the group's device (the CPU
 * for MPI, its GPU for NCCL): the sum (mean = 0) or the mean (mean = 1) over
 * ranks; root's values on every rank; a barrier. */
TG_API tg_status tg_process_group_allreduce(tg_process_group* group, tg_tensor* t,
                                            int mean);
TG_API tg_status tg_process_group_broadcast(tg_process_group* group, tg_tensor* t,
                                            int root);
TG_API tg_status tg_process_group_barrier(tg_process_group* group);

/* One model replicated on every rank, given as its parameter tensors (heap
 * tensors that require grad, on the group's device, in one order on every
 * rank) and buffers (heap
 * tensors such as running statistics): checks that every rank passed the same
 * shapes and dtypes (an error on every rank if not), copies rank 0's values to
 * the others, and averages the parameters' gradients in buckets of at most
 * bucket_bytes (0: 25 MB), started during the backward with `overlap` (set it to
 * 0 to accumulate gradients over several backwards per step). */
TG_API tg_status tg_data_parallel_create(tg_process_group* group,
                                         tg_tensor* const* parameters,
                                         size_t num_parameters, tg_tensor* const* buffers,
                                         size_t num_buffers, int64_t bucket_bytes,
                                         int overlap, tg_data_parallel** out);
TG_API void tg_data_parallel_destroy(tg_data_parallel* ddp);
/* Replaces every parameter's gradient by its mean over the ranks. */
TG_API tg_status tg_data_parallel_average_gradients(tg_data_parallel* ddp);

#ifdef __cplusplus
}
#endif

#endif /* TAPEGRAD_CAPI_TAPEGRAD_DIST_H_ */
