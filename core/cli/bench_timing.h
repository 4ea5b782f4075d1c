// Timing for `zotune bench` (cli_bench*.cpp): medians of wall-clock calls, each ended by the
// engine's sync (a CUDA stream synchronize; nothing on the CPU), so queued device work counts.
#pragma once
#include <algorithm>
#include <chrono>
#include <functional>
#include <vector>

namespace zotune::cli {

// The median of `iters` timed calls of f, after `warmup` calls and then more until `warmup_s`
// seconds have passed.
template <typename F>
double median_ms(int warmup, int iters, const std::function<void()>& sync, F&& f, double warmup_s = 0.0) {
  const auto warm_start = std::chrono::steady_clock::now();
  for (int i = 0; i < warmup; ++i) f();
  sync();
  while (std::chrono::duration<double>(std::chrono::steady_clock::now() - warm_start).count() < warmup_s) {
    f();
    sync();
  }
  std::vector<double> ms;
  for (int i = 0; i < iters; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    f();
    sync();
    ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  }
  std::sort(ms.begin(), ms.end());
  return ms[ms.size() / 2];
}

}  // namespace zotune::cli
