#include "tests/alloc_counter.h"

#include <link.h>

#include <atomic>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <new>

namespace {

std::atomic<uint64_t> allocations{0};
std::atomic<uint64_t> onednn_allocations{0};
std::atomic<uint64_t> onednn_frees{0};

// The address range of libdnnl's loaded segments, found once. It is loaded
// before main (a DT_NEEDED library), and dl_iterate_phdr allocates nothing.
struct Range {
  uintptr_t begin = 0, end = 0;
};

int FindOneDnn(dl_phdr_info* info, size_t, void* out) {
  if (info->dlpi_name == nullptr || std::strstr(info->dlpi_name, "libdnnl") == nullptr)
    return 0;
  Range* range = static_cast<Range*>(out);
  range->begin = UINTPTR_MAX;
  for (int i = 0; i < info->dlpi_phnum; ++i) {
    const ElfW(Phdr)& ph = info->dlpi_phdr[i];
    if (ph.p_type != PT_LOAD) continue;
    const uintptr_t start = info->dlpi_addr + ph.p_vaddr;
    if (start < range->begin) range->begin = start;
    if (start + ph.p_memsz > range->end) range->end = start + ph.p_memsz;
  }
  return 1;
}

bool CalledFromOneDnn(const void* caller) {
  static const Range range = [] {
    Range r;
    dl_iterate_phdr(FindOneDnn, &r);
    return r;
  }();
  const auto at = reinterpret_cast<uintptr_t>(caller);
  return at >= range.begin && at < range.end;
}

void* CountedAllocate(std::size_t size, std::size_t align, const void* caller) {
  (CalledFromOneDnn(caller) ? onednn_allocations : allocations)
      .fetch_add(1, std::memory_order_relaxed);
  if (size == 0) size = 1;
  void* p = align <= alignof(std::max_align_t)
                ? std::malloc(size)
                : std::aligned_alloc(align, (size + align - 1) / align * align);
  if (p == nullptr) throw std::bad_alloc();
  return p;
}

void CountedFree(void* p, const void* caller) {
  if (p != nullptr && CalledFromOneDnn(caller))
    onednn_frees.fetch_add(1, std::memory_order_relaxed);
  std::free(p);
}

}  // namespace

namespace tapegrad::testing {
uint64_t HeapAllocations() { return allocations.load(std::memory_order_relaxed); }
uint64_t OneDnnAllocations() {
  return onednn_allocations.load(std::memory_order_relaxed);
}
int64_t OneDnnLiveBlocks() {
  return static_cast<int64_t>(onednn_allocations.load(std::memory_order_relaxed) -
                              onednn_frees.load(std::memory_order_relaxed));
}
}  // namespace tapegrad::testing

#define TG_CALLER __builtin_return_address(0)
void* operator new(std::size_t size) { return CountedAllocate(size, 0, TG_CALLER); }
void* operator new[](std::size_t size) { return CountedAllocate(size, 0, TG_CALLER); }
void* operator new(std::size_t size, std::align_val_t align) {
  return CountedAllocate(size, static_cast<std::size_t>(align), TG_CALLER);
}
void* operator new[](std::size_t size, std::align_val_t align) {
  return CountedAllocate(size, static_cast<std::size_t>(align), TG_CALLER);
}
void operator delete(void* p) noexcept { CountedFree(p, TG_CALLER); }
void operator delete[](void* p) noexcept { CountedFree(p, TG_CALLER); }
void operator delete(void* p, std::size_t) noexcept { CountedFree(p, TG_CALLER); }
void operator delete[](void* p, std::size_t) noexcept { CountedFree(p, TG_CALLER); }
void operator delete(void* p, std::align_val_t) noexcept { CountedFree(p, TG_CALLER); }
void operator delete[](void* p, std::align_val_t) noexcept { CountedFree(p, TG_CALLER); }
void operator delete(void* p, std::size_t, std::align_val_t) noexcept {
  CountedFree(p, TG_CALLER);
}
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept {
  CountedFree(p, TG_CALLER);
}
