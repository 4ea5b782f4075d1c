#include "core/log/series_catalog.h"

#include <array>

namespace zotune {
namespace {

struct Entry {
  std::string_view group;
  std::string_view name;
  std::string_view description;
  std::string_view unit;
  bool count;
};

// The loss unit every loss below shares (docs/LOGS.md, "Units").
#define ZOTUNE_LOSS_UNIT_NOTE \
  "; cross-entropy in nats, averaged per target token (lm task, teacher forcing) or per example (candidate or class scoring)"

// Every series zotune train logs. Keep docs/LOGS.md's table in step (tests/unit/run_log_test.cpp
// checks that every entry appears there).
constexpr std::array kEntries = {
    // /steps: one row per optimizer step.
    Entry{"steps", "step", "optimizer step of the row (0-based); row i holds what step i measured and applied", "step", false},
    Entry{"steps", "loss",
          "training loss of the step's minibatch as its optimizer reports it: MeZO and AdaZeta the mean of the "
          "+eps probes, BSZO and HiZOO the unperturbed point, LOZO, MeZO-Adam and Sparse-MeZO the first probe" ZOTUNE_LOSS_UNIT_NOTE,
          "nats", false},
    Entry{"steps", "lr", "learning rate the step's update used (after the schedule)", "1", false},
    Entry{"steps", "eps", "perturbation scale: probes evaluate the loss at theta +- eps * z", "1", false},
    Entry{"steps", "ms", "wall time of the step on rank 0 (probes, exchange of losses, update)", "ms", false},
    Entry{"steps", "queries", "forward passes of the step (probe losses evaluated on the minibatch), all ranks together", "count", true},
    Entry{"steps", "decay_scale",
          "factor the step multiplies the decayed weights by before adding the update (1 - lr * weight_decay; 1 without decay)",
          "1", false},
    Entry{"steps", "peak_memory_bytes", "peak resident memory (RSS) of rank 0's process so far", "bytes", true},
    Entry{"steps", "peak_device_memory_bytes", "peak device (GPU) memory allocated by rank 0's engine so far", "bytes", true},
    Entry{"steps", "allreduce_bytes", "payload rank 0 all-reduced during the step (the probe losses and the stop vote)", "bytes", true},
    Entry{"steps", "exchange_bytes", "payload of every collective of the step on rank 0 (all-reduce, broadcast, all-gather)", "bytes", true},
    Entry{"steps", "exchange_calls", "collective calls of the step on rank 0", "count", true},
    Entry{"steps", "noise_sigma", "BSZO's estimate of the finite differences' noise standard deviation sigma_e", "1", false},
    Entry{"steps", "queries_used", "queries Q of the step (AdaZeta's query schedule: 2Q forward passes)", "count", true},
    Entry{"steps", "epoch", "epoch of the step in AdaZeta's query schedule (0-based)", "count", true},
    Entry{"steps", "query_beta", "exponent beta of AdaZeta's query schedule (derived or given)", "1", false},
    Entry{"steps", "hessian_sample", "HiZOO's curvature sample |L(+) + L(-) - 2 L(0)| / (2 eps^2)", "1", false},
    Entry{"steps", "lozo_window", "LOZO's window index: the low-rank factor V is resampled every lozo interval steps", "index", true},
    // Vector series of /steps (<name>.values).
    Entry{"steps", "probe_losses",
          "every probe loss of the step, rounds concatenated, in probe order" ZOTUNE_LOSS_UNIT_NOTE, "nats", false},
    Entry{"steps", "finite_differences",
          "projected gradient estimates of the step, one per query: (L(+) - L(-)) / (2 eps), or / eps one-sided", "1", false},
    Entry{"steps", "posterior_mean", "BSZO's posterior mean of the gradient in the step's k-dimensional subspace", "1", false},
    // /updates: the replay record.
    Entry{"updates", "step", "optimizer step of the applied update", "step", false},
    Entry{"updates", "query", "query of the update within its step (with step and seed it regenerates z)", "index", false},
    Entry{"updates", "coefficient", "theta <- theta + coefficient * z(seed, step, query)", "1", false},
    Entry{"updates", "seed", "seed the direction z is generated from (the run's seed)", "", false},
    // /eval: one row per evaluation.
    Entry{"eval", "step", "steps done when evaluated (0: the initial weights)", "step", false},
    Entry{"eval", "dev_loss", "mean loss on the dev split" ZOTUNE_LOSS_UNIT_NOTE, "nats", false},
    Entry{"eval", "dev_accuracy", "accuracy on the dev split", "fraction", false},
    Entry{"eval", "dev_f1", "F1 on the dev split", "fraction", false},
    Entry{"eval", "train_loss",
          "mean loss over the whole training split (lm task: before the first step and after the last)" ZOTUNE_LOSS_UNIT_NOTE,
          "nats", false},
};

#undef ZOTUNE_LOSS_UNIT_NOTE

}  // namespace

SeriesInfo series_info(std::string_view group, std::string_view name) {
  for (const Entry& e : kEntries)
    if (e.group == group && e.name == name)
      return {std::string(e.description), std::string(e.unit), e.count};
  if (group == "eval" && name.rfind("dev_", 0) == 0)
    return {"the task's " + std::string(name.substr(4)) + " on the dev split (no description registered)", "", false};
  return {"series logged under /" + std::string(group) + " (no description registered)", "", false};
}

SeriesInfo vector_offsets_info(std::string_view vector_name) {
  return {"row i's " + std::string(vector_name) + " vector is " + std::string(vector_name) + ".values[offsets[i]:offsets[i + 1]]; offsets[0] = 0",
          "index", false};
}

std::vector<std::string> described_dataset_paths() {
  std::vector<std::string> out;
  for (const Entry& e : kEntries) out.push_back("/" + std::string(e.group) + "/" + std::string(e.name));
  return out;
}

bool summary_value_is_count(std::string_view key) {
  return key == "steps" || key == "best_step" || key == "trainable_params";
}

}  // namespace zotune
