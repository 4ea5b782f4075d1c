// zotune grid GRID.yaml <list|run|status|slurm|collect>: a grid of runs (docs/GRIDS.md).
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/cli/commands.h"
#include "core/grid/grid_executor.h"
#include "core/grid/grid_report.h"
#include "core/grid/grid_spec.h"
#include "core/grid/slurm_script.h"
#include "core/util/error.h"

namespace zotune::cli {

namespace {

// The running binary, so that runs and Slurm tasks use the same zotune as the command.
std::string this_binary() {
  std::error_code ec;
  const auto p = std::filesystem::read_symlink("/proc/self/exe", ec);
  return ec ? std::string("zotune") : p.string();
}

void write_file(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
  out.close();
  if (!out) throw Error(path + ": cannot write");
}

std::vector<std::string> split_list(const std::string& text) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= text.size()) {
    const size_t comma = text.find(',', start);
    const std::string item = text.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    if (!item.empty()) out.push_back(item);
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return out;
}

}  // namespace

void register_grid(CLI::App& app) {
  auto* cmd = app.add_subcommand("grid", "Expand, train, watch and collect a grid of runs (a grid file, docs/GRIDS.md)");
  cmd->require_subcommand(1);
  auto* grid_file = new std::string;
  cmd->add_option("grid_file", *grid_file, "grid file (.yaml)")->required();
  // key=value after the verb, set in every run (a model path, a step budget): give the same
  // ones to every verb of a grid, or `status` finds its runs changed.
  auto* overrides = new std::vector<std::string>;
  auto takes_overrides = [overrides](CLI::App* verb) {
    verb->add_option("overrides", *overrides, "key=value set in every run of the grid (as zotune train takes them)");
  };

  auto* list = cmd->add_subcommand("list", "One line per run: index, name and the values that vary");
  takes_overrides(list);
  auto* list_json = new bool(false);
  list->add_flag("--json", *list_json, "one JSON object per run instead (index, name, log, varying values)");
  list->callback([=] {
    const Grid grid = load_grid(*grid_file, *overrides);
    if (*list_json) {
      nlohmann::ordered_json runs = nlohmann::ordered_json::array();
      for (const GridRun& run : grid.runs) {
        nlohmann::ordered_json r{{"index", run.index}, {"name", run.name}, {"log", run.log_path}};
        for (const auto& [key, value] : run.varying) r["varying"][key] = value;
        runs.push_back(r);
      }
      std::printf("%s\n", runs.dump(1).c_str());
      return;
    }
    for (const GridRun& run : grid.runs) {
      std::string varying;
      for (const auto& [key, value] : run.varying) varying += "  " + key + "=" + value;
      std::printf("%4zu  %s%s\n", run.index, run.name.c_str(), varying.c_str());
    }
    std::printf("%zu runs; logs in %s\n", grid.runs.size(), grid.output_dir.c_str());
  });

  auto* run = cmd->add_subcommand("run", "Train the runs not yet completed, N at a time (skips completed runs)");
  takes_overrides(run);
  auto* options = new GridRunOptions;
  auto* index = new long(-1);
  auto* gpus = new std::string;
  run->add_option("--jobs,-j", options->jobs, "runs at a time")->capture_default_str();
  run->add_option("--index", *index, "train only this run (0-based; what a Slurm array task does)");
  run->add_option("--ranks", options->ranks, "MPI ranks per run (mpirun -np)")->capture_default_str();
  run->add_option("--gpus", *gpus, "GPU ids to pack the runs onto, comma separated (each run sees its own via CUDA_VISIBLE_DEVICES)");
  run->add_option("--cores", options->cores, "cores the runs' threads share (default: all of this machine's)");
  run->add_flag("--rerun-changed", options->rerun_changed,
                "train again the completed runs whose configuration differs from the grid's (refused otherwise)");
  run->add_option("--mpirun", options->mpirun, "the MPI launcher for --ranks > 1")->capture_default_str();
  auto* search_seed = new long(-1);
  run->add_option("--search-seed", *search_seed,
                  "two stages: every learning rate with this seed, then the other seeds only at the learning rate "
                  "with each cell's best dev value (docs/GRIDS.md)");
  run->callback([=] {
    const Grid grid = load_grid(*grid_file, *overrides);
    GridRunOptions o = *options;
    if (*index >= 0) o.index = static_cast<size_t>(*index);
    if (*search_seed >= 0) o.search_seed = static_cast<uint64_t>(*search_seed);
    o.gpus = split_list(*gpus);
    o.zotune = this_binary();
    const int code = run_grid(grid, o);
    if (code != 0) std::exit(code);
  });

  auto* status = cmd->add_subcommand("status", "A table of every run: state, steps, selected dev value, test value");
  takes_overrides(status);
  status->callback([=] { std::fputs(grid_status_table(load_grid(*grid_file, *overrides)).c_str(), stdout); });

  auto* slurm = cmd->add_subcommand("slurm", "Write an sbatch script for a job array over the runs (--submit: and submit it)");
  takes_overrides(slurm);
  auto* so = new SlurmOptions;
  auto* script = new std::string;
  auto* submit = new bool(false);
  slurm->add_option("--partition", so->partition, "Slurm partition");
  slurm->add_option("--time", so->time, "time limit per run (Slurm's --time, e.g. 4:00:00)");
  slurm->add_option("--gpus-per-run", so->gpus_per_run, "GPUs per run (--gres=gpu:G)")->capture_default_str();
  slurm->add_option("--max-parallel", so->max_parallel, "array tasks at a time (the array's %K; 0 = no limit)")
      ->capture_default_str();
  slurm->add_option("--ranks", so->ranks, "MPI ranks per run")->capture_default_str();
  slurm->add_option("--cpus-per-rank", so->cpus_per_rank, "cores per rank (--cpus-per-task)")->capture_default_str();
  slurm->add_option("--signal-seconds", so->signal_seconds,
                    "USR1 this many seconds before the time limit: the task stops its run and requeues itself")
      ->capture_default_str();
  slurm->add_option("--script", *script, "where to write the script (default <output>/<grid>.sbatch)");
  slurm->add_flag("--submit", *submit, "submit it with sbatch");
  slurm->callback([=] {
    const Grid grid = load_grid(*grid_file, *overrides);
    SlurmOptions o = *so;
    o.zotune = this_binary();
    std::filesystem::create_directories(grid.output_dir);
    const std::string path = script->empty() ? grid.output_dir + "/" + grid.name + ".sbatch" : *script;
    write_file(path, slurm_script(grid, o));
    std::filesystem::permissions(path, std::filesystem::perms::owner_exec, std::filesystem::perm_options::add);
    std::printf("wrote %s (%zu array tasks)\n", path.c_str(), grid.runs.size());
    if (!*submit) {
      std::printf("submit it: sbatch %s\n", path.c_str());
      return;
    }
    std::fflush(stdout);
    const std::string command = "sbatch --parsable '" + path + "'";
    const int rc = std::system(command.c_str());
    if (rc != 0) throw Error("sbatch " + path + " failed (exit status " + std::to_string(rc) + ")");
  });

  auto* collect = cmd->add_subcommand("collect", "One row per run (varying keys, status, steps, metrics, log) as CSV or JSON");
  takes_overrides(collect);
  auto* csv = new std::string;
  auto* json = new std::string;
  collect->add_option("--csv", *csv, "write CSV here (pandas: pd.read_csv)");
  collect->add_option("--json", *json, "write JSON records here (pandas: pd.read_json)");
  collect->callback([=] {
    const Grid grid = load_grid(*grid_file, *overrides);
    if (!csv->empty()) write_file(*csv, grid_collect_csv(grid));
    if (!json->empty()) write_file(*json, grid_collect_json(grid));
    if (csv->empty() && json->empty()) std::fputs(grid_collect_csv(grid).c_str(), stdout);
    for (const std::string* p : {csv, json})
      if (!p->empty()) std::printf("wrote %s (%zu runs)\n", p->c_str(), grid.runs.size());
  });
}

}  // namespace zotune::cli
