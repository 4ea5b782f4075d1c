// Helpers shared by the CUDA op tests (tests/cuda/*_test.cpp): device buffers and copies
// (DeviceBuffer, device_copy, host_copy), host conversions between fp32 and a storage dtype
// (to_dtype, to_f32, rounded), and the normalized error and per-dtype tolerance the tests
// compare against. Every CUDA call is checked with EXPECT_EQ, so a failed allocation or copy
// fails the test that made it. Header-only.
#pragma once

#include <cuda_runtime.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <vector>

#include "core/tensor/dtype.h"

namespace zotune::test {

// DeviceBuffer's poison argument: leave the allocation unset instead of filling it.
inline constexpr int kNoPoison = -1;

// A device copy of host bytes placed `offset` bytes past a cudaMalloc'd (256-byte aligned)
// base, so a nonzero offset exercises the misaligned fallback. The allocation has 16 bytes of
// slack past the data; before the copy, all of it (offset, data and slack) is set to `poison`
// (0xFF: NaN in every dtype) unless poison is kNoPoison. host == nullptr leaves the data
// poisoned. download() synchronizes the device, then copies the data bytes back.
class DeviceBuffer {
 public:
  DeviceBuffer(const void* host, size_t bytes, size_t offset = 0, int poison = 0xFF) : bytes_(bytes), offset_(offset) {
    EXPECT_EQ(cudaMalloc(&base_, bytes + offset + 16), cudaSuccess);
    if (poison != kNoPoison) {
      EXPECT_EQ(cudaMemset(base_, poison, bytes + offset + 16), cudaSuccess);
    }
    if (host != nullptr && bytes > 0) {
      EXPECT_EQ(cudaMemcpy(get(), host, bytes, cudaMemcpyHostToDevice), cudaSuccess);
    }
  }
  ~DeviceBuffer() { cudaFree(base_); }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  void* get() const { return static_cast<char*>(base_) + offset_; }
  std::vector<uint8_t> download() const {
    std::vector<uint8_t> out(bytes_);
    EXPECT_EQ(cudaDeviceSynchronize(), cudaSuccess);
    EXPECT_EQ(cudaMemcpy(out.data(), get(), bytes_, cudaMemcpyDeviceToHost), cudaSuccess);
    return out;
  }

 private:
  void* base_ = nullptr;
  size_t bytes_, offset_;
};

// A new cudaMalloc of host.size() + offset_elems + slack_elems elements (unset), with host
// copied in at element offset_elems; returns the pointer to the copy. The caller frees it
// with cudaFree(p - offset_elems).
template <typename T>
T* device_copy(const std::vector<T>& host, size_t offset_elems = 0, size_t slack_elems = 0) {
  void* p = nullptr;
  EXPECT_EQ(cudaMalloc(&p, (host.size() + offset_elems + slack_elems) * sizeof(T)), cudaSuccess);
  T* dst = static_cast<T*>(p) + offset_elems;
  EXPECT_EQ(cudaMemcpy(dst, host.data(), host.size() * sizeof(T), cudaMemcpyHostToDevice), cudaSuccess);
  return dst;
}

// host_copy's wait: Sync::Device calls (and checks) cudaDeviceSynchronize before the copy;
// Sync::None relies on cudaMemcpy's own ordering with the legacy default stream.
enum class Sync { None, Device };

// n elements copied back from the device.
template <typename T>
std::vector<T> host_copy(const T* device, size_t n, Sync sync = Sync::None) {
  std::vector<T> out(n);
  if (sync == Sync::Device) {
    EXPECT_EQ(cudaDeviceSynchronize(), cudaSuccess);
  }
  EXPECT_EQ(cudaMemcpy(out.data(), device, n * sizeof(T), cudaMemcpyDeviceToHost), cudaSuccess);
  return out;
}

// fp32 values stored in dtype t.
inline std::vector<uint8_t> to_dtype(const std::vector<float>& v, DType t) {
  std::vector<uint8_t> out(v.size() * dtype_size(t));
  convert(v.data(), DType::F32, out.data(), t, v.size());
  return out;
}

// Values stored in dtype t widened to fp32.
inline std::vector<float> to_f32(const std::vector<uint8_t>& bytes, DType t) {
  std::vector<float> out(bytes.size() / dtype_size(t));
  convert(bytes.data(), t, out.data(), DType::F32, out.size());
  return out;
}

// The value a buffer of dtype t holds for v: what the device kernel reads.
inline std::vector<float> rounded(const std::vector<float>& v, DType t) { return to_f32(to_dtype(v, t), t); }

// max |got - want| / max |want| over want's elements; infinity when got has a NaN or inf
// (an element the kernel never wrote stays 0xFF.. = NaN).
inline double normalized_error(const std::vector<float>& got, const std::vector<float>& want) {
  double max_diff = 0.0, max_ref = 0.0;
  for (size_t i = 0; i < want.size(); ++i) {
    if (!std::isfinite(got[i])) return std::numeric_limits<double>::infinity();
    max_diff = std::max(max_diff, std::fabs(static_cast<double>(got[i]) - want[i]));
    max_ref = std::max(max_ref, std::fabs(static_cast<double>(want[i])));
  }
  return max_diff / std::max(max_ref, 1e-30);
}

// The normalized-error bound for an output stored in dtype t: 1e-5 for fp32, 2e-2 for fp16/bf16.
inline double tolerance(DType t) { return t == DType::F32 ? 1e-5 : 2e-2; }

}  // namespace zotune::test
