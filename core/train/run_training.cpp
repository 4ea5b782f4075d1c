#include "core/train/run_training.h"

#include <sys/resource.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <map>
#include <optional>

#include "core/log/run_log.h"
#include "core/model/pretrained.h"
#include "core/train/engine_setup.h"
#include "core/train/evaluation.h"
#include "core/train/progress.h"
#include "core/train/run_setup.h"
#include "core/train/save_weights.h"
#include "core/train/step_log.h"
#include "core/train/task_setup.h"
#include "core/util/error.h"
#include "distributed/world.h"

namespace zotune {

namespace {

// Bytes of resident memory at its peak so far (Linux reports KiB).
double peak_resident_bytes() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_maxrss) * 1024.0;
}

}  // namespace

std::string checksum_hex(uint64_t checksum) {
  char text[17];
  std::snprintf(text, sizeof(text), "%016llx", static_cast<unsigned long long>(checksum));
  return text;
}

std::string record_unstartable_run(const std::string& run_file, const std::string& message,
                                   const TrainInvocation& invocation) {
  try {
    const std::string path = !invocation.output.empty()
                                 ? invocation.output
                                 : "runs/" + std::filesystem::path(run_file).stem().string() + ".h5";
    if (!invocation.overwrite && std::filesystem::exists(path)) return "";
    std::ifstream in(run_file, std::ios::binary);
    if (!in) return "";  // no run file, no run: a mistyped file name leaves no log behind
    const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    RunProvenance provenance = local_provenance(0, nullptr);
    provenance.command_line = invocation.command_line;
    RunLogOptions options;
    options.overwrite = invocation.overwrite;
    RunLog log = RunLog::create(path, text, provenance, options);
    return log.mark_failed(message) ? path : "";
  } catch (const std::exception&) {
    return "";
  }
}

