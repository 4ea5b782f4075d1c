#include "core/cli/replayed_model.h"

#include <cstdio>

#include "core/log/run_log_reader.h"
#include "core/train/run_training.h"
#include "core/util/error.h"
#ifdef ZOTUNE_HAVE_CUDA
#include "core/cuda/cuda_model.h"
#endif

namespace zotune::cli {

ReplayedModel replay_model(const std::string& log_path, const std::string& base, const std::string& device,
                           std::optional<int64_t> steps) {
  const RunLogReader log = RunLogReader::open(log_path);
  ReplayedModel out;
  out.log_path = log.path();
  out.config = logged_run_config(log);
  out.model_path = base.empty() ? out.config.model.path : base;
  // The run's dtype, PEFT tensors and fresh classification head, initialized as it did them.
  out.model = load_model(out.model_path, replay_load_options(out.config, out.model_path));
  const bool on_gpu = device.empty() ? out.config.engine.device == EngineDevice::CUDA : device == "cuda";
  if (on_gpu) {
#ifdef ZOTUNE_HAVE_CUDA
    cuda::CudaOptions cuda_options;
    cuda_options.tf32 = out.config.engine.tf32;
    cuda_options.unpadded = out.config.engine.unpadded;
    out.model = cuda::CudaModel::from_host(std::move(out.model), cuda_options);
#else
    throw Error(log.path() + ": the run trained on engine.device: cuda; this zotune was built without CUDA");
#endif
  }
  ReplayOptions options;
  if (steps) {
    check(*steps >= 0, "--steps: " + std::to_string(*steps) + " is negative");
    options.steps = *steps;
  }
  const ReplayResult& r = out.result = replay_run(*out.model, log, options);
  std::printf("replayed %lld of %lld logged steps of %s onto %s (%s, %llu trainable parameters)\n",
              static_cast<long long>(r.steps_replayed), static_cast<long long>(r.steps_logged), log.path().c_str(),
              out.model_path.c_str(), std::string(choice_name(out.config.model.dtype)).c_str(),
              static_cast<unsigned long long>(r.trainable_params));
  out.checksum = checksum_hex(r.checksum);
  const std::string& sum = out.checksum;
  if (r.logged_checksum)
    std::printf("parameter checksum %s matches the log's final_checksum\n", sum.c_str());
  else if (r.steps_replayed < r.steps_logged)
    std::printf("parameter checksum %s after step %lld: not compared (the log's final_checksum is of the weights after "
                "all %lld steps)\n",
                sum.c_str(), static_cast<long long>(r.steps_replayed), static_cast<long long>(r.steps_logged));
  else
    std::printf("parameter checksum %s: no checksum could be compared (the log has no final_checksum; status: %s)\n",
                sum.c_str(), r.status.empty() ? "none" : r.status.c_str());
  return out;
}

void print_export(const std::string& dir, const HfExportReport& r) {
  std::printf("export (%s): %s\n", r.layout.c_str(), dir.c_str());
  for (const std::string& f : r.written) std::printf("  %s\n", f.c_str());
  if (!r.tokenizer_note.empty()) std::printf("  note: %s\n", r.tokenizer_note.c_str());
  std::printf("  load it: %s\n", r.load_hint.c_str());
}

std::string run_log_of(const std::string& path) {
  const bool yaml = [&] {
    for (const char* ext : {".yaml", ".yml"}) {
      const std::string e(ext);
      if (path.size() >= e.size() && path.compare(path.size() - e.size(), e.size(), e) == 0) return true;
    }
    return false;
  }();
  if (!yaml) return path;
  const RunConfig config = load_run_config(path);
  check(!config.run.output.empty(), path + ": run.output is empty: the run wrote no log to export from");
  return config.run.output;
}

}  // namespace zotune::cli
