// A run's keys gathered from several places before they become one RunConfig: a run file and
// the files it names as `base:`, a grid file's inline keys and axis values, the command line's
// key=value overrides. Each value keeps where it was written, so an error in the merged run
// still names the file and line (or the override) that gave the bad value, and a relative path
// is resolved against the folder of the file that wrote it.
#pragma once
#include <yaml-cpp/yaml.h>

#include <string>
#include <vector>

#include "core/config/run_config.h"

namespace zotune {

struct RunEntry {
  std::string key;       // dotted, "optimizer.lr"
  YAML::Node key_node;   // the key as written (its mark locates errors); a scalar for overrides
  YAML::Node value;      // as written: a scalar, or a list for list-valued keys
  std::string source;    // the file that writes it, or "command line (key=value)"
  std::string base_dir;  // absolute folder a relative path value is resolved against; "" = as written
  YAML::Mark section_mark = YAML::Mark::null_mark();  // the line of its section's header, where there is one
};

// One layer's keys in file order from a mapping of sections (a run file's root, a grid's inline
// `run:` mapping). Unknown sections and duplicated keys are errors naming source and line; a
// top-level `base` key is skipped (run_file_entries follows it). base_dir: see RunEntry.
std::vector<RunEntry> section_entries(const YAML::Node& sections, const std::string& source, const std::string& base_dir);

// A run file's keys, its `base:` chain first (each base relative to the folder of the file that
// names it). Missing bases and cycles are errors naming the file and line of the `base` key.
std::vector<RunEntry> run_file_entries(const std::string& path);

// A command-line override "dotted.key=value" (the value is YAML: 1e-5, true, [a, b], "text").
// Relative path values are resolved against the current directory.
RunEntry override_entry(const std::string& assignment);

// Loads YAML text that must be one document holding a mapping (an empty text is an empty
// mapping); errors name source, line and column. what: "run file", "grid file".
YAML::Node load_yaml_document(const std::string& text, const std::string& source, const std::string& what);
// A file's text; errors name the file.
std::string read_text_file(const std::string& path, const std::string& what);

// The merged run: later entries win over earlier ones of the same key. Every value is checked
// against the schema with errors naming its own source and line. Without `problems`, the first
// error throws; with it, every error is appended there and the config holds what did parse.
// `source` names the run (run.name defaults to its stem). The config's `text` is the resolved
// run file: one self-contained YAML document of the keys in force (schema order, relative
// paths made absolute), which parses back to the same config and to the same text.
RunConfig resolve_run_config(const std::vector<RunEntry>& entries, const std::string& source,
                             std::vector<std::string>* problems = nullptr);

}  // namespace zotune
