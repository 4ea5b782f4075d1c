// KV-cache append: one block per (new token row, k or v), copying the row in the widest word
// (16, 4 or 2 bytes) that every pointer, the row length and the source stride allow.
#include <cuda_runtime.h>

#include <cstdint>
#include <string>

#include "core/util/error.h"
#include "kernels/cuda/device.cuh"
#include "kernels/cuda/element.cuh"
#include "kernels/cuda/kv_cache.cuh"

namespace zotune::cuda {
namespace {

struct AppendParams {
  char* cache[2];        // k_cache, v_cache
  const char* src[2];    // k_src, v_src
  int seq_len, capacity, length;
  int64_t row_bytes;     // bytes of one token's keys (= its values)
  int64_t src_row_bytes; // bytes between source token rows
};

// grid.x = batch * seq_len source rows, grid.y = 2 (keys, values); W = the word copied.
template <typename W>
__global__ void append_kv_kernel(const AppendParams p) {
  const int64_t r = blockIdx.x;
  const int64_t b = r / p.seq_len, t = r - b * p.seq_len;
  const int which = blockIdx.y;
  const W* src = reinterpret_cast<const W*>(p.src[which] + r * p.src_row_bytes);
  W* dst = reinterpret_cast<W*>(p.cache[which] + ((b * p.capacity) + p.length + t) * p.row_bytes);
  const int64_t words = p.row_bytes / int64_t(sizeof(W));
  for (int64_t i = threadIdx.x; i < words; i += blockDim.x) dst[i] = src[i];
}

template <typename W>
void launch(const AppendParams& p, int rows, cudaStream_t stream) {
  const int64_t words = p.row_bytes / int64_t(sizeof(W));
  const int threads = static_cast<int>(words >= 256 ? 256 : (words + 31) / 32 * 32);
  append_kv_kernel<W><<<dim3(static_cast<unsigned>(rows), 2), threads, 0, stream>>>(p);
}

}  // namespace

void append_kv(void* k_cache, void* v_cache, const void* k_src, const void* v_src, DType type, int batch, int seq_len,
               int width, int64_t src_row, int capacity, int length, void* stream) {
  check(batch >= 0 && seq_len >= 0 && width >= 0 && length >= 0, "cuda::append_kv: negative shape");
  check(src_row >= width, "cuda::append_kv: source row stride " + std::to_string(src_row) + " is shorter than the width " +
                              std::to_string(width));
  check(int64_t(length) + seq_len <= capacity, "cuda::append_kv: " + std::to_string(length) + " cached + " +
                                                   std::to_string(seq_len) + " new tokens exceed the capacity " +
                                                   std::to_string(capacity));
  const int64_t rows = int64_t(batch) * seq_len;
  if (rows == 0 || width == 0) return;
  check(rows <= 0x7fffffff, "cuda::append_kv: too many token rows for one launch");
  const int64_t es = static_cast<int64_t>(dtype_size(type));
  AppendParams p{};
  p.cache[0] = static_cast<char*>(k_cache);
  p.cache[1] = static_cast<char*>(v_cache);
  p.src[0] = static_cast<const char*>(k_src);
  p.src[1] = static_cast<const char*>(v_src);
  p.seq_len = seq_len;
  p.capacity = capacity;
  p.length = length;
  p.row_bytes = int64_t(width) * es;
  p.src_row_bytes = src_row * es;
  // A word size fits when every row start of both sides lands on it.
  auto fits = [&](size_t w) {
    return p.row_bytes % int64_t(w) == 0 && p.src_row_bytes % int64_t(w) == 0 && aligned(k_cache, w) &&
           aligned(v_cache, w) && aligned(k_src, w) && aligned(v_src, w);
  };
  const auto s = static_cast<cudaStream_t>(stream);
  if (fits(16)) launch<uint4>(p, static_cast<int>(rows), s);
  else if (fits(4)) launch<uint32_t>(p, static_cast<int>(rows), s);
  else {
    check(fits(2), "cuda::append_kv: pointers not aligned to their dtype");
    launch<uint16_t>(p, static_cast<int>(rows), s);
  }
  check_status(cudaGetLastError(), "append_kv kernel launch");
}

}  // namespace zotune::cuda
