#include "core/train/trainer.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <sstream>

#include "core/train/engine_setup.h"
#include "core/util/error.h"
#include "core/util/stop_signals.h"

namespace zotune {

Trainer::Trainer(Model& model, const TrainableSpace& space, ZoOptimizer& optimizer, Task& task, Communicator& comm,
                 const TrainerOptions& options)
    : model_(model), space_(space), optimizer_(optimizer), task_(task), comm_(comm), opt_(options) {
  check(opt_.batch_size >= 1, "trainer: batch_size must be at least 1");
  const int P = comm_.size(), D = opt_.data_parallel;
  check(D >= 1 && P % D == 0, "distributed.data_parallel: " + std::to_string(D) + " does not divide the " +
                                  std::to_string(P) + " ranks (ranks = query columns x data_parallel)");
  check(D <= opt_.batch_size, "distributed.data_parallel: " + std::to_string(D) + " ranks cannot split a minibatch of " +
                                  std::to_string(opt_.batch_size) + " examples");
  query_columns_ = P / D;
  column_ = comm_.rank() / D;
  row_ = comm_.rank() % D;
  engine_ = make_param_engine(model_, space_);
  if (optimizer_.uses_tensor_passes()) {
    check(engine_->supports_tensor_passes(), "optimizer " + optimizer_.name() +
                                                 ": its parameter passes do not run on this engine; run it with "
                                                 "engine.device: cpu");
    check(opt_.mode != PerturbationMode::InPlace, "optimizer " + optimizer_.name() +
                                                      " reads the unperturbed weights in its parameter passes: it needs "
                                                      "model.perturbation: exact or reference, not inplace");
  }
  if (opt_.mode == PerturbationMode::Reference) {
    check(comm_.size() == 1, "model.perturbation: reference with " + std::to_string(comm_.size()) +
                                 " ranks: its rounding residues depend on which probes a rank ran, so the replicas "
                                 "would drift apart; run it on one rank, or use exact");
    check(optimizer_.use_reference_arithmetic(), "optimizer " + optimizer_.name() +
                                                     " has no reference arithmetic (model.perturbation: reference); "
                                                     "use exact");
  }
  bool peft_only = !space_.tensors().empty() && !model_.peft().empty();
  for (const TrainableTensor& t : space_.tensors()) peft_only = peft_only && param_role(t.view->name) == ParamRole::Peft;
  if (opt_.probe_batch == 0) opt_.probe_batch = peft_only ? auto_probe_batch() : 1;
  if (opt_.probe_batch > 1) {
    check(peft_only,
          "engine.probe_batch: " + std::to_string(opt_.probe_batch) +
              " batches probes that differ only in PEFT modules; it needs trainable.mode lora, adapter or prefix "
              "(set engine.probe_batch: 1 for full or head-only training)");
  }
  if (opt_.mode == PerturbationMode::Exact) engine_->save_snapshot();
  moves_ = std::make_unique<WeightMoves>(*engine_, opt_.mode, opt_.direction, optimizer_.name());
}

int Trainer::auto_probe_batch() {
  // Every probe of the largest round, as far as memory allows. One group's copy of the minibatch
  // holds at most batch_size of the longest examples (every candidate sequence counted).
  int64_t longest = 0;
  for (int i = 0; i < task_.num_examples(); ++i) longest = std::max(longest, task_.token_count({i}));
  if (longest == 0) longest = 2048;  // a task that does not count its tokens: MeZO's max_length
  const int round = optimizer_.max_probes_per_round();
  const int wanted = round > 0 ? round : kAutoProbeBatchUnknownRound;
  const int fit = probe_groups_that_fit(model_, longest * opt_.batch_size);
  // The smallest answer over the ranks: every rank must cut rounds into the same chunks.
  uint64_t n = static_cast<uint64_t>(std::max(1, std::min(wanted, fit)));
  for (const uint64_t other : comm_.allgather(n)) n = std::min(n, other);
  return static_cast<int>(n);
}

void replay_optimizer(ParamEngine& engine, ZoOptimizer& optimizer, const std::vector<LoggedStepInputs>& steps,
                      int64_t n, DirectionKind kind, PerturbationMode mode,
                      const std::function<void(const LoggedStepInputs&, const StepUpdate&)>& on_update) {
  check(n >= 0 && n <= static_cast<int64_t>(steps.size()),
        "replay_optimizer: " + std::to_string(n) + " steps asked, " + std::to_string(steps.size()) + " logged");
  if (mode == PerturbationMode::Reference) optimizer.use_reference_arithmetic();
  if (mode == PerturbationMode::Exact) engine.save_snapshot();
  WeightMoves moves(engine, mode, kind, optimizer.name());
  for (int64_t s = 0; s < n; ++s) {
    const LoggedStepInputs& in = steps[s];
    optimizer.begin_step(in.step, in.lr);
    size_t used = 0;
    for (std::vector<Probe> probes = optimizer.next_probes(); !probes.empty(); probes = optimizer.next_probes()) {
      // Exact mode: every probe starts from the snapshot, so only the update moves the weights.
      if (mode != PerturbationMode::Exact)
        for (const Probe& p : probes) moves.to_probe(p);
      check(used + probes.size() <= in.probe_losses.size(),
            "replay of " + optimizer.name() + ": step " + std::to_string(in.step) + " asks for more probe losses than the " +
                std::to_string(in.probe_losses.size()) + " logged");
      optimizer.observe(std::vector<double>(in.probe_losses.begin() + static_cast<ptrdiff_t>(used),
                                            in.probe_losses.begin() + static_cast<ptrdiff_t>(used + probes.size())));
      used += probes.size();
    }
    check(used == in.probe_losses.size(), "replay of " + optimizer.name() + ": step " + std::to_string(in.step) +
                                              " used " + std::to_string(used) + " of its " +
                                              std::to_string(in.probe_losses.size()) + " logged probe losses");
    const StepUpdate update = optimizer.finish();
    if (on_update) on_update(in, update);
    moves.update(update);
  }
}

std::vector<cpu::DirectionTerm> offset_difference(const std::vector<cpu::DirectionTerm>& from,
                                                  const std::vector<cpu::DirectionTerm>& to) {
  std::vector<cpu::DirectionTerm> out;
  auto add = [&](const cpu::DirectionTerm& t, float sign) {
    for (cpu::DirectionTerm& o : out)
      if (o.seed == t.seed && o.step == t.step && o.query == t.query) {
        o.coeff += sign * t.coeff;
        return;
      }
    out.push_back(t);
    out.back().coeff = sign * t.coeff;
  };
  for (const cpu::DirectionTerm& t : from) add(t, -1.0f);
  for (const cpu::DirectionTerm& t : to) add(t, 1.0f);
  std::erase_if(out, [](const cpu::DirectionTerm& t) { return t.coeff == 0.0f; });
  return out;
}

double Trainer::learning_rate(uint32_t step) const {
  if (!opt_.linear_schedule) return opt_.lr;
  return opt_.lr * (1.0 - static_cast<double>(step) / static_cast<double>(opt_.steps));
}

LossSum Trainer::probe_loss(const Probe& probe, const std::vector<int>& examples) {
  moves_->to_probe(probe);
  return task_.loss_sum(model_, examples);
}

std::vector<std::pair<size_t, size_t>> probe_chunks(const std::vector<Probe>& probes, int batch) {
  check(batch >= 1, "probe_chunks: batch " + std::to_string(batch));
  const size_t n = probes.size(), most = static_cast<size_t>(batch);
  std::vector<std::pair<size_t, size_t>> chunks;
  for (size_t begin = 0; begin < n;) {
    size_t end = begin;
    while (end < n) {
      size_t group_end = end;
      while (group_end < n && probes[group_end].group == probes[end].group) ++group_end;
      if (group_end - begin <= most) {
        end = group_end;
      } else {
        if (end == begin) end = begin + most;  // one group larger than a chunk: cut it
        break;
      }
    }
    chunks.emplace_back(begin, end);
    begin = end;
  }
  return chunks;
}

std::vector<LossSum> Trainer::chunk_losses(const std::vector<Probe>& probes, size_t begin, size_t end,
                                           const std::vector<int>& examples) {
  const int groups = static_cast<int>(end - begin);
  if (groups == 1) return {probe_loss(probes[begin], examples)};
  // Each probe's point is reached by the same moves as one forward per probe would make (the
  // weights end at the last probe's point), and its modules copied out; then one pass of the
  // task over all copies. The bank is released on every path out.
  struct GroupsOff {
    Model& model;
    ~GroupsOff() { model.end_probe_groups(); }
  } off{model_};
  model_.begin_probe_groups(groups);
  for (int g = 0; g < groups; ++g) {
    moves_->to_probe(probes[begin + static_cast<size_t>(g)]);
    model_.store_probe_group(g);
  }
  std::vector<LossSum> losses = task_.group_loss_sums(model_, examples);
  check(losses.size() == static_cast<size_t>(groups), "task " + task_.name() + ": " + std::to_string(losses.size()) +
                                                          " losses for " + std::to_string(groups) + " probe groups");
  return losses;
}

StepRecord Trainer::step(uint32_t step) {
  const auto t0 = std::chrono::steady_clock::now();
  const uint64_t reduced_before = comm_.bytes_reduced();
  const uint64_t exchanged_before = comm_.bytes_exchanged(), calls_before = comm_.collective_calls();
  StepRecord rec;
  rec.step = step;
  rec.lr = learning_rate(step);
  const std::vector<int> minibatch = opt_.independent_minibatches
                                         ? sample_minibatch(opt_.data_seed, step, task_.num_examples(), opt_.batch_size)
                                         : epoch_minibatch(opt_.data_seed, step, task_.num_examples(), opt_.batch_size);
  // This rank's contiguous slice of the minibatch (all of it without data parallelism).
  const int D = opt_.data_parallel, B = static_cast<int>(minibatch.size());
  const std::vector<int> slice(minibatch.begin() + static_cast<ptrdiff_t>(row_) * B / D,
                               minibatch.begin() + static_cast<ptrdiff_t>(row_ + 1) * B / D);
  comm_.set_step(step);  // named by a collective that times out (distributed.timeout_s)
  optimizer_.begin_step(step, rec.lr);
  bool first_round = true;
  for (std::vector<Probe> probes = optimizer_.next_probes(); !probes.empty(); probes = optimizer_.next_probes()) {
    // parts[(j * D + d) * 2 + {0, 1}]: loss sum and count of probe j over slice d. Every slot
    // is written by one rank and is zero on the others, so the all-reduce is exact whatever
    // order MPI adds in; the slices are then added in slice order, identically on every rank.
    const size_t n = probes.size();
    // The first round's vector carries one more double: this rank's stop vote (1 when it has
    // received a stop signal), summed like the losses, so every rank learns at the same step
    // that some rank must stop, without a collective of its own.
    std::vector<double> parts(n * D * 2 + (first_round ? 1 : 0), 0.0);
    if (first_round) parts.back() = stop_signal_received() != 0 ? 1.0 : 0.0;
    const std::vector<std::pair<size_t, size_t>> chunks = probe_chunks(probes, opt_.probe_batch);
    for (size_t c = 0; c < chunks.size(); ++c) {
      const auto [begin, end] = chunks[c];
      // One probe per forward keeps the assignment by probe group; batches go by chunk.
      const size_t owner = opt_.probe_batch == 1 ? static_cast<size_t>(probes[begin].group) : c;
      if (owner % static_cast<size_t>(query_columns_) != static_cast<size_t>(column_) || slice.empty()) continue;
      const std::vector<LossSum> sums = chunk_losses(probes, begin, end, slice);
      for (size_t j = begin; j < end; ++j) {
        parts[(j * D + row_) * 2] = sums[j - begin].sum;
        parts[(j * D + row_) * 2 + 1] = sums[j - begin].count;
      }
    }
    // The timer holds the exchange alone: this rank's losses are already on the host, and the
    // exchange never waits on the model's stream (MPI runs on the host, NCCL on its own stream).
    const auto reduce_start = std::chrono::steady_clock::now();
    comm_.allreduce_sum(parts);  // the only exchange of the step: O(probes x D) doubles
    rec.allreduce_ms += std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - reduce_start).count();
    if (first_round) rec.stop_requested = parts.back() > 0.0;
    first_round = false;
    std::vector<double> losses(n);
    for (size_t j = 0; j < n; ++j) {
      LossSum total;
      for (int d = 0; d < D; ++d) {
        total.sum += parts[(j * D + d) * 2];
        total.count += parts[(j * D + d) * 2 + 1];
      }
      losses[j] = total.mean();
    }
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
  moves_->update(u);

  if (opt_.checksum_every > 0 && comm_.size() > 1 && (step + 1) % opt_.checksum_every == 0) {
    const std::vector<uint64_t> sums = comm_.allgather(checksum());
    for (int r = 1; r < comm_.size(); ++r)
      if (sums[r] != sums[0]) {
        std::ostringstream msg;
        msg << "step " << step << ": replica checksum of rank " << r << " (" << std::hex << sums[r] << ") differs from rank 0 ("
            << sums[0] << ")"
            << (opt_.mode != PerturbationMode::Exact ? "; in-place perturbation is not exactly reversible, use the exact mode with several ranks"
                                                       : "");
        throw Error(msg.str());
      }
  }
  rec.loss = u.loss;
  rec.forward_passes = u.forward_passes;
  rec.tokens = static_cast<double>(u.forward_passes) * static_cast<double>(task_.token_count(minibatch));
  rec.terms = std::move(u.terms);
  rec.decay_scale = u.decay_scale;
  rec.scalars = std::move(u.scalars);
  rec.scalars["allreduce_bytes"] = static_cast<double>(comm_.bytes_reduced() - reduced_before);
  // Every collective of the step, whatever its kind (the checksum all-gather included): the
  // exchange-size test shows these are the probe losses' scalars alone, at any model size.
  rec.scalars["exchange_bytes"] = static_cast<double>(comm_.bytes_exchanged() - exchanged_before);
  rec.scalars["exchange_calls"] = static_cast<double>(comm_.collective_calls() - calls_before);
  rec.vectors = std::move(u.vectors);
  rec.ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  return rec;
}

}  // namespace zotune
