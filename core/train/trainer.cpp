#include "core/train/trainer.h"

#include <chrono>
#include <cmath>
#include <sstream>

#include "core/util/error.h"

namespace zotune {

Trainer::Trainer(Model& model, const TrainableSpace& space, ZoOptimizer& optimizer, Task& task, Communicator& comm,
                 const TrainerOptions& options)
    : model_(model), space_(space), optimizer_(optimizer), task_(task), comm_(comm), opt_(options) {
  check(opt_.batch_size >= 1, "trainer: batch_size must be at least 1");
  if (opt_.mode == PerturbationMode::Exact) space_.copy_out(model_.params(), base_);
}

double Trainer::learning_rate(uint32_t step) const {
  if (!opt_.linear_schedule) return opt_.lr;
  return opt_.lr * (1.0 - static_cast<double>(step) / static_cast<double>(opt_.steps));
}

double Trainer::probe_loss(const Probe& probe, const std::vector<int>& examples) {
  if (opt_.mode == PerturbationMode::Exact) {
    space_.copy_in(model_.params(), base_);
    space_.apply(model_.params(), probe.offset, opt_.direction);
    return task_.loss(model_, examples);
  }
  space_.apply(model_.params(), probe.offset, opt_.direction);
  const double loss = task_.loss(model_, examples);
  std::vector<cpu::DirectionTerm> back = probe.offset;
  for (cpu::DirectionTerm& t : back) t.coeff = -t.coeff;
  space_.apply(model_.params(), back, opt_.direction);
  return loss;
}

StepRecord Trainer::step(uint32_t step) {
  const auto t0 = std::chrono::steady_clock::now();
  const uint64_t reduced_before = comm_.bytes_reduced();
  StepRecord rec;
  rec.step = step;
  rec.lr = learning_rate(step);
  const std::vector<int> examples = sample_minibatch(opt_.data_seed, step, task_.num_examples(), opt_.batch_size);
  optimizer_.begin_step(step, rec.lr);
  for (std::vector<Probe> probes = optimizer_.next_probes(); !probes.empty(); probes = optimizer_.next_probes()) {
    std::vector<double> losses(probes.size(), 0.0);
    for (size_t j = 0; j < probes.size(); ++j)
      if (probes[j].group % comm_.size() == comm_.rank()) losses[j] = probe_loss(probes[j], examples);
    comm_.allreduce_sum(losses);  // the only exchange of the step: O(probes) doubles
    for (size_t j = 0; j < losses.size(); ++j) {
      if (!std::isfinite(losses[j])) {
        std::ostringstream msg;
        msg << "step " << step << ": the loss of probe " << j << " (group " << probes[j].group << ") is " << losses[j]
            << "; lower the learning rate or eps, or check the data";
        throw Error(msg.str());
      }
    }
    rec.probe_losses.insert(rec.probe_losses.end(), losses.begin(), losses.end());
    optimizer_.observe(losses);
  }
  StepUpdate u = optimizer_.finish();
  if (opt_.mode == PerturbationMode::Exact) space_.copy_in(model_.params(), base_);
  space_.apply(model_.params(), u.terms, opt_.direction, u.decay_scale);
  if (opt_.mode == PerturbationMode::Exact) space_.copy_out(model_.params(), base_);

  if (opt_.checksum_every > 0 && comm_.size() > 1 && (step + 1) % opt_.checksum_every == 0) {
    const std::vector<uint64_t> sums = comm_.allgather(checksum());
    for (int r = 1; r < comm_.size(); ++r)
      if (sums[r] != sums[0]) {
        std::ostringstream msg;
        msg << "step " << step << ": replica checksum of rank " << r << " (" << std::hex << sums[r] << ") differs from rank 0 ("
            << sums[0] << ")"
            << (opt_.mode == PerturbationMode::InPlace ? "; in-place perturbation is not exactly reversible, use the exact mode with several ranks"
                                                       : "");
        throw Error(msg.str());
      }
  }
  rec.loss = u.loss;
  rec.forward_passes = u.forward_passes;
  rec.terms = std::move(u.terms);
  rec.decay_scale = u.decay_scale;
  rec.scalars = std::move(u.scalars);
  rec.scalars["allreduce_bytes"] = static_cast<double>(comm_.bytes_reduced() - reduced_before);
  rec.vectors = std::move(u.vectors);
  rec.ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  return rec;
}

}  // namespace zotune
