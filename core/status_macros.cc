#include "core/status_macros.h"

#include <cstdio>
#include <cstdlib>

namespace tapegrad::internal {

void CheckFailed(const char* file, int line, const char* condition) {
  std::fprintf(stderr, "%s:%d: TG_CHECK failed: %s\n", file, line, condition);
  std::fflush(stderr);
  std::abort();
}

}  // namespace tapegrad::internal
