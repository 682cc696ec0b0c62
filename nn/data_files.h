// Readers for the real data sets that Debian ships, as nn::Dataset:
//  - the 8x8 handwritten digits of scikit-learn (package python3-sklearn): 1797
//    images, 64 features scaled from 0..16 to [0, 1], labels 0..9;
//  - Fashion-MNIST in IDX format (package dataset-fashion-mnist): 60000 training
//    and 10000 test images of 28x28, features scaled from 0..255 to [0, 1] and
//    flattened to 784, labels 0..9.
//
//   absl::StatusOr<tapegrad::nn::Dataset> digits = tapegrad::nn::LoadDigits();
//   absl::StatusOr<tapegrad::nn::Dataset> train =
//       tapegrad::nn::LoadFashionMnist(tapegrad::nn::FashionMnistSplit::kTrain);
//
// Files are read whole through zlib. A missing file is NotFound and a corrupt or
// truncated one DataLoss, each naming the path; nothing aborts.
//
// Thread safety: the functions share nothing; call them from any thread.
#ifndef TAPEGRAD_NN_DATA_FILES_H_
#define TAPEGRAD_NN_DATA_FILES_H_

#include <string>

#include "absl/status/statusor.h"
#include "nn/dataset.h"

namespace tapegrad::nn {

inline constexpr char kDigitsPath[] =
    "/usr/lib/python3/dist-packages/sklearn/datasets/data/digits.csv.gz";
inline constexpr char kFashionMnistDir[] = "/usr/share/datasets/fashion-mnist";

// The digits CSV (gzip): one row per image, 64 pixel values then the label.
absl::StatusOr<Dataset> LoadDigits(const std::string& path = kDigitsPath);

enum class FashionMnistSplit { kTrain, kTest };

// {train,t10k}-{images-idx3,labels-idx1}-ubyte.gz under `dir`.
absl::StatusOr<Dataset> LoadFashionMnist(FashionMnistSplit split,
                                         const std::string& dir = kFashionMnistDir);

// The whole content of a gzip file (a plain file is read as is, as zlib does).
absl::StatusOr<std::string> ReadGzipFile(const std::string& path);

}  // namespace tapegrad::nn

#endif  // TAPEGRAD_NN_DATA_FILES_H_
