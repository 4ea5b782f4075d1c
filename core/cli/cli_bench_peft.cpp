#include "core/cli/cli_bench_peft.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>

#include "core/cli/bench_timing.h"
#include "core/optim/adazeta.h"
#include "core/optim/mezo.h"
#include "core/optim/trainable_space.h"
#include "core/train/trainer.h"
#include "core/util/error.h"
#include "distributed/communicator.h"

namespace zotune::cli {

PeftSettings bench_peft_settings(const std::string& peft) {
  check(peft == "adapter" || peft == "lora" || peft == "prefix",
        "bench --peft: adapter, lora or prefix, got '" + peft + "'");
  PeftSettings p;
  p.kind = peft == "adapter" ? PeftKind::Adapter : peft == "lora" ? PeftKind::Lora : PeftKind::Prefix;
  p.prefix_tokens = 5;                  // MeZO-prefix's 5 a layer (baselines.md 2)
  p.prefix_init = PrefixInit::Random;   // no activations to sample on random weights; the same cost
  p.adapter_bottleneck = 64;
  p.adapter_rank = 5;
  p.lora_rank = 8;
  p.lora_alpha = 16.0;
  return p;
}

// Dense forward FLOPs per token of the backbone at `seq` tokens a sequence: 2 per weight of every
// matrix product (attention projections, MLP, the LM head) plus the attention scores and their
// product with V, 4 x layers x seq x hidden, counted over the whole square as MFU reports do.
// The PEFT modules' few FLOPs are left out: the figure is the backbone's achieved rate.
double forward_flops_per_token(const ModelConfig& c, int seq) {
  const double d = c.hidden_size, kv = static_cast<double>(c.num_kv_heads) * c.head_dim;
  const bool gated = c.arch == Architecture::Llama;  // gate, up, down (Llama, Mistral, Qwen2)
  const double per_layer = d * (d + 2 * kv) + d * d + (gated ? 3.0 : 2.0) * d * c.intermediate_size;
  return 2.0 * (c.num_layers * per_layer + d * c.vocab_size) + 4.0 * c.num_layers * seq * d;
}

void bench_peft_step(const PeftBenchArgs& a, Model& model, Task& task, const std::vector<int>& examples,
                     const std::function<void()>& sync, const std::function<double()>& peak_bytes) {
  TrainableSelection selection;
  selection.mode = TrainableSelection::Mode::Peft;
  const TrainableSpace space = TrainableSpace::select(model, selection);
  const double forward_ms = median_ms(2, a.iters, sync, [&] { task.loss_sum(model, examples); });
  Communicator comm = Communicator::world();
  TrainerOptions topt;
  topt.batch_size = a.batch;
  topt.lr = 1e-7;
  topt.checksum_every = 0;
  topt.probe_batch = a.probe_batch;
  std::unique_ptr<ZoOptimizer> optimizer;
  const bool adapter = a.peft == "adapter", lora = a.peft == "lora";
  // The method the step is (the report's label, the JSON key of its step time).
  const char* method = adapter ? "AdaZeta" : lora ? "MeZO-LoRA" : "MeZO-prefix";
  const char* step_key = adapter ? "adazeta_step_ms" : lora ? "mezo_lora_step_ms" : "mezo_prefix_step_ms";
  if (adapter) {
    AdazetaOptions o;  // the code's eps 1e-3 and weight decay 0.01 (a.6), Q fixed (--use_num)
    o.seed = 11;
    o.weight_decay = 0.01;
    o.schedule.fixed = true;
    o.schedule.target = a.queries;
    o.schedule.max_queries = a.queries;
    o.extent = {a.batch, a.batch, 1000};
    optimizer = std::make_unique<Adazeta>(o);
  } else {
    MezoOptions o;  // MeZO-LoRA's eps 1e-2, MeZO-prefix's 1e-1 (baselines.md 2)
    o.seed = 11;
    o.eps = lora ? 1e-2 : 1e-1;
    optimizer = std::make_unique<Mezo>(o);
  }
  Trainer trainer(model, space, *optimizer, task, comm, topt);
  uint32_t step = 0;
  const double step_ms = median_ms(2, a.iters, sync, [&] { trainer.step(step++); });
  const double peak_gib = peak_bytes() / (1 << 30);
  const int probes = adapter ? 2 * a.queries : 2;
  const int per_forward = std::min(trainer.probe_batch(), probes);
  // Where the step's time goes: the forwards alone (one forward of per_forward probe groups, the
  // modules as they stand copied into every group, as many such forwards as the step makes),
  // the rest being the perturbation passes, the bank copies and the host's work.
  double forwards_ms = 0.0;
  {
    const int chunks = (probes + per_forward - 1) / per_forward;
    double chunk_ms = forward_ms;
    if (per_forward > 1) {
      model.begin_probe_groups(per_forward);
      for (int g = 0; g < per_forward; ++g) model.store_probe_group(g);
      chunk_ms = median_ms(2, a.iters, sync, [&] { task.group_loss_sums(model, examples); });
      model.end_probe_groups();
    }
    forwards_ms = chunks * chunk_ms;
  }
  // Achieved backbone rate: the step's probes x batch x seq tokens of forward FLOPs over its time.
  const double step_flops = static_cast<double>(probes) * a.batch * a.seq * forward_flops_per_token(model.config(), a.seq);
  const double step_tflops = step_flops / (step_ms * 1e-3) / 1e12;

  std::printf("zotune bench (%s): %s, %s, batch %d x %d tokens, median of %d\n", a.peft.c_str(), a.model.c_str(),
              a.device.c_str(), a.batch, a.seq, a.iters);
  std::printf("| measure | value |\n|---|---|\n");
  std::printf("| trainable (PEFT) parameters | %llu |\n", static_cast<unsigned long long>(space.size()));
  std::printf("| forward + loss ms (one probe) | %.2f |\n", forward_ms);
  std::printf("| %s step ms (%d probes, %d a forward) | %.2f |\n", method, probes,
              per_forward, step_ms);
  std::printf("| of which forwards ms (%d of %d probes a forward) | %.2f |\n", per_forward, probes, forwards_ms);
  std::printf("| achieved backbone TFLOP/s over the step | %.3g |\n", step_tflops);
  std::printf("| peak memory GiB | %.2f |\n", peak_gib);
  if (!a.json.empty()) {
    nlohmann::json j;
    j["shape"] = a.model;
    j["batch"] = a.batch;
    j["seq"] = a.seq;
    j["peft"] = a.peft;
    j["queries"] = adapter ? a.queries : 1;
    j["probe_batch"] = trainer.probe_batch();
    j["probe_batch_auto"] = a.probe_batch == 0;
    j["params"] = space.size();
    j["forward_ms"] = forward_ms;
    j[step_key] = step_ms;
    j["step_ms"] = step_ms;
    j["peak_memory_gib"] = peak_gib;
    j["step_tflops"] = step_tflops;
    j["forwards_ms"] = forwards_ms;
    j["dtype"] = dtype_name(model.dtype());
    j["forward_flops_per_token"] = forward_flops_per_token(model.config(), a.seq);
    j["device"] = a.device;
    j["engine"] = "zotune";
    std::ofstream out(a.json);
    check(static_cast<bool>(out), a.json + ": cannot write the benchmark's JSON");
    out << j.dump(2) << "\n";
  }
}

}  // namespace zotune::cli
