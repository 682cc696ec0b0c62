// The safetensors reader on crafted files: each input is written to a file and read
// with LoadTensors, then loaded into a small model and its optimizer with
// LoadCheckpoint. Both must return tensors or a status (DataLoss, Unimplemented,
// InvalidArgument, NotFound), never crash, and a failed load changes nothing.
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "core/random.h"
#include "nn/checkpoint.h"
#include "nn/optimizer.h"
#include "nn/sequential.h"

namespace {

const std::string& Path() {
  static const std::string path = [] {
    const char* base = std::getenv("TEST_TMPDIR");
    return std::string(base != nullptr ? base : "/tmp") + "/tapegrad_checkpoint_fuzzer_" +
           std::to_string(getpid()) + ".safetensors";
  }();
  return path;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::ofstream(Path(), std::ios::binary | std::ios::trunc)
      .write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  (void)tapegrad::nn::LoadTensors(Path());

  tapegrad::Random rng(0);
  tapegrad::nn::MLP model(2, {3, 1}, rng);
  tapegrad::nn::Adam adam(model.parameters(), tapegrad::AdamOptions());
  std::vector<std::vector<double>> before;
  for (const tapegrad::Tensor& p : model.parameters()) before.push_back(p.ToVector());
  if (!tapegrad::nn::LoadCheckpoint(Path(), model, &adam).ok()) {
    size_t k = 0;
    for (const tapegrad::Tensor& p : model.parameters()) {
      if (p.ToVector() != before[k++]) std::abort();  // a failed load changed the model
    }
  }
  return 0;
}
