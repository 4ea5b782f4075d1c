#include "kernels/cpu/attention.h"

#include <cmath>
#include <limits>
#include <vector>

#include "kernels/cpu/gemm.h"

namespace zotune::cpu {

// Per (sequence, head): S = scale * Q [Kp; K]^T and O = softmax(S) [Vp; V] as BLAS products over
// strided views (no copies), with the masks applied to S in between. The prefix columns
// (Kp, Vp: prefix.len rows, never masked) come first in each row of S. OpenMP spreads the
// (sequence, head) pairs over the threads; each pair is computed alike on any thread.
void attention(float* out, const float* q, const float* k, const float* v, const uint8_t* key_valid,
               const AttentionShape& s, const AttentionPrefix& prefix) {
  const int group = s.n_heads / s.n_kv_heads;
  const int q_row = s.n_heads * s.head_dim;
  const int kv_row = s.n_kv_heads * s.head_dim;
  const int P = prefix.len;
  const int width = P + s.kv_len;  // columns of S: prefix keys, then the keys in k
  const float neg_inf = -std::numeric_limits<float>::infinity();
  const int per_group = prefix.groups > 1 ? s.batch / prefix.groups : s.batch;
  const int pairs = s.batch * s.n_heads;
#pragma omp parallel if (pairs > 1)
  {
    std::vector<float> scores(static_cast<size_t>(s.q_len) * width);  // this thread's S, reused per pair
#pragma omp for schedule(static)
    for (int bh = 0; bh < pairs; ++bh) {
      const int b = bh / s.n_heads, h = bh % s.n_heads;
      const uint8_t* valid = key_valid ? key_valid + b * s.mask_batch_stride : nullptr;
      const int64_t prefix_at = prefix.groups > 1 ? (b / per_group) * prefix.group_stride : 0;
      const float* qh = q + static_cast<int64_t>(b) * s.q_len * q_row + static_cast<int64_t>(h) * s.head_dim;
      const float* kh = k + b * s.kv_batch_stride + static_cast<int64_t>(h / group) * s.head_dim;
      const float* vh = v + b * s.kv_batch_stride + static_cast<int64_t>(h / group) * s.head_dim;
      float* oh = out + static_cast<int64_t>(b) * s.q_len * q_row + static_cast<int64_t>(h) * s.head_dim;
      if (P > 0)
        gemm(true, s.q_len, P, s.head_dim, s.scale, qh, q_row,
             prefix.k + prefix_at + static_cast<int64_t>(h / group) * s.head_dim, kv_row, 0.0f, scores.data(), width);
      gemm(true, s.q_len, s.kv_len, s.head_dim, s.scale, qh, q_row, kh, kv_row, 0.0f, scores.data() + P, width);
      for (int i = 0; i < s.q_len; ++i) {
        const int qi = s.q_start + i;  // the query's index among the keys
        float* row = scores.data() + static_cast<size_t>(i) * width;
        float best = neg_inf;
        for (int j = 0; j < P; ++j)
          if (row[j] > best) best = row[j];
        float* keys = row + P;
        for (int j = 0; j < s.kv_len; ++j) {
          const bool visible = (valid == nullptr || valid[j]) && (!s.causal || j <= qi) &&
                               (s.sliding_window <= 0 || qi - j < s.sliding_window);
          if (!visible) keys[j] = neg_inf;
          if (keys[j] > best) best = keys[j];
        }
        if (best == neg_inf) {  // sees no key: a zero row (only padding queries without a prefix get here)
          for (int j = 0; j < width; ++j) row[j] = 0.0f;
          continue;
        }
        float sum = 0.0f;
        for (int j = 0; j < width; ++j) {
          row[j] = row[j] == neg_inf ? 0.0f : std::exp(row[j] - best);
          sum += row[j];
        }
        const float inv = 1.0f / sum;
        for (int j = 0; j < width; ++j) row[j] *= inv;
      }
      if (P > 0)
        gemm(false, s.q_len, s.head_dim, P, 1.0f, scores.data(), width,
             prefix.v + prefix_at + static_cast<int64_t>(h / group) * s.head_dim, kv_row, 0.0f, oh, q_row);
      gemm(false, s.q_len, s.head_dim, s.kv_len, 1.0f, scores.data() + P, width, vh, kv_row, P > 0 ? 1.0f : 0.0f, oh,
           q_row);
    }
  }
}

}  // namespace zotune::cpu
