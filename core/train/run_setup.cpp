#include "core/train/run_setup.h"

#include <string>

#include "core/optim/adazeta.h"
#include "core/optim/bszo.h"
#include "core/optim/hizoo.h"
#include "core/optim/lozo.h"
#include "core/optim/mezo.h"
#include "core/optim/mezo_adam.h"
#include "core/optim/sparse_mezo.h"
#include "core/util/error.h"

namespace zotune {

TrainableSelection trainable_selection(const TrainableSettings& settings) {
  TrainableSelection s;
  switch (settings.mode) {
    case TrainableMode::Full: s.mode = TrainableSelection::Mode::Full; break;
    case TrainableMode::Head: s.mode = TrainableSelection::Mode::Head; break;
    case TrainableMode::Lora:
    case TrainableMode::Adapter:
    case TrainableMode::Prefix: s.mode = TrainableSelection::Mode::Peft; break;
  }
  for (FrozenGroup g : settings.freeze) {
    switch (g) {
      case FrozenGroup::Embeddings: s.freeze_embeddings = true; break;
      case FrozenGroup::Norms: s.freeze_norms = true; break;
      case FrozenGroup::Head: s.freeze_head = true; break;
      case FrozenGroup::Biases: s.freeze_biases = true; break;
    }
  }
  return s;
}

PeftSettings peft_settings(const RunConfig& config) {
  PeftSettings p = config.peft;
  switch (config.trainable.mode) {
    case TrainableMode::Lora: p.kind = PeftKind::Lora; break;
    case TrainableMode::Adapter: p.kind = PeftKind::Adapter; break;
    case TrainableMode::Prefix: p.kind = PeftKind::Prefix; break;
    case TrainableMode::Full:
    case TrainableMode::Head: p.kind = PeftKind::None; break;
  }
  return p;
}

DirectionKind direction_kind(DirectionDistribution distribution) {
  return distribution == DirectionDistribution::Rademacher ? DirectionKind::Rademacher : DirectionKind::Gaussian;
}

bool optimizer_uses_tensor_passes(OptimizerKind kind) {
  return kind == OptimizerKind::MeZOAdam || kind == OptimizerKind::HiZOO || kind == OptimizerKind::LOZO ||
         kind == OptimizerKind::SparseMeZO;
}

// The baselines of baselines.md sections 3-6 (MeZO-Adam, HiZOO, LOZO, Sparse-MeZO); null for the others.
static std::unique_ptr<ZoOptimizer> make_baseline_optimizer(const OptimizerSettings& settings, uint64_t seed,
                                                            uint64_t trainable_params) {
  const DirectionKind kind = direction_kind(settings.direction);
  switch (settings.name) {
    case OptimizerKind::MeZOAdam: {
      MezoAdamOptions o;
      o.seed = seed, o.eps = settings.eps, o.beta1 = settings.beta1, o.beta2 = settings.beta2;
      o.adam_eps = settings.adam_eps, o.weight_decay = settings.weight_decay;
      o.trainable_params = trainable_params, o.kind = kind;
      return std::make_unique<MezoAdam>(o);
    }
    case OptimizerKind::HiZOO: {
      HizooOptions o;
      o.seed = seed, o.eps = settings.eps, o.hessian_smoothing = settings.hessian_smoothing;
      o.weight_decay = settings.weight_decay, o.trainable_params = trainable_params, o.kind = kind;
      return std::make_unique<Hizoo>(o);
    }
    case OptimizerKind::LOZO: {
      LozoOptions o;
      o.seed = seed, o.eps = settings.eps, o.rank = static_cast<int>(settings.rank);
      o.refresh_every = static_cast<int>(settings.refresh_every), o.weight_decay = settings.weight_decay, o.kind = kind;
      return std::make_unique<Lozo>(o);
    }
    case OptimizerKind::SparseMeZO: {
      SparseMezoOptions o;
      o.seed = seed, o.eps = settings.eps, o.sparsity = settings.sparsity;
      o.mask = settings.mask == SparseMask::Random ? SparseMaskKind::Random : SparseMaskKind::Magnitude;
      o.weight_decay = settings.weight_decay, o.kind = kind;
      return std::make_unique<SparseMezo>(o);
    }
    default: return nullptr;
  }
}

std::unique_ptr<ZoOptimizer> make_optimizer(const OptimizerSettings& settings, uint64_t seed, uint64_t trainable_params,
                                            const TrainingExtent& extent) {
  if (settings.name == OptimizerKind::AdaZeta) {
    AdazetaOptions o;
    o.seed = seed;
    o.eps = settings.eps;
    o.weight_decay = settings.weight_decay;
    o.schedule.alpha = settings.queries_alpha;
    o.schedule.beta_auto = settings.queries_beta.automatic;
    o.schedule.beta = settings.queries_beta.value;
    o.schedule.target = static_cast<int>(settings.queries_target);
    o.schedule.min_queries = static_cast<int>(settings.queries_min);
    o.schedule.max_queries = static_cast<int>(settings.queries_max);
    o.schedule.fixed = settings.queries_fixed;
    o.extent = extent;
    return std::make_unique<Adazeta>(o);
  }
  if (std::unique_ptr<ZoOptimizer> baseline = make_baseline_optimizer(settings, seed, trainable_params)) return baseline;
  if (settings.name == OptimizerKind::MeZO) {
    MezoOptions o;
    o.seed = seed;
    o.eps = settings.eps;
    o.queries = static_cast<int>(settings.queries);
    o.one_sided = settings.one_sided;
    o.weight_decay = settings.weight_decay;
    return std::make_unique<Mezo>(o);
  }
  BszoOptions o;
  o.seed = seed;
  o.eps = settings.eps;
  o.k = static_cast<int>(settings.k);
  o.m = static_cast<int>(settings.m);
  o.sigma_p = settings.sigma_p.resolve(trainable_params);
  o.sigma_e = settings.sigma_e.resolve(trainable_params);
  o.alpha = settings.alpha;
  o.noise_floor = settings.noise_floor;
  o.adaptive_noise = settings.adaptive_noise;
  o.adaptive_sampling = settings.adaptive_sampling;
  o.one_sided = settings.one_sided;
  o.fresh_remeasure = settings.name == OptimizerKind::BSZOB;
  return std::make_unique<Bszo>(o);
}

TrainingExtent training_extent(const RunConfig& config, int64_t train_examples) {
  TrainingExtent e;
  e.train_examples = train_examples;
  e.batch_size = config.data.batch_size;
  e.steps = config.run.steps;
  return e;
}

TrainerOptions trainer_options(const RunConfig& config) {
  TrainerOptions t;
  t.steps = static_cast<uint32_t>(config.run.steps);
  t.batch_size = static_cast<int>(config.data.batch_size);
  t.data_seed = config.run.seed;
  t.independent_minibatches = config.data.sampler == MinibatchSampler::Independent;
  t.lr = config.optimizer.lr;
  t.linear_schedule = config.optimizer.schedule == LrSchedule::Linear;
  t.mode = config.model.perturbation;
  t.direction = direction_kind(config.optimizer.direction);
  t.checksum_every = static_cast<uint32_t>(config.run.checksum_every);
  t.data_parallel = static_cast<int>(config.distributed.data_parallel);
  t.probe_batch = config.engine.probe_batch.automatic ? 0 : static_cast<int>(config.engine.probe_batch.value);
  return t;
}

}  // namespace zotune
