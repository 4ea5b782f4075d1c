// What `zotune grid ... status` and `collect` print: one row per run, read from the runs' logs.
#pragma once
#include <string>

#include "core/grid/grid_spec.h"

namespace zotune {

// A fixed-width table: index, name, state (with the failure message), steps logged / run.steps,
// the selected dev value and the test value; then the count per state.
std::string grid_status_table(const Grid& grid);

// One row per run: index, name, every varying key (one column each, named by the dotted key),
// status, message, steps, forward_passes, seconds, every numeric summary value (initial_loss,
// final_loss, best_step, best_dev_accuracy, test_accuracy, ...), log. Columns are the union
// over the runs; a run without a value leaves its cell empty (CSV) or null (JSON).
// pandas: pd.read_csv(path) / pd.read_json(path).
std::string grid_collect_csv(const Grid& grid);
std::string grid_collect_json(const Grid& grid);

}  // namespace zotune
