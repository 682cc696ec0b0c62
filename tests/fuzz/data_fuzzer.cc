// The data readers on crafted files: gzip streams (whole, truncated, corrupt),
// IDX headers and payloads for Fashion-MNIST, and the digits CSV. Each input is
// written to files under a fresh directory and read back; the readers must return
// a dataset or a DataLoss/NotFound status naming the file, nothing else.
#include <fuzzer/FuzzedDataProvider.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <string>

#include "nn/data_files.h"

namespace {

// One directory per process: TEST_TMPDIR under Bazel, else the system's.
const std::string& Dir() {
  static const std::string dir = [] {
    const char* base = std::getenv("TEST_TMPDIR");
    std::string d = std::string(base != nullptr ? base : "/tmp") +
                    "/tapegrad_data_fuzzer_" + std::to_string(getpid());
    (void)mkdir(d.c_str(), 0700);
    return d;
  }();
  return dir;
}

void Write(const std::string& name, const std::string& bytes) {
  std::ofstream(Dir() + "/" + name, std::ios::binary | std::ios::trunc) << bytes;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzedDataProvider in(data, size);
  switch (in.ConsumeIntegralInRange<int>(0, 2)) {
    case 0: {
      const std::string images = in.ConsumeRandomLengthString(1 << 16);
      Write("t10k-images-idx3-ubyte.gz", images);
      Write("t10k-labels-idx1-ubyte.gz", in.ConsumeRemainingBytesAsString());
      (void)tapegrad::nn::LoadFashionMnist(tapegrad::nn::FashionMnistSplit::kTest, Dir());
      break;
    }
    case 1:
      Write("digits.csv.gz", in.ConsumeRemainingBytesAsString());
      (void)tapegrad::nn::LoadDigits(Dir() + "/digits.csv.gz");
      break;
    default:
      Write("any.gz", in.ConsumeRemainingBytesAsString());
      (void)tapegrad::nn::ReadGzipFile(Dir() + "/any.gz");
  }
  return 0;
}
