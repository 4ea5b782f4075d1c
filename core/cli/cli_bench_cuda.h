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
  // The parameter-efficient step (issue 18): "adapter" times AdaZeta steps with `queries`
  // queries over TT adapters (bottleneck 64, TT rank 5, the code's placement), "lora" MeZO-LoRA
  // steps (r 8, alpha 16, q and v); probe_batch probes per forward (engine.probe_batch).
  std::string peft;     // "", "adapter" or "lora"
  int queries = 15, probe_batch = 1;
  // Also time full-parameter steps of the stateful baselines (MeZO-Adam, HiZOO, LOZO,
  // Sparse-MeZO) and MeZO itself under model.perturbation: exact, which those need.
  bool baselines = false;
};

void bench_cuda(const CudaBenchArgs& args);

}  // namespace zotune::cli
