// zotune train RUN.yaml: fine-tune as the run file says (under mpirun, every rank runs it);
// zotune eval RUN.yaml: the loss and metric of the run's splits under its model (the
// zero-shot baseline) or under other weights.
#include <cstdio>
#include <string>

#include "core/cli/commands.h"
#include "core/config/run_config.h"
#include "core/model/pretrained.h"
#include "core/train/engine_setup.h"
#include "core/train/evaluation.h"
#include "core/train/run_training.h"
#include "core/train/task_setup.h"
#include "core/util/error.h"
#include "distributed/communicator.h"
#include "distributed/world.h"

namespace zotune::cli {

void register_train(CLI::App& app, const std::string& command_line) {
  auto* cmd = app.add_subcommand("train", "Fine-tune a model as a run file (.yaml) says; run it under mpirun for several ranks");
  auto* run_file = new std::string;
  auto* overwrite = new bool(false);
  cmd->add_option("run_file", *run_file, "run file (.yaml); `zotune config --defaults` lists every key")->required();
  auto* overrides = add_overrides_option(cmd);
  auto* output = new std::string;
  cmd->add_flag("--overwrite", *overwrite, "replace the run's HDF5 log if it exists");
  auto* resume = new bool(false);
  cmd->add_flag("--resume", *resume,
                "continue an interrupted run from its log (same configuration; weights, optimizer state, sampler and "
                "lr schedule rebuilt from the logged steps): it ends as the uninterrupted run would");
  cmd->add_option("--output", *output, "HDF5 log to write instead of run.output (the same run on other ranks or hosts)");
  cmd->callback([=] {
    World& world = World::instance();
    Communicator comm = Communicator::world();
    TrainInvocation invocation;
    invocation.overwrite = *overwrite;
    invocation.resume = *resume;
    invocation.command_line = command_line;
    invocation.output = *output;
    // A run file that does not parse is no run: its error is printed and no log is written
    // (a log under a guessed name, ignoring the run.output it could not read, would only
    // block the corrected rerun).
    RunConfig config = load_run_config(*run_file, *overrides);
    if (!output->empty()) config.run.output = *output;
    const TrainOutcome out = run_training(config, comm, invocation);
    if (!world.is_root()) return;
    if (out.already_completed) {
      std::printf("nothing to resume: %s is completed (%lld steps, parameter checksum %s)\n", out.log_path.c_str(),
                  static_cast<long long>(out.steps), checksum_hex(out.checksum).c_str());
      return;
    }
    std::printf("%lld steps in %.1f s; task %s\n", static_cast<long long>(out.steps), out.seconds, out.task.c_str());
    if (!out.engine_report.empty()) std::printf("%s\n", out.engine_report.c_str());
    if (out.initial_loss && out.final_loss)
      std::printf("loss before %.6f, after %.6f (mean token loss over the %s training split)\n", *out.initial_loss,
                  *out.final_loss, config.task.name.c_str());
    if (out.initial_dev && out.best_dev)
      std::printf("dev %s before %.6f, selected %.6f (the weights after step %lld)\n", out.metric.c_str(),
                  *out.initial_dev, *out.best_dev, static_cast<long long>(*out.selected_step));
    if (out.test) std::printf("test %s %.6f (selected weights)\n", out.test_metric.c_str(), *out.test);
    std::printf("parameter checksum %s\n", checksum_hex(out.checksum).c_str());
    std::printf("run log: %s\n  look at it: zotune show %s   (curves: zotune-plot %s; Python: zotune_log.load)\n",
                out.log_path.c_str(), out.log_path.c_str(), out.log_path.c_str());
    if (!config.run.save.empty()) std::printf("weights: %s\n", config.run.save.c_str());
  });
}

void register_eval(CLI::App& app) {
  auto* cmd = app.add_subcommand("eval", "Loss and metric (accuracy, F1) of a run file's task splits under its model (zero-shot) or other weights");
  auto* run_file = new std::string;
  auto* weights = new std::string;
  auto* splits_wanted = new std::string("train,dev,test");
  cmd->add_option("run_file", *run_file, "run file (.yaml)")->required();
  auto* overrides = add_overrides_option(cmd);
  cmd->add_option("--weights", *weights,
                  "weights to evaluate instead of model.path's (a .safetensors file beside its config.json, as "
                  "run.save and zotune replay --out leave it; the tokenizer still comes from model.path)");
  auto* shard = new std::string;
  cmd->add_option("--shard", *shard,
                  "I/N: score only the examples whose index is I mod N, so N processes share a split (their means, "
                  "weighted by the example counts printed, give the split's)");
  cmd->add_option("--splits", *splits_wanted, "the splits to score, comma separated")->capture_default_str();
  cmd->callback([=] {
    int shard_index = 0, shard_count = 1;
    if (!shard->empty()) {
      const size_t slash = shard->find('/');
      try {
        check(slash != std::string::npos, "");
        shard_index = std::stoi(shard->substr(0, slash));
        shard_count = std::stoi(shard->substr(slash + 1));
      } catch (const std::exception&) {
        shard_count = 0;
      }
      check(shard_count >= 1 && shard_index >= 0 && shard_index < shard_count,
            "--shard: expected I/N with 0 <= I < N, got '" + *shard + "'");
    }
    const RunConfig config = load_run_config(*run_file, *overrides);
    const LoadOptions load = task_load_options(config);
    // The run's engine (engine.device): a GPU evaluates as training would. Replayed weights
    // (--weights) load on the host, their tokenizer coming from model.path.
    const auto load_scored_model = [&]() -> Pretrained {
      if (!weights->empty()) {
        check(config.engine.device == EngineDevice::CPU,
              "zotune eval --weights: replayed weights are scored on the CPU engine; set engine.device=cpu");
        return Pretrained{load_model(*weights, load), load_tokenizer(config.model.path), {}};
      }
      Communicator single = Communicator::world();
      check(single.size() == 1, "zotune eval runs as one process (use --shard I/N to share a split)");
      return load_on_engine(config.model.path, load, config.engine, CommBackend::MPI, single);
    };
    const Pretrained scored = load_scored_model();
    Model* const model = scored.model.get();
    const Tokenizer& tokenizer = scored.tokenizer;
    const TaskSplits splits = make_task_splits(config, tokenizer, model->config());
    std::printf("task %s\n", splits.description.c_str());
    const int chunk = static_cast<int>(config.data.batch_size);
    const std::pair<const char*, Task*> named[] = {
        {"train", splits.train.get()}, {"dev", splits.dev.get()}, {"test", splits.test.get()}};
    for (const auto& [name, task] : named) {
      if (!task || ("," + *splits_wanted + ",").find("," + std::string(name) + ",") == std::string::npos) continue;
      const SplitScore score = score_split(*task, *model, chunk, true, true, shard_index, shard_count);
      std::printf("%-5s %5d examples  loss %.6f", name, score.examples, *score.loss);
      if (score.metric) std::printf("  %s %.4f", metric_name(*task).c_str(), *score.metric);
      std::printf("\n");
    }
  });
}

}  // namespace zotune::cli
