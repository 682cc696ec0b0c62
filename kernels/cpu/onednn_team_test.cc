// oneDNN convolutions run on the OpenMP team their call was given, whatever team
// size was current when their primitives were first made (Note [Team size at
// creation] in kernels/cpu/conv_onednn.cc).
//
// The test counts this process's threads: libgomp starts its workers at the first
// parallel region that asks for them and keeps them, so a convolution that runs on
// one thread leaves the count alone and the first that runs on two adds one. This
// binary holds this one test, so that no earlier test has started a team.
#include <dirent.h>

#include <vector>

#include "gtest/gtest.h"
#include "kernels/cpu/parallel.h"
#include "tapegrad.h"

namespace tapegrad {
namespace {

int ThreadsOfThisProcess() {
  DIR* dir = opendir("/proc/self/task");
  if (dir == nullptr) return -1;
  int threads = 0;
  while (const dirent* entry = readdir(dir)) threads += entry->d_name[0] != '.';
  closedir(dir);
  return threads;
}

TEST(OneDnnTeam, ConvolutionsRunOnTheTeamOfTheirCall) {
  Random rng(1);
  // 2 * 8 * 16 * 16 * 8 * 9 = 295k multiply-adds: above kParallelWork, so a
  // 2-thread call is given both threads.
  const Tensor x = Tensor::Randn({2, 8, 16, 16}, rng);
  const Tensor w = Tensor::Randn({8, 8, 3, 3}, rng);
  Conv2dOptions options;
  options.padding = {1, 1};
  const int before = ThreadsOfThisProcess();
  ASSERT_GT(before, 0);

  cpu::SetNumThreads(1);
  const Tensor one = Conv2d(x, w, options);
  ASSERT_TRUE(one.ok()) << one.status();
  EXPECT_EQ(ThreadsOfThisProcess(), before) << "a 1-thread convolution started threads";

  // The same shape on two threads: its primitives were made for one thread, and
  // must be made again for two.
  cpu::SetNumThreads(2);
  const Tensor two = Conv2d(x, w, options);
  ASSERT_TRUE(two.ok()) << two.status();
  EXPECT_EQ(ThreadsOfThisProcess(), before + 1)
      << "a 2-thread convolution did not run on a team of two";
  const std::vector<float> a = one.ToFloatVector(), b = two.ToFloatVector();
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) EXPECT_NEAR(a[i], b[i], 1e-4f) << i;
}

}  // namespace
}  // namespace tapegrad
