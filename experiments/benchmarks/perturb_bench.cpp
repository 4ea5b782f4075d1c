// The fused perturbation pass on the GPU: one launch over a flat parameter buffer of a
// model's size applies 1, 2 or 3 seeded directions (restore + update + next perturbation
// fused), as one range (cuda::perturb) and as the model's real tensor table
// (cuda::perturb_segments: OPT-1.3B's 388 tensors, ...; with and without weight decay),
// against a device-to-device copy of the same buffer (the bandwidth ceiling: a pass reads and
// writes every parameter once). Prints a Markdown table; perturb_reference.py times
// PyTorch's way (per-tensor torch.normal + add_) on the same shapes.
//   build/zotune_perturb_bench [n_params ...]     (default: OPT-1.3B, Llama-2-7B, OPT-13B sizes)
// A size given on the command line is cut into 388 tensors of OPT-1.3B's proportions.
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
  check(cudaEventDestroy(a), "event");
  check(cudaEventDestroy(b), "event");
  std::sort(ms.begin(), ms.end());
  return ms[ms.size() / 2];
}

// Tensor sizes (elements) in the order the models store them, with whether weight decay
// applies (matrices: yes; biases and norms: no), as perturb_reference.py lists the shapes.
struct Tensor {
  int64_t n;
  bool decay;
};

std::vector<Tensor> opt_tensors(int64_t v, int64_t h, int64_t f, int layers, int64_t pos) {
  std::vector<Tensor> t = {{v * h, true}, {pos * h, true}};
  for (int l = 0; l < layers; ++l) {
    for (int p = 0; p < 4; ++p) t.insert(t.end(), {{h * h, true}, {h, false}});  // q k v out, biases
    t.insert(t.end(), {{f * h, true}, {f, false}, {h * f, true}, {h, false}});   // fc1 fc2
    t.insert(t.end(), {{h, false}, {h, false}, {h, false}, {h, false}});         // two layer norms
  }
  t.insert(t.end(), {{h, false}, {h, false}});
  return t;
}

std::vector<Tensor> llama_tensors(int64_t v, int64_t h, int64_t f, int layers) {
  std::vector<Tensor> t = {{v * h, true}};
  for (int l = 0; l < layers; ++l) {
    for (int p = 0; p < 4; ++p) t.push_back({h * h, true});
    t.insert(t.end(), {{f * h, true}, {f * h, true}, {h * f, true}, {h, false}, {h, false}});
  }
  t.insert(t.end(), {{h, false}, {v * h, true}});
  return t;
}

// n elements as OPT-1.3B's 388 tensors scaled to n (the last one takes the remainder).
std::vector<Tensor> scaled_tensors(int64_t n) {
  const std::vector<Tensor> opt = opt_tensors(50272, 2048, 8192, 24, 2050);
  int64_t opt_total = 0;
  for (const Tensor& t : opt) opt_total += t.n;
  std::vector<Tensor> t;
  int64_t used = 0;
  for (size_t i = 0; i + 1 < opt.size(); ++i) {
    const int64_t k = std::max<int64_t>(1, static_cast<int64_t>(double(opt[i].n) * double(n) / double(opt_total)));
    if (used + k >= n) break;
    t.push_back({k, opt[i].decay});
    used += k;
  }
  t.push_back({n - used, false});
  return t;
}

struct Shape {
  std::string name;
  std::vector<Tensor> tensors;
};

