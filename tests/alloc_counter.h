// Counts heap allocations made through operator new in the program that links
// this library (it replaces the global operator new and delete).
//
//   const uint64_t before = tapegrad::testing::HeapAllocations();
//   RunStep();
//   EXPECT_EQ(tapegrad::testing::HeapAllocations() - before, 0u);
//
// Every C++ container, std::function and shared_ptr allocates through operator
// new, so this sees what a step would ask of the allocator.
//
// Allocations made by oneDNN's own code (libdnnl) are counted apart: oneDNN 2.6
// allocates inside every call (one block per dnnl_sgemm, an argument map per
// primitive execute) and frees it before returning, which no caller can avoid.
// HeapAllocations() is everything else; OneDnnLiveBlocks() checks that oneDNN's
// blocks do not pile up.
//
// Thread safety: the counter is atomic; it counts all threads.
#ifndef TAPEGRAD_TESTS_ALLOC_COUNTER_H_
#define TAPEGRAD_TESTS_ALLOC_COUNTER_H_

#include <cstdint>

namespace tapegrad::testing {

// Allocations by any code but libdnnl's.
uint64_t HeapAllocations();
// Allocations by libdnnl's code, and those not yet freed by it.
uint64_t OneDnnAllocations();
int64_t OneDnnLiveBlocks();

}  // namespace tapegrad::testing

#endif  // TAPEGRAD_TESTS_ALLOC_COUNTER_H_
