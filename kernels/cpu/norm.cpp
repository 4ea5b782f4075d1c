#include "kernels/cpu/norm.h"

#include <cmath>

namespace zotune::cpu {

void layernorm(float* out, const float* x, const void* weight, const void* bias, DType wtype, int rows, int C,
               float eps) {
  for (int r = 0; r < rows; ++r) {
    const float* xr = x + static_cast<size_t>(r) * C;
    float* yr = out + static_cast<size_t>(r) * C;
    double mean = 0.0;
    for (int c = 0; c < C; ++c) mean += xr[c];
    mean /= C;
    double var = 0.0;
    for (int c = 0; c < C; ++c) var += (xr[c] - mean) * (xr[c] - mean);
    var /= C;
    const double rstd = 1.0 / std::sqrt(var + eps);
    for (int c = 0; c < C; ++c) {
      float v = static_cast<float>((xr[c] - mean) * rstd) * load_f32(weight, wtype, c);
      if (bias != nullptr) v += load_f32(bias, wtype, c);
      yr[c] = v;
    }
  }
}

void rmsnorm(float* out, const float* x, const void* weight, DType wtype, int rows, int C, float eps) {
  for (int r = 0; r < rows; ++r) {
    const float* xr = x + static_cast<size_t>(r) * C;
    float* yr = out + static_cast<size_t>(r) * C;
    double ss = 0.0;
    for (int c = 0; c < C; ++c) ss += static_cast<double>(xr[c]) * xr[c];
    const float rstd = static_cast<float>(1.0 / std::sqrt(ss / C + eps));
    for (int c = 0; c < C; ++c) yr[c] = (xr[c] * rstd) * load_f32(weight, wtype, c);
  }
}

}  // namespace zotune::cpu
