#include "nn/checkpoint.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>
#include <type_traits>
#include <vector>

#include "absl/base/config.h"
#include "absl/cleanup/cleanup.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/string_view.h"
#include "core/status_macros.h"
#include "core/tensor.h"
#include "nlohmann/json.hpp"

namespace tapegrad::nn {
namespace {

static_assert(ABSL_IS_LITTLE_ENDIAN, "safetensors data is little-endian, as this host");

// safetensors' own bound on the header (its reference reader rejects more).
constexpr uint64_t kMaxHeaderBytes = uint64_t{100} << 20;
constexpr char kMetadata[] = "__metadata__";

const char* FormatName(DType dtype) {
  switch (dtype) {
    case DType::kF32:
      return "F32";
    case DType::kF64:
      return "F64";
    case DType::kI64:
      return "I64";
  }
  return "?";
}

bool ParseFormatName(const std::string& name, DType* out) {
  for (DType d : {DType::kF32, DType::kF64, DType::kI64}) {
    if (name == FormatName(d)) {
      *out = d;
      return true;
    }
  }
  return false;
}

// A heap tensor of `numel` elements of T copied from `p` (which may be unaligned).
template <class T>
Tensor FromBytes(const char* p, uint64_t numel, const std::vector<int64_t>& shape) {
  std::vector<T> v(numel);
  if (numel != 0) std::memcpy(v.data(), p, numel * sizeof(T));
  if constexpr (std::is_same_v<T, double>) {
    return Tensor::FromData(absl::MakeConstSpan(v), shape, DType::kF64);
  } else {
    return Tensor::FromData(absl::MakeConstSpan(v), shape);
  }
}

// The bytes of `v`'s elements.
template <class T>
std::string AsBytes(const std::vector<T>& v) {
  return v.empty()
             ? std::string()
             : std::string(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(T));
}

// The tensor's elements as little-endian bytes, row-major.
absl::StatusOr<std::string> Bytes(const std::string& path, const NamedTensor& t) {
  const Tensor& x = t.tensor;
  if (!x.ok()) {
    return absl::InvalidArgumentError(
        absl::StrFormat("SaveTensors(%s): tensor '%s' is not usable: %s", path, t.name,
                        x.status().ToString()));
  }
  std::string out;
  switch (x.dtype()) {
    case DType::kF32: {
      out = AsBytes(x.ToFloatVector());
      break;
    }
    case DType::kF64: {
      out = AsBytes(x.ToVector());
      break;
    }
    case DType::kI64: {
      // Elements come out as doubles: exact up to 2^53.
      std::vector<int64_t> v;
      for (double d : x.ToVector()) {
        if (!(std::fabs(d) <= 9007199254740992.0)) {
          return absl::OutOfRangeError(absl::StrFormat(
              "SaveTensors(%s): tensor '%s' holds an i64 beyond 2^53", path, t.name));
        }
        v.push_back(static_cast<int64_t>(d));
      }
      out = AsBytes(v);
      break;
    }
  }
  return out;
}

absl::Status Errno(const std::string& what, const std::string& path) {
  return absl::UnavailableError(
      absl::StrFormat("%s %s: %s", what, path, std::strerror(errno)));
}

absl::Status WriteAll(int fd, const char* data, size_t size, const std::string& path) {
  while (size > 0) {
    const ssize_t n = ::write(fd, data, size);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return Errno("SaveTensors: writing", path);
    data += n;
    size -= static_cast<size_t>(n);
  }
  return absl::OkStatus();
}

// Writes `parts` to `path` atomically: a temporary file beside it, fsync, rename,
// fsync of the directory.
absl::Status WriteAtomically(const std::string& path,
                             const std::vector<std::string>& parts) {
  std::string temporary = path + ".tmp.XXXXXX";
  const int fd = ::mkstemp(temporary.data());
  if (fd < 0) return Errno("SaveTensors: creating a temporary file beside", path);
  bool renamed = false;
  absl::Cleanup cleanup = [&] {
    if (!renamed) ::unlink(temporary.c_str());
  };
  absl::Status status;
  for (const std::string& part : parts) {
    status = WriteAll(fd, part.data(), part.size(), temporary);
    if (!status.ok()) break;
  }
  if (status.ok() && ::fchmod(fd, 0644) != 0)
    status = Errno("SaveTensors: chmod", temporary);
  if (status.ok() && ::fsync(fd) != 0) status = Errno("SaveTensors: fsync", temporary);
  if (::close(fd) != 0 && status.ok()) status = Errno("SaveTensors: closing", temporary);
  TG_RETURN_IF_ERROR(status);
  if (::rename(temporary.c_str(), path.c_str()) != 0) {
    return Errno("SaveTensors: renaming " + temporary + " to", path);
  }
  renamed = true;
  const size_t slash = path.rfind('/');
  const std::string directory =
      slash == std::string::npos ? "." : path.substr(0, slash + 1);
  const int dir = ::open(directory.c_str(), O_RDONLY | O_DIRECTORY);
  if (dir >= 0) {  // the rename itself survives a crash once its directory is on disk
    ::fsync(dir);
    ::close(dir);
  }
  return absl::OkStatus();
}

absl::Status Corrupt(const std::string& path, const std::string& what) {
  return absl::DataLossError(absl::StrFormat("LoadTensors(%s): %s", path, what));
}

// One entry of the header, checked against the data section's size.
absl::StatusOr<NamedTensor> ReadEntry(const std::string& path, const std::string& name,
                                      const nlohmann::json& entry,
                                      const std::string& data, uint64_t* begin_out) {
  const std::string where = absl::StrCat("tensor '", name, "'");
  if (!entry.is_object()) return Corrupt(path, where + " is not a JSON object");
  const auto dtype_it = entry.find("dtype");
  const auto shape_it = entry.find("shape");
  const auto offsets_it = entry.find("data_offsets");
  if (dtype_it == entry.end() || shape_it == entry.end() || offsets_it == entry.end()) {
    return Corrupt(path, where + " lacks dtype, shape or data_offsets");
  }
  DType dtype;
  if (!dtype_it->is_string() || !ParseFormatName(dtype_it->get<std::string>(), &dtype)) {
    return absl::UnimplementedError(absl::StrFormat(
        "LoadTensors(%s): %s has dtype %s; tapegrad reads F32, F64 and I64", path, where,
        dtype_it->dump()));
  }
  if (!shape_it->is_array() || shape_it->size() > 8) {
    return Corrupt(path, where + " has no shape of at most 8 dimensions");
  }
  std::vector<int64_t> shape;
  uint64_t numel = 1;
  for (const nlohmann::json& d : *shape_it) {
    if (!d.is_number_unsigned() || d.get<uint64_t>() > (uint64_t{1} << 40)) {
      return Corrupt(path, where + " has a shape that is not sizes: " + shape_it->dump());
    }
    const uint64_t size = d.get<uint64_t>();
    shape.push_back(static_cast<int64_t>(size));
    numel = size == 0 || numel == 0 ? 0 : numel * size;
    if (numel > (uint64_t{1} << 40)) return Corrupt(path, where + " is too large");
  }
  if (!offsets_it->is_array() || offsets_it->size() != 2 ||
      !(*offsets_it)[0].is_number_unsigned() || !(*offsets_it)[1].is_number_unsigned()) {
    return Corrupt(path, where + " has no data_offsets [begin, end]");
  }
  const uint64_t begin = (*offsets_it)[0].get<uint64_t>();
  const uint64_t end = (*offsets_it)[1].get<uint64_t>();
  const uint64_t bytes = numel * DTypeSize(dtype);
  if (begin > end || end > data.size() || end - begin != bytes) {
    return Corrupt(
        path, absl::StrFormat("%s: bytes [%d, %d) of a %d-byte data section for "
                              "%d elements of %s",
                              where, begin, end, data.size(), numel, FormatName(dtype)));
  }
  const char* p = data.data() + begin;
  Tensor t;
  switch (dtype) {
    case DType::kF32:
      t = FromBytes<float>(p, numel, shape);
      break;
    case DType::kF64:
      t = FromBytes<double>(p, numel, shape);
      break;
    case DType::kI64:
      t = FromBytes<int64_t>(p, numel, shape);
      break;
  }
  TG_RETURN_IF_ERROR(t.status());
  *begin_out = begin;
  return NamedTensor{name, std::move(t)};
}

std::vector<NamedTensor> StateOf(const Module& model, const Optimizer* optimizer) {
  std::vector<NamedTensor> out = model.named_parameters();
  for (NamedTensor& b : model.named_buffers()) out.push_back(std::move(b));
  if (optimizer != nullptr) {
    for (NamedTensor& s : optimizer->state()) {
      out.push_back({"optimizer." + s.name, std::move(s.tensor)});
    }
  }
  return out;
}

}  // namespace

absl::Status SaveTensors(const std::string& path, absl::Span<const NamedTensor> tensors) {
  nlohmann::json header = nlohmann::json::object();
  header[kMetadata] = {{"format", "pt"}, {"producer", "tapegrad"}};
  std::vector<std::string> parts(1);  // the header, once its length is known
  absl::flat_hash_set<std::string> names;
  uint64_t offset = 0;
  for (const NamedTensor& t : tensors) {
    if (t.name == kMetadata || !names.insert(t.name).second) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "SaveTensors(%s): the name '%s' is reserved or given twice", path, t.name));
    }
    TG_ASSIGN_OR_RETURN(std::string bytes, Bytes(path, t));
    const Shape shape = t.tensor.shape();
    header[t.name] = {{"dtype", FormatName(t.tensor.dtype())},
                      {"shape", std::vector<int64_t>(shape.begin(), shape.end())},
                      {"data_offsets", {offset, offset + bytes.size()}}};
    offset += bytes.size();
    parts.push_back(std::move(bytes));
  }
  std::string json = header.dump();
  json.append((8 - json.size() % 8) % 8, ' ');  // the data section starts 8-aligned
  const uint64_t length = json.size();
  parts[0].assign(reinterpret_cast<const char*>(&length), sizeof(length));
  parts[0] += json;
  return WriteAtomically(path, parts);
}

