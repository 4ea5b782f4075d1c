// ProgressPrinter (core/train/progress.h): the time left counts the evaluations still due, each
// evaluation is printed as it happens with the best so far, and plain lines carry ms/step,
// tokens/s, elapsed and left.
#include "core/train/progress.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <string>

namespace zotune {
namespace {

std::string printed(std::FILE* f) {
  std::fflush(f);
  std::rewind(f);
  std::string out;
  char buffer[4096];
  while (size_t n = std::fread(buffer, 1, sizeof buffer, f)) out.append(buffer, n);
  return out;
}

TEST(Progress, TimeLeftCountsTheEvaluationsStillDue) {
  // After step 0 of 10 at 100 ms a step: 9 steps left; evaluations every 2 steps are due after
  // steps 2, 4, 6, 8, 10 (all 5 still to come) at 1 s each.
  EXPECT_DOUBLE_EQ(ProgressPrinter::seconds_left(0, 10, 100.0, 2, 1000.0), 0.9 + 5.0);
  // After step 3 (4 done): 6 steps and the evaluations after 6, 8, 10.
  EXPECT_DOUBLE_EQ(ProgressPrinter::seconds_left(3, 10, 100.0, 2, 1000.0), 0.6 + 3.0);
  EXPECT_DOUBLE_EQ(ProgressPrinter::seconds_left(9, 10, 100.0, 2, 1000.0), 0.0);
  EXPECT_DOUBLE_EQ(ProgressPrinter::seconds_left(3, 10, 100.0, 0, 1000.0), 0.6);  // no evaluations
}

TEST(Progress, EvaluationsArePrintedAsTheyHappenAndLeftIncludesThem) {
  std::FILE* f = std::tmpfile();
  ASSERT_NE(f, nullptr);
  ProgressPrinter p(ProgressStyle::Plain, 4, 1, f, 2);
  p.step(0, 2.5, 100.0, 2000.0);
  p.step(1, 2.25, 100.0, 2000.0);
  p.evaluation(2, {{"dev_loss", 0.625}, {"dev_accuracy", 0.75}}, "dev_accuracy", 0.75, 2, 1500.0);
  p.step(2, 2.0, 100.0, 2000.0);
  p.finish();
  const std::string out = printed(f);
  std::fclose(f);
  EXPECT_NE(out.find("step 1/4  loss 2.500000  100.0 ms/step  20.0k tok/s  0:00 elapsed  0:00 left\n"), std::string::npos)
      << out;  // 3 steps (0.3 s) and 2 evaluations of unknown length (0 s) left: 0:00
  EXPECT_NE(out.find("eval after step 2:  dev_accuracy 0.7500  dev_loss 0.6250  (best dev_accuracy 0.7500 at step 2)  1.5 s\n"),
            std::string::npos)
      << out;
  // After step 3 of 4: one step (0.1 s) and the evaluation after step 4 (1.5 s) left: 0:02.
  EXPECT_NE(out.find("step 3/4  loss 2.000000  100.0 ms/step  20.0k tok/s  0:00 elapsed  0:02 left\n"), std::string::npos)
      << out;
}

}  // namespace
}  // namespace zotune
