// The inference server end to end over loopback: health, metadata, predictions and
// input gradients equal to the model's own, every kind of bad request answered with
// a 4xx and a message, concurrent clients, and a clean stop.
#include <httplib.h>

#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "examples/server/inference_server.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "nn/checkpoint.h"
#include "nn/sequential.h"
#include "tapegrad.h"

namespace tapegrad::server {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;

constexpr int kFeatures = 8;
constexpr int kClasses = 3;

std::string Checkpoint() {
  const char* dir = std::getenv("TEST_TMPDIR");
  const std::string path = std::string(dir ? dir : "/tmp") + "/server_model.safetensors";
  Random rng(21);
  nn::MLP model(kFeatures, {16, kClasses}, rng);
  EXPECT_TRUE(nn::SaveCheckpoint(path, model).ok());
  return path;
}

std::vector<float> Input(int batch, int seed) {
  std::vector<float> x;
  for (int i = 0; i < batch * kFeatures; ++i)
    x.push_back(0.1f * ((i * 7 + seed) % 23) - 1);
  return x;
}

std::string InferBody(const std::vector<float>& x, int batch, bool gradient) {
  json body = {{"id", "r1"},
               {"inputs",
                {{{"name", "input"},
                  {"shape", {batch, kFeatures}},
                  {"datatype", "FP32"},
                  {"data", x}}}}};
  if (gradient) body["outputs"] = {{{"name", "logits"}}, {{"name", "input_gradient"}}};
  return body.dump();
}

// The logits and input gradient computed here, on a second copy of the model.
void Expected(const std::string& path, const std::vector<float>& x, int batch,
              std::vector<float>* logits, std::vector<float>* gradient) {
  Random rng(0);
  nn::MLP model(kFeatures, {16, kClasses}, rng);
  ASSERT_TRUE(nn::LoadCheckpoint(path, model).ok());
  Tape tape;
  TapeScope scope(&tape);
  Tensor input = Tensor::FromData(absl::MakeConstSpan(x), {batch, kFeatures});
  input.RequiresGrad();
  const Tensor y = model(input);
  *logits = y.ToFloatVector();
  std::vector<float> mask(logits->size(), 0.0f);
  for (int r = 0; r < batch; ++r) {
    int best = 0;
    for (int c = 1; c < kClasses; ++c) {
      if ((*logits)[r * kClasses + c] > (*logits)[r * kClasses + best]) best = c;
    }
    mask[r * kClasses + best] = 1.0f;
  }
  ASSERT_TRUE(Sum(y * Tensor::FromData(absl::MakeConstSpan(mask), {batch, kClasses}))
                  .Backward()
                  .ok());
  *gradient = input.grad().ToFloatVector();
}

class ServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = Checkpoint();
    absl::StatusOr<std::unique_ptr<InferenceServer>> server =
        InferenceServer::FromCheckpoint("toy", path_);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    ASSERT_TRUE(server_->Bind("127.0.0.1", 0).ok());
    thread_ = std::thread([this] { served_ = server_->ListenAfterBind(); });
  }
  void TearDown() override {
    server_->Stop();
    thread_.join();
    EXPECT_TRUE(served_.ok()) << served_;
  }
  httplib::Client Client() { return httplib::Client("127.0.0.1", server_->port()); }

  std::string path_;
  std::unique_ptr<InferenceServer> server_;
  std::thread thread_;
  absl::Status served_;
};

TEST_F(ServerTest, HealthAndMetadata) {
  httplib::Client client = Client();
  auto ready = client.Get("/v2/health/ready");
  ASSERT_TRUE(ready);
  EXPECT_EQ(ready->status, 200);
  auto meta = client.Get("/v2/models/toy");
  ASSERT_TRUE(meta);
  EXPECT_EQ(meta->status, 200);
  const json m = json::parse(meta->body);
  EXPECT_EQ(m["inputs"][0]["shape"], json({-1, kFeatures}));
  EXPECT_EQ(m["outputs"][0]["shape"], json({-1, kClasses}));
  auto unknown = client.Get("/v2/models/other");
  ASSERT_TRUE(unknown);
  EXPECT_EQ(unknown->status, 404);
  EXPECT_THAT(unknown->body, HasSubstr("no model named other"));
  auto nowhere = client.Get("/nowhere");
  ASSERT_TRUE(nowhere);
  EXPECT_EQ(nowhere->status, 404);
  EXPECT_THAT(nowhere->body, HasSubstr("error"));
}

