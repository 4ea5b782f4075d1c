// Device allocations of the CUDA engine, counted: every byte zotune allocates on the GPU
// (weights, activations, snapshots, cuBLAS workspaces excepted) goes through DeviceBuffer,
// so a run can log its peak device memory next to PyTorch's max_memory_allocated.
#pragma once
#include <cstddef>

namespace zotune::cuda {

class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  explicit DeviceBuffer(size_t bytes);  // throws Error naming the size when the GPU is full
  ~DeviceBuffer();
  DeviceBuffer(DeviceBuffer&& other) noexcept;
  DeviceBuffer& operator=(DeviceBuffer&& other) noexcept;
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;

  void* get() const { return data_; }
  template <typename T>
  T* as() const { return static_cast<T*>(data_); }
  size_t bytes() const { return bytes_; }

 private:
  void release();
  void* data_ = nullptr;
  size_t bytes_ = 0;
};

// Bytes held by live DeviceBuffers in this process, now and at their peak.
size_t device_bytes_in_use();
size_t device_bytes_peak();
void reset_device_bytes_peak();  // the peak restarts from what is in use now
// Free bytes on the current device (cudaMemGetInfo). Throws Error on a CUDA failure.
size_t device_bytes_free();

// Page-locked host memory for staging copies (asynchronous host<->device transfers).
class PinnedBuffer {
 public:
  PinnedBuffer() = default;
  ~PinnedBuffer();
  PinnedBuffer(const PinnedBuffer&) = delete;
  PinnedBuffer& operator=(const PinnedBuffer&) = delete;
  // At least `bytes` (grows, never shrinks; contents are not kept across growth).
  void* reserve(size_t bytes);

 private:
  void* data_ = nullptr;
  size_t bytes_ = 0;
};

}  // namespace zotune::cuda
