// Which algorithm Open MPI's non-blocking allreduce takes, chosen per call by
// the bytes it moves. Internal to //dist: ProcessGroup calls it before each
// MPI_Iallreduce.
//
// Note [Allreduce algorithm]: Open MPI 4.1's non-blocking collectives (its libnbc
// component) give every in-place allreduce, and every allreduce on fewer than 4
// ranks, to a binomial tree: a reduce to rank 0 followed by a broadcast from it, so
// each byte goes through one rank twice and the rounds of latency double. Measured
// on 2 ranks over TCP, that ran at 0.4-0.85x the speed of a blocking MPI_Allreduce
// of the same bytes, whose own ("tuned") module picks by size. libnbc has the
// better algorithms, behind its control variable
// coll_libnbc_iallreduce_algorithm, which the MPI tool interface (MPI_T) can set
// between calls. So below 64 KB, where the rounds of latency dominate, each call
// takes recursive doubling (log2 p rounds); from 64 KB, where bandwidth does,
// the ring (each rank sends and receives 2(p-1)/p of the data, the least any
// allreduce can). Both leave the same bits on every rank. Measured the same way,
// that is 0.97-1.5x the blocking call at every size from 4 KB to 16 MB, with no
// chunking. 64 KB is the size at which Open MPI's own libnbc default changes
// algorithm for larger groups. A user who sets the variable (mpirun --mca
// coll_libnbc_iallreduce_algorithm N, or OMPI_MCA_... in the environment) keeps
// their choice, and under an MPI without the variable this does nothing.
//
// Thread safety: as ProcessGroup (MPI is serialized): one call at a time.
#ifndef TAPEGRAD_DIST_INTERNAL_ALLREDUCE_ALGORITHM_H_
#define TAPEGRAD_DIST_INTERNAL_ALLREDUCE_ALGORITHM_H_

#include <cstddef>

namespace tapegrad::dist::internal {

// Sets the algorithm of the next MPI_Iallreduce for a call of `bytes` bytes. MPI
// must be initialised.
void ChooseAllreduceAlgorithm(size_t bytes);

}  // namespace tapegrad::dist::internal

#endif  // TAPEGRAD_DIST_INTERNAL_ALLREDUCE_ALGORITHM_H_
