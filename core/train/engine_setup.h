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

// Bytes one probe group adds to a batched forward (engine.probe_batch), per token of its copy
// of the minibatch: a generous count of what the CUDA forward holds at once, in fp32 (hidden
// states and their residual and norm copies, q/k/v and the attention output: 12 x hidden; the
// MLP's intermediate and its gate: 3 x intermediate; the PEFT modules' widened copies: 4 x
// hidden) plus the logits (vocab, fp32), the largest part for language-modeling losses.
double probe_group_bytes_per_token(const ModelConfig& config);
// How many probe groups of `tokens_per_group` tokens one batched forward may hold: unlimited
// (INT_MAX) on the host engine; on a GPU, 90% of its free memory shared evenly by the ranks
// of this host on the same device (engine.share_gpus), over probe_group_bytes_per_token.
// At least 1.
int probe_groups_that_fit(const Model& model, int64_t tokens_per_group);

}  // namespace zotune
