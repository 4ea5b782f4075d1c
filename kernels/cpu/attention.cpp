#include "kernels/cpu/attention.h"

#include <cblas.h>

#include <cmath>
#include <limits>
#include <vector>

namespace zotune::cpu {

// Per (sequence, head): S = scale * Q K^T and O = softmax(S) V as two BLAS products over
// strided views (no copies), with the masks applied to S in between.
void attention(float* out, const float* q, const float* k, const float* v, const uint8_t* key_valid,
               const AttentionShape& s) {
  const int group = s.n_heads / s.n_kv_heads;
  const int q_row = s.n_heads * s.head_dim;
  const int kv_row = s.n_kv_heads * s.head_dim;
  const float neg_inf = -std::numeric_limits<float>::infinity();
  std::vector<float> scores(static_cast<size_t>(s.q_len) * s.kv_len);
  for (int b = 0; b < s.batch; ++b) {
    const uint8_t* valid = key_valid ? key_valid + b * s.mask_batch_stride : nullptr;
    for (int h = 0; h < s.n_heads; ++h) {
      const float* qh = q + static_cast<int64_t>(b) * s.q_len * q_row + static_cast<int64_t>(h) * s.head_dim;
      const float* kh = k + b * s.kv_batch_stride + static_cast<int64_t>(h / group) * s.head_dim;
      const float* vh = v + b * s.kv_batch_stride + static_cast<int64_t>(h / group) * s.head_dim;
      float* oh = out + static_cast<int64_t>(b) * s.q_len * q_row + static_cast<int64_t>(h) * s.head_dim;
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, s.q_len, s.kv_len, s.head_dim, s.scale, qh, q_row, kh, kv_row,
                  0.0f, scores.data(), s.kv_len);
      for (int i = 0; i < s.q_len; ++i) {
        const int qi = s.q_start + i;  // the query's index among the keys
        float* row = scores.data() + static_cast<size_t>(i) * s.kv_len;
        float best = neg_inf;
        for (int j = 0; j < s.kv_len; ++j) {
          const bool visible = (valid == nullptr || valid[j]) && (!s.causal || j <= qi) &&
                               (s.sliding_window <= 0 || qi - j < s.sliding_window);
          if (!visible) row[j] = neg_inf;
          if (row[j] > best) best = row[j];
        }
        if (best == neg_inf) {  // sees no key: a zero row (only padding queries get here)
          for (int j = 0; j < s.kv_len; ++j) row[j] = 0.0f;
          continue;
        }
        float sum = 0.0f;
        for (int j = 0; j < s.kv_len; ++j) {
          row[j] = row[j] == neg_inf ? 0.0f : std::exp(row[j] - best);
          sum += row[j];
        }
        const float inv = 1.0f / sum;
        for (int j = 0; j < s.kv_len; ++j) row[j] *= inv;
      }
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, s.q_len, s.head_dim, s.kv_len, 1.0f, scores.data(), s.kv_len,
                  vh, kv_row, 0.0f, oh, q_row);
    }
  }
}

}  // namespace zotune::cpu
