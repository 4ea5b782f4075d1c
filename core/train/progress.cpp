#include "core/train/progress.h"

#include <unistd.h>

#include <cmath>
#include <string>

namespace zotune {

ProgressPrinter::ProgressPrinter(ProgressStyle style, int64_t total_steps, int64_t every, std::FILE* out,
                                 int64_t eval_every)
    : style_(style),
      total_(total_steps),
      every_(every < 1 ? 1 : every),
      eval_every_(eval_every < 0 ? 0 : eval_every),
      out_(out),
      start_(std::chrono::steady_clock::now()) {
  if (style_ == ProgressStyle::Auto) style_ = isatty(fileno(out_)) ? ProgressStyle::Line : ProgressStyle::Plain;
}

void ProgressPrinter::format_duration(double seconds, char* buffer, int size) {
  if (!(seconds >= 0.0) || !std::isfinite(seconds)) {
    std::snprintf(buffer, static_cast<size_t>(size), "?");
    return;
  }
  const long s = std::lround(seconds);
  if (s >= 3600)
    std::snprintf(buffer, static_cast<size_t>(size), "%ld:%02ld:%02ld", s / 3600, (s / 60) % 60, s % 60);
  else
    std::snprintf(buffer, static_cast<size_t>(size), "%ld:%02ld", s / 60, s % 60);
}

double ProgressPrinter::seconds_left(int64_t step, int64_t total, double mean_step_ms, int64_t eval_every,
                                     double mean_eval_ms) {
  const int64_t done = step + 1;
  double ms = mean_step_ms * static_cast<double>(total - done);
  // Evaluations come after steps every, 2 every, ...: those at done + 1 .. total are still due.
  if (eval_every > 0) ms += mean_eval_ms * static_cast<double>(total / eval_every - done / eval_every);
  return ms / 1000.0;
}

void ProgressPrinter::step(int64_t step, double loss, double ms, double tokens) {
  total_ms_ += ms;
  total_tokens_ += tokens;
  ++done_;
  if (style_ == ProgressStyle::Off) return;
  const bool last = step + 1 >= total_;
  if (style_ == ProgressStyle::Plain && (step + 1) % every_ != 0 && !last && step != 0) return;
  const double mean_ms = total_ms_ / static_cast<double>(done_);
  char left[32], elapsed[32], rate[48] = "";
  format_duration(seconds_left(step, total_, mean_ms, eval_every_, evals_ ? eval_ms_ / evals_ : 0.0), left, sizeof(left));
  format_duration(std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count(), elapsed,
                  sizeof(elapsed));
  if (total_tokens_ > 0.0 && total_ms_ > 0.0) {
    const double per_s = total_tokens_ / (total_ms_ / 1000.0);
    if (per_s >= 1e6)
      std::snprintf(rate, sizeof(rate), "  %.2fM tok/s", per_s / 1e6);
    else
      std::snprintf(rate, sizeof(rate), "  %.1fk tok/s", per_s / 1e3);
  }
  const int width = static_cast<int>(std::to_string(total_).size());
  std::fprintf(out_, "%sstep %*lld/%lld  loss %.6f  %.1f ms/step%s  %s elapsed  %s left%s",
               style_ == ProgressStyle::Line ? "\r\033[K" : "", width, static_cast<long long>(step + 1),
               static_cast<long long>(total_), loss, mean_ms, rate, elapsed, left,
               style_ == ProgressStyle::Line ? "" : "\n");
  line_open_ = style_ == ProgressStyle::Line;
  std::fflush(out_);
}

void ProgressPrinter::evaluation(int64_t after_steps, const std::map<std::string, double>& scores,
                                 const std::string& key, double best, int64_t best_step, double ms) {
  eval_ms_ += ms;
  ++evals_;
  if (style_ == ProgressStyle::Off) return;
  end_line();
  std::string text;
  char value[64];
  for (const auto& [name, v] : scores) {
    std::snprintf(value, sizeof(value), "  %s %.4f", name.c_str(), v);
    text += value;
  }
  std::snprintf(value, sizeof(value), "%.4f", best);
  char took[32];
  if (ms < 1000.0)
    std::snprintf(took, sizeof(took), "%.0f ms", ms);
  else
    std::snprintf(took, sizeof(took), "%.1f s", ms / 1000.0);
  std::fprintf(out_, "eval after step %lld:%s  (best %s %s at step %lld)  %s\n", static_cast<long long>(after_steps),
               text.c_str(), key.c_str(), value, static_cast<long long>(best_step), took);
  std::fflush(out_);
}

void ProgressPrinter::end_line() {
  if (line_open_) std::fputc('\n', out_);
  line_open_ = false;
}

void ProgressPrinter::finish() {
  end_line();
  std::fflush(out_);
}

}  // namespace zotune
