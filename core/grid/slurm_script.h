// The sbatch script of `zotune grid GRID slurm`: one job array over the grid's runs, each array
// task running `zotune grid GRID run --index $SLURM_ARRAY_TASK_ID`, so a task skips a run that
// is completed and trains it again when it failed or was cut.
#pragma once
#include <string>

#include "core/grid/grid_spec.h"

namespace zotune {

struct SlurmOptions {
  std::string partition;    // empty: the cluster's default
  std::string time;         // --time (e.g. 2:00:00); empty: the partition's default
  int gpus_per_run = 0;     // --gres=gpu:G
  int max_parallel = 0;     // the array's %K; 0 = no limit
  int ranks = 1;            // MPI ranks per run (--ntasks)
  int cpus_per_rank = 1;    // --cpus-per-task
  int signal_seconds = 120; // USR1 this long before the time limit: the task stops its run and requeues itself
  std::string zotune;       // absolute path of the zotune binary the tasks run
};

// The script's text. Paths in it are absolute (the grid file, the binary, the output folder);
// Slurm's own output of task a goes to <output>/slurm-<jobid>_<a>.out, beside the runs' logs.
std::string slurm_script(const Grid& grid, const SlurmOptions& options);

}  // namespace zotune
