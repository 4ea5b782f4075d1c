// zotune replay RUN.h5: the trained weights rebuilt from the initial weights and the run log's
// update record (the log is the checkpoint), checked against the log's final checksum.
#include <cstdio>
#include <map>
#include <optional>
#include <string>

#include "core/cli/commands.h"
#include "core/cli/replayed_model.h"
#include "core/train/hf_export.h"
#include "core/train/save_weights.h"
#include "core/util/error.h"

namespace zotune::cli {

void register_replay(CLI::App& app) {
  auto* cmd = app.add_subcommand("replay", "Rebuild a run's trained weights from its HDF5 log and the initial weights");
  auto* log_path = new std::string;
  auto* base = new std::string;
  auto* out = new std::string;
  auto* steps = new int64_t(-1);
  cmd->add_option("run_log", *log_path, "run log (.h5) written by zotune train")->required();
  cmd->add_option("--base", *base, "the initial model (default: model.path of the log's run file)");
  cmd->add_option("--out", *out,
                  "where the replayed weights go: a directory gets a Hugging Face export (docs/EXPORT.md: model "
                  "directory, or PEFT adapter for LoRA), a .safetensors file zotune's own weights file (config.json "
                  "and tokenizer.json of the base copied beside it when none are there); without it the replay is "
                  "only checked");
  auto* steps_option = cmd->add_option("--steps", *steps, "replay only the first N logged steps (e.g. the best dev step)");
  auto* device = new std::string;
  cmd->add_option("--device", *device,
                  "engine to replay on: cpu or cuda (default: the run's engine.device; only the run's own engine "
                  "reproduces its checksum, as the GPU's normals differ from the CPU's in the last bits)")
      ->check(CLI::IsMember({"cpu", "cuda"}));
  auto* merge_lora = new bool(false);
  cmd->add_flag("--merge-lora", *merge_lora,
                "with --out DIR of a LoRA run: also write DIR/merged/, the base with the adapter merged in");
  cmd->callback([=] {
    ReplayedModel replayed = replay_model(*log_path, *base, *device,
                                          steps_option->count() > 0 ? std::optional<int64_t>(*steps) : std::nullopt);
    if (out->empty()) {
      std::printf("no --out given: weights not written\n");
      return;
    }
    const std::map<std::string, std::string> metadata = {{"zotune_run_log", replayed.log_path},
                                                         {"zotune_steps", std::to_string(replayed.result.steps_replayed)},
                                                         {"zotune_checksum", replayed.checksum}};
    replayed.model->sync_params_to_host();
    if (is_directory_export(*out)) {
      HfExportOptions options;
      options.base_path = replayed.model_path;
      options.merge_lora = *merge_lora;
      options.metadata = metadata;
      print_export(*out, export_hf(*out, *replayed.model, options));
      return;
    }
    check(!*merge_lora, *out + ": --merge-lora needs --out to name a directory (an export), not a .safetensors file");
    SaveWeightsOptions save;
    save.model_path = replayed.model_path;
    save.metadata = metadata;
    save_weights(*out, *replayed.model, save);
    std::printf("weights: %s\n  use them: zotune eval RUN.yaml --weights %s\n", out->c_str(), out->c_str());
  });
}

}  // namespace zotune::cli
