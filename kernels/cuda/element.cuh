// Device-side helpers the .cu files share (included by .cu files only; host code includes
// the op headers): storage dtype <-> fp32, aligned register packs for vector loads and
// stores, and the dispatch from a DType to its device type.
#pragma once
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cstddef>
#include <cstdint>
#include <string>

#include "core/tensor/dtype.h"
#include "core/util/error.h"

namespace zotune::cuda {

template <typename T>
__device__ __forceinline__ float to_f32(T v);
template <>
__device__ __forceinline__ float to_f32(float v) { return v; }
template <>
__device__ __forceinline__ float to_f32(__half v) { return __half2float(v); }
template <>
__device__ __forceinline__ float to_f32(__nv_bfloat16 v) { return __bfloat162float(v); }

// Round to nearest even, as the CPU's zotune::convert.
template <typename T>
__device__ __forceinline__ T from_f32(float v);
template <>
__device__ __forceinline__ float from_f32(float v) { return v; }
template <>
__device__ __forceinline__ __half from_f32(float v) { return __float2half_rn(v); }
template <>
__device__ __forceinline__ __nv_bfloat16 from_f32(float v) { return __float2bfloat16_rn(v); }

// N values of T in registers, moved by one aligned access of up to 16 bytes (a pack of 8 fp32
// values is two).
template <typename T, int N>
struct alignas(sizeof(T) * N < 16 ? sizeof(T) * N : 16) Pack {
  T v[N];
};

inline bool aligned(const void* p, size_t bytes) { return reinterpret_cast<uintptr_t>(p) % bytes == 0; }

// with_dtype(t, "op", [&](auto tag) { using T = typename decltype(tag)::type; ... }).
template <typename T>
struct Tag {
  using type = T;
};

template <typename F>
void with_dtype(DType t, const char* what, F&& f) {
  switch (t) {
    case DType::F32: return f(Tag<float>{});
    case DType::F16: return f(Tag<__half>{});
    case DType::BF16: return f(Tag<__nv_bfloat16>{});
  }
  throw Error(std::string(what) + ": unknown dtype");
}

}  // namespace zotune::cuda
