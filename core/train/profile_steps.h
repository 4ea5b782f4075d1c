// Which training steps a GPU profiler records. A profiler started with its capture off
// (`ncu --profile-from-start off`, `nsys profile --capture-range=cudaProfilerApi`) records
// between cudaProfilerStart and cudaProfilerStop; ZOTUNE_PROFILE_STEPS=FIRST[:COUNT] (0-based
// step numbers, COUNT default 1) makes `zotune train` call them around steps FIRST to
// FIRST + COUNT - 1, so a profile holds those steps' kernels and nothing of model loading,
// evaluation or the steps before (experiments/benchmarks/run_kernel_profile.sh).
#pragma once
#include <cstdint>
#include <string>

namespace zotune {

struct ProfileSteps {
  int64_t first = -1, count = 0;  // none: count 0
  bool starts_at(int64_t step) const { return count > 0 && step == first; }
  bool ends_at(int64_t step) const { return count > 0 && step == first + count - 1; }
};

inline constexpr const char* kProfileStepsVariable = "ZOTUNE_PROFILE_STEPS";

// "FIRST" or "FIRST:COUNT", decimal, FIRST >= 0, COUNT >= 1; empty: none. Throws zotune::Error
// naming ZOTUNE_PROFILE_STEPS and the text otherwise.
ProfileSteps parse_profile_steps(const std::string& text);
// The environment's ZOTUNE_PROFILE_STEPS (unset: none).
ProfileSteps profile_steps_from_environment();

// cudaProfilerStart / cudaProfilerStop in a CUDA build (without a profiler attached they do
// nothing); no-ops in a CPU-only build.
void profiler_start();
void profiler_stop();

}  // namespace zotune
