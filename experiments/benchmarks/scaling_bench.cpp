// zotune_scaling_bench: the query-parallel scaling benchmark of issue 7. One invocation is one
// run at one rank count P (launch it under `mpirun -np P`, one rank per GPU): BSZO steps
// (k + 1 queries: L(θ) and k axis probes, one round) or AdaZeta steps (a fixed Q queries of
// two probes each) through the real Trainer on a synthetic next-token task, the queries spread
// over the ranks (query group g on rank g mod P). It reports the step time, queries per second,
// the time spent in the step's all-reduce (Trainer's StepRecord::allreduce_ms), its share of the
// step, and, given the P = 1 run's JSON, the parallel efficiency qps(P) / (P * qps(1)).
//
// Rank-count invariance: the same run (shape, weights seed, optimizer, queries, steps) gives
// the same all-reduced probe losses and the same final parameters on every P. The benchmark
// prints an FNV-1a hash of every step's probe losses and the final parameter checksum (after
// checking that the replicas agree); run_scaling_bench.sh compares them across P.
//
//   mpirun -np P zotune_scaling_bench SHAPE_DIR --random --device cuda --dtype f16
//       --optimizer bszo --queries 8 [--backend nccl] [--json OUT.json] [--baseline-json P1.json]
//
// Timing: every timed step is wall time on each rank from the call of Trainer::step to the
// end of its device work (the model's stream synchronized: the update pass is launched
// asynchronously and would otherwise be billed to the next step); a step's time is the
// slowest rank's. The all-reduce's time is measured around Communicator::allreduce_sum in the
// Trainer: with NCCL it includes the exchange's own stream sync (the call returns with the
// sums on the host). On a rank that reaches the all-reduce early the time includes waiting for
// the others; the rank that arrives last waits for nobody, so the minimum over ranks is the
// cost of the exchange itself ("exchange ms"), and the mean over ranks minus it is load
// imbalance. The all-reduce share reported is exchange ms / step ms.
#include <CLI/CLI.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <functional>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "core/model/model.h"
#include "core/optim/adazeta.h"
#include "core/optim/bszo.h"
#include "core/optim/trainable_space.h"
#include "core/train/engine_setup.h"
#include "core/train/task.h"
#include "core/train/trainer.h"
#include "core/util/error.h"
#include "distributed/communicator.h"
#include "distributed/gpu_assignment.h"
#include "distributed/world.h"
#include "kernels/cpu/perturb.h"

#ifdef ZOTUNE_HAVE_CUDA
#include "core/cuda/cuda_model.h"
#include "kernels/cuda/device.cuh"
#endif

namespace zotune {

namespace {

struct ScalingArgs {
  std::string model;             // shape directory (config.json alone with --random) or a model
  std::string device = "cuda";   // engine: cuda or cpu
  std::string dtype = "f16";
  std::string optimizer = "bszo";  // bszo (k = queries - 1) or adazeta (fixed Q = queries)
  std::string backend = "mpi";   // all-reduce: mpi or nccl
  int queries = 8;
  int bszo_m = 0;                // BSZO observations; 0 = k (no re-measurement)
  int batch = 16, seq = 128;
  int examples = 0;              // sequences in the synthetic task; 0 = 4 x batch
  int warmup = 2, iters = 10;
  double lr = 1e-6;
  double eps = 0.0;              // 0: the optimizer's default (BSZO 1e-4, AdaZeta 1e-3)
  uint64_t weight_seed = 1234;   // random weights
  uint64_t run_seed = 11;        // directions and minibatches
  bool random = false, share_gpus = false, no_tf32 = false, no_graphs = false;
  std::string json, baseline_json, label;
};

// FNV-1a, 64 bit, over the bits of doubles: equal hashes mean bit-identical sequences.
class Fnv1a {
 public:
  void add(double v) {
    uint64_t bits = 0;
    std::memcpy(&bits, &v, sizeof(bits));
    for (int i = 0; i < 8; ++i) {
      hash_ ^= (bits >> (8 * i)) & 0xffu;
      hash_ *= 0x100000001b3ull;
    }
  }
  uint64_t value() const { return hash_; }

