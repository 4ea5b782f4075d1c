#include "core/train/run_setup.h"

#include <string>

#include "core/optim/bszo.h"
#include "core/optim/mezo.h"
#include "core/util/error.h"

namespace zotune {

TrainableSelection trainable_selection(const TrainableSettings& settings) {
  TrainableSelection s;
  s.mode = settings.mode == TrainableMode::Head ? TrainableSelection::Mode::Head : TrainableSelection::Mode::Full;
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

DirectionKind direction_kind(DirectionDistribution distribution) {
  return distribution == DirectionDistribution::Rademacher ? DirectionKind::Rademacher : DirectionKind::Gaussian;
}

std::unique_ptr<ZoOptimizer> make_optimizer(const OptimizerSettings& settings, uint64_t seed, uint64_t trainable_params) {
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
  o.fresh_remeasure = settings.name == OptimizerKind::BSZOB;
  return std::make_unique<Bszo>(o);
}

TrainerOptions trainer_options(const RunConfig& config) {
  TrainerOptions t;
  t.steps = static_cast<uint32_t>(config.run.steps);
  t.batch_size = static_cast<int>(config.data.batch_size);
  t.data_seed = config.run.seed;
  t.lr = config.optimizer.lr;
  t.linear_schedule = config.optimizer.schedule == LrSchedule::Linear;
  t.mode = config.model.perturbation;
  t.direction = direction_kind(config.optimizer.direction);
  t.checksum_every = static_cast<uint32_t>(config.run.checksum_every);
  t.data_parallel = static_cast<int>(config.distributed.data_parallel);
  return t;
}

}  // namespace zotune
