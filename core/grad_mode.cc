#include "core/grad_mode.h"

namespace tapegrad::internal {

__thread bool grad_disabled __attribute__((tls_model("initial-exec"))) = false;

}  // namespace tapegrad::internal
