// Checkpoints: named tensors in the safetensors format, and a model's (and its
// optimizer's) state saved and restored through it.
//
//   TG_RETURN_IF_ERROR(tapegrad::nn::SaveCheckpoint("run.safetensors", model, &adam));
//   ...                                     // another process, the same model code
//   TG_RETURN_IF_ERROR(tapegrad::nn::LoadCheckpoint("run.safetensors", model, &adam));
//
// The format is safetensors': an 8-byte little-endian header length, a JSON header
// ({"name": {"dtype": "F32", "shape": [2, 3], "data_offsets": [0, 24]}, ...,
// "__metadata__": {...}}), then the tensors' bytes, little-endian and row-major.
// Names are the model's named_parameters() and named_buffers() (PyTorch's
// state_dict names: "0.weight"; tapegrad's Linear keeps its weight [in, out]) and,
// for an optimizer, "optimizer." + its state() names. dtypes F32, F64 and I64.
//
// Saving is atomic: the file is written beside its final path under a temporary
// name, flushed to disk (fsync), then renamed over the path (and the directory is
// flushed), so a crash leaves the old file or the new one, never a part. Loading
// checks everything first (the header's bounds and types, every byte range, every
// name, dtype and shape against the model) and changes nothing unless all of it
// matches; every error names the file and the tensor.
//
// Thread safety: saving reads the tensors and loading writes them: nothing may
// update (or, when loading, read) them meanwhile. Different files are independent.
#ifndef TAPEGRAD_NN_CHECKPOINT_H_
#define TAPEGRAD_NN_CHECKPOINT_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "nn/module.h"
#include "nn/optimizer.h"

namespace tapegrad::nn {

// Writes `tensors` (any device, any layout; names unique and not "__metadata__")
// to `path` atomically.
absl::Status SaveTensors(const std::string& path, absl::Span<const NamedTensor> tensors);
// Reads every tensor of a safetensors file into new heap tensors, in file order.
absl::StatusOr<std::vector<NamedTensor>> LoadTensors(const std::string& path);

// The model's parameters and buffers, and the optimizer's state if one is given.
absl::Status SaveCheckpoint(const std::string& path, const Module& model,
                            const Optimizer* optimizer = nullptr);
// Restores what SaveCheckpoint saved into a model (and optimizer) of the same
// structure: the file must hold exactly their tensors.
absl::Status LoadCheckpoint(const std::string& path, const Module& model,
                            Optimizer* optimizer = nullptr);

}  // namespace tapegrad::nn

#endif  // TAPEGRAD_NN_CHECKPOINT_H_
