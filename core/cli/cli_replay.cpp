// zotune replay RUN.h5: the trained weights rebuilt from the initial weights and the run log's
// update record (the log is the checkpoint), checked against the log's final checksum.
#include <cstdio>
#include <optional>
#include <string>

#include "core/cli/commands.h"
#include "core/log/run_log_reader.h"
#include "core/train/replay.h"
#include "core/train/run_setup.h"
#include "core/train/run_training.h"
#include "core/train/save_weights.h"
#include "core/util/error.h"
#ifdef ZOTUNE_HAVE_CUDA
#include "core/cuda/cuda_model.h"
#endif

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
                  "safetensors file for the replayed weights (config.json and tokenizer.json of the base are "
                  "copied beside it when none are there); without it the replay is only checked");
  auto* steps_option = cmd->add_option("--steps", *steps, "replay only the first N logged steps (e.g. the best dev step)");
  auto* device = new std::string;
  cmd->add_option("--device", *device,
                  "engine to replay on: cpu or cuda (default: the run's engine.device; only the run's own engine "
                  "reproduces its checksum, as the GPU's normals differ from the CPU's in the last bits)")
      ->check(CLI::IsMember({"cpu", "cuda"}));
  cmd->callback([=] {
    const RunLogReader log = RunLogReader::open(*log_path);
    const RunConfig config = logged_run_config(log);
    const std::string model_path = base->empty() ? config.model.path : *base;
    // The run's dtype, PEFT tensors and fresh classification head, initialized as it did them.
    std::unique_ptr<Model> model = load_model(model_path, replay_load_options(config, model_path));
    const bool on_gpu = device->empty() ? config.engine.device == EngineDevice::CUDA : *device == "cuda";
    if (on_gpu) {
#ifdef ZOTUNE_HAVE_CUDA
      cuda::CudaOptions cuda_options;
      cuda_options.tf32 = config.engine.tf32;
      model = cuda::CudaModel::from_host(std::move(model), cuda_options);
#else
      throw Error(log.path() + ": the run trained on engine.device: cuda; this zotune was built without CUDA");
#endif
    }
    ReplayOptions options;
    if (steps_option->count() > 0) {
      check(*steps >= 0, "--steps: " + std::to_string(*steps) + " is negative");
      options.steps = *steps;
    }
    const ReplayResult r = replay_run(*model, log, options);
    std::printf("replayed %lld of %lld logged steps of %s onto %s (%s, %llu trainable parameters)\n",
                static_cast<long long>(r.steps_replayed), static_cast<long long>(r.steps_logged), log.path().c_str(),
                model_path.c_str(), std::string(choice_name(config.model.dtype)).c_str(),
                static_cast<unsigned long long>(r.trainable_params));
    const std::string sum = checksum_hex(r.checksum);
    if (r.logged_checksum)
      std::printf("parameter checksum %s matches the log's final_checksum\n", sum.c_str());
    else if (r.steps_replayed < r.steps_logged)
      std::printf("parameter checksum %s after step %lld: not compared (the log's final_checksum is of the weights after "
                  "all %lld steps)\n",
                  sum.c_str(), static_cast<long long>(r.steps_replayed), static_cast<long long>(r.steps_logged));
    else
      std::printf("parameter checksum %s: no checksum could be compared (the log has no final_checksum; status: %s)\n",
                  sum.c_str(), r.status.empty() ? "none" : r.status.c_str());
    if (out->empty()) {
      std::printf("no --out given: weights not written\n");
      return;
    }
    SaveWeightsOptions save;
    save.model_path = model_path;
    save.metadata = {{"zotune_run_log", log.path()},
                     {"zotune_steps", std::to_string(r.steps_replayed)},
                     {"zotune_checksum", sum}};
    model->sync_params_to_host();
    save_weights(*out, *model, save);
    std::printf("weights: %s\n  use them: zotune eval RUN.yaml --weights %s\n", out->c_str(), out->c_str());
  });
}

}  // namespace zotune::cli
