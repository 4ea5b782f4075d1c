// Prefix keys and values into a key/value buffer: one thread an element (of K and of V), a
// grid-stride loop over batch * len * width; the fp32 source rows are read coalesced.
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>
#include <string>

#include "core/util/error.h"
#include "kernels/cuda/device.cuh"
#include "kernels/cuda/element.cuh"
#include "kernels/cuda/prefix_kv.cuh"

namespace zotune::cuda {
namespace {

struct StorePrefixParams {
  void* k;
  void* v;
  const float* k_prefix;
  const float* v_prefix;
  uint8_t* valid;
  int len, width, per_group;  // per_group: sequences of one probe group
  int64_t group_stride, dst_batch_stride, valid_stride;
  int64_t total;  // batch * len * width
};

template <typename T>
__global__ void store_prefix_kv_kernel(const StorePrefixParams p) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < p.total; i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t c = i % p.width, r = i / p.width;  // r = b * len + j
    const int64_t j = r % p.len, b = r / p.len;
    const int64_t src = (b / p.per_group) * p.group_stride + j * p.width + c;
    const int64_t dst = b * p.dst_batch_stride + j * p.width + c;
    static_cast<T*>(p.k)[dst] = from_f32<T>(p.k_prefix[src]);
    static_cast<T*>(p.v)[dst] = from_f32<T>(p.v_prefix[src]);
    if (p.valid != nullptr && c == 0) p.valid[b * p.valid_stride + j] = 1;
  }
}

}  // namespace

void store_prefix_kv(void* k_dst, void* v_dst, DType type, const float* k_prefix, const float* v_prefix, int len,
                     int width, int batch, int groups, int64_t group_stride, int64_t dst_batch_stride,
                     uint8_t* valid, int64_t valid_stride, void* stream) {
  check(len >= 0 && width >= 0 && batch >= 0, "cuda::store_prefix_kv: negative shape");
  check(groups >= 1 && batch % groups == 0, "cuda::store_prefix_kv: " + std::to_string(batch) +
                                                " sequences do not split into " + std::to_string(groups) +
                                                " probe groups");
  check(groups == 1 || group_stride >= int64_t(len) * width,
        "cuda::store_prefix_kv: the probe groups' prefixes overlap (group stride " + std::to_string(group_stride) +
            " elements for " + std::to_string(len) + " x " + std::to_string(width) + ")");
  check(dst_batch_stride >= int64_t(len) * width, "cuda::store_prefix_kv: a sequence's " +
                                                      std::to_string(dst_batch_stride) +
                                                      " elements cannot hold the prefix");
  check(valid == nullptr || valid_stride >= len, "cuda::store_prefix_kv: valid rows shorter than the prefix");
  StorePrefixParams p{};
  p.k = k_dst;
  p.v = v_dst;
  p.k_prefix = k_prefix;
  p.v_prefix = v_prefix;
  p.valid = valid;
  p.len = len;
  p.width = width;
  p.per_group = std::max(batch / groups, 1);
  p.group_stride = groups > 1 ? group_stride : 0;
  p.dst_batch_stride = dst_batch_stride;
  p.valid_stride = valid_stride;
  p.total = int64_t(batch) * len * width;
  if (p.total == 0) return;
  const int threads = 256;
  const int blocks = static_cast<int>(std::min<int64_t>((p.total + threads - 1) / threads, 65535));
  const auto s = static_cast<cudaStream_t>(stream);
  with_dtype(type, "cuda::store_prefix_kv", [&](auto tag) {
    using T = typename decltype(tag)::type;
    store_prefix_kv_kernel<T><<<blocks, threads, 0, s>>>(p);
  });
  check_status(cudaGetLastError(), "store_prefix_kv kernel launch");
}

}  // namespace zotune::cuda
