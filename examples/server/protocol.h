// The KServe / Triton Open Inference Protocol v2, REST and JSON, for one model
// with one FP32 input [batch, features] and two outputs: "logits" [batch, classes]
// and "input_gradient" [batch, features] (d logit[predicted class] / d input, a
// saliency map), which a request asks for by name in "outputs" (logits only if it
// names none).
//
//   POST /v2/models/fashion/infer
//   {"id": "7", "inputs": [{"name": "input", "shape": [1, 784], "datatype": "FP32",
//                           "data": [0.0, 0.1, ...]}],
//    "outputs": [{"name": "logits"}, {"name": "input_gradient"}]}
//
// Parsing checks everything a client can get wrong and says what, in a message for
// a 400 response: not JSON, no single input, a wrong name, datatype or shape, a
// batch of 0 or over kMaxBatch, data of the wrong length (flat or nested as the
// shape) or not finite numbers, an unknown output.
//
// Thread safety: pure functions.
#ifndef TAPEGRAD_EXAMPLES_SERVER_PROTOCOL_H_
#define TAPEGRAD_EXAMPLES_SERVER_PROTOCOL_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace tapegrad::server {

inline constexpr int64_t kMaxBatch = 256;

struct ModelInfo {
  std::string name;
  int64_t features = 0;  // the input's second dimension
  int64_t classes = 0;   // the logits' second dimension
};

struct InferRequest {
  std::string id;  // echoed in the response ("" if none)
  int64_t batch = 0;
  std::vector<float> input;  // batch * features, row-major
  bool logits = true;
  bool input_gradient = false;
};

// An InvalidArgument status (a 400 response) says what is wrong with `body`.
absl::StatusOr<InferRequest> ParseInferRequest(absl::string_view body,
                                               const ModelInfo& model);

// GET /v2/models/{name}: the model's metadata.
std::string ModelMetadataJson(const ModelInfo& model);
// The response to `request`: its outputs, each [batch, n] row-major.
std::string InferResponseJson(const ModelInfo& model, const InferRequest& request,
                              const std::vector<float>& logits,
                              const std::vector<float>& input_gradient);
// {"error": message}, the body of every 4xx and 5xx response.
std::string ErrorJson(absl::string_view message);

}  // namespace tapegrad::server

#endif  // TAPEGRAD_EXAMPLES_SERVER_PROTOCOL_H_
