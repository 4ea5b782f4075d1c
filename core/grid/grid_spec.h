// A grid file (docs/GRIDS.md): a base run, axes crossed in the order written, zipped groups,
// seeds, per-value rules (`when`), excluded combinations and a name template, expanded into
// one fully resolved run per combination. Every run is checked against the run-file schema at
// expansion, so a bad value in run 37 of 240 is an error before run 1 starts, naming the grid
// file and the line of the value.
#pragma once
#include <string>
#include <utility>
#include <vector>

#include "core/config/run_config.h"

namespace zotune {

struct GridRun {
  size_t index = 0;  // 0-based, the Slurm array index
  std::string name;  // from the name template; unique in the grid
  std::vector<std::pair<std::string, std::string>> varying;  // (dotted key, value as written), axis order
  RunConfig config;      // resolved: run.name = name, run.output = log_path
  std::string log_path;  // <output>/<name>.h5, absolute
  std::string run_file;  // <output>/<name>.yaml: config.text, what the executor trains
  std::string out_file;  // <output>/<name>.out: the run's own stdout and stderr
};

struct Grid {
  std::string path;                       // the grid file as given
  std::string name;                       // the grid file's stem
  std::string output_dir;                 // absolute
  std::vector<std::string> varying_keys;  // every key an axis, zip or seed list varies, in order
  std::vector<std::string> overrides;     // key=value set in every run from the command line
  std::vector<GridRun> runs;
};

// Parses and expands a grid file. Errors name the grid file, the key and its line.
// `overrides` (key=value, as `zotune train` takes them) are set in every run after everything
// the grid file sets (a model path, a step budget); a key the grid varies, run.name and
// run.output are refused (they would merge runs or move their logs).
Grid load_grid(const std::string& path, const std::vector<std::string>& overrides = {});

}  // namespace zotune