TrainOutcome run_training(const RunConfig& config, Communicator& comm, const TrainInvocation& invocation) {
  const auto t0 = std::chrono::steady_clock::now();
  const bool root = comm.rank() == 0;

  // The log comes first so that every later failure (a missing model, a NaN loss) is
  // recorded in it; hostnames are gathered collectively before any rank can fail alone.
  const std::vector<std::string> hosts = World::instance().hosts();
  // Rank 0 alone creates the log; its outcome is shared so that every rank stops alike
  // (no rank left waiting in the weight broadcast for a rank 0 that refused to start).
  std::optional<RunLog> log;
  std::string log_error;
  if (root) {
    try {
      check(invocation.overwrite || !std::filesystem::exists(config.run.output),
            config.run.output + ": the run log exists; pass --overwrite to replace it, or set run.output");
      RunProvenance provenance = local_provenance(0, nullptr);
      provenance.command_line = invocation.command_line;
      provenance.hostnames = hosts;
      provenance.ranks = comm.size();
      // The engine's own line (the GPU's name) goes to /summary engine once the model is placed.
      provenance.devices = {config.engine.device == EngineDevice::CUDA ? "cuda" : "cpu"};
      RunLogOptions options;
      options.overwrite = invocation.overwrite;
      options.flush_every_steps = config.run.flush_every;
      // The resolved run file, then the defaults in force with their sources as YAML comments
      // (what `zotune config --resolved` prints): the log says which defaults the run took.
      log.emplace(RunLog::create(config.run.output, config.text + config.defaults_text, provenance, options));
    } catch (const std::exception& e) {
      log_error = e.what();
    }
  }
  comm.broadcast(log_error, 0);
  if (!log_error.empty()) throw Error(log_error);

  try {
    const int64_t data_parallel = config.distributed.data_parallel;
    check(comm.size() % data_parallel == 0,
          config.source + ": distributed.data_parallel: " + std::to_string(data_parallel) + " does not divide the " +
              std::to_string(comm.size()) + " ranks (ranks = query columns x data_parallel)");
    check(!(config.model.perturbation != PerturbationMode::Exact && comm.size() > 1),
          config.source + ": model.perturbation: " + std::string(choice_name(config.model.perturbation)) + " with " +
              std::to_string(comm.size()) +
              " ranks: rounding residues differ per rank and the replicas would drift apart; use exact");
    const LoadOptions load = task_load_options(config);
    // The model lives in an optional: best-dev selection reloads the initial weights into a
    // fresh one (replaying the logged updates) instead of keeping a second copy.
    std::optional<Pretrained> pretrained;
    auto load_model_on_engine = [&] {
      try {
        return load_on_engine(config.model.path, load, config.engine, config.distributed.backend, comm);
      } catch (const Error& e) {
        throw Error(config.source + ": " + e.what());
      }
    };
    pretrained.emplace(load_model_on_engine());
    TaskSplits splits = make_task_splits(config, pretrained->tokenizer, pretrained->model->config());
    const TrainableSelection selection = trainable_selection(config.trainable);
    std::optional<TrainableSpace> space;
    space.emplace(TrainableSpace::select(*pretrained->model, selection));
    std::unique_ptr<ZoOptimizer> optimizer = make_optimizer(config.optimizer, config.run.seed, space->size(),
                                                            training_extent(config, splits.train->num_examples()));
    const TrainerOptions options = trainer_options(config);
    const int eval_chunk = static_cast<int>(config.data.batch_size);
    const bool lm = config.task.name == "lm";
    // What dev selection compares: the task's metric (higher is better) or the loss (lower).
    const bool by_metric = config.eval.select == EvalSelect::Metric && !metric_name(*splits.train).empty();
    // What the test split reports: the task's metric whatever selection compared (the papers'
    // tables), the loss for the lm task.
    const bool test_by_metric = !metric_name(*splits.train).empty();
    auto dev_value = [&](Task& task, Model& model) {
      const SplitScore score = score_split(task, model, eval_chunk, !by_metric, by_metric);
      return by_metric ? *score.metric : *score.loss;
    };
    auto better = [&](double a, double b) { return by_metric ? a > b : a < b; };

    TrainOutcome out;
    out.log_path = config.run.output;
    out.task = splits.description;
    out.trainable_params = space->size();
    out.metric = by_metric ? metric_name(*splits.train) : "loss";
    out.test_metric = test_by_metric ? metric_name(*splits.train) : "loss";
    const std::string dev_key = "dev_" + out.metric;
    if (lm) out.initial_loss = full_loss(*splits.train, *pretrained->model, eval_chunk).mean();
    // Dev selection runs when there is a dev set and an evaluation interval.
    Task* const dev = config.eval.every > 0 ? splits.dev.get() : nullptr;
    if (dev) out.initial_dev = dev_value(*dev, *pretrained->model);
    if (root) {
      log->set_summary("engine", engine_description(*pretrained->model));
      log->set_summary("trainable_params", static_cast<double>(space->size()));
      log->set_summary("task", splits.description);
      std::map<std::string, double> at_start;
      if (out.initial_loss) at_start["train_loss"] = *out.initial_loss, log->set_summary("initial_loss", *out.initial_loss);
      if (out.initial_dev) at_start[dev_key] = *out.initial_dev, log->set_summary("initial_" + dev_key, *out.initial_dev);
      if (!at_start.empty()) log->log_eval(0, at_start);
      std::fprintf(invocation.progress, "train: %s, %s on %s (%llu trainable parameters), %d rank%s\n  task %s\n",
                   config.run.name.c_str(), std::string(choice_name(config.optimizer.name)).c_str(),
                   config.model.path.c_str(), static_cast<unsigned long long>(space->size()), comm.size(),
                   comm.size() == 1 ? "" : "s", splits.description.c_str());
      if (out.initial_loss) std::fprintf(invocation.progress, "  initial training loss %.6f\n", *out.initial_loss);
      if (out.initial_dev)
        std::fprintf(invocation.progress, "  initial %s %.6f\n", dev_key.c_str(), *out.initial_dev);
    }

    // Every applied update, in memory as in the log (a few scalars per step): the replay
    // record best-dev selection re-applies.
    std::vector<LoggedUpdate> applied;
    std::vector<LoggedStepInputs> applied_inputs;  // tensor passes or in-place modes: lr and probe losses
    int64_t s = 0;
    {
      Trainer trainer(*pretrained->model, *space, *optimizer, *splits.train, comm, options);
      ProgressPrinter progress(root ? config.run.progress : ProgressStyle::Off, config.run.steps,
                               config.run.log_every, invocation.progress);
      // Selection as the Hugging Face trainer's load_best_model_at_end (MeZO, AdaZeta, BSZO all
      // use it): the candidates are the checkpoints evaluated every eval.every steps, the first
      // strictly better one wins a tie; the initial weights are evaluated for the log only
      // (that trainer never evaluates step 0) and final weights off the grid are no candidate.
      // Early stopping (EarlyStoppingCallback): the run ends after `patience` evaluations
      // without a new best.
      std::optional<double> best;
      int64_t best_step = 0, evals_since_best = 0;
      auto evaluate_dev = [&](int64_t after_steps) {
        const double value = dev_value(*dev, *pretrained->model);
        if (root) log->log_eval(after_steps, {{dev_key, value}});
        if (!best || better(value, *best)) {
          best = value, best_step = after_steps, evals_since_best = 0;
          return false;
        }
        return config.eval.patience > 0 && ++evals_since_best >= config.eval.patience;
      };
      for (; s < config.run.steps; ++s) {
        StepRecord record = trainer.step(static_cast<uint32_t>(s));
        if (const std::optional<double> device_peak = peak_device_bytes(*pretrained->model))
          record.scalars["peak_device_memory_bytes"] = *device_peak;
        applied.push_back({record.step, record.terms, record.decay_scale});
        if (optimizer->uses_tensor_passes() || options.mode != PerturbationMode::Exact) applied_inputs.push_back({record.step, record.lr, record.probe_losses});
        if (root) log_step_record(*log, record, peak_resident_bytes());
        progress.step(s, record.loss, record.ms);
        if (dev && (s + 1) % config.eval.every == 0) {
          if (evaluate_dev(s + 1)) {
            ++s;
            break;
          }
        }
      }
      progress.finish();
      out.steps = s;
      out.checksum = trainer.checksum();
      if (lm) out.final_loss = full_loss(*splits.train, *pretrained->model, eval_chunk).mean();
      // No checkpoint evaluated (a run shorter than eval.every): the final weights stay, as
      // the trainer keeps them when it has no best checkpoint.
      if (dev && best) out.best_dev = best, out.selected_step = best_step;
    }

    if (out.selected_step && *out.selected_step < out.steps) {
      // Best-dev weights: the initial weights plus the first selected_step logged updates.
      space.reset();
      pretrained.reset();
      pretrained.emplace(load_model_on_engine());
      space.emplace(TrainableSpace::select(*pretrained->model, selection));
      const std::unique_ptr<ParamEngine> engine = make_param_engine(*pretrained->model, *space);
      if (optimizer->uses_tensor_passes() || options.mode != PerturbationMode::Exact) {
        // No /updates rows, or in-place rounding residues: a fresh optimizer re-runs its
        // recurrence on the recorded losses, with the run's passes (replay_optimizer).
        const std::unique_ptr<ZoOptimizer> fresh = make_optimizer(config.optimizer, config.run.seed, space->size());
        replay_optimizer(*engine, *fresh, applied_inputs, *out.selected_step, options.direction, options.mode);
      } else {
        apply_logged_updates(*engine, applied, *out.selected_step, options.direction);
      }
      out.selected_checksum = engine->checksum();
    } else {
      out.selected_checksum = out.checksum;  // the final weights are the selected ones
    }
    if (splits.test) {
      const SplitScore score =
          score_split(*splits.test, *pretrained->model, eval_chunk, !test_by_metric, test_by_metric);
      out.test = test_by_metric ? score.metric : score.loss;
    }
    out.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (root) {
      if (out.final_loss) {
        log->log_eval(out.steps, {{"train_loss", *out.final_loss}});
        log->set_summary("final_loss", *out.final_loss);
      }
      log->set_summary("final_checksum", checksum_hex(out.checksum));
      log->set_summary("steps", static_cast<double>(out.steps));
      if (out.selected_step) {
        log->set_summary("best_step", static_cast<double>(*out.selected_step));
        log->set_summary("best_" + dev_key, *out.best_dev);
        log->set_summary("selected_checksum", checksum_hex(out.selected_checksum));
      }
      if (out.test) log->set_summary("test_" + out.test_metric, *out.test);
      log->set_summary("selection", out.metric + (by_metric ? " (higher is better)" : " (lower is better)"));
      log->set_summary("seconds", out.seconds);
      if (!config.run.save.empty()) {
        SaveWeightsOptions save;
        save.model_path = config.model.path;
        const int64_t saved_step = out.selected_step.value_or(out.steps);
        save.metadata = {{"zotune_run_log", config.run.output},
                         {"zotune_steps", std::to_string(saved_step)},
                         {"zotune_checksum", checksum_hex(out.selected_checksum)}};
        pretrained->model->sync_params_to_host();
        save_weights(config.run.save, *pretrained->model, save);
        log->set_summary("saved_weights", config.run.save);
      }
      log->set_summary("status", "completed");
      log->close();
    }
    return out;
  } catch (const std::exception& e) {
    if (log) log->mark_failed(e.what());
    throw;
  }
}

}  // namespace zotune
