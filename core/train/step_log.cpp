#include "core/train/step_log.h"

#include <cmath>
#include <string>

#include "core/util/error.h"

namespace zotune {

void log_step_record(RunLog& log, const StepRecord& record, double peak_memory_bytes) {
  std::vector<UpdateRecord> updates;
  updates.reserve(record.terms.size());
  for (const cpu::DirectionTerm& t : record.terms) {
    check(t.step == record.step, "run log: an update term of step " + std::to_string(record.step) + " names step " +
                                     std::to_string(t.step) + " (replay regenerates z from the logged step)");
    updates.push_back({static_cast<int32_t>(t.query), static_cast<double>(t.coeff), t.seed});
  }
  log.log_updates(record.step, updates);
  std::map<std::string, double> scalars = record.scalars;
  scalars["loss"] = record.loss;
  scalars["lr"] = record.lr;
  scalars["ms"] = record.ms;
  scalars["queries"] = record.forward_passes;
  scalars["decay_scale"] = record.decay_scale;
  scalars["peak_memory_bytes"] = peak_memory_bytes;
  std::map<std::string, std::vector<double>> vectors = record.vectors;
  vectors["probe_losses"] = record.probe_losses;
  log.log_step(record.step, scalars, vectors);
}

void apply_logged_updates(ParamEngine& engine, const std::vector<LoggedUpdate>& updates, int64_t steps,
                          DirectionKind kind) {
  check(steps >= 0 && steps <= static_cast<int64_t>(updates.size()),
        "apply_logged_updates: " + std::to_string(steps) + " steps asked, " + std::to_string(updates.size()) + " logged");
  for (int64_t s = 0; s < steps; ++s) engine.apply(updates[s].terms, kind, updates[s].decay_scale);
}

std::vector<LoggedUpdate> read_logged_updates(const RunLogReader& log) {
  const std::vector<int64_t> steps = log.steps();
  check(steps.empty() || log.has_series("decay_scale"),
        log.path() + ": /steps/decay_scale is missing (not a log written by zotune train)");
  const std::vector<double> decay = steps.empty() ? std::vector<double>{} : log.series("decay_scale");
  const UpdateTable u = log.updates();
  std::vector<LoggedUpdate> out(steps.size());
  size_t row = 0;
  for (size_t i = 0; i < steps.size(); ++i) {
    out[i].step = steps[i];
    check(std::isfinite(decay[i]), log.path() + ": /steps/decay_scale is missing at step " + std::to_string(steps[i]));
    out[i].decay_scale = static_cast<float>(decay[i]);
    check(i == 0 || steps[i] > steps[i - 1], log.path() + ": /steps/step is not increasing at row " + std::to_string(i));
    check(row == u.size() || u.step[row] >= steps[i],
          log.path() + ": /updates row " + std::to_string(row) + " names step " +
              (row < u.size() ? std::to_string(u.step[row]) : std::string()) + ", which has no /steps row");
    for (; row < u.size() && u.step[row] == steps[i]; ++row) {
      cpu::DirectionTerm t;
      t.seed = u.seed[row];
      t.step = static_cast<uint32_t>(u.step[row]);
      t.query = static_cast<uint32_t>(u.query[row]);
      t.coeff = static_cast<float>(u.coefficient[row]);
      out[i].terms.push_back(t);
    }
  }
  check(row == u.size(), log.path() + ": /updates row " + std::to_string(row) + " names step " +
                             (row < u.size() ? std::to_string(u.step[row]) : std::string()) + ", which has no /steps row");
  return out;
}

}  // namespace zotune
