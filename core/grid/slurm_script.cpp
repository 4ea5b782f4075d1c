#include "core/grid/slurm_script.h"

#include <filesystem>

#include "core/util/error.h"

namespace zotune {

namespace {

// A word for the shell, single-quoted.
std::string shell_quoted(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

}  // namespace

std::string slurm_script(const Grid& grid, const SlurmOptions& o) {
  check(o.ranks >= 1 && o.cpus_per_rank >= 1 && o.gpus_per_run >= 0 && o.max_parallel >= 0 && o.signal_seconds >= 0,
        "slurm: --ranks, --cpus-per-rank >= 1; --gpus-per-run, --max-parallel, --signal-seconds >= 0");
  std::error_code ec;
  const std::string grid_file = std::filesystem::absolute(grid.path, ec).lexically_normal().string();
  const std::string out_dir = grid.output_dir;
  std::string s = "#!/bin/bash\n";
  s += "# zotune grid " + grid.name + ": " + std::to_string(grid.runs.size()) + " runs as one Slurm job array.\n";
  s += "# Written by `zotune grid " + grid_file + " slurm`; submit with sbatch (or pass --submit).\n";
  s += "#SBATCH --job-name=zotune-" + grid.name + "\n";
  s += "#SBATCH --array=0-" + std::to_string(grid.runs.size() - 1) +
       (o.max_parallel > 0 ? "%" + std::to_string(o.max_parallel) : "") + "\n";
  s += "#SBATCH --output=" + out_dir + "/slurm-%A_%a.out\n";
  s += "#SBATCH --ntasks=" + std::to_string(o.ranks) + "\n";
  s += "#SBATCH --cpus-per-task=" + std::to_string(o.cpus_per_rank) + "\n";
  if (o.gpus_per_run > 0) s += "#SBATCH --gres=gpu:" + std::to_string(o.gpus_per_run) + "\n";
  if (!o.partition.empty()) s += "#SBATCH --partition=" + o.partition + "\n";
  if (!o.time.empty()) s += "#SBATCH --time=" + o.time + "\n";
  // A preempted or timed-out task goes back to the queue; the executor reruns its cut run.
  s += "#SBATCH --requeue\n";
  if (o.signal_seconds > 0) s += "#SBATCH --signal=B:USR1@" + std::to_string(o.signal_seconds) + "\n";
  s += "\nset -u\n";
  s += "grid=" + shell_quoted(grid_file) + "\n";
  s += "zotune=" + shell_quoted(o.zotune) + "\n";
  s += "index=${SLURM_ARRAY_TASK_ID:?this script runs as a Slurm array task}\n\n";
  s += "# USR1 comes before the time limit: stop the run (the executor stops its ranks) and requeue\n";
  s += "# this array task, which then trains the cut run again.\n";
  s += "requeue() {\n";
  s += "  kill -TERM \"$child\" 2>/dev/null; wait \"$child\"\n";
  s += "  scontrol requeue \"${SLURM_ARRAY_JOB_ID}_${SLURM_ARRAY_TASK_ID}\"\n";
  s += "  exit 0\n";
  s += "}\n";
  s += "trap requeue USR1\n\n";
  std::string overrides;  // the grid's command-line overrides, passed on to every task
  for (const std::string& ov : grid.overrides) overrides += " " + shell_quoted(ov);
  s += "\"$zotune\" grid \"$grid\" run --index \"$index\" --ranks " + std::to_string(o.ranks) +
       (o.gpus_per_run > 0 ? " --gpus \"${CUDA_VISIBLE_DEVICES:-0}\"" : "") + overrides + " &\n";
  s += "child=$!\n";
  s += "wait \"$child\"\n";
  s += "status=$?\n";
  s += "exit $status\n";
  return s;
}

}  // namespace zotune
