// What each dataset of a run log means: the `description` and `unit` attributes the writer
// gives every dataset (docs/LOGS.md lists them), and which series are counts (stored as int64).
//
// One table of the series zotune logs (core/log/series_catalog.cpp); a series not in it (an
// optimizer's new scalar) gets a generic description, unit "" and float64 storage. Units:
// "nats" (natural-log cross-entropy, averaged per the task's loss unit: a target token for the
// lm task and teacher forcing, an example for candidate or class scoring), "ms", "bytes",
// "count" (a whole number of things), "step", "index", "fraction" (in [0, 1]) and "1"
// (dimensionless: a rate, a scale, a coefficient).
#pragma once
#include <string>
#include <string_view>
#include <vector>

namespace zotune {

struct SeriesInfo {
  std::string description;
  std::string unit;
  bool count = false;  // a whole number >= 0: stored int64 with fill value -1 (missing)
};

// group: "steps", "eval" or "updates"; name: the dataset's name in the group ("step", "loss",
// "dev_accuracy", ...). For a vector series of /steps pass its name (probe_losses): the
// description of <name>.values; vector_offsets_info describes <name>.offsets.
SeriesInfo series_info(std::string_view group, std::string_view name);
SeriesInfo vector_offsets_info(std::string_view vector_name);

// Every dataset the table describes, as its path in the log ("/steps/loss", "/eval/dev_loss").
std::vector<std::string> described_dataset_paths();

// /summary keys whose values are counts (steps, best_step, trainable_params): written as int64
// attributes when the value is whole.
bool summary_value_is_count(std::string_view key);

}  // namespace zotune