absl::StatusOr<std::vector<NamedTensor>> LoadTensors(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    return absl::NotFoundError(absl::StrFormat("LoadTensors: cannot open %s", path));
  in.seekg(0, std::ios::end);
  const uint64_t file_size = static_cast<uint64_t>(in.tellg());
  in.seekg(0);
  uint64_t length = 0;
  if (file_size < sizeof(length) || !in.read(reinterpret_cast<char*>(&length), 8)) {
    return Corrupt(path, absl::StrFormat("%d bytes: too short for a header", file_size));
  }
  if (length > kMaxHeaderBytes || length > file_size - 8) {
    return Corrupt(
        path, absl::StrFormat("a header of %d bytes in a file of %d", length, file_size));
  }
  std::string header_text(length, '\0');
  std::string data(file_size - 8 - length, '\0');
  if (!in.read(header_text.data(), length) || !in.read(data.data(), data.size())) {
    return Corrupt(path, "the file ended while being read");
  }
  const nlohmann::json header =
      nlohmann::json::parse(header_text, nullptr, /*allow_exceptions=*/false);
  if (!header.is_object()) return Corrupt(path, "the header is not a JSON object");
  std::vector<std::pair<uint64_t, NamedTensor>> read;
  for (const auto& [name, entry] : header.items()) {
    if (name == kMetadata) continue;
    uint64_t begin = 0;
    TG_ASSIGN_OR_RETURN(NamedTensor t, ReadEntry(path, name, entry, data, &begin));
    read.emplace_back(begin, std::move(t));
  }
  std::stable_sort(read.begin(), read.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<NamedTensor> out;
  for (auto& [begin, t] : read) out.push_back(std::move(t));
  return out;
}

absl::Status SaveCheckpoint(const std::string& path, const Module& model,
                            const Optimizer* optimizer) {
  return SaveTensors(path, StateOf(model, optimizer));
}

absl::Status LoadCheckpoint(const std::string& path, const Module& model,
                            Optimizer* optimizer) {
  TG_ASSIGN_OR_RETURN(std::vector<NamedTensor> file, LoadTensors(path));
  const std::string op = absl::StrCat("LoadCheckpoint(", path, ")");
  std::vector<NamedTensor> model_state = StateOf(model, nullptr);
  std::vector<NamedTensor> model_part, optimizer_part;
  for (NamedTensor& t : file) {
    if (absl::string_view(t.name).substr(0, 10) == "optimizer.") {
      optimizer_part.push_back({t.name.substr(10), std::move(t.tensor)});
    } else {
      model_part.push_back(std::move(t));
    }
  }
  std::vector<Tensor> matched;
  TG_RETURN_IF_ERROR(MatchByName(op.c_str(), model_state, model_part, &matched));
  if (optimizer == nullptr && !optimizer_part.empty()) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "%s: the file holds optimizer state ('optimizer.%s') and no optimizer was given",
        op, optimizer_part[0].name));
  }
  // The model's part matched. The optimizer's is checked and written next
  // (set_state writes nothing unless all of it matches), then the model's.
  if (optimizer != nullptr) {
    if (absl::Status s = optimizer->set_state(optimizer_part); !s.ok()) {
      return absl::Status(s.code(), absl::StrCat(op, ": ", s.message()));
    }
  }
  for (size_t k = 0; k < model_state.size(); ++k) {
    TG_RETURN_IF_ERROR(CopyElements(model_state[k].tensor, matched[k]));
  }
  return absl::OkStatus();
}

}  // namespace tapegrad::nn
