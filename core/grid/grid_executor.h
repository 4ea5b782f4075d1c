// The local grid executor: trains a grid's unfinished runs, N at a time, each as its own
// `zotune train` process (under mpirun for several ranks) with its output in <name>.out.
// Completed runs with the same resolved configuration are skipped, failed and interrupted
// ones run again, runs another process is training are left to it, so killing the executor and
// starting it again finishes the grid with nothing run twice.
#pragma once
#include <cstdio>
#include <optional>
#include <string>
#include <vector>

#include "core/grid/grid_spec.h"

namespace zotune {

struct GridRunOptions {
  int jobs = 1;                 // runs at a time
  std::optional<size_t> index;  // only this run (a Slurm array task)
  int ranks = 1;                // MPI ranks per run (mpirun -np when > 1)
  std::vector<std::string> gpus;  // GPU ids to pack runs onto (CUDA_VISIBLE_DEVICES); empty = none
  int cores = 0;                // cores to share among the runs' threads; 0 = all of this machine's
  bool rerun_changed = false;   // run completed runs whose configuration changed, instead of refusing
  // Two stages (docs/GRIDS.md): the runs of this run.seed first, every learning rate; then, once
  // all of a cell's (every varying key but optimizer.lr and run.seed) have ended, its other seeds'
  // runs at the learning rate whose search run has the best dev value (ties: the smaller one);
  // the rest are not trained.
  std::optional<uint64_t> search_seed;
  std::string zotune;           // the zotune binary the runs use
  std::string mpirun = "mpirun";
  std::FILE* progress = stdout;
};

// Returns the process exit code: 0 when every selected run is completed, 1 when one failed,
// 128 + signal when stopped by SIGINT, SIGTERM or SIGUSR1 (its runs stopped, their pid files removed).
int run_grid(const Grid& grid, const GridRunOptions& options);

}  // namespace zotune
