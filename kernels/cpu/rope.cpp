#include "kernels/cpu/rope.h"

#include <cmath>
#include <vector>

namespace zotune::cpu {

void rope(float* x, const int32_t* positions, int n_tokens, int n_heads, int head_dim, const float* inv_freq,
          float attention_scaling) {
  const int half = head_dim / 2;
  std::vector<float> cos_t(half), sin_t(half);
  for (int t = 0; t < n_tokens; ++t) {
    // The angle is formed in fp32 as transformers does (position * inv_freq), so long
    // positions round the same way.
    for (int i = 0; i < half; ++i) {
      const float angle = static_cast<float>(positions[t]) * inv_freq[i];
      cos_t[i] = static_cast<float>(std::cos(static_cast<double>(angle))) * attention_scaling;
      sin_t[i] = static_cast<float>(std::sin(static_cast<double>(angle))) * attention_scaling;
    }
    for (int h = 0; h < n_heads; ++h) {
      float* v = x + (static_cast<size_t>(t) * n_heads + h) * head_dim;
      for (int i = 0; i < half; ++i) {
        const float a = v[i], b = v[i + half];
        v[i] = a * cos_t[i] - b * sin_t[i];
        v[i + half] = b * cos_t[i] + a * sin_t[i];
      }
    }
  }
}

}  // namespace zotune::cpu
