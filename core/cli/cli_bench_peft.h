// zotune bench MODEL --peft adapter|lora: the parameter-efficient step benchmark of issue 18,
// on either engine (--device cpu or cuda). One forward with the modules, then whole AdaZeta
// steps over TT adapters (adapter) or MeZO-LoRA steps (lora) through the real Trainer, with
// --probe-batch probes a forward (engine.probe_batch). experiments/benchmarks/
// run_peft_step_bench.sh runs the CUDA side beside PyTorch's (peft_step_reference.py).
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "core/model/model.h"
#include "core/train/task.h"

namespace zotune::cli {

struct PeftBenchArgs {
  std::string model;    // what was loaded (for the report)
  std::string peft;     // "adapter", "lora" or "prefix"
  std::string json;     // also write the results here ("" = no)
  std::string device;   // the engine's device, in words
  int batch = 16, seq = 64, iters = 5;
  int queries = 15;     // AdaZeta's Q (adapter)
  int probe_batch = 1;  // probes per forward (0 = auto: the Trainer resolves it)
};

// The modules the benchmark trains: adapter = TT adapters, bottleneck 64, TT rank 5 at the
// code's placement (adazeta.md a.2); lora = r 8, alpha 16 on q and v (MeZO's); prefix = MeZO's 5
// prefix tokens a layer (randomly initialized: the weights are random too). Throws naming
// --peft for another name.
PeftSettings bench_peft_settings(const std::string& peft);

// Times the steps on `model` (loaded with bench_peft_settings) over `examples` of `task`.
// `sync` waits for the engine's queued work (a no-op on the CPU); `peak_bytes` reads the
// engine's peak memory (device memory on a GPU, resident memory on the CPU).
void bench_peft_step(const PeftBenchArgs& a, Model& model, Task& task, const std::vector<int>& examples,
                     const std::function<void()>& sync, const std::function<double()>& peak_bytes);

}  // namespace zotune::cli
