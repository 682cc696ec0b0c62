#include "kernels/cuda/sim/cubin.h"

#include <cinttypes>
#include <cstdio>
#include <cstring>

namespace tapegrad::cuda::sim {
namespace {

constexpr char kMagic[] =
    "\x7f"
    "ELF tapegrad-sim-module ";
constexpr size_t kMagicSize = sizeof kMagic - 1;

}  // namespace

std::string CubinFor(std::string_view module, uint64_t text_hash) {
  char hash[17];
  std::snprintf(hash, sizeof hash, "%016" PRIx64, text_hash);
  std::string cubin(kMagic, kMagicSize);
  cubin.append(module.data(), module.size()).append(" ").append(hash);
  cubin.push_back('\0');
  return cubin;
}

const Module* ModuleOfCubin(const char* cubin) {
  if (std::memcmp(cubin, kMagic, kMagicSize) != 0) return nullptr;
  const std::string_view rest(cubin + kMagicSize);  // ends at the terminating NUL
  const size_t space = rest.rfind(' ');
  if (space == std::string_view::npos) return nullptr;
  const Module* module = FindModule(rest.substr(0, space));
  if (module == nullptr || CubinFor(module->name, module->text_hash) !=
                               std::string_view(cubin, kMagicSize + rest.size() + 1)) {
    return nullptr;
  }
  return module;
}

}  // namespace tapegrad::cuda::sim
