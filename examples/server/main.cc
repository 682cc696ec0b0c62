// Serves a trained MLP classifier over HTTP (KServe / Triton v2 REST protocol):
//
//   bazel run -c opt //examples:fashion_mnist -- 5 cpu /tmp/fashion.safetensors
//   bazel run -c opt //examples/server -- /tmp/fashion.safetensors 8000 fashion
//   curl localhost:8000/v2/models/fashion
//
// Arguments: CHECKPOINT [PORT (8000; 0: any free port)] [MODEL_NAME (fashion)]
// [HOST (127.0.0.1)]. Prints "listening on HOST:PORT" once it accepts connections;
// SIGTERM or SIGINT stops it cleanly (requests in flight finish), exit status 0.
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>

#include "examples/server/inference_server.h"

namespace {

int stop_pipe[2] = {-1, -1};

void OnSignal(int) {
  const char byte = 1;
  (void)!write(stop_pipe[1], &byte, 1);  // async-signal-safe
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s CHECKPOINT [PORT] [MODEL_NAME] [HOST]\n", argv[0]);
    return 2;
  }
  const std::string path = argv[1];
  const int port = argc > 2 ? std::atoi(argv[2]) : 8000;
  const std::string name = argc > 3 ? argv[3] : "fashion";
  const std::string host = argc > 4 ? argv[4] : "127.0.0.1";

  absl::StatusOr<std::unique_ptr<tapegrad::server::InferenceServer>> server =
      tapegrad::server::InferenceServer::FromCheckpoint(name, path);
  if (!server.ok()) {
    std::fprintf(stderr, "%s\n", server.status().ToString().c_str());
    return 1;
  }
  if (absl::Status s = (*server)->Bind(host, port); !s.ok()) {
    std::fprintf(stderr, "%s\n", s.ToString().c_str());
    return 1;
  }
  // SIGTERM and SIGINT may land on any thread (OpenBLAS starts its own before main):
  // the handler only writes a byte to a pipe, and this thread, reading it, stops
  // the server, outside any signal handler.
  if (pipe(stop_pipe) != 0) return 1;
  struct sigaction action = {};
  action.sa_handler = OnSignal;
  sigaction(SIGTERM, &action, nullptr);
  sigaction(SIGINT, &action, nullptr);
  std::thread stopper([&] {
    char byte;
    while (read(stop_pipe[0], &byte, 1) < 0 && errno == EINTR) {
    }
    (*server)->Stop();
  });
  const auto& info = (*server)->info();
  std::printf("model %s: %lld inputs, %lld classes; listening on %s:%d\n", name.c_str(),
              static_cast<long long>(info.features), static_cast<long long>(info.classes),
              host.c_str(), (*server)->port());
  std::fflush(stdout);
  const absl::Status served = (*server)->ListenAfterBind();
  OnSignal(0);  // if the server stopped on its own, the stopper is still waiting
  stopper.join();
  if (!served.ok()) {
    std::fprintf(stderr, "%s\n", served.ToString().c_str());
    return 1;
  }
  std::printf("stopped\n");
  return 0;
}
