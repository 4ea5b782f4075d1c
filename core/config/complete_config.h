// The complete configuration of a run: every key in force, the defaults applied, as one YAML
// document (what a run log stores as /config_resolved, docs/LOGS.md). RunConfig::text holds the
// keys the run sets and RunConfig::defaults_text the defaults in force as comments; this
// merges the two, in schema order, each default keeping its source as a trailing comment.
#pragma once
#include <string>

#include "core/config/run_config.h"

namespace zotune {

// Parses back (parse_run_config) to the same run. Throws zotune::Error naming config.source
// when text or defaults_text is not in the layout RunResolver writes (an internal error).
std::string complete_config_text(const RunConfig& config);

}  // namespace zotune
