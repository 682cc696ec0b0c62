// An HTTP inference server for an MLP classifier (examples/server/protocol.h's
// protocol) on cpp-httplib: predictions and input gradients from one model shared
// by the server's worker threads, each with its own tape.
//
//   absl::StatusOr<std::unique_ptr<InferenceServer>> server =
//       InferenceServer::FromCheckpoint("fashion", "fashion.safetensors");
//   (*server)->Listen("127.0.0.1", 8000);    // blocks until Stop()
//
// Endpoints: GET /v2/health/live and /v2/health/ready, GET /v2/models/{name},
// POST /v2/models/{name}/infer. Errors are JSON {"error": ...} with 400 (a bad
// request), 404 (an unknown model or path), 413 (a body over kMaxBodyBytes) or 500.
//
// Thread safety: Listen runs the server's thread pool; Stop may be called from any
// thread (a signal-waiting one, say) and makes Listen return.
#ifndef TAPEGRAD_EXAMPLES_SERVER_INFERENCE_SERVER_H_
#define TAPEGRAD_EXAMPLES_SERVER_INFERENCE_SERVER_H_

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "examples/server/protocol.h"
#include "nn/sequential.h"

namespace httplib {
class Server;
}

namespace tapegrad::server {

inline constexpr size_t kMaxBodyBytes = size_t{16} << 20;

class InferenceServer {
 public:
  // An nn::MLP (ReLU between its Linear layers, f32) whose layer sizes are read
  // from the checkpoint's "0.weight", "2.weight", ... and whose weights are loaded
  // from it; served as model `name`.
  static absl::StatusOr<std::unique_ptr<InferenceServer>> FromCheckpoint(
      const std::string& name, const std::string& path);
  ~InferenceServer();

  // Serves on host:port (port 0: any free port; see port()) until Stop().
  absl::Status Listen(const std::string& host, int port);
  // Binds first, then Listen serves: port() is known once Bind returns.
  absl::Status Bind(const std::string& host, int port);
  absl::Status ListenAfterBind();
  int port() const { return port_; }
  void Stop();

  const ModelInfo& info() const { return info_; }
  // One request's outputs, computed on this thread's tape (what /infer runs).
  absl::Status Infer(const InferRequest& request, std::vector<float>* logits,
                     std::vector<float>* input_gradient);

 private:
  InferenceServer(ModelInfo info, std::unique_ptr<nn::MLP> model);
  void Route();

  ModelInfo info_;
  std::unique_ptr<nn::MLP> model_;
  std::unique_ptr<httplib::Server> http_;
  int port_ = 0;
};

}  // namespace tapegrad::server

#endif  // TAPEGRAD_EXAMPLES_SERVER_INFERENCE_SERVER_H_
