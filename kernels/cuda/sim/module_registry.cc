#include "kernels/cuda/sim/module_registry.h"

#include <algorithm>
#include <mutex>
#include <string>
#include <unordered_map>
#include <unordered_set>

namespace tapegrad::cuda::sim {
namespace {

std::unordered_map<std::string, Module>& Modules() {
  static auto* modules = new std::unordered_map<std::string, Module>;
  return *modules;
}

std::mutex launched_mu;
std::unordered_set<const Entry*>& Launched() {
  static auto* launched = new std::unordered_set<const Entry*>;
  return *launched;
}

}  // namespace

void NoteLaunch(const Entry& entry) {
  std::lock_guard<std::mutex> lock(launched_mu);
  Launched().insert(&entry);
}

std::vector<std::string> UnlaunchedEntries() {
  std::vector<std::string> missing;
  std::lock_guard<std::mutex> lock(launched_mu);
  for (const auto& [name, module] : Modules()) {
    for (size_t i = 0; i < module.num_entries; ++i) {
      if (!Launched().count(&module.entries[i])) {
        missing.push_back(name + ":" + module.entries[i].name);
      }
    }
  }
  std::sort(missing.begin(), missing.end());
  return missing;
}

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
