// Putting a run's model on its engine (engine.device): the CPU reference engine, or one GPU
// per rank. With the NCCL backend rank 0 alone reads the weights and the other ranks receive
// them GPU to GPU; with MPI every rank receives the host buffers (replicated_load) and
// uploads them. A rank that reads the file itself on the GPU engine (a single rank, or NCCL's
// rank 0) loads it straight onto its GPU (core/cuda/device_load.h: GGUF dequantized there).
#pragma once
#include <optional>
#include <string>

#include "core/config/run_config.h"
#include "core/model/pretrained.h"
#include "distributed/communicator.h"

namespace zotune {

// load_pretrained_replicated onto the engine of `settings`; attaches NCCL to `comm` when
// `backend` is nccl. Errors (no GPU, more ranks than GPUs, nccl without cuda, a build without
// CUDA) name the engine key.
Pretrained load_on_engine(const std::string& model_path, const LoadOptions& options, const EngineSettings& settings,
                          CommBackend backend, Communicator& comm);

// "cuda: NVIDIA H200, sm_90, 139.8 GiB (device 0)" or "cpu: <model> (N threads)".
std::string engine_description(const Model& model);
// Peak bytes of GPU memory the engine has held (weights, activations, snapshots), or nullopt
// for a host model.
std::optional<double> peak_device_bytes(const Model& model);

}  // namespace zotune
