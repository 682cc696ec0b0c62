// The Fashion-MNIST MLP of examples:fashion_mnist trained data-parallel across
// processes: every rank holds the model, reads its own shard of each epoch, and
// averages gradients with the others after each backward, so that the replicas
// step identically. The global batch stays 64 (64 / ranks each), as one process
// trains, and so does the accuracy it reaches. Rank 0 prints.
//
//   bazel build -c opt //examples:fashion_mnist_ddp
//   mpirun -np 2 bazel-bin/examples/fashion_mnist_ddp [EPOCHS]
//
// (as root, mpirun wants --allow-run-as-root; on one machine, one thread per rank.)
#include <cstdio>
#include <cstdlib>
#include <memory>

#include "dist/data_parallel.h"
#include "dist/process_group.h"
#include "examples/classify.h"
#include "kernels/cpu/parallel.h"
#include "nn/sequential.h"

int main(int argc, char** argv) {
  using namespace tapegrad;
  const int epochs = argc > 1 ? std::atoi(argv[1]) : 5;
  absl::StatusOr<std::unique_ptr<dist::ProcessGroup>> group = dist::ProcessGroup::Mpi();
  if (!group.ok()) {
    std::fprintf(stderr, "%s\n", group.status().ToString().c_str());
    return 1;
  }
  dist::ProcessGroup& world = **group;
  cpu::SetNumThreads(1);     // ranks share the machine's cores
  Random rng(world.rank());  // Create copies rank 0's initial weights everywhere
  nn::MLP model(784, {256, 256, 10}, rng);
  absl::StatusOr<std::unique_ptr<dist::DataParallel>> ddp =
      dist::DataParallel::Create(world, model);
  if (!ddp.ok()) {
    std::fprintf(stderr, "rank %d: %s\n", world.rank(), ddp.status().ToString().c_str());
    return 1;
  }
  if (world.rank() == 0) std::printf("data-parallel over %d ranks\n", world.size());
  nn::BatchOptions batches;
  batches.batch_size = 64 / world.size();
  batches.seed = 1;
  examples::ClassifierRun run;
  run.trainer.after_backward = [&] { return (*ddp)->AverageGradients(); };
  run.print = world.rank() == 0;
  return examples::RunFashionMnist(model, epochs, 0.87,
                                   dist::ShardOptions(world, batches), run);
}
