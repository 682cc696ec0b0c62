#include "kernels/cuda/sim/module_registry.h"

#include <cstring>
#include <string>
#include <unordered_map>

namespace tapegrad::cuda::sim {
namespace {

std::unordered_map<std::string, Module>& Modules() {
  static auto* modules = new std::unordered_map<std::string, Module>;
  return *modules;
}

}  // namespace

const Entry* Module::Find(std::string_view entry) const {
  for (size_t i = 0; i < num_entries; ++i) {
    if (entry == entries[i].name) return &entries[i];
  }
  return nullptr;
}

bool RegisterModule(const Module& module) {
  Modules().emplace(module.name, module);
  return true;
}

const Module* FindModule(std::string_view name) {
  auto it = Modules().find(std::string(name));
  return it == Modules().end() ? nullptr : &it->second;
}

}  // namespace tapegrad::cuda::sim
