// zotune train RUN.yaml: fine-tune as the run file says (under mpirun, every rank runs it);
// zotune eval RUN.yaml: the losses of the run's splits for its model or other weights.
#include <cstdio>
#include <string>

#include "core/cli/commands.h"
#include "core/config/run_config.h"
#include "core/model/pretrained.h"
#include "core/train/run_setup.h"
#include "core/train/run_training.h"
#include "core/util/error.h"
#include "distributed/world.h"

namespace zotune::cli {

void register_train(CLI::App& app, const std::string& command_line) {
  auto* cmd = app.add_subcommand("train", "Fine-tune a model as a run file (.yaml) says; run it under mpirun for several ranks");
  auto* run_file = new std::string;
  auto* overwrite = new bool(false);
  cmd->add_option("run_file", *run_file, "run file (.yaml); `zotune config --defaults` lists every key")->required();
  auto* output = new std::string;
  cmd->add_flag("--overwrite", *overwrite, "replace the run's HDF5 log if it exists");
  cmd->add_option("--output", *output, "HDF5 log to write instead of run.output (the same run on other ranks or hosts)");
  cmd->callback([=] {
    World& world = World::instance();
    Communicator comm = Communicator::world();
    TrainInvocation invocation;
    invocation.overwrite = *overwrite;
    invocation.command_line = command_line;
    invocation.output = *output;
    RunConfig config;
    try {
      config = load_run_config(*run_file);
      if (!output->empty()) config.run.output = *output;
    } catch (const Error& e) {
      const std::string log = world.is_root() ? record_unstartable_run(*run_file, e.what(), invocation) : "";
      if (log.empty()) throw;
      throw Error(std::string(e.what()) + " (recorded in " + log + ")");
    }
    const TrainOutcome out = run_training(config, comm, invocation);
    if (!world.is_root()) return;
    std::printf("loss before %.6f, after %.6f (mean token loss over the %s training split), %lld steps in %.1f s\n",
                out.initial_loss, out.final_loss, config.task.name.c_str(), static_cast<long long>(out.steps),
                out.seconds);
    std::printf("parameter checksum %s\n", checksum_hex(out.checksum).c_str());
    std::printf("run log: %s\n  look at it: zotune show %s   (or analysis/zotune_log.py, h5py)\n", out.log_path.c_str(),
                out.log_path.c_str());
    if (!config.run.save.empty()) std::printf("weights: %s\n", config.run.save.c_str());
  });
}

void register_eval(CLI::App& app) {
  auto* cmd = app.add_subcommand("eval", "Losses of a run file's task splits under its model, or under other weights");
  auto* run_file = new std::string;
  auto* weights = new std::string;
  cmd->add_option("run_file", *run_file, "run file (.yaml)")->required();
  cmd->add_option("--weights", *weights,
                  "weights to evaluate instead of model.path's (a .safetensors file beside its config.json, as "
                  "run.save and zotune replay --out leave it; the tokenizer still comes from model.path)");
  cmd->callback([=] {
    const RunConfig config = load_run_config(*run_file);
    LoadOptions load;
    load.dtype = config.model.dtype;
    std::unique_ptr<Model> model = load_model(weights->empty() ? config.model.path : *weights, load);
    const Tokenizer tokenizer = load_tokenizer(config.model.path);
    const int chunk = static_cast<int>(config.data.batch_size);
    const char* names[] = {"train", "dev", "test"};
    for (TaskSplit split : {TaskSplit::Train, TaskSplit::Dev, TaskSplit::Test}) {
      std::unique_ptr<Task> task = make_task(config, split, tokenizer, model->config());
      if (!task) continue;
      const LossSum loss = full_loss(*task, *model, chunk);
      std::printf("%-5s loss %.6f over %d examples (%.0f tokens)\n", names[static_cast<int>(split)], loss.mean(),
                  task->num_examples(), loss.count);
    }
  });
}

}  // namespace zotune::cli
