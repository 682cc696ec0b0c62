// The inference server's request parser (examples/server/protocol.h) on arbitrary
// bodies: it must return a request that fits the model or an InvalidArgument
// status, and a response built from any accepted request must be valid JSON.
#include <cstdlib>
#include <string>
#include <vector>

#include "examples/server/protocol.h"
#include "nlohmann/json.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const tapegrad::server::ModelInfo model{"m", 8, 3};
  const absl::string_view body(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<tapegrad::server::InferRequest> request =
      tapegrad::server::ParseInferRequest(body, model);
  if (!request.ok()) {
    if (request.status().code() != absl::StatusCode::kInvalidArgument) std::abort();
    return 0;
  }
  if (request->batch < 1 || request->batch > tapegrad::server::kMaxBatch ||
      request->input.size() != static_cast<size_t>(request->batch * model.features)) {
    std::abort();
  }
  const std::vector<float> logits(request->batch * model.classes, 0.5f);
  const std::vector<float> gradient(request->input.size(), -0.25f);
  const std::string response =
      tapegrad::server::InferResponseJson(model, *request, logits, gradient);
  if (nlohmann::json::parse(response, nullptr, false).is_discarded()) std::abort();
  return 0;
}
