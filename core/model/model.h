// Model: a transformer whose parameters live in one ParamStore, with a straight-line
// forward pass per architecture (opt.cpp, bert.cpp, llama.cpp). Activations are fp32;
// weights are stored in the run's dtype (fp32, fp16 or bf16).
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/model/config.h"
#include "core/peft/peft_modules.h"
#include "core/tensor/param_store.h"

namespace zotune {

class GgufFile;  // core/io/gguf.h
struct GgufTensor;

// A padded batch of token sequences, row-major [batch, seq_len]. Padding may be on either
// side; mask says which slots hold real tokens.
struct Batch {
  int batch = 0;
  int seq_len = 0;
  std::vector<int32_t> ids;          // [batch * seq_len]
  std::vector<uint8_t> mask;         // [batch * seq_len], 1 = real token, 0 = padding
  std::vector<int32_t> token_types;  // [batch * seq_len] or empty (zeros); BERT segment ids

  // Pads `sequences` to the longest one on the given side with pad_id.
  static Batch from_sequences(const std::vector<std::vector<int32_t>>& sequences, int32_t pad_id,
                              bool pad_left = false);
  // The batch `copies` times over, copy g in sequences [g batch, (g + 1) batch): the input of a
  // forward with that many probe groups (Model::begin_probe_groups).
  Batch repeated(int copies) const;
};

// Flat token rows of a batch, repeated for `copies` copies of a batch of `tokens` tokens: copy
// g's rows are rows + g * tokens, copies in order.
std::vector<int64_t> repeat_rows(const std::vector<int64_t>& rows, int copies, int64_t tokens);

// The keys and values a device engine keeps for a KVCache (core/cuda/cuda_model.cpp defines
// the CUDA engine's): opaque to the host code; the engine that made it checks it is its own.
struct DeviceKVStorage {
  virtual ~DeviceKVStorage() = default;
};

// Keys and values of earlier tokens, for decoders: generation feeds one token at a time.
// Layout per layer: [batch, capacity, n_kv_heads * head_dim] fp32. Real tokens only: a prefix
// (prefix-tuning) is not cached, every attention call prepends it from the parameters.
// Made by Model::make_cache of the model that reads it: the CPU engine's keeps k, v in the host
// vectors; a device engine's leaves them empty and keeps them in `device` instead. The
// bookkeeping (length, valid, real_tokens) is on the host for both.
struct KVCache {
  int batch = 0;
  int capacity = 0;
  int length = 0;                      // slots used (equal across the batch)
  std::vector<std::vector<float>> k, v;  // per layer
  std::vector<uint8_t> valid;          // [batch, capacity]: the slot holds a real token
  std::vector<int32_t> real_tokens;    // per sequence: real tokens cached (the next position)
  // Device-side keys and values (null for a host cache). Copies of a KVCache share them.
  std::shared_ptr<DeviceKVStorage> device;
};

class Model {
 public:
  virtual ~Model() = default;
  const ModelConfig& config() const { return config_; }
  ParamStore& params() { return params_; }
  const ParamStore& params() const { return params_; }
  DType dtype() const { return dtype_; }
  // The PEFT modules (adapters, LoRA) whose tensors sit in params() beside the backbone's;
  // empty for a plain model. The CPU forward passes call their hooks.
  PeftModules& peft() { return peft_; }
  const PeftModules& peft() const { return peft_; }
  // Fills the PEFT tensors from `seed` (PeftModules::initialize) once the backbone weights are in
  // place; for prefix-tuning with peft.prefix_init real_act it then runs the plain backbone (no
  // prefix) on prefix_init_tokens(seed, prefix_tokens, vocab) as one sequence at positions
  // 0 .. prefix_tokens - 1 and keeps each layer's keys (after RoPE) and values of those tokens as
  // the prefix (MeZO's init_by_real_act). A pure function of (seed, backbone weights, settings):
  // the load paths call it on rank 0 (the buffers are then broadcast) and replay calls it again.
  void initialize_peft(uint64_t seed);

  // Logits, fp32, row-major:
  //  - causal / masked LM: [rows.size(), vocab] at the flat token indices rows (b * seq_len + t);
  //    rows empty means every token ([batch * seq_len, vocab]). Only these rows go through
  //    the final norm and the vocabulary projection.
  //  - sequence classification: [batch, num_labels] (rows ignored);
  //  - base (no head): hidden states [batch * seq_len, hidden] (rows ignored).
  // With a cache (decoders only), the batch's tokens follow the cached ones.
  virtual std::vector<float> forward(const Batch& batch, const std::vector<int64_t>& rows = {},
                                     KVCache* cache = nullptr) = 0;

  // Next-token losses in fp64: loss[r] = logsumexp(logits[rows[r]]) - logits[rows[r], targets[r]]
  // for the causal / masked LM logits forward(batch, rows) gives. Only these rows.size()
  // numbers leave the engine (a GPU model computes them on the device).
  virtual std::vector<double> row_losses(const Batch& batch, const std::vector<int64_t>& rows,
                                         const std::vector<int32_t>& targets);

  // Where the parameters live. A device model (core/cuda) keeps the authoritative copy on its
  // GPU: params() then holds the names and shapes, and its host buffers are current only after
  // sync_params_to_host() (saving, host checksums).
  virtual bool on_device() const { return false; }
  virtual void sync_params_to_host() {}
  // A line on how this engine ran its forwards (zotune train prints it at the end); empty
  // where there is nothing to say (the CPU engine).
  virtual std::string engine_report() const { return {}; }

