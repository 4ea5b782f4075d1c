// The trained weights of a run rebuilt from its log (zotune replay and zotune export): the
// run's initial model loaded as the run loaded it, on the run's engine (or --device), with
// the log's updates applied and the result printed and checked against the log's checksum.
#pragma once
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "core/config/run_config.h"
#include "core/model/model.h"
#include "core/train/hf_export.h"
#include "core/train/replay.h"

namespace zotune::cli {

struct ReplayedModel {
  std::string log_path;
  RunConfig config;        // the log's /config
  std::string model_path;  // the initial model: --base, else model.path of the log's run file
  std::unique_ptr<Model> model;
  ReplayResult result;
  std::string checksum;    // checksum_hex(result.checksum)
};

// device: "cpu", "cuda", or empty (the run's engine.device); steps: the first N logged steps
// (all when empty). Prints the replay's lines (steps replayed, checksum comparison). A device
// model's host parameters are current only after model->sync_params_to_host().
ReplayedModel replay_model(const std::string& log_path, const std::string& base, const std::string& device,
                           std::optional<int64_t> steps);

// What an export wrote and how to load it, printed after zotune replay --out DIR / zotune export.
void print_export(const std::string& dir, const HfExportReport& report);

// A run log path, or the run log (run.output) of a run file: zotune export takes either.
std::string run_log_of(const std::string& log_or_run_file);

}  // namespace zotune::cli
