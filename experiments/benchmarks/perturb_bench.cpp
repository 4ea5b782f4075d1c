// The fused perturbation pass on the GPU: one launch over a flat parameter buffer of a
// model's size applies 1, 2 or 3 seeded directions (restore + update + next perturbation
// fused), against a device-to-device copy of the same buffer (the bandwidth ceiling: a pass
// reads and writes every parameter once). Prints a Markdown table; perturb_reference.py
// times PyTorch's way (per-tensor torch.normal + add_) on the same sizes.
//   build/zotune_perturb_bench [n_params ...]     (default: OPT-1.3B, Llama-2-7B, OPT-13B sizes)
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "core/tensor/dtype.h"
#include "kernels/cuda/device.cuh"
#include "kernels/cuda/perturb.cuh"

namespace {

void check(cudaError_t e, const char* what) {
  if (e != cudaSuccess) {
    std::fprintf(stderr, "%s: %s\n", what, cudaGetErrorString(e));
    std::exit(1);
  }
}

template <typename F>
float median_ms(F&& f, int reps) {
  cudaEvent_t a, b;
  check(cudaEventCreate(&a), "event");
  check(cudaEventCreate(&b), "event");
  f();  // warm-up
  check(cudaDeviceSynchronize(), "warm-up");
  std::vector<float> ms;
  for (int i = 0; i < reps; ++i) {
    check(cudaEventRecord(a), "record");
    f();
    check(cudaEventRecord(b), "record");
    check(cudaEventSynchronize(b), "sync");
    float t = 0;
    check(cudaEventElapsedTime(&t, a, b), "elapsed");
    ms.push_back(t);
  }
  std::sort(ms.begin(), ms.end());
  return ms[ms.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  using namespace zotune;
  std::vector<std::pair<std::string, int64_t>> sizes = {
      {"OPT-1.3B", 1315758080}, {"Llama-2-7B", 6738415616}, {"OPT-13B", 12853473280}};
  if (argc > 1) {
    sizes.clear();
    for (int i = 1; i < argc; ++i) sizes.push_back({"n", std::atoll(argv[i])});
  }
  std::printf("device: %s\n\n", cuda::device_description(0).c_str());
  std::printf("| shape | dtype | parameters | terms | ms / pass | GB/s (read + write) | copy ms | copy GB/s |\n");
  std::printf("| --- | --- | --- | --- | --- | --- | --- | --- |\n");
  for (const auto& [name, n] : sizes) {
    for (DType t : {DType::F16, DType::BF16, DType::F32}) {
      const size_t bytes = static_cast<size_t>(n) * dtype_size(t);
      size_t free_b = 0, total_b = 0;
      check(cudaMemGetInfo(&free_b, &total_b), "meminfo");
      if (2 * bytes + (size_t(1) << 30) > free_b) continue;  // the copy needs two buffers
      void *x = nullptr, *y = nullptr;
      check(cudaMalloc(&x, bytes), "malloc");
      check(cudaMalloc(&y, bytes), "malloc");
      check(cudaMemset(x, 0x3c, bytes), "memset");  // 0x3c3c: ~1.06 in fp16, a real value
      const float copy_ms = median_ms([&] { check(cudaMemcpyAsync(y, x, bytes, cudaMemcpyDeviceToDevice), "copy"); }, 10);
      for (int terms = 1; terms <= 3; ++terms) {
        std::vector<cpu::DirectionTerm> list;
        for (int j = 0; j < terms; ++j) list.push_back({42, 7, static_cast<uint32_t>(j), 1e-3f * (j % 2 ? -1 : 1)});
        const float ms = median_ms(
            [&] { cuda::perturb(x, t, n, 0, list.data(), terms, DirectionKind::Gaussian); }, 10);
        std::printf("| %s | %s | %lld | %d | %.2f | %.0f | %.2f | %.0f |\n", name.c_str(), dtype_name(t),
                    static_cast<long long>(n), terms, ms, 2.0 * bytes / ms / 1e6, copy_ms, 2.0 * bytes / copy_ms / 1e6);
      }
      cudaFree(x);
      cudaFree(y);
    }
  }
  return 0;
}
