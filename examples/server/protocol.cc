#include "examples/server/protocol.h"

#include <cmath>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_format.h"
#include "nlohmann/json.hpp"

namespace tapegrad::server {
namespace {

using nlohmann::json;

absl::Status Bad(const std::string& message) {
  return absl::InvalidArgumentError(message);
}

// Appends the numbers of `data` (flat, or nested as the shape is) to `out`; false
// if an element is not a finite number, there would be more than `limit`, or the
// nesting is deeper than the shape.
bool Flatten(const json& data, size_t limit, int depth, std::vector<float>* out,
             std::string* error) {
  if (data.is_array()) {
    if (depth == 2) {
      *error = "input data is nested deeper than its shape";
      return false;
    }
    for (const json& d : data) {
      if (!Flatten(d, limit, depth + 1, out, error)) return false;
    }
    return true;
  }
  if (!data.is_number()) {
    *error = "input data holds " + std::string(data.type_name()) + ", not numbers";
    return false;
  }
  const double v = data.get<double>();
  if (!std::isfinite(v) || std::fabs(v) > 3.4e38) {
    *error = "input data holds a number that is not a finite FP32";
    return false;
  }
  if (out->size() == limit) {
    *error = absl::StrFormat("input data holds more than the shape's %d numbers", limit);
    return false;
  }
  out->push_back(static_cast<float>(v));
  return true;
}

json Output(const char* name, int64_t batch, int64_t n, const std::vector<float>& data) {
  return {{"name", name}, {"shape", {batch, n}}, {"datatype", "FP32"}, {"data", data}};
}

}  // namespace

absl::StatusOr<InferRequest> ParseInferRequest(absl::string_view body,
                                               const ModelInfo& model) {
  const json request = json::parse(body.begin(), body.end(), nullptr,
                                   /*allow_exceptions=*/false, /*ignore_comments=*/false);
  if (!request.is_object()) return Bad("the body is not a JSON object");
  InferRequest out;
  if (auto id = request.find("id"); id != request.end()) {
    if (!id->is_string()) return Bad("\"id\" must be a string");
    out.id = id->get<std::string>();
  }
  const auto inputs = request.find("inputs");
  if (inputs == request.end() || !inputs->is_array() || inputs->size() != 1) {
    return Bad("\"inputs\" must be an array of one input, \"input\"");
  }
  const json& input = (*inputs)[0];
  if (!input.is_object()) return Bad("the input must be a JSON object");
  const auto name = input.find("name");
  if (name == input.end() || *name != "input") {
    return Bad("the input must be named \"input\"");
  }
  const auto datatype = input.find("datatype");
  if (datatype == input.end() || *datatype != "FP32") {
    return Bad("the input's datatype must be \"FP32\"");
  }
  const auto shape = input.find("shape");
  if (shape == input.end() || !shape->is_array() || shape->size() != 2 ||
      !(*shape)[0].is_number_integer() || !(*shape)[1].is_number_integer() ||
      (*shape)[1].get<int64_t>() != model.features) {
    return Bad(absl::StrFormat("the input's shape must be [batch, %d]", model.features));
  }
  out.batch = (*shape)[0].get<int64_t>();
  if (out.batch < 1 || out.batch > kMaxBatch) {
    return Bad(
        absl::StrFormat("the batch must be 1 to %d, not %d", kMaxBatch, out.batch));
  }
  const auto data = input.find("data");
  if (data == input.end()) return Bad("the input has no \"data\"");
  const size_t count = static_cast<size_t>(out.batch * model.features);
  out.input.reserve(count);
  std::string error;
  if (!Flatten(*data, count, /*depth=*/0, &out.input, &error)) return Bad(error);
  if (out.input.size() != count) {
    return Bad(absl::StrFormat("the input data holds %d numbers; shape [%d, %d] needs %d",
                               out.input.size(), out.batch, model.features, count));
  }
  if (auto outputs = request.find("outputs"); outputs != request.end()) {
    if (!outputs->is_array()) return Bad("\"outputs\" must be an array");
    out.logits = outputs->empty();
    for (const json& o : *outputs) {
      const auto n = o.is_object() ? o.find("name") : o.end();
      if (o.is_object() && n != o.end() && *n == "logits") {
        out.logits = true;
      } else if (o.is_object() && n != o.end() && *n == "input_gradient") {
        out.input_gradient = true;
      } else {
        return Bad("outputs are \"logits\" and \"input_gradient\"; got " + o.dump());
      }
    }
  }
  return out;
}

std::string ModelMetadataJson(const ModelInfo& model) {
  return json{
      {"name", model.name},
      {"versions", {"1"}},
      {"platform", "tapegrad"},
      {"inputs",
       {{{"name", "input"}, {"datatype", "FP32"}, {"shape", {-1, model.features}}}}},
      {"outputs",
       {{{"name", "logits"}, {"datatype", "FP32"}, {"shape", {-1, model.classes}}},
        {{"name", "input_gradient"},
         {"datatype", "FP32"},
         {"shape", {-1, model.features}}}}}}
      .dump();
}

std::string InferResponseJson(const ModelInfo& model, const InferRequest& request,
                              const std::vector<float>& logits,
                              const std::vector<float>& input_gradient) {
  json outputs = json::array();
  if (request.logits)
    outputs.push_back(Output("logits", request.batch, model.classes, logits));
  if (request.input_gradient) {
    outputs.push_back(
        Output("input_gradient", request.batch, model.features, input_gradient));
  }
  json response = {
      {"model_name", model.name}, {"model_version", "1"}, {"outputs", outputs}};
  if (!request.id.empty()) response["id"] = request.id;
  return response.dump();
}

std::string ErrorJson(absl::string_view message) {
  return json{{"error", std::string(message)}}.dump();
}

}  // namespace tapegrad::server
