// Elementwise epilogues: fp32 math over storage-dtype buffers, memory bound. Each thread owns
// one 16-byte pack of columns (4 fp32 or 8 fp16/bf16 values; a single value on the scalar
// fallback) and walks rows: grid.x covers the columns of a row, grid.y (at most 65535) strides
// over rows, so a bias pack is loaded once per thread and no index needs a division.
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>
#include <string>

#include "core/util/error.h"
#include "kernels/cuda/activation.cuh"
#include "kernels/cuda/device.cuh"
#include "kernels/cuda/element.cuh"

namespace zotune::cuda {

Activation activation_from_name(const std::string& name) {
  if (name == "relu") return Activation::ReLU;
  if (name == "gelu") return Activation::GeluErf;
  if (name == "gelu_new" || name == "gelu_pytorch_tanh") return Activation::GeluTanh;
  if (name == "silu" || name == "swish") return Activation::SiLU;
  if (name == "tanh") return Activation::Tanh;
  throw Error("unsupported activation '" + name + "'");
}

namespace {

template <typename T, int N>
__device__ __forceinline__ Pack<T, N> load_pack(const T* p) {
  return *reinterpret_cast<const Pack<T, N>*>(p);
}
template <typename T, int N>
__device__ __forceinline__ void store_pack(T* p, const Pack<T, N>& v) {
  *reinterpret_cast<Pack<T, N>*>(p) = v;
}

// The same formulas as kernels/cpu/activation.cpp, in fp32 with the accurate (not fast-math)
// intrinsics.
template <Activation A>
__device__ __forceinline__ float activate(float x) {
  if constexpr (A == Activation::Identity) return x;
  if constexpr (A == Activation::ReLU) return x > 0.0f ? x : 0.0f;
  if constexpr (A == Activation::GeluErf) return 0.5f * x * (1.0f + erff(x * 0.70710678118654752f));
  if constexpr (A == Activation::GeluTanh) {
    const float k = 0.79788456080286536f;  // sqrt(2 / pi)
    return 0.5f * x * (1.0f + tanhf(k * (x + 0.044715f * x * x * x)));
  }
  if constexpr (A == Activation::SiLU) return x / (1.0f + expf(-x));
  if constexpr (A == Activation::Tanh) return tanhf(x);
  return x;
}

// The 2-D launch shared by the three kernels: `packs` packs per row, `rows` rows.
struct RowLaunch {
  dim3 grid;
  int threads;
};
RowLaunch row_launch(int rows, int packs) {
  const int threads = std::min(256, (packs + 31) / 32 * 32);
  return {dim3(static_cast<unsigned>((packs + threads - 1) / threads), static_cast<unsigned>(std::min(rows, 65535))),
          threads};
}

// b = bias[c0 .. c0 + N) in fp32, or zeros without a bias.
template <typename T, int N>
__device__ __forceinline__ void load_bias(const T* bias, int64_t c0, float (&b)[N]) {
  if (bias != nullptr) {
    const Pack<T, N> bp = load_pack<T, N>(bias + c0);
#pragma unroll
    for (int j = 0; j < N; ++j) b[j] = to_f32(bp.v[j]);
  } else {
#pragma unroll
    for (int j = 0; j < N; ++j) b[j] = 0.0f;
  }
}

// y: [rows, cols] of T, in place; bias: [cols] of T or null. packs = cols / N.
template <typename T, int N, Activation A>
__global__ void bias_activation_kernel(T* y, const T* bias, int rows, int cols, int packs) {
  const int p = blockIdx.x * blockDim.x + threadIdx.x;
  if (p >= packs) return;
  const int64_t c0 = static_cast<int64_t>(p) * N;
  float b[N];
  load_bias<T, N>(bias, c0, b);
  for (int64_t r = blockIdx.y; r < rows; r += gridDim.y) {
    T* yp = y + r * cols + c0;
    Pack<T, N> v = load_pack<T, N>(yp);
#pragma unroll
    for (int j = 0; j < N; ++j) v.v[j] = from_f32<T>(activate<A>(to_f32(v.v[j]) + b[j]));
    store_pack<T, N>(yp, v);
  }
}

// out: [rows, I]; gate and up: rows of stride ld. packs = I / N.
template <typename T, int N>
__global__ void silu_mul_kernel(T* out, const T* gate, const T* up, int rows, int I, int64_t ld, int packs) {
  const int p = blockIdx.x * blockDim.x + threadIdx.x;
  if (p >= packs) return;
  const int64_t c0 = static_cast<int64_t>(p) * N;
  for (int64_t r = blockIdx.y; r < rows; r += gridDim.y) {
    const Pack<T, N> g = load_pack<T, N>(gate + r * ld + c0);
    const Pack<T, N> u = load_pack<T, N>(up + r * ld + c0);
    Pack<T, N> o;
#pragma unroll
    for (int j = 0; j < N; ++j) {
      const float gf = to_f32(g.v[j]);
      o.v[j] = from_f32<T>(gf / (1.0f + expf(-gf)) * to_f32(u.v[j]));
    }
    store_pack<T, N>(out + r * I + c0, o);
  }
}

// x: [rows, cols] fp32 += y ([rows, cols] of T) + bias ([cols] of T or null). packs = cols / N.
template <typename T, int N>
__global__ void residual_add_kernel(float* x, const T* y, const T* bias, int rows, int cols, int packs) {
  const int p = blockIdx.x * blockDim.x + threadIdx.x;
  if (p >= packs) return;
  const int64_t c0 = static_cast<int64_t>(p) * N;
  float b[N];
  load_bias<T, N>(bias, c0, b);
  for (int64_t r = blockIdx.y; r < rows; r += gridDim.y) {
    const Pack<T, N> yv = load_pack<T, N>(y + r * cols + c0);
    Pack<float, N> xv = load_pack<float, N>(x + r * cols + c0);
#pragma unroll
    for (int j = 0; j < N; ++j) xv.v[j] += to_f32(yv.v[j]) + b[j];
    store_pack<float, N>(x + r * cols + c0, xv);
  }
}

template <typename T, int N>
void launch_bias_activation(T* y, const T* bias, int rows, int cols, Activation act, cudaStream_t stream) {
  const int packs = cols / N;
  const RowLaunch l = row_launch(rows, packs);
  switch (act) {
#define ZOTUNE_CASE(A)                                                                          \
  case A:                                                                                       \
    bias_activation_kernel<T, N, A><<<l.grid, l.threads, 0, stream>>>(y, bias, rows, cols, packs); \
    break;
    ZOTUNE_CASE(Activation::Identity)
    ZOTUNE_CASE(Activation::ReLU)
    ZOTUNE_CASE(Activation::GeluErf)
    ZOTUNE_CASE(Activation::GeluTanh)
    ZOTUNE_CASE(Activation::SiLU)
    ZOTUNE_CASE(Activation::Tanh)
#undef ZOTUNE_CASE
    default: throw Error("cuda::bias_activation: unknown activation");
  }
  check_status(cudaGetLastError(), "bias_activation kernel launch");
}

void check_shape(int rows, int cols, const char* what) {
  check(rows >= 0 && cols >= 0, std::string(what) + ": negative shape rows " + std::to_string(rows) + ", cols " +
                                    std::to_string(cols));
}

}  // namespace

void bias_activation(void* y, DType type, const void* bias, int rows, int N, Activation act, void* stream) {
  check_shape(rows, N, "cuda::bias_activation");
  if (rows == 0 || N == 0) return;
  with_dtype(type, "cuda::bias_activation", [&](auto tag) {
    using T = typename decltype(tag)::type;
    constexpr int kPack = 16 / sizeof(T);
    auto* yt = static_cast<T*>(y);
    auto* bt = static_cast<const T*>(bias);
    const auto s = static_cast<cudaStream_t>(stream);
    if (N % kPack == 0 && aligned(y, 16) && (bias == nullptr || aligned(bias, 16)))
      launch_bias_activation<T, kPack>(yt, bt, rows, N, act, s);
    else
      launch_bias_activation<T, 1>(yt, bt, rows, N, act, s);
  });
}

void silu_mul(void* out, const void* gate, const void* up, DType type, int rows, int I, int64_t ld, void* stream) {
  check_shape(rows, I, "cuda::silu_mul");
  check(ld >= I, "cuda::silu_mul: ld " + std::to_string(ld) + " < I " + std::to_string(I));
  if (rows == 0 || I == 0) return;
  with_dtype(type, "cuda::silu_mul", [&](auto tag) {
    using T = typename decltype(tag)::type;
    constexpr int kPack = 16 / sizeof(T);
    auto* o = static_cast<T*>(out);
    auto* g = static_cast<const T*>(gate);
    auto* u = static_cast<const T*>(up);
    const auto s = static_cast<cudaStream_t>(stream);
    if (I % kPack == 0 && ld % kPack == 0 && aligned(out, 16) && aligned(gate, 16) && aligned(up, 16)) {
      const RowLaunch l = row_launch(rows, I / kPack);
      silu_mul_kernel<T, kPack><<<l.grid, l.threads, 0, s>>>(o, g, u, rows, I, ld, I / kPack);
    } else {
      const RowLaunch l = row_launch(rows, I);
      silu_mul_kernel<T, 1><<<l.grid, l.threads, 0, s>>>(o, g, u, rows, I, ld, I);
    }
    check_status(cudaGetLastError(), "silu_mul kernel launch");
  });
}

void residual_add(float* x, const void* y, DType type, const void* bias, int rows, int N, void* stream) {
  check_shape(rows, N, "cuda::residual_add");
  if (rows == 0 || N == 0) return;
  with_dtype(type, "cuda::residual_add", [&](auto tag) {
    using T = typename decltype(tag)::type;
    constexpr int kPack = 16 / sizeof(T);
    auto* yt = static_cast<const T*>(y);
    auto* bt = static_cast<const T*>(bias);
    const auto s = static_cast<cudaStream_t>(stream);
    if (N % kPack == 0 && aligned(x, 16) && aligned(y, 16) && (bias == nullptr || aligned(bias, 16))) {
      const RowLaunch l = row_launch(rows, N / kPack);
      residual_add_kernel<T, kPack><<<l.grid, l.threads, 0, s>>>(x, yt, bt, rows, N, N / kPack);
    } else {
      const RowLaunch l = row_launch(rows, N);
      residual_add_kernel<T, 1><<<l.grid, l.threads, 0, s>>>(x, yt, bt, rows, N, N);
    }
    check_status(cudaGetLastError(), "residual_add kernel launch");
  });
}

}  // namespace zotune::cuda
