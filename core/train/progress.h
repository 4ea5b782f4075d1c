// Rank 0's progress report: step, loss, ms/step, tokens/s, elapsed time and time left (the
// evaluations still to come included), and one line per dev evaluation as it happens. On a
// terminal the step line is rewritten in place every step; otherwise (a log file, CI) a plain
// line every `every` steps and at the last step, so logs stay short and greppable.
#pragma once
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <map>
#include <string>

#include "core/config/run_config.h"

namespace zotune {

class ProgressPrinter {
 public:
  // style Auto picks Line when `out` is a terminal; Off prints nothing. eval_every: steps
  // between dev evaluations (0 = none), for the time left.
  ProgressPrinter(ProgressStyle style, int64_t total_steps, int64_t every, std::FILE* out, int64_t eval_every = 0);
  // After step `step` (0-based) with its loss, wall time and the tokens its forwards read (0 =
  // not known: no tokens/s).
  void step(int64_t step, double loss, double ms, double tokens = 0.0);
  // A dev evaluation after `after_steps` steps that took `ms`: its scores, and the best value of
  // `key` so far with its step.
  void evaluation(int64_t after_steps, const std::map<std::string, double>& scores, const std::string& key,
                  double best, int64_t best_step, double ms);
  // Ends an updating line so that later output starts on a fresh line.
  void finish();

  // "1:02:03", "4:05" (h:mm:ss or m:ss) for a number of seconds (negative: "?").
  static void format_duration(double seconds, char* buffer, int size);
  // Seconds left after step `step` (0-based) of `total`: the mean step time over the steps left
  // plus the mean evaluation time over the evaluations left (every eval_every steps; none
  // measured yet counts as zero).
  static double seconds_left(int64_t step, int64_t total, double mean_step_ms, int64_t eval_every, double mean_eval_ms);

 private:
  void end_line();

  ProgressStyle style_;
  int64_t total_, every_, eval_every_;
  std::FILE* out_;
  std::chrono::steady_clock::time_point start_;
  double total_ms_ = 0.0, total_tokens_ = 0.0, eval_ms_ = 0.0;
  int64_t done_ = 0, evals_ = 0;
  bool line_open_ = false;
};

}  // namespace zotune
