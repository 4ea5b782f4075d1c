#include "kernels/cpu/perturb.h"

#include <algorithm>
#include <cmath>
#include <vector>

namespace zotune::cpu {

namespace {

// Calls f(i, value) for i in [0, n) with value = z[first + i], one Philox block at a time.
template <typename F>
void for_each_direction_value(int64_t n, uint64_t first, uint64_t seed, uint32_t step, uint32_t query,
                              DirectionKind kind, F&& f) {
  int64_t i = 0;
  while (i < n) {
    const uint64_t g = first + static_cast<uint64_t>(i);
    const uint64_t block = g >> 2;
    float z[4];
    direction_values(seed, step, query, block, kind, z);
    for (int lane = static_cast<int>(g & 3u); lane < 4 && i < n; ++lane, ++i) f(i, z[lane]);
  }
}

}  // namespace

void perturb(void* x, DType dtype, int64_t n, uint64_t first, const DirectionTerm* terms, int n_terms,
             DirectionKind kind) {
  // Chunks keep the fp32 accumulator in cache while every term streams over it. Every
  // element is a pure function of its index, so the chunks run on any thread in any order
  // with the same result.
  constexpr int64_t kChunk = 1 << 14;
  const int64_t n_chunks = (n + kChunk - 1) / kChunk;
#ifdef _OPENMP
#pragma omp parallel if (n_chunks > 1)
#endif
  {
    std::vector<float> acc(static_cast<size_t>(std::min<int64_t>(n, kChunk)));
#ifdef _OPENMP
#pragma omp for schedule(static)
#endif
    for (int64_t chunk = 0; chunk < n_chunks; ++chunk) {
      const int64_t start = chunk * kChunk;
      const int64_t len = std::min(kChunk, n - start);
      std::fill(acc.begin(), acc.begin() + len, 0.0f);
      for (int j = 0; j < n_terms; ++j) {
        const float c = terms[j].coeff;
        if (c == 0.0f) continue;
        for_each_direction_value(len, first + static_cast<uint64_t>(start), terms[j].seed, terms[j].step,
                                 terms[j].query, kind, [&](int64_t i, float z) { acc[i] += c * z; });
      }
      switch (dtype) {
        case DType::F32: {
          float* p = static_cast<float*>(x) + start;
          for (int64_t i = 0; i < len; ++i) p[i] += acc[i];
          break;
        }
        case DType::F16: {
          uint16_t* p = static_cast<uint16_t*>(x) + start;
          for (int64_t i = 0; i < len; ++i) p[i] = f32_to_f16(f16_to_f32(p[i]) + acc[i]);
          break;
        }
        case DType::BF16: {
          uint16_t* p = static_cast<uint16_t*>(x) + start;
          for (int64_t i = 0; i < len; ++i) p[i] = f32_to_bf16(bf16_to_f32(p[i]) + acc[i]);
          break;
        }
      }
    }
  }
}

float round_to_dtype(float z, DType dtype) {
  switch (dtype) {
    case DType::F16: return f16_to_f32(f32_to_f16(z));
    case DType::BF16: return bf16_to_f32(f32_to_bf16(z));
    case DType::F32: break;
  }
  return z;
}

void perturb_in_dtype(void* x, DType dtype, int64_t n, uint64_t first, const DirectionTerm& term, DirectionKind kind) {
  const float c = term.coeff;
  if (c == 0.0f) return;
  // Chunks as in perturb: every element is a pure function of its index.
  constexpr int64_t kChunk = 1 << 14;
  const int64_t n_chunks = (n + kChunk - 1) / kChunk;
#ifdef _OPENMP
#pragma omp parallel for schedule(static) if (n_chunks > 1)
#endif
  for (int64_t chunk = 0; chunk < n_chunks; ++chunk) {
    const int64_t start = chunk * kChunk;
    const int64_t len = std::min(kChunk, n - start);
    const uint64_t g0 = first + static_cast<uint64_t>(start);
    switch (dtype) {
      case DType::F32: {
        float* p = static_cast<float*>(x) + start;
        for_each_direction_value(len, g0, term.seed, term.step, term.query, kind,
                                 [&](int64_t i, float z) { p[i] = std::fma(c, z, p[i]); });
        break;
      }
      case DType::F16: {
        uint16_t* p = static_cast<uint16_t*>(x) + start;
        for_each_direction_value(len, g0, term.seed, term.step, term.query, kind, [&](int64_t i, float z) {
          p[i] = f32_to_f16(std::fma(c, f16_to_f32(f32_to_f16(z)), f16_to_f32(p[i])));
        });
        break;
      }
      case DType::BF16: {
        uint16_t* p = static_cast<uint16_t*>(x) + start;
        for_each_direction_value(len, g0, term.seed, term.step, term.query, kind, [&](int64_t i, float z) {
          p[i] = f32_to_bf16(std::fma(c, bf16_to_f32(f32_to_bf16(z)), bf16_to_f32(p[i])));
        });
        break;
      }
    }
  }
}

void direction(float* out, int64_t n, uint64_t first, uint64_t seed, uint32_t step, uint32_t query, DirectionKind kind) {
  for_each_direction_value(n, first, seed, step, query, kind, [&](int64_t i, float z) { out[i] = z; });
}

void uniform(float* out, int64_t n, uint64_t first, uint64_t seed, uint32_t step, uint32_t query) {
  int64_t i = 0;
  while (i < n) {
    const uint64_t g = first + static_cast<uint64_t>(i);
    float u[4];
    uniform_values(seed, step, query, g >> 2, u);
    for (int lane = static_cast<int>(g & 3u); lane < 4 && i < n; ++lane, ++i) out[i] = u[lane];
  }
}

}  // namespace zotune::cpu
