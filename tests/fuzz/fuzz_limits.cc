// Memory limits for the fuzz targets: a huge request fails (as it would on a
// smaller machine) instead of being granted and then filled, so that the
// out-of-memory paths are what the fuzzer exercises and a run never swaps. Under
// ASan and TSan the sanitizer's allocator refuses blocks over 1 GiB (returning
// null to nothrow callers, as glibc would); elsewhere a 6 GiB address-space limit
// does the same, which those sanitizers' shadow mappings would not survive.
#include <sys/resource.h>

#if defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define TAPEGRAD_FUZZ_SANITIZER_ALLOCATOR 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define TAPEGRAD_FUZZ_SANITIZER_ALLOCATOR 1
#endif

#ifdef TAPEGRAD_FUZZ_SANITIZER_ALLOCATOR
extern "C" const char* __asan_default_options() {
  return "allocator_may_return_null=1:max_allocation_size_mb=1024";
}
extern "C" const char* __tsan_default_options() {
  return "allocator_may_return_null=1:max_allocation_size_mb=1024";
}
#else
namespace {
[[maybe_unused]] const bool limited = [] {
  const rlim_t bytes = rlim_t{6} << 30;
  const rlimit limit{bytes, bytes};
  return setrlimit(RLIMIT_AS, &limit) == 0;
}();
}  // namespace
#endif
