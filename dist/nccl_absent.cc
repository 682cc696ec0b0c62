// ProcessGroup::Nccl in builds without the CUDA backend.
#include "dist/process_group.h"

namespace tapegrad::dist {

absl::StatusOr<std::unique_ptr<ProcessGroup>> ProcessGroup::Nccl(ProcessGroup&, Device,
                                                                 ProcessGroupOptions) {
  return absl::FailedPreconditionError(
      "dist: a NCCL process group needs tapegrad built with --config=cuda");
}

}  // namespace tapegrad::dist
