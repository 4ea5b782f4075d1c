#include "core/cuda/device_memory.h"

#include <cuda_runtime.h>

#include <algorithm>
#include <atomic>
#include <string>

#include "core/util/error.h"
#include "kernels/cuda/device.cuh"

namespace zotune::cuda {

namespace {
std::atomic<size_t> g_in_use{0};
std::atomic<size_t> g_peak{0};
}  // namespace

DeviceBuffer::DeviceBuffer(size_t bytes) : bytes_(bytes) {
  if (bytes == 0) return;
  const cudaError_t status = cudaMalloc(&data_, bytes);
  if (status != cudaSuccess) {
    size_t free = 0, total = 0;
    cudaGetLastError();
    cudaMemGetInfo(&free, &total);
    throw Error("CUDA engine: cannot allocate " + std::to_string(bytes >> 20) + " MiB on the GPU (" +
                std::to_string(free >> 20) + " MiB free of " + std::to_string(total >> 20) + "): " +
                cudaGetErrorString(status));
  }
  const size_t now = g_in_use += bytes;
  size_t peak = g_peak.load();
  while (now > peak && !g_peak.compare_exchange_weak(peak, now)) {
  }
}

DeviceBuffer::~DeviceBuffer() { release(); }

DeviceBuffer::DeviceBuffer(DeviceBuffer&& other) noexcept : data_(other.data_), bytes_(other.bytes_) {
  other.data_ = nullptr;
  other.bytes_ = 0;
}

DeviceBuffer& DeviceBuffer::operator=(DeviceBuffer&& other) noexcept {
  if (this != &other) {
    release();
    data_ = other.data_;
    bytes_ = other.bytes_;
    other.data_ = nullptr;
    other.bytes_ = 0;
  }
  return *this;
}

void DeviceBuffer::release() {
  if (data_ != nullptr) {
    cudaFree(data_);
    g_in_use -= bytes_;
  }
  data_ = nullptr;
  bytes_ = 0;
}

size_t device_bytes_in_use() { return g_in_use.load(); }
size_t device_bytes_peak() { return g_peak.load(); }
void reset_device_bytes_peak() { g_peak.store(g_in_use.load()); }

size_t device_bytes_free() {
  size_t free = 0, total = 0;
  check_status(cudaMemGetInfo(&free, &total), "cudaMemGetInfo");
  return free;
}

PinnedBuffer::~PinnedBuffer() {
  if (data_ != nullptr) cudaFreeHost(data_);
}

void* PinnedBuffer::reserve(size_t bytes) {
  if (bytes <= bytes_) return data_;
  if (data_ != nullptr) cudaFreeHost(data_);
  data_ = nullptr;
  bytes_ = 0;
  const size_t want = std::max(bytes, bytes_ * 2);
  check_status(cudaMallocHost(&data_, want), "cudaMallocHost (pinned staging buffer)");
  bytes_ = want;
  return data_;
}

}  // namespace zotune::cuda