TEST_F(ServerTest, PredictionsAndInputGradientsAreTheModels) {
  httplib::Client client = Client();
  const std::vector<float> x = Input(3, 5);
  std::vector<float> logits, gradient;
  Expected(path_, x, 3, &logits, &gradient);
  auto plain =
      client.Post("/v2/models/toy/infer", InferBody(x, 3, false), "application/json");
  ASSERT_TRUE(plain);
  ASSERT_EQ(plain->status, 200) << plain->body;
  const json p = json::parse(plain->body);
  EXPECT_EQ(p["id"], "r1");
  ASSERT_EQ(p["outputs"].size(), 1u);
  EXPECT_EQ(p["outputs"][0]["shape"], json({3, kClasses}));
  EXPECT_EQ(p["outputs"][0]["data"].get<std::vector<float>>(), logits);

  auto both =
      client.Post("/v2/models/toy/infer", InferBody(x, 3, true), "application/json");
  ASSERT_TRUE(both);
  ASSERT_EQ(both->status, 200) << both->body;
  const json b = json::parse(both->body);
  ASSERT_EQ(b["outputs"].size(), 2u);
  EXPECT_EQ(b["outputs"][0]["data"].get<std::vector<float>>(), logits);
  EXPECT_EQ(b["outputs"][1]["name"], "input_gradient");
  EXPECT_EQ(b["outputs"][1]["data"].get<std::vector<float>>(), gradient);
}

TEST_F(ServerTest, BadRequestsGetA4xxWithAMessage) {
  httplib::Client client = Client();
  const std::vector<float> x = Input(1, 0);
  json good = json::parse(InferBody(x, 1, false));
  struct Case {
    std::string body;
    const char* message;
  };
  auto with = [&](const char* pointer, json value) {
    json j = good;
    j[json::json_pointer(pointer)] = std::move(value);
    return j.dump();
  };
  const std::vector<Case> cases = {
      {"{not json", "not a JSON object"},
      {"[1, 2]", "not a JSON object"},
      {R"({"inputs": []})", "array of one input"},
      {with("/inputs/0/datatype", "INT64"), "FP32"},
      {with("/inputs/0/shape", json({1, kFeatures + 1})), "shape must be [batch, 8]"},
      {with("/inputs/0/shape", json({0, kFeatures})), "batch must be 1 to 256"},
      {with("/inputs/0/shape", json({1000, kFeatures})), "batch must be 1 to 256"},
      {with("/inputs/0/data", json({1.0, 2.0})), "holds 2 numbers"},
      {with("/inputs/0/data/3", "x"), "not numbers"},
      {with("/inputs/0/data/3", 1e300), "not a finite FP32"},
      {with("/inputs/0/data/3", json({json({1.0})})), "nested deeper"},
      {with("/inputs/0/name", "image"), "named \"input\""},
      {with("/outputs", json({{{"name", "probabilities"}}})), "probabilities"},
      {R"({"id": 3, "inputs": []})", "\"id\" must be a string"},
      {std::string(R"({"inputs": [{"data": [NaN]}]})"), "not a JSON object"},
  };
  for (const Case& c : cases) {
    auto res = client.Post("/v2/models/toy/infer", c.body, "application/json");
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 400) << c.body;
    const json error = json::parse(res->body, nullptr, false);
    ASSERT_TRUE(error.contains("error")) << res->body;
    EXPECT_THAT(error["error"].get<std::string>(), HasSubstr(c.message)) << c.body;
  }
  auto unknown = client.Post("/v2/models/other/infer", good.dump(), "application/json");
  ASSERT_TRUE(unknown);
  EXPECT_EQ(unknown->status, 404);
  auto huge = client.Post("/v2/models/toy/infer", std::string(kMaxBodyBytes + 1, ' '),
                          "application/json");
  ASSERT_TRUE(huge);
  EXPECT_EQ(huge->status, 413);
  EXPECT_THAT(huge->body, HasSubstr("over"));
  // And the server still serves.
  auto after = client.Post("/v2/models/toy/infer", good.dump(), "application/json");
  ASSERT_TRUE(after);
  EXPECT_EQ(after->status, 200);
}

TEST_F(ServerTest, ConcurrentClientsGetTheirOwnAnswers) {
  constexpr int kClients = 8;
  std::vector<int> wrong(kClients, 0);
  std::vector<std::thread> clients;
  for (int c = 0; c < kClients; ++c) {
    clients.emplace_back([&, c] {
      httplib::Client client = Client();
      for (int k = 0; k < 20; ++k) {
        const std::vector<float> x = Input(2, c * 100 + k);
        std::vector<float> logits, gradient;
        Expected(path_, x, 2, &logits, &gradient);
        auto res = client.Post("/v2/models/toy/infer", InferBody(x, 2, k % 2 == 1),
                               "application/json");
        if (!res || res->status != 200) {
          ++wrong[c];
          continue;
        }
        const json r = json::parse(res->body);
        wrong[c] += r["outputs"][0]["data"].get<std::vector<float>>() != logits;
        if (k % 2 == 1)
          wrong[c] += r["outputs"][1]["data"].get<std::vector<float>>() != gradient;
      }
    });
  }
  for (std::thread& t : clients) t.join();
  for (int c = 0; c < kClients; ++c) EXPECT_EQ(wrong[c], 0) << "client " << c;
}

}  // namespace
}  // namespace tapegrad::server
