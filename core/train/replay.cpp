#include "core/train/replay.h"

#include <cctype>
#include <cstdlib>
#include <map>
#include <variant>

#include "core/optim/trainable_space.h"
#include "core/train/run_setup.h"
#include "core/train/run_training.h"
#include "core/train/step_log.h"
#include "core/train/task_setup.h"
#include "core/util/error.h"

namespace zotune {

namespace {

std::optional<std::string> summary_string(const std::map<std::string, SummaryValue>& summary, const std::string& key) {
  const auto it = summary.find(key);
  if (it == summary.end() || !std::holds_alternative<std::string>(it->second)) return std::nullopt;
  return std::get<std::string>(it->second);
}

std::optional<double> summary_number(const std::map<std::string, SummaryValue>& summary, const std::string& key) {
  const auto it = summary.find(key);
  if (it == summary.end() || !std::holds_alternative<double>(it->second)) return std::nullopt;
  return std::get<double>(it->second);
}

// final_checksum as checksum_hex writes it: exactly 16 hex digits.
uint64_t parse_checksum(const std::string& text, const std::string& log_path) {
  bool ok = text.size() == 16;
  for (char c : text) ok = ok && std::isxdigit(static_cast<unsigned char>(c));
  check(ok, log_path + ": /summary final_checksum '" + text + "' is not 16 hex digits");
  return std::strtoull(text.c_str(), nullptr, 16);
}

// /steps/lr and /steps/probe_losses of every step: what re-running an optimizer needs.
std::vector<LoggedStepInputs> read_logged_step_inputs(const RunLogReader& log) {
  const std::vector<int64_t> steps = log.steps();
  check(steps.empty() || log.has_series("lr"), log.path() + ": /steps/lr is missing (not a log written by zotune train)");
  const std::vector<double> lr = steps.empty() ? std::vector<double>{} : log.series("lr");
  std::vector<LoggedStepInputs> out(steps.size());
  for (size_t i = 0; i < steps.size(); ++i)
    out[i] = {static_cast<uint32_t>(steps[i]), lr[i], log.vector("probe_losses", static_cast<int64_t>(i))};
  return out;
}

}  // namespace

LoadOptions replay_load_options(const RunConfig& config, const std::string& model_path) {
  RunConfig at_base = config;
  at_base.model.path = model_path;
  return task_load_options(at_base);
}

RunConfig logged_run_config(const RunLogReader& log) {
  return parse_run_config(log.config_text(), log.path() + ":/config");
}

ReplayResult replay_run(Model& model, const RunLogReader& log, const ReplayOptions& options) {
  const RunConfig config = logged_run_config(log);
  check(model.dtype() == config.model.dtype, log.path() + ": the run trained in " +
                                                 std::string(choice_name(config.model.dtype)) +
                                                 " but the model to replay onto holds " +
                                                 std::string(choice_name(model.dtype())));
  const TrainableSpace space = TrainableSpace::select(model, trainable_selection(config.trainable));
  const std::map<std::string, SummaryValue> summary = log.summary();

  ReplayResult result;
  result.trainable_params = space.size();
  result.status = summary_string(summary, "status").value_or("");
  if (const std::optional<double> logged = summary_number(summary, "trainable_params"))
    check(*logged == static_cast<double>(space.size()),
          log.path() + ": the run trained " + std::to_string(static_cast<uint64_t>(*logged)) +
              " parameters but the model to replay onto has " + std::to_string(space.size()) +
              " under the run's trainable selection: not the model the run started from");

  const std::vector<LoggedUpdate> updates = read_logged_updates(log);
  result.steps_logged = static_cast<int64_t>(updates.size());
  for (size_t i = 0; i < updates.size(); ++i)
    check(updates[i].step == static_cast<int64_t>(i),
          log.path() + ": /steps row " + std::to_string(i) + " is step " + std::to_string(updates[i].step) +
              ", expected " + std::to_string(i) + " (replay needs every step from 0)");
  result.steps_replayed = options.steps.value_or(result.steps_logged);
  check(result.steps_replayed >= 0 && result.steps_replayed <= result.steps_logged,
        log.path() + ": cannot replay " + std::to_string(result.steps_replayed) + " steps: the log holds " +
            std::to_string(result.steps_logged));

  // Trainer::step: decay and the fused update, on the unperturbed weights.
  const DirectionKind kind = direction_kind(config.optimizer.direction);
  const std::unique_ptr<ParamEngine> engine = make_param_engine(model, space);
  const PerturbationMode mode = config.model.perturbation;  // the log's /config says the mode
  if (optimizer_uses_tensor_passes(config.optimizer.name) || mode != PerturbationMode::Exact) {
    // MeZO-Adam, HiZOO, LOZO, Sparse-MeZO log no /updates rows, and the in-place modes'
    // weights carry the rounding residues of every probe: re-run the optimizer on the logged
    // probe losses with the run's passes, without the forwards (bit-identical on the same
    // kind of engine: same losses, same passes in the same order).
    const std::unique_ptr<ZoOptimizer> optimizer = make_optimizer(config.optimizer, config.run.seed, space.size());
    replay_optimizer(*engine, *optimizer, read_logged_step_inputs(log), result.steps_replayed, kind, mode);
  } else {
    apply_logged_updates(*engine, updates, result.steps_replayed, kind);
  }
  result.checksum = engine->checksum();

  const std::optional<std::string> final_checksum = summary_string(summary, "final_checksum");
  if (final_checksum && result.steps_replayed == result.steps_logged) {
    result.logged_checksum = parse_checksum(*final_checksum, log.path());
    if (*result.logged_checksum != result.checksum) {
      std::string msg = log.path() + ": replayed weights have checksum " + checksum_hex(result.checksum) +
                        " but the log's /summary final_checksum is " + *final_checksum + " (" +
                        std::to_string(result.steps_replayed) + " steps replayed)";
      if (mode != PerturbationMode::Exact)
        msg += "; the run used model.perturbation: " + std::string(choice_name(mode)) +
               ", whose rounding residues replay reproduces only on the engine the run used (device z rounds apart "
               "from the CPU's near a rounding boundary of the dtype)";
      else
        msg += "; the log's /updates or /steps/decay_scale do not match the run, or --base is not its initial model";
      throw Error(msg);
    }
  }
  return result;
}

}  // namespace zotune
