#include "kernels/cpu/attention.h"

#include <cmath>
#include <limits>
#include <vector>

namespace zotune::cpu {

void attention(float* out, const float* q, const float* k, const float* v, const uint8_t* key_valid,
               const AttentionShape& s) {
  const int group = s.n_heads / s.n_kv_heads;
  const int64_t q_row = static_cast<int64_t>(s.n_heads) * s.head_dim;
  const int64_t kv_row = static_cast<int64_t>(s.n_kv_heads) * s.head_dim;
  std::vector<float> score(s.kv_len);
  for (int b = 0; b < s.batch; ++b) {
    const float* kb = k + b * s.kv_batch_stride;
    const float* vb = v + b * s.kv_batch_stride;
    const uint8_t* valid = key_valid ? key_valid + b * s.mask_batch_stride : nullptr;
    for (int i = 0; i < s.q_len; ++i) {
      const int qi = s.q_start + i;  // the query's index among the keys
      for (int h = 0; h < s.n_heads; ++h) {
        const float* qv = q + (static_cast<int64_t>(b) * s.q_len + i) * q_row + static_cast<int64_t>(h) * s.head_dim;
        const int64_t kv_off = static_cast<int64_t>(h / group) * s.head_dim;
        float* o = out + (static_cast<int64_t>(b) * s.q_len + i) * q_row + static_cast<int64_t>(h) * s.head_dim;
        float best = -std::numeric_limits<float>::infinity();
        for (int j = 0; j < s.kv_len; ++j) {
          const bool visible = (valid == nullptr || valid[j]) && (!s.causal || j <= qi) &&
                               (s.sliding_window <= 0 || qi - j < s.sliding_window);
          if (!visible) {
            score[j] = -std::numeric_limits<float>::infinity();
            continue;
          }
          const float* kv = kb + j * kv_row + kv_off;
          float dot = 0.0f;
          for (int d = 0; d < s.head_dim; ++d) dot += qv[d] * kv[d];
          score[j] = dot * s.scale;
          if (score[j] > best) best = score[j];
        }
        for (int d = 0; d < s.head_dim; ++d) o[d] = 0.0f;
        if (best == -std::numeric_limits<float>::infinity()) continue;
        float sum = 0.0f;
        for (int j = 0; j < s.kv_len; ++j) {
          score[j] = score[j] == -std::numeric_limits<float>::infinity() ? 0.0f : std::exp(score[j] - best);
          sum += score[j];
        }
        const float inv = 1.0f / sum;
        for (int j = 0; j < s.kv_len; ++j) {
          if (score[j] == 0.0f) continue;
          const float p = score[j] * inv;
          const float* vv = vb + j * kv_row + kv_off;
          for (int d = 0; d < s.head_dim; ++d) o[d] += p * vv[d];
        }
      }
    }
  }
}

}  // namespace zotune::cpu