 private:
  uint64_t hash_ = 0xcbf29ce484222325ull;
};

std::string hex64(uint64_t v) {
  char text[17];
  std::snprintf(text, sizeof(text), "%016llx", static_cast<unsigned long long>(v));
  return text;
}

double median(std::vector<double> v) {
  if (v.empty()) return 0.0;
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

// The host model of `config` with CudaModel::random's weights (N(0, 0.02) from Philox keyed by
// `seed` with the flat parameter index as the counter, unit norm weights, zero biases), so the
// CPU smoke path trains the same kind of random model as the GPU (the GPU's normals differ in
// the last bits: hardware log/sin/cos).
std::unique_ptr<Model> random_host_model(const ModelConfig& config, DType dtype, uint64_t seed) {
  std::unique_ptr<Model> model = create_model(config, dtype);
  const cpu::DirectionTerm term{seed, 0, 0, 0.02f};
  uint64_t first = 0;
  std::vector<float> values;
  for (const ParamView& v : model->params().views()) {
    const bool bias = v.name.size() >= 5 && v.name.compare(v.name.size() - 5, 5, ".bias") == 0;
    const bool norm_weight = param_role(v.name) == ParamRole::Norm && !bias;
    values.assign(static_cast<size_t>(v.numel), norm_weight ? 1.0f : 0.0f);
    if (!norm_weight && !bias) cpu::perturb(values.data(), DType::F32, v.numel, first, &term, 1, DirectionKind::Gaussian);
    convert(values.data(), DType::F32, model->params().data(v), v.dtype, values.size());
    first += static_cast<uint64_t>(v.numel);
  }
  return model;
}

// A distinct id per (host, device) pair, to count the GPUs a run really spreads over.
uint64_t placement_id(const std::string& host, int device) {
  uint64_t h = 0xcbf29ce484222325ull;  // FNV-1a of the host name
  for (unsigned char ch : host) h = (h ^ ch) * 0x100000001b3ull;
  return h ^ (static_cast<uint64_t>(device + 1) * 0x9e3779b97f4a7c15ull);
}

struct PlacedModel {
  std::unique_ptr<Model> model;
  int device = -1;          // CUDA device of this rank, -1 on the CPU engine
  bool shared_gpu = false;  // more ranks on this host than GPUs (--share-gpus)
};

// This rank's model on its engine. Random weights are drawn on every rank from the same seed
// (the replicas' checksums are compared after the last step); a model path goes through
// load_on_engine, the loader `zotune train` uses (rank 0 reads, the others receive).
PlacedModel place_model(const ScalingArgs& a, DType dtype, CommBackend backend, Communicator& comm) {
  const bool cuda_engine = a.device == "cuda";
  check(backend != CommBackend::NCCL || cuda_engine, "--backend nccl exchanges on the GPU; it needs --device cuda");
  PlacedModel placed;
  LoadOptions load;
  load.dtype = dtype;
#ifdef ZOTUNE_HAVE_CUDA
  cuda::CudaOptions options;
  options.tf32 = !a.no_tf32;
  options.graphs = !a.no_graphs;
  if (cuda_engine) {
    const int devices = cuda::device_count();
    // No GPU, or more ranks than GPUs without --share-gpus: assign_gpu's error, on every rank.
    options.device = assign_gpu(local_rank(), local_size(), devices, a.share_gpus);
    check(backend != CommBackend::NCCL || local_size() <= devices,
          "--backend nccl with " + std::to_string(local_size()) + " ranks on " + std::to_string(devices) +
              " GPU(s): NCCL refuses two ranks on one GPU; share GPUs with --backend mpi --share-gpus");
    placed.device = options.device;
    placed.shared_gpu = local_size() > devices;
  }
#endif
  if (!a.random) {
    EngineSettings settings;
    settings.device = cuda_engine ? EngineDevice::CUDA : EngineDevice::CPU;
    settings.tf32 = !a.no_tf32;
    settings.cuda_graphs = !a.no_graphs;
    settings.share_gpus = a.share_gpus;
    placed.model = load_on_engine(a.model, load, settings, backend, comm).model;
    return placed;
  }
  const ModelConfig config = load_model_config(a.model, load);
  if (!cuda_engine) {
    placed.model = random_host_model(config, dtype, a.weight_seed);
    return placed;
  }
#ifdef ZOTUNE_HAVE_CUDA
  // load_on_engine's rule: NCCL attaches before the weights exist (even on one rank, so P = 1
  // pays the same staging round trip as P > 1).
  if (backend == CommBackend::NCCL) comm.use_nccl(options.device);
  placed.model = cuda::CudaModel::random(config, dtype, a.weight_seed, options);
  return placed;
#else
  throw Error("--device cuda, but this build has no CUDA (ZOTUNE_CUDA=OFF)");
#endif
}

// Waits for the device work a step queued (the update pass runs asynchronously).
void finish_device_work(Model& model) {
#ifdef ZOTUNE_HAVE_CUDA
  if (model.on_device()) static_cast<cuda::CudaModel&>(model).synchronize();
#else
  (void)model;
#endif
}

void run(const ScalingArgs& a) {
  World& world = World::instance();
  Communicator comm = Communicator::world();
  const int P = comm.size();
  const std::optional<DType> parsed_dtype = parse_dtype(a.dtype);
  check(parsed_dtype.has_value(), "--dtype: unknown dtype '" + a.dtype + "' (f32, f16, bf16)");
  const DType dtype = *parsed_dtype;
  const CommBackend backend = a.backend == "nccl" ? CommBackend::NCCL : CommBackend::MPI;
  const bool bszo = a.optimizer == "bszo";
  check(!bszo || a.queries >= 2, "--queries " + std::to_string(a.queries) + ": BSZO needs at least 2 (L(θ) and k >= 1 axes)");
  check(a.examples == 0 || a.examples >= a.batch,
        "--examples " + std::to_string(a.examples) + " is fewer than a minibatch of " + std::to_string(a.batch));

  PlacedModel placed = place_model(a, dtype, backend, comm);
  Model& model = *placed.model;
  const ModelConfig& c = model.config();
  check(c.head == HeadKind::CausalLM,
        a.model + ": the scaling benchmark trains next-token prediction; it needs a causal LM head (got " +
            head_name(c.head) + ")");
  const bool shared_gpu = placed.shared_gpu;
  // Distinct GPUs (or CPU processes) the ranks run on.
  const std::vector<std::string> hosts = world.hosts();
  const std::vector<uint64_t> placements = comm.allgather(placement_id(world.host(), placed.device));
  const int distinct = static_cast<int>(std::set<uint64_t>(placements.begin(), placements.end()).size());

  // The synthetic task: random token sequences (ids from 4 up: no pad/special ids), the same
  // on every rank (the same generator and seed). Next-token loss over every position.
  const int examples = a.examples > 0 ? a.examples : 4 * a.batch;
  std::mt19937 rng(static_cast<uint32_t>(a.run_seed));
  std::uniform_int_distribution<int32_t> token(4, std::min(c.vocab_size, 30000) - 1);
  std::vector<std::vector<int32_t>> sequences(static_cast<size_t>(examples), std::vector<int32_t>(a.seq));
  for (auto& s : sequences)
    for (auto& t : s) t = token(rng);
  LanguageModelingTask task(std::move(sequences), 0);

  const TrainableSpace space = TrainableSpace::select(model, TrainableSelection{});
  const uint32_t steps = static_cast<uint32_t>(a.warmup + a.iters);
  TrainerOptions topt;
  topt.steps = steps;
  topt.batch_size = a.batch;
  topt.data_seed = a.run_seed;
  topt.lr = a.lr;
  topt.mode = PerturbationMode::Exact;  // the mode that is bit-identical on every P
  topt.checksum_every = 0;              // replicas compared once, after the timed steps

  std::unique_ptr<ZoOptimizer> optimizer;
  int k = 0, m = 0;
  if (bszo) {
    BszoOptions o;
    o.seed = a.run_seed;
    if (a.eps > 0) o.eps = a.eps;
    o.k = k = a.queries - 1;
    o.m = m = a.bszo_m > 0 ? a.bszo_m : k;
    o.sigma_p = o.sigma_e = bszo_auto_sigma(space.size());
    optimizer = std::make_unique<Bszo>(o);
  } else {
    AdazetaOptions o;
    o.seed = a.run_seed;
    if (a.eps > 0) o.eps = a.eps;
    o.schedule.fixed = true;  // Q = target at every step (the code's --use_num)
    o.schedule.target = o.schedule.max_queries = a.queries;
    o.extent = {examples, a.batch, static_cast<int64_t>(steps)};
    optimizer = std::make_unique<Adazeta>(o);
  }
  Trainer trainer(model, space, *optimizer, task, comm, topt);

  // Per step on this rank: wall time (ms) and time in the all-reduce (ms).
  std::vector<double> step_ms(steps), reduce_ms(steps);
  std::vector<double> losses;
  Fnv1a loss_hash;
  double reduce_bytes = 0.0;
  int forwards = 0;
  std::chrono::steady_clock::time_point timed_start;
  comm.barrier();
  for (uint32_t s = 0; s < steps; ++s) {
    if (s == static_cast<uint32_t>(a.warmup)) {
      comm.barrier();
      timed_start = std::chrono::steady_clock::now();
    }
    const auto t0 = std::chrono::steady_clock::now();
    const StepRecord rec = trainer.step(s);
    finish_device_work(model);
    step_ms[s] = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    reduce_ms[s] = rec.allreduce_ms;
    for (double l : rec.probe_losses) loss_hash.add(l);
    loss_hash.add(rec.loss);
    losses.push_back(rec.loss);
    forwards = rec.forward_passes;
    const auto bytes = rec.scalars.find("allreduce_bytes");
    if (bytes != rec.scalars.end()) reduce_bytes = bytes->second;
  }
  const double timed_wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - timed_start).count();

  // Every rank's timings in one vector, rank r's in its own slots (exact sums).
  const size_t n = static_cast<size_t>(a.iters);
  std::vector<double> all(static_cast<size_t>(P) * 2 * n, 0.0);
  for (size_t i = 0; i < n; ++i) {
    all[(static_cast<size_t>(comm.rank()) * 2) * n + i] = step_ms[a.warmup + i];
    all[(static_cast<size_t>(comm.rank()) * 2 + 1) * n + i] = reduce_ms[a.warmup + i];
  }
  comm.allreduce_sum(all);
  // The replica check, once, after the timed steps: the checksum brings every trainable byte
  // to the host (FNV-1a at about 1 GB/s: seconds for a 7B model). Ranks that started from
  // different weights (the random draw is made on every rank) end on different checksums too.
  const uint64_t final_checksum = trainer.checksum();
  const std::vector<uint64_t> finals = comm.allgather(final_checksum);
  for (int r = 1; r < P; ++r)
    check(finals[r] == finals[0], "after " + std::to_string(steps) + " steps rank " + std::to_string(r) +
                                      " holds parameter checksum " + hex64(finals[r]) + ", rank 0 " + hex64(finals[0]) +
                                      ": the replicas diverged");
  if (comm.rank() != 0) return;

  // Per timed step: the slowest rank's step, and the all-reduce's mean / min / max over ranks.
  std::vector<double> step_max(n), reduce_mean(n), reduce_min(n), reduce_max(n);
  for (size_t i = 0; i < n; ++i) {
    step_max[i] = reduce_mean[i] = 0.0;
    reduce_min[i] = 1e300;
    reduce_max[i] = 0.0;
    for (int r = 0; r < P; ++r) {
      const double sm = all[(static_cast<size_t>(r) * 2) * n + i], rm = all[(static_cast<size_t>(r) * 2 + 1) * n + i];
      step_max[i] = std::max(step_max[i], sm);
      reduce_mean[i] += rm / P;
      reduce_min[i] = std::min(reduce_min[i], rm);
      reduce_max[i] = std::max(reduce_max[i], rm);
    }
  }
  const double step_median = median(step_max);
  const double exchange_median = median(reduce_min);
  const double in_call_median = median(reduce_mean);
  const double qps = a.queries / (step_median / 1000.0);

  // Efficiency against the P = 1 run of the same benchmark, when given.
  double baseline_qps = 0.0;
  std::string baseline_note;
  if (!a.baseline_json.empty()) {
    std::ifstream in(a.baseline_json);
    check(static_cast<bool>(in), a.baseline_json + ": cannot read the baseline JSON (--baseline-json)");
    const nlohmann::json b = nlohmann::json::parse(in);
    check(b.value("ranks", 0) == 1, a.baseline_json + ": the baseline is not a P = 1 run");
    check(b.value("optimizer", "") == a.optimizer && b.value("queries", 0) == a.queries &&
              b.value("batch", 0) == a.batch && b.value("seq", 0) == a.seq && b.value("dtype", "") == dtype_name(dtype),
          a.baseline_json + ": the baseline ran another benchmark (optimizer, queries, batch, seq or dtype differ)");
    baseline_qps = b.value("qps", 0.0);
  }
  if (P == 1 && baseline_qps <= 0.0) baseline_qps = qps;  // P = 1 is its own baseline
  const bool efficiency_known = baseline_qps > 0.0 && !shared_gpu;
  const double efficiency = efficiency_known ? qps / (P * baseline_qps) : 0.0;

  const std::string engine = engine_description(model);
  std::string what = bszo ? "BSZO k=" + std::to_string(k) + " m=" + std::to_string(m) + " (" + std::to_string(a.queries) +
                                " queries, " + std::to_string(forwards) + " forwards)"
                          : "AdaZeta Q=" + std::to_string(a.queries) + " (" + std::to_string(forwards) + " forwards)";
  std::printf("zotune scaling bench: %s, %s, %s weights%s, batch %d x %d tokens, %llu parameters\n", a.model.c_str(),
              what.c_str(), dtype_name(dtype), a.random ? " (random)" : "", a.batch, a.seq,
              static_cast<unsigned long long>(space.size()));
  const std::string placement =
      placed.device >= 0 ? "on " + std::to_string(distinct) + " GPU(s)" : "(CPU processes)";
  std::printf("P = %d rank(s) %s, %s all-reduce, %s; median of %d steps after %d warm-up%s\n", P, placement.c_str(),
              a.backend.c_str(), engine.c_str(), a.iters, a.warmup,
              shared_gpu ? "; SHARED GPU: invariance only, not scaling" : "");
  std::printf("| P | step ms | queries/s | exchange ms | in all-reduce ms (mean, max) | all-reduce share | efficiency |\n");
  std::printf("|---|---|---|---|---|---|---|\n");
  char efficiency_text[32];
  std::snprintf(efficiency_text, sizeof(efficiency_text), "%.1f%%", 100.0 * efficiency);
  std::printf("| %d | %.2f | %.2f | %.4f | %.4f, %.4f | %.3f%% | %s |\n", P, step_median, qps, exchange_median,
              in_call_median, median(reduce_max), 100.0 * exchange_median / step_median,
              efficiency_known ? efficiency_text
              : shared_gpu     ? "n/a (shared GPU)"
                               : "n/a (no P=1 baseline)");
  std::printf("all-reduce payload: %.0f bytes per step\n", reduce_bytes);
  std::printf("loss_hash %s over %u steps (first loss %.6f, last %.6f)\n", hex64(loss_hash.value()).c_str(), steps,
              losses.front(), losses.back());
  std::printf("final_checksum %s (%d replica(s) agree)\n", hex64(final_checksum).c_str(), P);
  std::fflush(stdout);

  if (a.json.empty()) return;
  nlohmann::json j;
  j["benchmark"] = "query-parallel scaling";
  j["shape"] = a.model;
  j["label"] = a.label;
  j["engine"] = a.device;
  j["device"] = engine;
  j["dtype"] = dtype_name(dtype);
  j["random_weights"] = a.random;
  j["batch"] = a.batch;
  j["seq"] = a.seq;
  j["examples"] = examples;
  j["params"] = space.size();
  j["optimizer"] = a.optimizer;
  j["queries"] = a.queries;
  if (bszo) {
    j["k"] = k;
    j["m"] = m;
  }
  j["forwards_per_step"] = forwards;
  j["lr"] = a.lr;
  j["ranks"] = P;
  j["gpus"] = placed.device >= 0 ? distinct : 0;
  j["hosts"] = std::set<std::string>(hosts.begin(), hosts.end()).size();
  j["shared_gpu"] = shared_gpu;
  j["backend"] = a.backend;
  j["tf32"] = !a.no_tf32;
  j["graphs"] = !a.no_graphs;
  j["warmup"] = a.warmup;
  j["iters"] = a.iters;
  j["steps"] = steps;
  j["step_ms_median"] = step_median;
  j["step_ms"] = step_max;
  j["qps"] = qps;
  j["forwards_per_s"] = forwards / (step_median / 1000.0);
  j["qps_wall"] = a.iters * a.queries / timed_wall_s;
  j["timed_wall_s"] = timed_wall_s;
  j["exchange_ms_median"] = exchange_median;
  j["allreduce_in_call_ms_median"] = in_call_median;
  j["allreduce_in_call_max_ms_median"] = median(reduce_max);
  j["allreduce_share"] = exchange_median / step_median;
  j["allreduce_in_call_share"] = in_call_median / step_median;
  j["allreduce_bytes_per_step"] = reduce_bytes;
  j["exchange_ms"] = reduce_min;
  j["efficiency"] = efficiency_known ? nlohmann::json(efficiency) : nlohmann::json(nullptr);
  j["baseline_qps"] = baseline_qps > 0 ? nlohmann::json(baseline_qps) : nlohmann::json(nullptr);
  j["losses"] = losses;
  j["loss_hash"] = hex64(loss_hash.value());
  j["final_checksum"] = hex64(final_checksum);
  j["version"] = std::string(ZOTUNE_VERSION) + " (" + ZOTUNE_GIT_REVISION + ")";
  std::ofstream out(a.json);
  check(static_cast<bool>(out), a.json + ": cannot write the benchmark's JSON");
  out << j.dump(2) << "\n";
}

// As the zotune command's main: the message once (rank 0), other ranks only with their rank,
// and a watchdog that ends the job when one rank fails alone.
int fail(int code, const char* kind, const char* message) {
  const World& world = World::instance();
  if (world.is_root())
    std::fprintf(stderr, "zotune_scaling_bench: %s: %s\n", kind, message);
  else
    std::fprintf(stderr, "zotune_scaling_bench: rank %d: %s: %s\n", world.rank(), kind, message);
  if (world.size() > 1) world.arm_abort_watchdog(code, 30);
  return code;
}

}  // namespace

}  // namespace zotune

