// The recorded graph of a scalar value as a Graphviz DOT file.
#include <cstdio>
#include <string>
#include <vector>

#include "absl/strings/str_format.h"
#include "capi/internal.h"
#include "capi/tapegrad.h"

extern "C" {

tg_status tg_tape_write_dot(tg_tape* tape, uint64_t root, const char* path) {
  constexpr char kCall[] = "tg_tape_write_dot";
  TG_CAPI_NOT_NULL(kCall, tape);
  TG_CAPI_NOT_NULL(kCall, path);
  double root_data;
  if (tg_status s = tg_value_data(tape, root, &root_data)) return s;
  return tapegrad::capi::Guard(kCall, [&] {
    const tapegrad::Tape& t = tape->tape;
    const uint32_t top = tapegrad::capi::SlotOf(root);
    // Only the root's ancestors are drawn: one pass down the records marks them.
    std::vector<bool> reached(top + 1, false);
    reached[top] = true;
    std::string body;
    const absl::Status walked =
        t.ForEachInput(0, top, [&](uint32_t slot, uint32_t input, double partial) {
          if (!reached[slot]) return;
          reached[input] = true;
          absl::StrAppendFormat(&body, "  v%d -> v%d [label=\"%.4g\"];\n", input, slot,
                                partial);
        });
    if (!walked.ok()) return tapegrad::capi::Fail(walked);
    std::string dot = "digraph tape {\n  rankdir=LR;\n  node [shape=record];\n";
    for (uint32_t slot = 0; slot <= top; ++slot) {
      if (!reached[slot]) continue;
      const tapegrad::Value v = t.ValueAt(slot);
      absl::StrAppendFormat(&dot, "  v%d [label=\"{ #%d | data %.4f | grad %.4f }\"];\n",
                            slot, slot, v.data(), v.grad());
    }
    dot += body;
    dot += "}\n";
    std::FILE* f = std::fopen(path, "w");
    if (f == nullptr) {
      return tapegrad::capi::Fail(
          absl::StatusCode::kNotFound,
          absl::StrFormat("%s: cannot open %s for writing", kCall, path));
    }
    const bool written = std::fwrite(dot.data(), 1, dot.size(), f) == dot.size();
    const bool closed = std::fclose(f) == 0;
    if (!written || !closed) {
      return tapegrad::capi::Fail(absl::StatusCode::kDataLoss,
                                  absl::StrFormat("%s: writing %s failed", kCall, path));
    }
    return TG_OK;
  });
}

}  // extern "C"