  // ---- Batched probes (engine.probe_batch, the PEFT modes): every probe of a step differs only
  // in the PEFT modules, so G probes can share one forward over G copies of the minibatch.
  // begin_probe_groups(G) makes room for G copies of the modules (PeftModules' bank);
  // store_probe_group(g) copies the modules as they are now (a probe's point) into copy g;
  // until end_probe_groups(), every forward's batch is G equal blocks of sequences, block g
  // run with copy g (PeftModules::set_probe_groups). Refused without PEFT modules.
  virtual void begin_probe_groups(int groups);
  virtual void store_probe_group(int group);
  virtual void end_probe_groups();
  int probe_groups() const { return peft_.probe_groups(); }

  // Width of one output row of forward().
  int output_width() const;
  // An empty cache for `batch` sequences of up to `capacity` tokens (decoders only), in the
  // form this engine's forward reads: host vectors here, device buffers on a device engine.
  virtual KVCache make_cache(int batch, int capacity) const;

 protected:
  Model(ModelConfig config, DType dtype) : config_(std::move(config)), dtype_(dtype) {}
  // Named weight access for the forward passes (throws naming the tensor when absent).
  const void* w(const std::string& name) const { return params_.data(params_.at(name)); }
  const void* w_or_null(const std::string& name) const {
    const ParamView* v = params_.find(name);
    return v ? params_.data(*v) : nullptr;
  }
  const ParamView& declare(const std::string& name, std::vector<int64_t> shape) {
    return params_.declare(name, dtype_, std::move(shape));
  }
  void check_batch(const Batch& b) const;
  // row_losses' arguments: one target per row, each inside the vocabulary.
  void check_row_targets(const std::vector<int64_t>& rows, const std::vector<int32_t>& targets) const;

  ModelConfig config_;
  DType dtype_;
  ParamStore params_;
  PeftModules peft_;
  std::vector<float> probe_bank_;  // the CPU engine's bank: [groups, peft region]
  int bank_groups_ = 0;            // copies begin_probe_groups made room for (0: not begun)
};

// Builds the model of `config` with every parameter declared (not yet filled) and allocated,
// the PEFT modules `peft` asks for declared after the backbone (PeftModules::initialize fills them).
std::unique_ptr<Model> create_model(const ModelConfig& config, DType dtype, const PeftSettings& peft = {});
// The same with every parameter declared and nothing allocated: the names, shapes and flat
// offsets a device engine lays out its own buffers by.
std::unique_ptr<Model> declare_model(const ModelConfig& config, DType dtype, const PeftSettings& peft = {});

struct LoadOptions {
  DType dtype = DType::F32;
  // Head to build instead of the one config.json's "architectures" implies (e.g. a
  // classification head on a sentence-embedding model). Parameters the file lacks for it
  // are initialized from `init_seed` (and listed in LoadReport::initialized).
  bool override_head = false;
  HeadKind head = HeadKind::CausalLM;
  int num_labels = 2;
  uint64_t init_seed = 0;
  // PEFT modules to declare after the backbone and initialize from peft.seed once the weights
  // are read (every load path declares the same tensors: the broadcast sends whole buffers).
  PeftSettings peft;
};

struct LoadReport {
  std::string format;                   // "safetensors" or "gguf"
  std::vector<std::string> initialized;  // parameters not in the file, freshly initialized
  std::vector<std::string> unused;       // tensors in the file the model does not use
};

// `path`: a Hugging Face model directory (config.json + model.safetensors or a sharded
// index) or a .gguf file. Errors name the file and tensor (missing, wrong shape, ...).
std::unique_ptr<Model> load_model(const std::string& path, const LoadOptions& options = {},
                                  LoadReport* report = nullptr);

// The config load_model(path, options) builds its model from (the head override applied),
// reading only config.json or the GGUF metadata: for ranks that receive the weights by
// broadcast instead of reading them.
ModelConfig load_model_config(const std::string& path, const LoadOptions& options = {});

// GGUF loading, shared by load_model (dequantized on the host) and the CUDA engine's loader
// (core/cuda/device_load.h: dequantized on the GPU), so both put the same tensor into the same
// parameter. The config of a GGUF file (GGUF models have their causal LM head only: an
// options.head override to another head is an Error naming the file).
ModelConfig gguf_model_config(const GgufFile& file, const LoadOptions& options);
// Fills one parameter `view` from the file tensor `tensor` (same shape, already checked).
// rotary_head_dim > 0: a llama q/k projection whose rows llama.cpp's converter interleaved per
// head; parameter row r is file row gguf_rotary_source_row(r, rotary_head_dim).
using GgufParamWriter = std::function<void(const GgufTensor& tensor, const ParamView& view, int rotary_head_dim)>;
// Calls `write` for every backbone parameter of `params` (declared from `config`, which came
// from this file; PEFT tensors are skipped: the caller initializes them). Errors name the file
// and tensor (missing, wrong shape); fills report->format and report->unused.
void read_gguf_params(const GgufFile& file, const ModelConfig& config, const ParamStore& params,
                      const GgufParamWriter& write, LoadReport* report);
// The file row behind Hugging Face row `row` of a q/k projection: llama.cpp interleaves the
// two rotary halves of every head (its RoPE pairs neighbours), rotate_half keeps them apart.
int64_t gguf_rotary_source_row(int64_t row, int head_dim);

}  // namespace zotune
