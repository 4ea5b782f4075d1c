// zotune bench MODEL: CPU forward throughput (tokens/s) at a given batch shape.
// Two rows: logits at every position, and at the last position only (what training reads).
// --peft times parameter-efficient steps on either engine (cli_bench_peft.h); --device cuda
// alone runs the GPU step benchmark (cli_bench_cuda.h).
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <random>

#include "core/cli/cli_bench_cuda.h"
#include "core/cli/cli_bench_peft.h"
#include "core/cli/commands.h"
#include "core/model/model.h"
#include "core/train/task.h"
#include "core/util/error.h"

namespace zotune::cli {

void register_bench(CLI::App& app) {
  auto* cmd = app.add_subcommand("bench", "Forward-pass throughput on the CPU, or the GPU step benchmark (--device cuda)");
  struct Args {
    std::string model, dtype = "f32", device = "cpu", json;
    int batch = 16, seq = 64, iters = 3;
    bool random = false, no_tf32 = false, no_graphs = false, baselines = false;
    std::string peft;
    int queries = 15, probe_batch = 1;
  };
  auto* a = new Args;
  cmd->add_option("--device", a->device, "cpu (forward throughput) or cuda (forward, perturbation pass, MeZO and BSZO steps)")
      ->capture_default_str()
      ->check(CLI::IsMember({"cpu", "cuda"}));
  cmd->add_flag("--random", a->random, "cuda: random weights of MODEL's config.json shapes, drawn on the GPU");
  cmd->add_option("--json", a->json, "cuda or --peft: also write the results as JSON to this file");
  cmd->add_flag("--no-tf32", a->no_tf32, "cuda: exact fp32 GEMMs instead of TF32");
  cmd->add_flag("--no-graphs", a->no_graphs, "cuda: launch kernels one by one instead of replaying CUDA graphs");
  cmd->add_flag("--baselines", a->baselines,
                "cuda: also time steps of MeZO-Adam, HiZOO, LOZO and Sparse-MeZO beside MeZO's, all under exact "
                "perturbation (MeZO-Adam and HiZOO hold 8 and 4 bytes of fp32 state per parameter)");
  cmd->add_option("--peft", a->peft,
                  "time parameter-efficient steps instead (either device): adapter (AdaZeta, TT adapters bottleneck 64 rank 5), "
                  "lora (MeZO-LoRA, r 8 alpha 16 on q and v) or prefix (MeZO-prefix, 5 tokens a layer)")
      ->check(CLI::IsMember({"adapter", "lora", "prefix"}));
  cmd->add_option("--queries", a->queries, "--peft adapter: AdaZeta's queries per step")
      ->capture_default_str()
      ->check(CLI::Range(1, 1000));
  cmd->add_option("--probe-batch", a->probe_batch,
                  "--peft: probes per forward (engine.probe_batch); 0 = auto (a whole step's probes, as memory allows)")
      ->capture_default_str()
      ->check(CLI::Range(0, 4096));
  cmd->add_option("model", a->model, "Hugging Face model directory or .gguf file")->required();
  cmd->add_option("--batch", a->batch, "sequences per batch")->capture_default_str()->check(CLI::Range(1, 4096));
  cmd->add_option("--seq", a->seq, "tokens per sequence")->capture_default_str()->check(CLI::Range(1, 1 << 16));
  cmd->add_option("--iters", a->iters, "timed repetitions (median reported)")->capture_default_str()->check(CLI::Range(1, 1000));
  cmd->add_option("--dtype", a->dtype, "storage dtype of the weights: f32, f16, bf16")->capture_default_str();
  cmd->callback([a] {
    if (a->device == "cuda") {
#ifdef ZOTUNE_HAVE_CUDA
      CudaBenchArgs c;
      c.model = a->model;
      c.dtype = dtype_option(a->dtype);
      c.batch = a->batch;
      c.seq = a->seq;
      c.iters = a->iters;
      c.random = a->random;
      c.tf32 = !a->no_tf32;
      c.graphs = !a->no_graphs;
      c.baselines = a->baselines;
      c.json = a->json;
      c.peft = a->peft;
      c.queries = a->queries;
      c.probe_batch = a->probe_batch;
      bench_cuda(c);
      return;
#else
      throw Error("bench --device cuda: this zotune was built without CUDA");
#endif
    }
    check(!a->random, "bench: --random goes with --device cuda");
    check(a->json.empty() || !a->peft.empty(), "bench: --json goes with --device cuda or --peft");
    LoadOptions opt;
    opt.dtype = dtype_option(a->dtype);
    if (!a->peft.empty()) opt.peft = bench_peft_settings(a->peft);
    std::unique_ptr<Model> model = load_model(a->model, opt);
    const ModelConfig& c = model->config();
    std::mt19937 rng(1234);
    std::uniform_int_distribution<int32_t> tok(0, std::min(c.vocab_size, 30000) - 1);
    std::vector<std::vector<int32_t>> seqs(a->batch, std::vector<int32_t>(a->seq));
    for (auto& s : seqs)
      for (auto& t : s) t = tok(rng);
    if (!a->peft.empty()) {
      check(c.head == HeadKind::CausalLM, a->model + ": bench --peft needs a causal LM (got " + head_name(c.head) + ")");
      LanguageModelingTask task(seqs, 0);  // every token, as MeZO's labels = input_ids
      std::vector<int> all(static_cast<size_t>(a->batch));
      for (int i = 0; i < a->batch; ++i) all[static_cast<size_t>(i)] = i;
      PeftBenchArgs p;
      p.model = a->model;
      p.peft = a->peft;
      p.json = a->json;
      p.device = std::string("CPU engine, ") + dtype_name(opt.dtype) + " backbone";
      p.batch = a->batch;
      p.seq = a->seq;
      p.iters = a->iters;
      p.queries = a->queries;
      p.probe_batch = a->probe_batch;
      bench_peft_step(p, *model, task, all, [] {}, [] {
        rusage usage{};
        getrusage(RUSAGE_SELF, &usage);
        return static_cast<double>(usage.ru_maxrss) * 1024.0;  // Linux reports KiB
      });
      return;
    }
    Batch batch = Batch::from_sequences(seqs, 0);
    std::vector<int64_t> last(a->batch);
    for (int b = 0; b < a->batch; ++b) last[b] = static_cast<int64_t>(b) * a->seq + a->seq - 1;

    const bool has_rows = c.head == HeadKind::CausalLM || c.head == HeadKind::MaskedLM;
    std::printf("model %s (%s, %s weights), batch %d x %d tokens, median of %d\n", a->model.c_str(),
                architecture_name(c.arch), dtype_name(opt.dtype), a->batch, a->seq, a->iters);
    std::printf("| logits at | ms / forward | tokens / s |\n|---|---|---|\n");
    for (int mode = 0; mode < (has_rows ? 2 : 1); ++mode) {
      const std::vector<int64_t> rows = mode == 0 ? std::vector<int64_t>{} : last;
      model->forward(batch, rows);  // warm-up: allocations, BLAS threads
      std::vector<double> ms;
      for (int i = 0; i < a->iters; ++i) {
        const auto t0 = std::chrono::steady_clock::now();
        model->forward(batch, rows);
        ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
      }
      std::sort(ms.begin(), ms.end());
      const double med = ms[ms.size() / 2];
      std::printf("| %s | %.1f | %.0f |\n", !has_rows ? "no head" : mode == 0 ? "every token" : "last token", med,
                  a->batch * a->seq / (med / 1000.0));
    }
  });
}

}  // namespace zotune::cli
