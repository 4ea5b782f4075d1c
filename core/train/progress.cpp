#include "core/train/progress.h"

#include <unistd.h>

#include <cmath>
#include <string>

namespace zotune {

ProgressPrinter::ProgressPrinter(ProgressStyle style, int64_t total_steps, int64_t every, std::FILE* out)
    : style_(style), total_(total_steps), every_(every < 1 ? 1 : every), out_(out) {
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

void ProgressPrinter::step(int64_t step, double loss, double ms) {
  total_ms_ += ms;
  ++done_;
  if (style_ == ProgressStyle::Off) return;
  const bool last = step + 1 >= total_;
  if (style_ == ProgressStyle::Plain && (step + 1) % every_ != 0 && !last && step != 0) return;
  const double mean_ms = total_ms_ / static_cast<double>(done_);
  char left[32];
  format_duration(mean_ms * static_cast<double>(total_ - step - 1) / 1000.0, left, sizeof(left));
  const int width = static_cast<int>(std::to_string(total_).size());
  if (style_ == ProgressStyle::Line) {
    std::fprintf(out_, "\r\033[Kstep %*lld/%lld  loss %.6f  %.1f ms/step  %s left", width,
                 static_cast<long long>(step + 1), static_cast<long long>(total_), loss, mean_ms, left);
    line_open_ = true;
  } else {
    std::fprintf(out_, "step %*lld/%lld  loss %.6f  %.1f ms/step  %s left\n", width, static_cast<long long>(step + 1),
                 static_cast<long long>(total_), loss, mean_ms, left);
  }
  std::fflush(out_);
}

void ProgressPrinter::finish() {
  if (line_open_) std::fputc('\n', out_);
  line_open_ = false;
  std::fflush(out_);
}

}  // namespace zotune
