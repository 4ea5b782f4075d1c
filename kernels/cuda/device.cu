#include <cuda_runtime.h>

#include <cstdio>

#include "core/util/error.h"
#include "kernels/cuda/device.cuh"

namespace zotune::cuda {

int device_count() {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess) {
    cudaGetLastError();  // clear the sticky "no driver" error
    return 0;
  }
  return n;
}

std::string device_description(int index) {
  cudaDeviceProp p{};
  check_status(cudaGetDeviceProperties(&p, index), "cudaGetDeviceProperties");
  char buf[512];
  std::snprintf(buf, sizeof(buf), "%s, sm_%d%d, %.1f GiB", p.name, p.major, p.minor, p.totalGlobalMem / double(1 << 30));
  return buf;
}

void check_status(int status, const char* what) {
  if (status != cudaSuccess)
    throw Error(std::string("CUDA: ") + what + ": " + cudaGetErrorString(static_cast<cudaError_t>(status)));
}

}  // namespace zotune::cuda
