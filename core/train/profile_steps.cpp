#include "core/train/profile_steps.h"

#include <charconv>
#include <cstdlib>

#ifdef ZOTUNE_HAVE_CUDA
#include <cuda_profiler_api.h>
#include <cuda_runtime_api.h>
#endif

#include "core/util/error.h"

namespace zotune {
namespace {

// A whole decimal number of `part` (no sign, no spaces), or nullopt-like -1.
int64_t whole_number(const std::string& part) {
  int64_t value = -1;
  const auto [end, ec] = std::from_chars(part.data(), part.data() + part.size(), value);
  if (part.empty() || ec != std::errc() || end != part.data() + part.size() || value < 0) return -1;
  return value;
}

#ifdef ZOTUNE_HAVE_CUDA
void check_profiler_call(cudaError_t status, const char* call) {
  check(status == cudaSuccess,
        std::string(kProfileStepsVariable) + ": " + call + " failed: " + cudaGetErrorString(status));
}
#endif

}  // namespace

ProfileSteps parse_profile_steps(const std::string& text) {
  if (text.empty()) return {};
  const size_t colon = text.find(':');
  const int64_t first = whole_number(text.substr(0, colon));
  const int64_t count = colon == std::string::npos ? 1 : whole_number(text.substr(colon + 1));
  check(first >= 0 && count >= 1, std::string(kProfileStepsVariable) + ": '" + text +
                                      "' is not FIRST or FIRST:COUNT (the first 0-based step to profile, and how many "
                                      "steps, at least 1)");
  return {first, count};
}

ProfileSteps profile_steps_from_environment() {
  const char* text = std::getenv(kProfileStepsVariable);
  return text ? parse_profile_steps(text) : ProfileSteps{};
}

void profiler_start() {
#ifdef ZOTUNE_HAVE_CUDA
  check_profiler_call(cudaProfilerStart(), "cudaProfilerStart");
#endif
}

void profiler_stop() {
#ifdef ZOTUNE_HAVE_CUDA
  check_profiler_call(cudaProfilerStop(), "cudaProfilerStop");
#endif
}

}  // namespace zotune