int main(int argc, char** argv) {
  using zotune::ScalingArgs;
  zotune::World& world = zotune::World::instance(&argc, &argv);
  CLI::App app{"zotune_scaling_bench: query-parallel scaling of BSZO and AdaZeta steps over MPI ranks (issue 7)"};
  ScalingArgs a;
  app.add_option("model", a.model, "shape directory (config.json; with --random) or a Hugging Face model directory")
      ->required();
  app.add_option("--device", a.device, "engine: cuda (one GPU per rank) or cpu")->capture_default_str()->check(
      CLI::IsMember({"cpu", "cuda"}));
  app.add_flag("--random", a.random, "random weights of the config's shapes (drawn on the device from --weight-seed)");
  app.add_option("--dtype", a.dtype, "storage dtype of the weights: f32, f16, bf16")->capture_default_str();
  app.add_option("--optimizer", a.optimizer, "bszo (k = queries - 1 axes plus L(θ)) or adazeta (fixed Q = queries)")
      ->capture_default_str()
      ->check(CLI::IsMember({"bszo", "adazeta"}));
  app.add_option("--queries", a.queries, "queries per step (BSZO: k + 1; AdaZeta: Q, two forwards each)")
      ->capture_default_str()
      ->check(CLI::Range(1, 4096));
  app.add_option("--bszo-m", a.bszo_m, "BSZO observations m (>= k; default k: no re-measurement)")->check(CLI::Range(0, 4096));
  app.add_option("--backend", a.backend, "the step's all-reduce: mpi or nccl")->capture_default_str()->check(
      CLI::IsMember({"mpi", "nccl"}));
  app.add_flag("--share-gpus", a.share_gpus, "allow more ranks than GPUs (engine.share_gpus): invariance only, not scaling");
  app.add_option("--batch", a.batch, "sequences per minibatch")->capture_default_str()->check(CLI::Range(1, 4096));
  app.add_option("--seq", a.seq, "tokens per sequence")->capture_default_str()->check(CLI::Range(2, 1 << 16));
  app.add_option("--examples", a.examples, "sequences in the synthetic task (default 4 x batch)")->check(CLI::Range(0, 1 << 24));
  app.add_option("--warmup", a.warmup, "untimed steps first (graph capture, allocations)")->capture_default_str()->check(
      CLI::Range(0, 1000));
  app.add_option("--iters", a.iters, "timed steps (medians reported)")->capture_default_str()->check(CLI::Range(1, 10000));
  app.add_option("--lr", a.lr, "learning rate")->capture_default_str();
  app.add_option("--eps", a.eps, "perturbation scale (default: BSZO 1e-4, AdaZeta 1e-3)");
  app.add_option("--weight-seed", a.weight_seed, "seed of the random weights")->capture_default_str();
  app.add_option("--seed", a.run_seed, "seed of the directions, minibatches and task tokens")->capture_default_str();
  app.add_flag("--no-tf32", a.no_tf32, "cuda: exact fp32 GEMMs instead of TF32");
  app.add_flag("--no-graphs", a.no_graphs, "cuda: launch kernels one by one instead of replaying CUDA graphs");
  app.add_option("--json", a.json, "also write the results as JSON to this file (rank 0)");
  app.add_option("--baseline-json", a.baseline_json, "the P = 1 run's JSON: report the parallel efficiency against it");
  app.add_option("--label", a.label, "free text kept in the JSON (e.g. the launcher's settings)");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // Every rank parses the same arguments; one message is enough.
    std::ostringstream discard;
    return world.is_root() ? app.exit(e) : app.exit(e, discard, discard);
  }
  try {
    zotune::run(a);
  } catch (const zotune::Error& e) {
    return zotune::fail(1, "error", e.what());
  } catch (const std::exception& e) {
    return zotune::fail(2, "internal error", e.what());
  }
  return 0;
}
