// What the fuzz targets draw from their input besides FuzzedDataProvider's own
// types: sizes and axes as an adversary picks them.
#ifndef TAPEGRAD_TESTS_FUZZ_FUZZ_INPUT_H_
#define TAPEGRAD_TESTS_FUZZ_FUZZ_INPUT_H_

#include <fuzzer/FuzzedDataProvider.h>

#include <cstdint>
#include <vector>

namespace tapegrad::fuzz {

// Mostly small (0 to 4), sometimes negative, sometimes 2^k for k in
// [large_from, 62], sometimes any int64: at, under and past every size limit.
inline int64_t PickSize(FuzzedDataProvider& in, int large_from) {
  switch (in.ConsumeIntegralInRange<int>(0, 9)) {
    case 0:
      return -in.ConsumeIntegralInRange<int64_t>(1, 3);
    case 1:
      return int64_t{1} << in.ConsumeIntegralInRange<int>(large_from, 62);
    case 2:
      return in.ConsumeIntegral<int64_t>();
    default:
      return in.ConsumeIntegralInRange<int64_t>(0, 4);
  }
}

// A shape (or list of axes) of up to `max_rank` PickSize values.
inline std::vector<int64_t> PickShape(FuzzedDataProvider& in, int large_from,
                                      size_t max_rank) {
  std::vector<int64_t> shape(in.ConsumeIntegralInRange<size_t>(0, max_rank));
  for (int64_t& d : shape) d = PickSize(in, large_from);
  return shape;
}

}  // namespace tapegrad::fuzz

#endif  // TAPEGRAD_TESTS_FUZZ_FUZZ_INPUT_H_
