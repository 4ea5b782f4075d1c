// `zotune train RUN --resume`: an interrupted run goes on from its log (DESIGN.md section 2,
// "seed replay": the log is the run's checkpoint). Everything a step depends on is a function
// of the logged record and the step number:
//  - the weights and every optimizer state (BSZO's noise estimate, MeZO-Adam's moments,
//    HiZOO's Hessian, LOZO's factors, AdaZeta's schedule) come back by re-running a fresh
//    optimizer on the logged probe losses with the run's parameter passes (replay_optimizer),
//    bit for bit on the engine the run used; its updates are checked against /updates;
//  - the minibatch sampler (data.sampler) and the lr schedule are functions of (seed, step);
//  - best-dev selection and early stopping are re-derived from the logged dev evaluations.
// The log is rewritten with the logged rows up to the last flushed step (steps after it were
// lost with the process and are trained again) and the run appends to it, so the finished log
// holds the same series as an uninterrupted run's (measured ones such as ms aside).
#pragma once
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/config/run_config.h"
#include "core/log/run_log.h"
#include "core/train/step_log.h"
#include "core/train/trainer.h"

namespace zotune {

// Keys a resumed run may change: they do not touch what is computed (progress printing, the
// flush cadence, where the log is, how long a rank waits for the others).
bool resume_may_change(const std::string& dotted_key);

// The first key (schema order) whose value differs between a logged /config (the resolved run
// file, then the defaults in force as comments) and `config`'s, as "key: logged X, now Y";
// empty when they agree. Values are compared, not spellings (1e-3 equals 0.001); the defaults'
// sources are not compared; a key the log does not have (newer than the log) that the run file
// does not set either agrees, since keys are added with the behaviour before them as default.
std::string first_config_difference(const std::string& logged_config_text, const RunConfig& config);

// One /eval row.
struct LoggedEval {
  int64_t step = 0;
  std::map<std::string, double> metrics;  // the row's values that are not missing
};

// What every rank needs to go on: the first `steps` steps (0 .. steps-1) of the log.
struct ResumePoint {
  int64_t steps = 0;
  std::vector<LoggedStepInputs> inputs;  // lr and probe losses per step (replay_optimizer)
  std::vector<LoggedUpdate> updates;     // /updates rows and decay_scale per step
  std::vector<LoggedEval> evals;         // /eval rows up to `steps`, the final-loss row left out
};
std::string serialize_resume_point(const ResumePoint& point);
ResumePoint deserialize_resume_point(const std::string& bytes);

// Rank 0's copy of the log to resume: the point and the rows to write again.
struct ResumeLog {
  std::string status;                     // /summary status of the log
  bool completed = false;                 // status "completed": nothing to resume
  std::optional<std::string> final_checksum;
  std::optional<double> summary_steps;
  ResumePoint point;
  std::vector<std::map<std::string, double>> scalars;                   // per /steps row, missing left out
  std::vector<std::map<std::string, std::vector<double>>> vectors;      // per /steps row
  std::vector<std::vector<UpdateRecord>> update_rows;                   // per /steps row
  std::string started_utc;                // when the run first started (provenance, or an earlier resume's)
  std::string resumed_at;                 // earlier resumes' steps, comma separated
};

// Reads the log at `path` for `config` (rank 0). Throws Error naming the log when it is
// missing or unreadable, when its /config differs from `config` (naming the first key), or
// when its records do not line up (steps not 0, 1, 2, ...).
ResumeLog read_resume_log(const std::string& path, const RunConfig& config);

// Writes the logged rows again into a fresh log (the point's steps and evaluations, with the
// provenance of the first start in /summary first_started_utc and this resume in
// resumed_at_steps).
void write_resumed_rows(const ResumeLog& resumed, RunLog& log);

}  // namespace zotune