int64_t total_of(const std::vector<Tensor>& t) {
  int64_t n = 0;
  for (const Tensor& x : t) n += x.n;
  return n;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace zotune;
  std::vector<Shape> shapes = {{"OPT-1.3B", opt_tensors(50272, 2048, 8192, 24, 2050)},
                               {"Llama-2-7B", llama_tensors(32000, 4096, 11008, 32)},
                               {"OPT-13B", opt_tensors(50272, 5120, 20480, 40, 2050)}};
  if (argc > 1) {
    shapes.clear();
    for (int i = 1; i < argc; ++i) shapes.push_back({"n", scaled_tensors(std::atoll(argv[i]))});
  }
  std::printf("device: %s\n\n", cuda::device_description(0).c_str());
  std::printf("| shape | dtype | parameters | tensors | launch | terms | ms / pass | GB/s (read + write) | of copy |\n");
  std::printf("| --- | --- | --- | --- | --- | --- | --- | --- | --- |\n");
  for (const Shape& shape : shapes) {
    const int64_t n = total_of(shape.tensors);
    for (DType t : {DType::F16, DType::BF16, DType::F32}) {
      const size_t bytes = static_cast<size_t>(n) * dtype_size(t);
      size_t free_b = 0, total_b = 0;
      check(cudaMemGetInfo(&free_b, &total_b), "meminfo");
      if (2 * bytes + (size_t(1) << 30) > free_b) continue;  // the copy needs two buffers
      void *x = nullptr, *y = nullptr;
      check(cudaMalloc(&x, bytes), "malloc");
      check(cudaMalloc(&y, bytes), "malloc");
      check(cudaMemset(x, 0x3c, bytes), "memset");  // 0x3c3c: ~1.06 in fp16, a real value
      // The tensor table over x, numbered as TrainableSpace numbers a full fine-tuning.
      std::vector<cuda::PerturbSegment> table;
      int64_t at = 0;
      for (const Tensor& tensor : shape.tensors) {
        cuda::PerturbSegment s;
        s.data = static_cast<char*>(x) + static_cast<size_t>(at) * dtype_size(t);
        s.first = static_cast<uint64_t>(at);
        s.n = tensor.n;
        s.dtype = t;
        s.decay = tensor.decay;
        table.push_back(s);
        at += tensor.n;
      }
      cuda::PerturbSegment* d_table = nullptr;
      check(cudaMalloc(&d_table, table.size() * sizeof(cuda::PerturbSegment)), "malloc");
      check(cudaMemcpy(d_table, table.data(), table.size() * sizeof(cuda::PerturbSegment), cudaMemcpyHostToDevice),
            "copy table");
      const int n_tensors = static_cast<int>(table.size());

      const float copy_ms = median_ms([&] { check(cudaMemcpyAsync(y, x, bytes, cudaMemcpyDeviceToDevice), "copy"); }, 10);
      const double copy_gbs = 2.0 * bytes / copy_ms / 1e6;
      std::printf("| %s | %s | %lld | %d | copy | | %.2f | %.0f | 100%% |\n", shape.name.c_str(), dtype_name(t),
                  static_cast<long long>(n), n_tensors, copy_ms, copy_gbs);
      auto row = [&](const char* launch, int terms, float ms) {
        const double gbs = 2.0 * bytes / ms / 1e6;
        std::printf("| %s | %s | | | %s | %d | %.2f | %.0f | %.0f%% |\n", shape.name.c_str(), dtype_name(t), launch, terms,
                    ms, gbs, 100.0 * gbs / copy_gbs);
      };
      for (int terms = 1; terms <= 3; ++terms) {
        std::vector<cpu::DirectionTerm> list;
        for (int j = 0; j < terms; ++j) list.push_back({42, 7, static_cast<uint32_t>(j), 1e-3f * (j % 2 ? -1 : 1)});
        row("range", terms,
            median_ms([&] { cuda::perturb(x, t, n, 0, list.data(), terms, DirectionKind::Gaussian); }, 10));
        row("segments", terms, median_ms([&] {
              cuda::perturb_segments(d_table, n_tensors, static_cast<uint64_t>(n), list.data(), terms,
                                     DirectionKind::Gaussian);
            }, 10));
        if (terms == 2)  // the MeZO update pass with weight decay: restore + update, decay on matrices
          row("segments + decay", terms, median_ms([&] {
                cuda::perturb_segments(d_table, n_tensors, static_cast<uint64_t>(n), list.data(), terms,
                                       DirectionKind::Gaussian, 0.9999f);
              }, 10));
      }
      check(cudaGetLastError(), "perturb");
      check(cudaDeviceSynchronize(), "perturb");
      cudaFree(d_table);
      cudaFree(x);
      cudaFree(y);
    }
  }
  return 0;
}
