// The step loop of DESIGN.md section 1: the same minibatch on every rank, the optimizer's
// probes spread over ranks (group g on rank g mod P), one all-reduce of the probe losses
// per round, and the same update applied on every rank from regenerated directions.
// With data_parallel D > 1 (the 2-D layout, for P larger than the number of queries) the
// D ranks of a query column split the minibatch; each probe's loss is then the sum of the
// D slices' loss sums over the sum of their counts, added in slice order on every rank, so
// a run is identical for every P with the same D (a different D changes the batch shapes
// of the forward passes and the order of the sums: losses then agree to rounding only).
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "core/optim/trainable_space.h"
#include "core/optim/zo_optimizer.h"
#include "core/train/param_engine.h"
#include "core/train/perturbation_mode.h"
#include "core/train/task.h"
#include "core/train/weight_moves.h"
#include "distributed/communicator.h"

namespace zotune {

struct TrainerOptions {
  uint32_t steps = 100;
  int batch_size = 16;
  uint64_t data_seed = 0;        // minibatch order
  // data.sampler: false = epoch (the Hugging Face dataloader's shuffled passes, the last batch
  // partial: epoch_minibatch), true = independent draws per step (sample_minibatch).
  bool independent_minibatches = false;
  double lr = 1e-6;
  bool linear_schedule = false;  // lr decays linearly to 0 over `steps`
  PerturbationMode mode = PerturbationMode::Exact;
  DirectionKind direction = DirectionKind::Gaussian;
  uint32_t checksum_every = 100;  // compare replica checksums (0 = never)
  // The 2-D layout: ranks form `data_parallel` rows of P / data_parallel query columns.
  // Probe group g runs on column g mod (P / data_parallel); the D ranks of that column
  // each take one contiguous slice of the minibatch and contribute its loss sum.
  int data_parallel = 1;
  // Batched probes (engine.probe_batch; PEFT modes): a round's probes are cut into chunks of
  // whole probe groups, at most probe_batch probes each, by the round alone (never by P); chunk
  // c runs on column c mod (P / data_parallel) as one forward over its probes' copies of the
  // slice (Model::begin_probe_groups). 1: every probe its own forward, on column group mod columns.
  // 0 = auto: resolved by the Trainer (auto_probe_batch) and readable as Trainer::probe_batch().
  int probe_batch = 1;
};

// The chunks of batched probe evaluation: [begin, end) ranges of `probes`, in order, each whole
// consecutive groups (Probe::group) of at most `batch` probes; a group with more probes than
// `batch` is cut into pieces of `batch`.
std::vector<std::pair<size_t, size_t>> probe_chunks(const std::vector<Probe>& probes, int batch);

struct StepRecord {
  uint32_t step = 0;
  double loss = 0.0;
  double lr = 0.0;
  int forward_passes = 0;     // over all ranks
  double tokens = 0.0;        // tokens those forwards read (forward_passes x the minibatch's; progress only)
  double ms = 0.0;            // wall time of the step on this rank
  // Wall time this rank spent inside the step's all-reduce calls (ms, every round summed):
  // the exchange itself plus the wait for the slowest rank to arrive; with NCCL it includes
  // the exchange's stream sync (the call returns with the sums on the host). Measured, so not
  // logged: a rank-invariant log must not carry it (experiments/benchmarks/scaling_bench.cpp).
  double allreduce_ms = 0.0;
  std::vector<cpu::DirectionTerm> terms;  // the update applied (the replay record)
  float decay_scale = 1.0f;
  std::vector<double> probe_losses;       // every probe loss of the step, rounds concatenated
  std::map<std::string, double> scalars;
  std::map<std::string, std::vector<double>> vectors;
  // Some rank had received a stop signal (SIGTERM, SIGINT, SIGUSR1) by the step's first
  // all-reduce, which carries every rank's vote: every rank sees the same answer.
  bool stop_requested = false;
};

// The terms that move weights at base + sum(from) to base + sum(to) in one pass: `to` minus
// `from`, one term per direction (coefficients of the same direction added), zeros dropped.
std::vector<cpu::DirectionTerm> offset_difference(const std::vector<cpu::DirectionTerm>& from,
                                                  const std::vector<cpu::DirectionTerm>& to);

// What re-running an optimizer needs of one logged step: its lr and every probe loss, rounds
// concatenated (/steps/lr and /steps/probe_losses).
struct LoggedStepInputs {
  uint32_t step = 0;
  double lr = 0.0;
  std::vector<double> probe_losses;
};

// Replay of the optimizers whose updates are TensorPasses (no /updates rows) and of the
// in-place modes: re-runs a fresh `optimizer` over the first n logged steps without a forward
// pass, each round of probes answered from the step's logged losses. In the in-place modes
// (inplace, reference) every probe's move is made too, in the run's order (WeightMoves), so
// the rounding residues come back. Same losses, same passes: bit-identical to the run on the
// same kind of engine (a GPU run replayed on the CPU differs where the device's z rounds
// apart, perturb.cuh). Errors name the step whose logged losses do not match the rounds the
// optimizer asks for.
// `on_update`, when set, sees each step's update before it is applied (resume compares it with
// the logged /updates rows).
void replay_optimizer(ParamEngine& engine, ZoOptimizer& optimizer, const std::vector<LoggedStepInputs>& steps,
                      int64_t n, DirectionKind kind, PerturbationMode mode = PerturbationMode::Exact,
                      const std::function<void(const LoggedStepInputs&, const StepUpdate&)>& on_update = {});

class Trainer {
 public:
  Trainer(Model& model, const TrainableSpace& space, ZoOptimizer& optimizer, Task& task, Communicator& comm,
          const TrainerOptions& options);

  // Runs step `step`. Throws Error naming the step and probe for a non-finite loss, and for
  // replicas whose checksums disagree (checked every checksum_every steps).
  StepRecord step(uint32_t step);
  double learning_rate(uint32_t step) const;
  uint64_t checksum() { return engine_->checksum(); }
  ParamEngine& engine() { return *engine_; }
  // Probes per forward: engine.probe_batch, or what auto resolved to.
  int probe_batch() const { return opt_.probe_batch; }
  // engine.probe_batch: auto for an optimizer that cannot say its largest round.
  static constexpr int kAutoProbeBatchUnknownRound = 64;

 private:
  // engine.probe_batch: auto (PEFT modes): the optimizer's largest round, capped by what fits the
  // engine's memory (probe_groups_that_fit), the smallest value over the ranks (collective).
  int auto_probe_batch();
  LossSum probe_loss(const Probe& probe, const std::vector<int>& examples);
  // Losses of probes[begin, end) over `examples`: one forward per chunk of the task's batches
  // with every probe's modules in its own block of rows (end - begin > 1), else probe_loss.
  std::vector<LossSum> chunk_losses(const std::vector<Probe>& probes, size_t begin, size_t end,
                                    const std::vector<int>& examples);

  Model& model_;
  const TrainableSpace& space_;
  ZoOptimizer& optimizer_;
  Task& task_;
  Communicator& comm_;
  TrainerOptions opt_;
  // Where the parameter passes run (host or device); in exact mode it holds the step's
  // unperturbed trainable parameters as its snapshot.
  std::unique_ptr<ParamEngine> engine_;
  std::unique_ptr<WeightMoves> moves_;  // the probes' and the update's passes, per mode
  int query_columns_ = 1;      // P / data_parallel
  int column_ = 0, row_ = 0;   // this rank's query column and data slice
};

}  // namespace zotune
