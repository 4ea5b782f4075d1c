#include "core/train/engine_setup.h"

#include <algorithm>
#include <fstream>
#include <limits>
#include <optional>
#include <thread>

#include "core/train/replicated_load.h"
#include "core/util/error.h"
#include "distributed/gpu_assignment.h"

#ifdef ZOTUNE_HAVE_CUDA
#include "core/cuda/cuda_model.h"
#include "core/cuda/device_load.h"
#include "core/cuda/device_memory.h"
#include "kernels/cuda/device.cuh"
#endif

namespace zotune {

namespace {

std::string cpu_description() {
  std::ifstream in("/proc/cpuinfo");
  std::string line, model = "unknown CPU";
  while (std::getline(in, line))
    if (line.rfind("model name", 0) == 0) {
      model = line.substr(line.find(':') + 2);
      break;
    }
  return "cpu: " + model + " (" + std::to_string(std::thread::hardware_concurrency()) + " threads)";
}

#ifdef ZOTUNE_HAVE_CUDA
// The model at model_path read straight onto this rank's GPU (GGUF dequantized there, see
// core/cuda/device_load.h), with its tokenizer.
Pretrained load_pretrained_on_device(const std::string& model_path, const LoadOptions& options,
                                     const cuda::CudaOptions& cuda_options) {
  LoadReport report;
  std::unique_ptr<Model> model = cuda::load_model_on_device(model_path, options, cuda_options, &report);
  return with_tokenizer(model_path, std::move(model), std::move(report));
}
#endif

}  // namespace

Pretrained load_on_engine(const std::string& model_path, const LoadOptions& options, const EngineSettings& settings,
                          CommBackend backend, Communicator& comm) {
  check(backend != CommBackend::NCCL || settings.device == EngineDevice::CUDA,
        "distributed.backend: nccl exchanges on the GPU; it needs engine.device: cuda");
  if (settings.device == EngineDevice::CPU) return load_pretrained_replicated(model_path, options, comm);
#ifndef ZOTUNE_HAVE_CUDA
  throw Error("engine.device: cuda, but this zotune was built without CUDA (ZOTUNE_CUDA=OFF)");
#else
  cuda::CudaOptions cuda_options;
  cuda_options.device = assign_gpu(local_rank(), local_size(), cuda::device_count(), settings.share_gpus);
  cuda_options.tf32 = settings.tf32;
  cuda_options.graphs = settings.cuda_graphs;
  cuda_options.unpadded = settings.unpadded;
  if (backend == CommBackend::MPI || comm.size() == 1) {
    if (backend == CommBackend::NCCL) comm.use_nccl(cuda_options.device);
    if (comm.size() == 1) return load_pretrained_on_device(model_path, options, cuda_options);
    Pretrained p = load_pretrained_replicated(model_path, options, comm);  // MPI broadcasts host buffers
    p.model = cuda::CudaModel::from_host(std::move(p.model), cuda_options);
    return p;
  }
  // NCCL: rank 0 reads and uploads; its outcome is broadcast first (replicated_load's rule:
  // no rank waits in a broadcast that never comes), then every dtype buffer GPU to GPU.
  comm.use_nccl(cuda_options.device);
  std::string error;
  std::optional<Pretrained> p;
  if (comm.rank() == 0) {
    try {
      p.emplace(load_pretrained_on_device(model_path, options, cuda_options));
    } catch (const std::exception& e) {
      error = e.what();
    }
  }
  comm.broadcast(error, 0);
  if (!error.empty()) throw Error(error);
  if (comm.rank() != 0)
    p.emplace(Pretrained{cuda::CudaModel::uninitialized(load_model_config(model_path, options), options.dtype, cuda_options,
                                                        options.peft),
                         load_tokenizer(model_path), LoadReport{}});
  auto& model = static_cast<cuda::CudaModel&>(*p->model);
  for (DType t : {DType::F32, DType::F16, DType::BF16}) {
    const size_t bytes = static_cast<size_t>(model.params().numel(t)) * dtype_size(t);
    if (bytes) comm.broadcast_device(model.device_buffer(t), bytes, 0);
  }
  return std::move(*p);
#endif
}

std::string engine_description(const Model& model) {
#ifdef ZOTUNE_HAVE_CUDA
  if (model.on_device()) {
    const int device = static_cast<const cuda::CudaModel&>(model).device();
    return "cuda: " + cuda::device_description(device) + " (device " + std::to_string(device) + ")";
  }
#endif
  return cpu_description();
}

double probe_group_bytes_per_token(const ModelConfig& c) {
  return 4.0 * (16.0 * c.hidden_size + 3.0 * c.intermediate_size + c.vocab_size);
}

int probe_groups_that_fit(const Model& model, int64_t tokens_per_group) {
#ifdef ZOTUNE_HAVE_CUDA
  if (model.on_device()) {
    const int devices = std::max(1, cuda::device_count());
    const int device = static_cast<const cuda::CudaModel&>(model).device();
    // Ranks of this host wrap round the devices (assign_gpu): those on `device`.
    const int sharing = std::max(1, local_size() / devices + (device < local_size() % devices ? 1 : 0));
    const double usable = 0.9 * static_cast<double>(cuda::device_bytes_free()) / sharing;
    const double per_group = probe_group_bytes_per_token(model.config()) * static_cast<double>(std::max<int64_t>(1, tokens_per_group));
    return static_cast<int>(std::clamp(usable / per_group, 1.0, 1e6));
  }
#endif
  (void)model, (void)tokens_per_group;
  return std::numeric_limits<int>::max();
}

std::optional<double> peak_device_bytes(const Model& model) {
#ifdef ZOTUNE_HAVE_CUDA
  if (model.on_device()) return static_cast<double>(cuda::device_bytes_peak());
#endif
  return std::nullopt;
}

}  // namespace zotune
