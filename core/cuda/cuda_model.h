// CudaModel: a Model whose parameters and forward pass live on one GPU. The parameters are the
// host model's ParamStore layout (same names, offsets and flat global indices: the Philox
// counters) in one device buffer per dtype; the forward pass is the CPU engine's, op for op,
// over kernels/cuda, with activations in the storage dtype, the residual stream and the
// statistics in fp32, and GEMMs on tensor cores with fp32 accumulation. Each batch shape's
// forward is captured once as a CUDA graph and replayed; inside a forward the host waits only
// for the results it returns (logits at the requested rows, or their losses). Generation keeps
// its KV cache on the device (make_cache); those forwards run eagerly.
// LoRA and the tensorized adapters (fp32 tensors in the fp32 buffer) run through
// core/cuda/device_peft.h, prefix-tuning through core/cuda/device_prefix.h.
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
  // Forwards whose head reads some rows run on the real tokens only (engine.unpadded;
  // core/model/packed_tokens.h): GEMMs and row-wise ops skip the padding, attention runs on the
  // padded layout.
  bool unpadded = false;
};

class CudaModel final : public Model {
 public:
  // Copies `host`'s parameters (allocated and filled) to the GPU. The host buffers stay as the
  // staging copy that sync_params_to_host() refreshes.
  static std::unique_ptr<CudaModel> from_host(std::unique_ptr<Model> host, const CudaOptions& options);
  // The shapes of `config` with parameters drawn on the GPU (N(0, 0.02) weights, unit norm
  // weights, zero biases) and no host copy: benchmarks of 13B shapes without 26 GB of host work.
  // With `peft`, the modules are declared too and drawn like the weights (N(0, 0.02), biases
  // zero: LoRA's B is then nonzero, unlike its initialization; a benchmark's values only).
  static std::unique_ptr<CudaModel> random(const ModelConfig& config, DType dtype, uint64_t seed,
                                           const CudaOptions& options, const PeftSettings& peft = {});
  // The shapes of `config` (with the PEFT modules `peft` declares) on the GPU, zero-filled: a
  // rank that receives the weights by broadcast from rank 0's GPU.
  static std::unique_ptr<CudaModel> uninitialized(const ModelConfig& config, DType dtype, const CudaOptions& options,
                                                  const PeftSettings& peft = {});
  ~CudaModel() override;

  // As Model::forward. With a KV cache (one from this model's make_cache) the keys and values
  // stay on the device, the pass runs eagerly (never captured or replayed as a graph), and
  // only the logits of `rows` come back.
  std::vector<float> forward(const Batch& batch, const std::vector<int64_t>& rows = {},
                             KVCache* cache = nullptr) override;
  // A cache whose keys and values live on this GPU (KVCache::device; the host vectors k, v stay
  // empty), in kv_cache_dtype(): 2 * layers * batch * capacity * n_kv_heads * head_dim elements.
  KVCache make_cache(int batch, int capacity) const override;
  // The storage dtype, or fp16 for fp32 weights on TF32: the dtype the attention kernels read
  // q, k and v in (fp32 with TF32 runs attention on fp16 tensor cores, cached or not).
  DType kv_cache_dtype() const;
  // The cross-entropy runs on the device; only rows.size() doubles come back.
  std::vector<double> row_losses(const Batch& batch, const std::vector<int64_t>& rows,
                                 const std::vector<int32_t>& targets) override;
  bool on_device() const override { return true; }
  void sync_params_to_host() override;
  // Batched probes (Model::begin_probe_groups): the bank of PEFT copies lives on the device;
  // store_probe_group is one device-to-device copy of the PEFT region on the model's stream.
  void begin_probe_groups(int groups) override;
  void store_probe_group(int group) override;
  void end_probe_groups() override;

  // Device address of a parameter, and of the flat buffer of a dtype (null when empty).
  void* device_data(const ParamView& view) const;
  void* device_buffer(DType t) const;
  void* stream() const;  // the cudaStream_t every launch of this model runs on
  int device() const;
  void synchronize() const;
  // Graphs captured so far (tests: a shape seen twice is replayed, not captured again).
  int graphs_captured() const;
  // One line on how the forwards ran so far: replayed, captured, eager, cached; graph drops;
  // with engine.unpadded, how many head-row forwards ran packed.
  std::string engine_report() const override;

 private:
  CudaModel(const ModelConfig& config, DType dtype, ParamStore layout, const CudaOptions& options);
  struct State;
  // Runs the forward pass for `batch` on the device (inputs staged, graph replayed or captured;
  // eagerly with a cache, which it appends to) and returns the device address of its [n, width]
  // fp32 output; with targets, of the fp64 losses of the rows instead.
  const void* run(const Batch& batch, const std::vector<int64_t>& rows, const std::vector<int32_t>* targets,
                  int* out_rows, KVCache* cache);
  std::unique_ptr<State> s_;
};

}  // namespace zotune::cuda
