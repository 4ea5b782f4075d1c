// The GPU step benchmark behind `zotune bench MODEL --device cuda` (CUDA builds only).
#pragma once
#include <string>

#include "core/tensor/dtype.h"

namespace zotune::cli {

struct CudaBenchArgs {
  std::string model;  // model directory, or a directory with config.json alone when random
  DType dtype = DType::F16;
  int batch = 16, seq = 128, iters = 10;
  bool random = false;  // random weights of the config's shapes, drawn on the GPU
  bool tf32 = true, graphs = true;
  std::string json;     // also write the results here
};

void bench_cuda(const CudaBenchArgs& args);

}  // namespace zotune::cli
