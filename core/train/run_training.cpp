#include "core/train/run_training.h"

#include <sys/resource.h>

#include <chrono>
#include <filesystem>
#include <limits>
#include <map>
#include <optional>

#include "core/config/complete_config.h"
#include "core/log/run_log.h"
#include "core/model/pretrained.h"
#include "core/train/engine_setup.h"
#include "core/train/evaluation.h"
#include "core/train/divergence_guard.h"
#include "core/train/profile_steps.h"
#include "core/train/progress.h"
#include "core/train/resume.h"
#include "core/train/run_check.h"
#include "core/train/run_setup.h"
#include "core/train/hf_export.h"
#include "core/train/save_weights.h"
#include "core/train/step_log.h"
#include "core/train/task_setup.h"
#include "core/train/weight_check.h"
#include "core/util/error.h"
#include "core/util/stop_signals.h"
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

TrainOutcome run_training(const RunConfig& config, Communicator& comm, const TrainInvocation& invocation) {
  const auto t0 = std::chrono::steady_clock::now();
  const bool root = comm.rank() == 0;
  install_stop_signal_handlers(root);
  // ZOTUNE_PROFILE_STEPS: the steps a GPU profiler started with its capture off records. Read
  // first, so a malformed value stops the run before anything is loaded.
  ProfileSteps profiled = profile_steps_from_environment();
  if (profiled.count > 0 && config.engine.device != EngineDevice::CUDA) {
    if (root) std::fprintf(invocation.progress, "  %s: ignored, the run trains on the CPU engine\n", kProfileStepsVariable);
    profiled = {};
  }

  // The log comes first so that every later failure (a missing model, a NaN loss) is
  // recorded in it; hostnames are gathered collectively before any rank can fail alone.
  const std::vector<std::string> hosts = World::instance().hosts();
  // Rank 0 alone creates the log; its outcome is shared so that every rank stops alike
  // (no rank left waiting in the weight broadcast for a rank 0 that refused to start).
  std::optional<RunLog> log;
  std::string log_error;
  std::optional<ResumeLog> resumed;  // rank 0, --resume: the log's rows up to its last flush
  bool replace_unstarted = false;    // rank 0: run.output is the failed log of a run that never started
  if (root) {
    try {
      check(!(invocation.resume && invocation.overwrite),
            "--resume and --overwrite: resume continues the log, overwrite starts it anew; pass one");
      if (invocation.resume)
        resumed.emplace(read_resume_log(config.run.output, config));
      else
        check(invocation.overwrite || !std::filesystem::exists(config.run.output) ||
                  (replace_unstarted = is_unstarted_failed_log(config.run.output)),
              config.run.output + ": the run log exists; pass --overwrite to replace it, --resume to continue it, or set run.output");
    } catch (const std::exception& e) {
      log_error = e.what();
    }
  }
  if (root && log_error.empty() && !(resumed && resumed->completed)) {
    try {
      RunProvenance provenance = local_provenance(0, nullptr);
      provenance.command_line = invocation.command_line;
      provenance.hostnames = hosts;
      provenance.ranks = comm.size();
      // The engine's own line (the GPU's name) goes to /summary engine once the model is placed.
      provenance.devices = {config.engine.device == EngineDevice::CUDA ? "cuda" : "cpu"};
      RunLogOptions options;
      // (or the log of an earlier attempt that failed before its first step, checked above)
      options.overwrite = invocation.overwrite || invocation.resume || replace_unstarted;
      options.flush_every_steps = config.run.flush_every;
      // A resumed log is written afresh beside the old one with the old rows, then renamed over
      // it (the open file follows): a resume killed before the rename leaves the old log intact.
      // Errors from the log name the temporary path.
      const std::string path = resumed ? config.run.output + ".resuming" : config.run.output;
      // The resolved run file, then the defaults in force with their sources as YAML comments
      // (what `zotune config --resolved` prints): the log says which defaults the run took.
      // /config_resolved: every key in force, the defaults applied as values.
      log.emplace(RunLog::create(path, config.text + config.defaults_text, provenance, options,
                                 complete_config_text(config)));
      if (resumed) {
        write_resumed_rows(*resumed, *log);
        std::filesystem::rename(path, config.run.output);
      }
    } catch (const std::exception& e) {
      log_error = e.what();
    }
  }
  comm.broadcast(log_error, 0);
  if (!log_error.empty()) throw Error(log_error);
  // The resume point, from rank 0 to every rank (each rebuilds its replica from it): "C" = the
  // log is completed, "P" + the point otherwise.
  std::string resume_bytes;
  if (invocation.resume) {
    if (root) resume_bytes = resumed->completed ? "C" : "P" + serialize_resume_point(resumed->point);
    comm.broadcast(resume_bytes, 0);
    if (resume_bytes == "C") {
      TrainOutcome done;
      done.already_completed = true;
      done.log_path = config.run.output;
      if (root) {
        done.steps = static_cast<int64_t>(resumed->summary_steps.value_or(0));
        if (resumed->final_checksum) done.checksum = std::strtoull(resumed->final_checksum->c_str(), nullptr, 16);
      }
      return done;
    }
  }
  const ResumePoint point = resume_bytes.empty() ? ResumePoint{} : deserialize_resume_point(resume_bytes.substr(1));

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
    // From here on no rank waits for the others longer than distributed.timeout_s.
    comm.set_timeout(static_cast<double>(config.distributed.timeout_s));
    TaskSplits splits = make_task_splits(config, pretrained->tokenizer, pretrained->model->config());
    const TrainableSelection selection = trainable_selection(config.trainable);
    std::optional<TrainableSpace> space;
    space.emplace(TrainableSpace::select(*pretrained->model, selection));
    std::unique_ptr<ZoOptimizer> optimizer = make_optimizer(config.optimizer, config.run.seed, space->size(),
                                                            training_extent(config, splits.train->num_examples()));
    const TrainerOptions options = trainer_options(config);
    DivergenceGuard divergence(config.run.divergence_factor);  // run.divergence_factor x step 0's loss
    if (point.steps > 0) {
      // Resume: the weights and the optimizer's state after the logged steps, by re-running the
      // optimizer on their logged probe losses with the run's passes; each step's update must
      // be the logged one (else the log is not this run's).
      const std::unique_ptr<ParamEngine> engine = make_param_engine(*pretrained->model, *space);
      replay_optimizer(*engine, *optimizer, point.inputs, point.steps, options.direction, options.mode,
                       [&](const LoggedStepInputs& in, const StepUpdate& update) {
                         const LoggedUpdate& logged = point.updates[in.step];
                         if (in.step == 0) divergence.set_initial(update.loss);  // step 0's logged loss
                         bool same = logged.decay_scale == update.decay_scale && logged.terms.size() == update.terms.size();
                         for (size_t j = 0; same && j < update.terms.size(); ++j) {
                           const cpu::DirectionTerm &a = logged.terms[j], &b = update.terms[j];
                           same = a.seed == b.seed && a.step == b.step && a.query == b.query && a.coeff == b.coeff;
                         }
                         check(same, config.run.output + ": --resume: the update of step " + std::to_string(in.step) +
                                         " re-run from its logged probe losses is not its logged /updates row: the "
                                         "log was not written by this run");
                       });
    }
    const int eval_chunk = static_cast<int>(config.data.batch_size);
    const bool lm = config.task.name == "lm";
    // What dev selection compares: the task's metric (higher is better) or the loss (lower).
    const bool by_metric = config.eval.select == EvalSelect::Metric && !metric_name(*splits.train).empty();
    // What the test split reports: the task's metric whatever selection compared (the papers'
    // tables), the loss for the lm task.
    const bool test_by_metric = !metric_name(*splits.train).empty();
    // Each evaluation logs the dev loss and, for tasks with a metric, the dev metric (/eval
    // dev_loss, dev_<metric>); selection compares the one named dev_key.
    auto dev_scores = [&](Task& task, Model& model) {
      const SplitScore score = score_split(task, model, eval_chunk, true, test_by_metric);
      std::map<std::string, double> scores{{"dev_loss", *score.loss}};
      if (score.metric) scores["dev_" + metric_name(task)] = *score.metric;
      return scores;
    };
    auto better = [&](double a, double b) { return by_metric ? a > b : a < b; };

    TrainOutcome out;
    out.log_path = config.run.output;
    out.task = splits.description;
    out.trainable_params = space->size();
    out.metric = by_metric ? metric_name(*splits.train) : "loss";
    out.test_metric = test_by_metric ? metric_name(*splits.train) : "loss";
    const std::string dev_key = "dev_" + out.metric;
    // A resumed run takes the values before step 0 from its log's first /eval row.
    const LoggedEval* logged_start = nullptr;
    for (const LoggedEval& e : point.evals)
      if (e.step == 0) logged_start = &e;
    auto logged_at_start = [&](const std::string& name) -> std::optional<double> {
      if (!logged_start || !logged_start->metrics.count(name)) return std::nullopt;
      return logged_start->metrics.at(name);
    };
    if (lm) out.initial_loss = logged_at_start("train_loss");
    if (lm && !out.initial_loss) out.initial_loss = full_loss(*splits.train, *pretrained->model, eval_chunk).mean();
    // Dev selection runs when there is a dev set and an evaluation interval.
    Task* const dev = config.eval.every > 0 ? splits.dev.get() : nullptr;
    if (dev) out.initial_dev = logged_at_start(dev_key);
    std::map<std::string, double> initial_dev_scores;
    if (dev && !out.initial_dev) {
      initial_dev_scores = dev_scores(*dev, *pretrained->model);
      out.initial_dev = initial_dev_scores.at(dev_key);
    }
    if (root) {
      log->set_summary("engine", engine_description(*pretrained->model));
      log->set_summary("trainable_params", static_cast<double>(space->size()));
      log->set_summary("task", splits.description);
      std::map<std::string, double> at_start;
      if (out.initial_loss) at_start["train_loss"] = *out.initial_loss, log->set_summary("initial_loss", *out.initial_loss);
      at_start.insert(initial_dev_scores.begin(), initial_dev_scores.end());
      if (out.initial_dev) at_start[dev_key] = *out.initial_dev, log->set_summary("initial_" + dev_key, *out.initial_dev);
      if (!at_start.empty() && !logged_start) log->log_eval(0, at_start);
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
    std::vector<LoggedUpdate> applied = point.updates;
    std::vector<LoggedStepInputs> applied_inputs;  // tensor passes or in-place modes: lr and probe losses
    if (optimizer->uses_tensor_passes() || options.mode != PerturbationMode::Exact) applied_inputs = point.inputs;
    int64_t s = point.steps;
    bool interrupted = false;
    {
      Trainer trainer(*pretrained->model, *space, *optimizer, *splits.train, comm, options);
      if (root) {
        log->set_summary("probe_batch", static_cast<double>(trainer.probe_batch()));
        if (config.engine.probe_batch.automatic)
          std::fprintf(invocation.progress, "  engine.probe_batch auto: %d probes a forward\n", trainer.probe_batch());
      }
      ProgressPrinter progress(root ? config.run.progress : ProgressStyle::Off, config.run.steps,
                               config.run.log_every, invocation.progress, dev ? config.eval.every : 0);
      // Selection as the Hugging Face trainer's load_best_model_at_end (MeZO, AdaZeta, BSZO all
      // use it): the candidates are the checkpoints evaluated every eval.every steps, the first
      // strictly better one wins a tie; the initial weights are evaluated for the log only
      // (that trainer never evaluates step 0) and final weights off the grid are no candidate.
      // Early stopping (EarlyStoppingCallback): the run ends after `patience` evaluations
      // without a new best.
      std::optional<double> best;
      int64_t best_step = 0, evals_since_best = 0;
      // One evaluated checkpoint into the selection; true = early stopping ends the run.
      auto select = [&](int64_t after_steps, double value) {
        if (!best || better(value, *best)) {
          best = value, best_step = after_steps, evals_since_best = 0;
          return false;
        }
        return config.eval.patience > 0 && ++evals_since_best >= config.eval.patience;
      };
      auto evaluate_dev = [&](int64_t after_steps) {
        const auto eval_start = std::chrono::steady_clock::now();
        const std::map<std::string, double> scores = dev_scores(*dev, *pretrained->model);
        const double value = scores.at(dev_key);
        if (root) {
          const StopSignalLogWrite writing;
          log->log_eval(after_steps, scores);
        }
        const bool stop = select(after_steps, value);
        progress.evaluation(after_steps, scores, dev_key, *best, best_step,
                            std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - eval_start).count());
        return stop;
      };
      // Resume: the selection as the logged evaluations left it, and an evaluation due at the
      // resume point that the interrupted run did not get to.
      bool stopped_early = false;
      bool evaluated_at_resume = point.steps == 0;
      for (const LoggedEval& e : point.evals)
        if (dev && e.step > 0 && e.metrics.count(dev_key)) {
          stopped_early = select(e.step, e.metrics.at(dev_key));
          evaluated_at_resume = evaluated_at_resume || e.step == point.steps;
        }
      if (dev && !stopped_early && !evaluated_at_resume && point.steps % config.eval.every == 0) stopped_early = evaluate_dev(point.steps);
      for (; s < config.run.steps && !stopped_early; ++s) {
        StepRecord record;
        try {
          if (profiled.starts_at(s)) profiler_start();
          record = trainer.step(static_cast<uint32_t>(s));
          if (profiled.ends_at(s)) profiler_stop();
        } catch (const Error&) {
          // A non-finite loss before any update: the weights as loaded may be what holds NaN
          // (every rank holds the same replica and finds the same tensor).
          if (s == 0)
            if (const std::optional<NonFiniteWeight> bad = find_non_finite_weight(*pretrained->model))
              throw Error(config.model.path + ": " + non_finite_weight_message(*bad));
          throw;
        }
        if (const std::optional<double> device_peak = peak_device_bytes(*pretrained->model))
          record.scalars["peak_device_memory_bytes"] = *device_peak;
        applied.push_back({record.step, record.terms, record.decay_scale});
        if (optimizer->uses_tensor_passes() || options.mode != PerturbationMode::Exact) applied_inputs.push_back({record.step, record.lr, record.probe_losses});
        if (root) {
          const StopSignalLogWrite writing;
          log_step_record(*log, record, peak_resident_bytes());
        }
        progress.step(s, record.loss, record.ms, record.tokens);
        divergence.observe(record.step, record.loss);  // after logging: the log keeps the step that diverged
        if (record.stop_requested) {  // every rank saw the same vote: all stop after this step
          ++s;
          interrupted = true;
          break;
        }
        if (dev && (s + 1) % config.eval.every == 0) {
          if (evaluate_dev(s + 1)) {
            ++s;
            break;
          }
        }
      }
      progress.finish();
      out.steps = s;
      if (!interrupted) {
        // A signal during the last steps' evaluations: one vote before the final evaluations.
        std::vector<double> vote{stop_signal_received() != 0 ? 1.0 : 0.0};
        comm.allreduce_sum(vote);
        interrupted = vote[0] > 0.0;
      }
      if (interrupted) {
        const std::vector<uint64_t> signals = comm.allgather(static_cast<uint64_t>(stop_signal_received()));
        int signal = 0;
        for (uint64_t received : signals)
          if (signal == 0) signal = static_cast<int>(received);
        const std::string status = "interrupted: " + signal_name(signal) + " at step " + std::to_string(s);
        if (root) {
          const StopSignalLogWrite writing;
          log->set_summary("steps", static_cast<double>(s));
          log->set_summary("status", status);
          log->close();
        }
        throw RunStopped(status + " (" + config.run.output + " holds every step; go on with zotune train " + config.source +
                             " --resume)",
                         kExitInterrupted);
      }
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
      comm.set_timeout(0);  // loading is not bounded (distributed.timeout_s)
      pretrained.emplace(load_model_on_engine());
      comm.set_timeout(static_cast<double>(config.distributed.timeout_s));
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
    out.engine_report = pretrained->model->engine_report();
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
        if (is_directory_export(config.run.save)) {  // a directory: the Hugging Face export (docs/EXPORT.md)
          HfExportOptions export_options;
          export_options.base_path = config.model.path;
          export_options.metadata = save.metadata;
          export_hf(config.run.save, *pretrained->model, export_options);
        } else {
          save_weights(config.run.save, *pretrained->model, save);
        }
        log->set_summary("saved_weights", config.run.save);
      }
      log->set_summary("status", "completed");
      log->close();
    }
    return out;
  } catch (const RunStopped&) {
    throw;  // the log says interrupted
  } catch (const std::exception& e) {
    if (log) log->mark_failed(e.what());
    throw;
  }
}

}  // namespace zotune
