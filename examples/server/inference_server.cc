#include "examples/server/inference_server.h"

#include <httplib.h>

#include <algorithm>
#include <exception>
#include <string>
#include <utility>
#include <vector>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/str_format.h"
#include "core/grad_mode.h"
#include "core/random.h"
#include "core/status_macros.h"
#include "core/tape.h"
#include "core/tensor.h"
#include "core/tensor_ops.h"
#include "nn/checkpoint.h"

namespace tapegrad::server {
namespace {

constexpr char kJson[] = "application/json";

void Reply(httplib::Response& res, int status, const std::string& body) {
  res.status = status;
  res.set_content(body, kJson);
}

std::string Reason(int status) {
  switch (status) {
    case 400:
      return "bad request";
    case 404:
      return "no such path";
    case 413:
      return absl::StrFormat("the request body is over %d bytes", kMaxBodyBytes);
    default:
      return absl::StrFormat("HTTP status %d", status);
  }
}

}  // namespace

absl::StatusOr<std::unique_ptr<InferenceServer>> InferenceServer::FromCheckpoint(
    const std::string& name, const std::string& path) {
  TG_ASSIGN_OR_RETURN(std::vector<nn::NamedTensor> tensors, nn::LoadTensors(path));
  // nn::MLP names its Linear layers 0, 2, 4, ... (an activation between them).
  std::vector<int64_t> sizes;
  int64_t features = 0;
  for (int layer = 0;; layer += 2) {
    const std::string weight = absl::StrFormat("%d.weight", layer);
    auto it = std::find_if(tensors.begin(), tensors.end(),
                           [&](const nn::NamedTensor& t) { return t.name == weight; });
    if (it == tensors.end()) break;
    if (it->tensor.dim() != 2) {
      return absl::InvalidArgumentError(
          absl::StrFormat("%s: %s is not a matrix", path, weight));
    }
    if (layer == 0) features = it->tensor.size(0);
    sizes.push_back(it->tensor.size(1));
  }
  if (sizes.empty()) {
    return absl::InvalidArgumentError(
        absl::StrFormat("%s: no \"0.weight\": not an MLP checkpoint", path));
  }
  Random rng(0);
  auto model = std::make_unique<nn::MLP>(features, absl::MakeConstSpan(sizes), rng);
  TG_RETURN_IF_ERROR(nn::LoadCheckpoint(path, *model));
  ModelInfo info{name, features, sizes.back()};
  return std::unique_ptr<InferenceServer>(new InferenceServer(info, std::move(model)));
}

InferenceServer::InferenceServer(ModelInfo info, std::unique_ptr<nn::MLP> model)
    : info_(std::move(info)), model_(std::move(model)), http_(new httplib::Server) {
  Route();
}

InferenceServer::~InferenceServer() = default;

absl::Status InferenceServer::Infer(const InferRequest& request,
                                    std::vector<float>* logits,
                                    std::vector<float>* input_gradient) {
  // Each worker thread records on its own tape, rewound after every request; the
  // model's parameters are only read (Note [Shared parameters] in core).
  thread_local Tape tape;
  TapeScope scope(&tape);
  const TapeMark mark = tape.Mark();
  absl::Cleanup rewind = [&] {
    tape.ClearError();
    (void)tape.Rewind(mark);
  };
  Tensor x = Tensor::FromData(absl::MakeConstSpan(request.input),
                              {request.batch, info_.features});
  if (!request.input_gradient) {
    NoGradScope no_grad;
    const Tensor y = (*model_)(x);
    TG_RETURN_IF_ERROR(y.status());
    *logits = y.ToFloatVector();
    return absl::OkStatus();
  }
  x.RequiresGrad();
  const Tensor y = (*model_)(x);
  TG_RETURN_IF_ERROR(y.status());
  *logits = y.ToFloatVector();
  // d logit[predicted class] / d input, each row for its own prediction.
  std::vector<float> predicted(logits->size(), 0.0f);
  for (int64_t row = 0; row < request.batch; ++row) {
    const auto begin = logits->begin() + row * info_.classes;
    predicted[row * info_.classes +
              (std::max_element(begin, begin + info_.classes) - begin)] = 1.0f;
  }
  const Tensor mask =
      Tensor::FromData(absl::MakeConstSpan(predicted), {request.batch, info_.classes});
  TG_RETURN_IF_ERROR(Sum(y * mask).BackwardInto({x}));
  *input_gradient = x.grad().ToFloatVector();
  return absl::OkStatus();
}

void InferenceServer::Route() {
  httplib::Server& http = *http_;
  http.set_payload_max_length(kMaxBodyBytes);
  // A response is one small write: with Nagle's algorithm it would wait for the
  // client's delayed ACK (40 ms a request on Linux).
  http.set_tcp_nodelay(true);
  http.Get("/v2/health/live", [](const httplib::Request&, httplib::Response& res) {
    Reply(res, 200, R"({"live":true})");
  });
  http.Get("/v2/health/ready", [](const httplib::Request&, httplib::Response& res) {
    Reply(res, 200, R"({"ready":true})");
  });
  http.Get(R"(/v2/models/([^/]+))", [this](const httplib::Request& req,
                                           httplib::Response& res) {
    if (req.matches[1] != info_.name) {
      return Reply(res, 404, ErrorJson("no model named " + std::string(req.matches[1])));
    }
    Reply(res, 200, ModelMetadataJson(info_));
  });
  http.Post(R"(/v2/models/([^/]+)/infer)", [this](const httplib::Request& req,
                                                  httplib::Response& res) {
    if (req.matches[1] != info_.name) {
      return Reply(res, 404, ErrorJson("no model named " + std::string(req.matches[1])));
    }
    absl::StatusOr<InferRequest> request = ParseInferRequest(req.body, info_);
    if (!request.ok()) return Reply(res, 400, ErrorJson(request.status().message()));
    std::vector<float> logits, gradient;
    if (absl::Status s = Infer(*request, &logits, &gradient); !s.ok()) {
      const int status = s.code() == absl::StatusCode::kResourceExhausted ? 503 : 500;
      return Reply(res, status, ErrorJson(s.message()));
    }
    Reply(res, 200, InferResponseJson(info_, *request, logits, gradient));
  });
  // Whatever httplib answers on its own (404, 413, ...) gets a JSON body too.
  http.set_error_handler([](const httplib::Request&, httplib::Response& res) {
    if (res.body.empty()) {
      res.set_content(ErrorJson(Reason(res.status)), kJson);
    }
  });
  http.set_exception_handler(
      [](const httplib::Request&, httplib::Response& res, std::exception_ptr) {
        Reply(res, 500, ErrorJson("internal error"));
      });
}

absl::Status InferenceServer::Bind(const std::string& host, int port) {
  port_ = port == 0 ? http_->bind_to_any_port(host) : port;
  if (port_ <= 0 || (port != 0 && !http_->bind_to_port(host, port))) {
    return absl::UnavailableError(absl::StrFormat("cannot listen on %s:%d", host, port));
  }
  return absl::OkStatus();
}

absl::Status InferenceServer::ListenAfterBind() {
  if (!http_->listen_after_bind()) {
    return absl::UnavailableError("the server stopped with an error");
  }
  return absl::OkStatus();
}

absl::Status InferenceServer::Listen(const std::string& host, int port) {
  TG_RETURN_IF_ERROR(Bind(host, port));
  return ListenAfterBind();
}

void InferenceServer::Stop() { http_->stop(); }

}  // namespace tapegrad::server
