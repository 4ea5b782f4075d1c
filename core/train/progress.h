// Rank 0's progress report: step, loss, ms/step and time left. On a terminal one line is
// rewritten in place every step; otherwise (a log file, CI) a plain line every `every` steps
// and at the last step, so logs stay short and greppable.
#pragma once
#include <cstdint>
#include <cstdio>

#include "core/config/run_config.h"

namespace zotune {

class ProgressPrinter {
 public:
  // style Auto picks Line when `out` is a terminal; Off prints nothing.
  ProgressPrinter(ProgressStyle style, int64_t total_steps, int64_t every, std::FILE* out);
  // After step `step` (0-based) with its loss and wall time.
  void step(int64_t step, double loss, double ms);
  // Ends an updating line so that later output starts on a fresh line.
  void finish();

  // "1:02:03", "4:05" (h:mm:ss or m:ss) for a number of seconds (negative: "?").
  static void format_duration(double seconds, char* buffer, int size);

 private:
  ProgressStyle style_;
  int64_t total_, every_;
  std::FILE* out_;
  double total_ms_ = 0.0;
  int64_t done_ = 0;
  bool line_open_ = false;
};

}  // namespace zotune
