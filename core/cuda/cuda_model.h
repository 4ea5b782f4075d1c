// CudaModel: a Model whose parameters and forward pass live on one GPU. The parameters are the
// host model's ParamStore layout (same names, offsets and flat global indices: the Philox
// counters) in one device buffer per dtype; the forward pass is the CPU engine's, op for op,
// over kernels/cuda, with activations in the storage dtype, the residual stream and the
// statistics in fp32, and GEMMs on tensor cores with fp32 accumulation. Each batch shape's
// forward is captured once as a CUDA graph and replayed; inside a forward the host waits only
// for the results it returns (logits at the requested rows, or their losses).
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/model/model.h"

namespace zotune::cuda {

struct CudaOptions {
  int device = 0;           // CUDA device index
  bool tf32 = true;         // fp32 GEMMs on TF32 tensor cores
  bool graphs = true;       // capture and replay the forward pass per batch shape
};

class CudaModel final : public Model {
 public:
  // Copies `host`'s parameters (allocated and filled) to the GPU. The host buffers stay as the
  // staging copy that sync_params_to_host() refreshes.
  static std::unique_ptr<CudaModel> from_host(std::unique_ptr<Model> host, const CudaOptions& options);
  // The shapes of `config` with parameters drawn on the GPU (N(0, 0.02) weights, unit norm
  // weights, zero biases) and no host copy: benchmarks of 13B shapes without 26 GB of host work.
  static std::unique_ptr<CudaModel> random(const ModelConfig& config, DType dtype, uint64_t seed,
                                           const CudaOptions& options);
  // The shapes of `config` on the GPU, zero-filled: a rank that receives the weights by
  // broadcast from rank 0's GPU.
  static std::unique_ptr<CudaModel> uninitialized(const ModelConfig& config, DType dtype, const CudaOptions& options);
  ~CudaModel() override;

  // As Model::forward. A KV cache (generation) is not supported on the device yet: Error.
  std::vector<float> forward(const Batch& batch, const std::vector<int64_t>& rows = {},
                             KVCache* cache = nullptr) override;
  // The cross-entropy runs on the device; only rows.size() doubles come back.
  std::vector<double> row_losses(const Batch& batch, const std::vector<int64_t>& rows,
                                 const std::vector<int32_t>& targets) override;
  bool on_device() const override { return true; }
  void sync_params_to_host() override;

  // Device address of a parameter, and of the flat buffer of a dtype (null when empty).
  void* device_data(const ParamView& view) const;
  void* device_buffer(DType t) const;
  void* stream() const;  // the cudaStream_t every launch of this model runs on
  int device() const;
  void synchronize() const;
  // Graphs captured so far (tests: a shape seen twice is replayed, not captured again).
  int graphs_captured() const;

 private:
  CudaModel(const ModelConfig& config, DType dtype, ParamStore layout, const CudaOptions& options);
  struct State;
  // Runs the forward pass for `batch` on the device (inputs staged, graph replayed or captured)
  // and returns the device address of its [n, width] fp32 output; with targets, of the fp64
  // losses of the rows instead.
  const void* run(const Batch& batch, const std::vector<int64_t>& rows, const std::vector<int32_t>* targets,
                  int* out_rows);
  std::unique_ptr<State> s_;
};

}  // namespace zotune::cuda
