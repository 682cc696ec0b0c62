#include "nn/data_files.h"

#include <zlib.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "core/internal/layout.h"
#include "core/status_macros.h"

namespace tapegrad::nn {
namespace {

absl::Status Corrupt(const std::string& path, const std::string& what) {
  return absl::DataLossError(absl::StrFormat("%s: %s", path, what));
}

uint32_t BigEndian32(const std::string& bytes, size_t at) {
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data() + at);
  return uint32_t{p[0]} << 24 | uint32_t{p[1]} << 16 | uint32_t{p[2]} << 8 | p[3];
}

// An IDX file's dimensions, checking its magic number (type 0x08 = unsigned byte,
// then the rank) and that the payload is all there.
absl::StatusOr<std::vector<int64_t>> IdxShape(const std::string& path,
                                              const std::string& bytes, int rank) {
  if (bytes.size() < 4 + 4 * size_t(rank) || BigEndian32(bytes, 0) != 0x800u + rank) {
    return Corrupt(
        path, absl::StrFormat("not an IDX file of unsigned bytes and rank %d", rank));
  }
  std::vector<int64_t> shape;
  for (int i = 0; i < rank; ++i) shape.push_back(BigEndian32(bytes, 4 + 4 * size_t(i)));
  // Each dimension is below 2^32 but their product is not bounded (Note [Size limits]).
  const int64_t count = CheckedNumel(shape);
  if (count < 0) {
    return Corrupt(path, absl::StrFormat("its header's dimensions %s make more than %d "
                                         "elements",
                                         ShapeString(shape), kMaxElements));
  }
  if (bytes.size() != 4 + 4 * size_t(rank) + size_t(count)) {
    return Corrupt(
        path, absl::StrFormat("holds %d bytes; its header's dimensions %s "
                              "promise %d",
                              bytes.size(), ShapeString(shape), 4 + 4 * rank + count));
  }
  return shape;
}

}  // namespace

absl::StatusOr<std::string> ReadGzipFile(const std::string& path) {
  gzFile file = gzopen(path.c_str(), "rb");
  if (file == nullptr) {
    const std::string reason = errno != 0 ? std::strerror(errno) : "cannot open";
    if (errno == ENOENT) return absl::NotFoundError(path + ": " + reason);
    return absl::UnavailableError(path + ": " + reason);
  }
  std::string out;
  char buffer[1 << 16];
  int n;
  while ((n = gzread(file, buffer, sizeof(buffer))) > 0) out.append(buffer, size_t(n));
  int code = Z_OK;
  const std::string error = n < 0 ? gzerror(file, &code) : "";
  // zlib reads a stream cut short as far as it goes, then says so only here.
  const int closed = gzclose(file);
  if (n < 0) return Corrupt(path, "gzip data is corrupt: " + error);
  if (closed == Z_BUF_ERROR) {
    return Corrupt(path, absl::StrFormat("gzip data is truncated (%d bytes decompressed "
                                         "before its end)",
                                         out.size()));
  }
  return out;
}

absl::StatusOr<Dataset> LoadDigits(const std::string& path) {
  TG_ASSIGN_OR_RETURN(const std::string text, ReadGzipFile(path));
  constexpr int kFeatures = 64;
  std::vector<float> features;
  std::vector<int64_t> labels;
  int line_number = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipWhitespace())) {
    ++line_number;
    const std::vector<absl::string_view> fields = absl::StrSplit(line, ',');
    bool ok = fields.size() == kFeatures + 1;
    for (int i = 0; ok && i <= kFeatures; ++i) {
      double v;
      ok = absl::SimpleAtod(absl::StripAsciiWhitespace(fields[i]), &v) && v >= 0 &&
           v <= (i < kFeatures ? 16 : 9) && (i < kFeatures || v == int(v));
      if (!ok) break;
      if (i < kFeatures) {
        features.push_back(static_cast<float>(v / 16.0));
      } else {
        labels.push_back(static_cast<int64_t>(v));
      }
    }
    if (!ok) {
      return Corrupt(path, absl::StrFormat("line %d is not 64 pixels in 0..16 and a "
                                           "label in 0..9",
                                           line_number));
    }
  }
  if (labels.empty()) return Corrupt(path, "holds no examples");
  const int64_t n = static_cast<int64_t>(labels.size());
  return Dataset::Create(Tensor::FromData(absl::MakeConstSpan(features), {n, kFeatures}),
                         Tensor::FromData(absl::MakeConstSpan(labels), {n}));
}

absl::StatusOr<Dataset> LoadFashionMnist(FashionMnistSplit split,
                                         const std::string& dir) {
  const std::string prefix =
      dir + (split == FashionMnistSplit::kTrain ? "/train" : "/t10k");
  const std::string images_path = prefix + "-images-idx3-ubyte.gz";
  const std::string labels_path = prefix + "-labels-idx1-ubyte.gz";
  TG_ASSIGN_OR_RETURN(const std::string images, ReadGzipFile(images_path));
  TG_ASSIGN_OR_RETURN(const std::string labels, ReadGzipFile(labels_path));
  TG_ASSIGN_OR_RETURN(const std::vector<int64_t> image_shape,
                      IdxShape(images_path, images, 3));
  TG_ASSIGN_OR_RETURN(const std::vector<int64_t> label_shape,
                      IdxShape(labels_path, labels, 1));
  // Fits: IdxShape bounds the product with empty axes counted as 1.
  const int64_t n = image_shape[0], pixels = image_shape[1] * image_shape[2];
  if (label_shape[0] != n) {
    return Corrupt(labels_path, absl::StrFormat("has %d labels for %d images in %s",
                                                label_shape[0], n, images_path));
  }
  std::vector<float> features(static_cast<size_t>(n * pixels));
  const auto* pixel = reinterpret_cast<const unsigned char*>(images.data() + 16);
  for (size_t i = 0; i < features.size(); ++i) features[i] = pixel[i] / 255.0f;
  std::vector<int64_t> classes(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    classes[i] = static_cast<unsigned char>(labels[8 + i]);
    if (classes[i] > 9) {
      return Corrupt(labels_path, absl::StrFormat("label %d of example %d is not in 0..9",
                                                  classes[i], i));
    }
  }
  return Dataset::Create(Tensor::FromData(absl::MakeConstSpan(features), {n, pixels}),
                         Tensor::FromData(absl::MakeConstSpan(classes), {n}));
}

}  // namespace tapegrad::nn
