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
// Thread safety: the counter is atomic; it counts all threads.
#ifndef TAPEGRAD_TESTS_ALLOC_COUNTER_H_
#define TAPEGRAD_TESTS_ALLOC_COUNTER_H_

#include <cstdint>

namespace tapegrad::testing {

uint64_t HeapAllocations();

}  // namespace tapegrad::testing

#endif  // TAPEGRAD_TESTS_ALLOC_COUNTER_H_
