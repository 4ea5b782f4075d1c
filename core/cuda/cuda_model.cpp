#include "core/cuda/cuda_model.h"

#include <cuda_runtime.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <set>
#include <tuple>

#include "core/cuda/device_forward.h"
#include "core/cuda/device_memory.h"
#include "core/cuda/device_prefix.h"
#include "core/model/forward_util.h"
#include "core/model/packed_tokens.h"
#include "core/optim/trainable_space.h"
#include "core/util/error.h"
#include "kernels/cuda/convert.cuh"
#include "kernels/cuda/cross_entropy.cuh"
#include "kernels/cuda/device.cuh"
#include "kernels/cuda/gather.cuh"
#include "kernels/cuda/kv_cache.cuh"
#include "kernels/cuda/matmul.cuh"
#include "kernels/cuda/perturb.cuh"

namespace zotune::cuda {

// ---- Arena ----------------------------------------------------------------------------------

namespace {
constexpr size_t kAlign = 256;  // cuBLAS and vector loads like 256-byte aligned operands
size_t aligned(size_t bytes) { return (bytes + kAlign - 1) / kAlign * kAlign; }
}  // namespace

void Arena::begin() {
  if (!overflow_.empty() || high_water_ > main_.bytes()) {
    overflow_.clear();
    main_ = DeviceBuffer();
    main_ = DeviceBuffer(high_water_);
    ++generation_;
  }
  used_ = 0;
}

void* Arena::take(size_t bytes) {
  bytes = aligned(std::max<size_t>(bytes, 1));
  const size_t at = used_;
  used_ += bytes;
  high_water_ = std::max(high_water_, used_);
  if (used_ <= main_.bytes()) return static_cast<char*>(main_.get()) + at;
  // This pass only (the next begin() consolidates). Scratch rewound and taken again at the
  // same offset, as every layer's does, gets the same chunk back.
  for (Overflow& o : overflow_)
    if (o.at == at && o.buffer.bytes() >= bytes) return o.buffer.get();
  overflow_.push_back({at, DeviceBuffer(bytes)});
  return overflow_.back().buffer.get();
}

float* select_rows(const DeviceForward& f, float* x, int C, int* n) {
  if (f.rows == nullptr) {
    *n = f.tokens();
    return x;
  }
  *n = f.n_rows;
  float* sel = f.arena->take<float>(static_cast<size_t>(f.n_rows) * C);
  gather_rows(sel, x, f.rows, f.n_rows, C, f.stream);
  return sel;
}

namespace {

// device_attention on the padded layout: the block's rows are the batch's slots. `padding`:
// whether the rows of padding slots are read afterwards (the padded forward) or not (the
// unpadded forward moves only the real tokens' rows back).
void padded_attention(const DeviceForward& f, void* out, size_t out_elems, const void* block, size_t block_elems,
                      const void* q, const void* k, const void* v, const cpu::AttentionShape& shape,
                      const AttentionStrides& strides, PaddingQueries padding) {
  if (f.type != DType::F32 || !f.blas->allow_tf32()) {
    attention(out, q, k, v, f.type, f.mask, shape, strides, f.stream, padding);
    return;
  }
  const char* base = static_cast<const char*>(block);
  auto at = [&](const void* p) { return static_cast<size_t>(static_cast<const char*>(p) - base) / sizeof(float); };
  const size_t mark = f.arena->mark();
  char* half = static_cast<char*>(f.arena->take(block_elems * 2));
  void* half_out = f.arena->take(out_elems * 2);
  convert(block, DType::F32, half, DType::F16, block_elems, f.stream);
  attention(half_out, half + 2 * at(q), half + 2 * at(k), half + 2 * at(v), DType::F16, f.mask, shape, strides, f.stream,
            padding);
  convert(half_out, DType::F16, out, DType::F32, out_elems, f.stream);
  f.arena->rewind(mark);
}

}  // namespace

void device_attention(const DeviceForward& f, void* out, size_t out_elems, const void* block, size_t block_elems,
                      const void* q, const void* k, const void* v, const cpu::AttentionShape& shape,
                      const AttentionStrides& strides) {
  if (f.packed_of == nullptr) {
    padded_attention(f, out, out_elems, block, block_elems, q, k, v, shape, strides, PaddingQueries::Computed);
    return;
  }
  // The block is `mats` matrices of [tokens, width] (Llama: one, its rows q | k | v; OPT: q, k
  // and v one after another), out one [tokens, out_row]. Both move to the padded slots and back.
  const size_t N = static_cast<size_t>(f.tokens()), P = static_cast<size_t>(f.batch) * f.seq_len;
  const size_t width = static_cast<size_t>(strides.q_row), ts = dtype_size(f.type);
  check(strides.kv_row == strides.q_row && N > 0 && block_elems % (N * width) == 0 &&
            out_elems == N * static_cast<size_t>(strides.out_row),
        "CUDA engine: unpadded attention needs q, k and v rows of one width in whole [tokens, width] matrices");
  const int mats = static_cast<int>(block_elems / (N * width));
  const char* base = static_cast<const char*>(block);
  const size_t mark = f.arena->mark();
  char* padded = static_cast<char*>(f.arena->take(mats * P * width * ts));
  void* padded_out = f.arena->take(P * strides.out_row * ts);
  gather_rows_or_zero(padded, block, f.packed_of, static_cast<int>(P), static_cast<int64_t>(N), width * ts, mats,
                      f.stream);
  // q, k and v at the same matrix and column in the padded block.
  auto moved = [&](const void* p) {
    const size_t at = static_cast<size_t>(static_cast<const char*>(p) - base) / ts;
    const size_t mat = at / (N * width), column = at % (N * width);
    check(column < width, "CUDA engine: unpadded attention: q, k or v does not start in its matrix's first row");
    return padded + (mat * P * width + column) * ts;
  };
  DeviceForward on_slots = f;
  on_slots.packed_of = nullptr;
  padded_attention(on_slots, padded_out, P * strides.out_row, padded, mats * P * width, moved(q), moved(k), moved(v),
                   shape, strides, PaddingQueries::Unused);
  gather_rows_or_zero(out, padded_out, f.padded_of, static_cast<int>(N), static_cast<int64_t>(P),
                      static_cast<size_t>(strides.out_row) * ts, 1, f.stream);
  f.arena->rewind(mark);
}

void device_decoder_attention(const DeviceForward& f, int layer, void* out, size_t out_elems, const void* block,
                              size_t block_elems, const void* q, const void* k, const void* v,
                              const cpu::AttentionShape& shape, const AttentionStrides& strides) {
  if (peft_has_prefix(f)) {  // prefix-tuning: the prefix keys go before the cached and new ones
    device_prefix_attention(f, layer, out, out_elems, block, block_elems, q, k, v, shape, strides);
    return;
  }
  if (f.kv == nullptr) {
    device_attention(f, out, out_elems, block, block_elems, q, k, v, shape, strides);
    return;
  }
  const DeviceKV& kv = *f.kv;
  check(kv.kv_dim == shape.n_kv_heads * shape.head_dim,
        "CUDA engine: the KV cache holds rows of " + std::to_string(kv.kv_dim) + " elements; layer " +
            std::to_string(layer) + " has " + std::to_string(shape.n_kv_heads * shape.head_dim));
  const size_t mark = f.arena->mark();
  // q, k, v and the output in the cache's dtype: an fp32 model on TF32 keeps an fp16 cache
  // and converts the whole block once (as device_attention does), else all is f.type already.
  const void *q_in = q, *k_in = k, *v_in = v;
  void* out_in = out;
  if (kv.type != f.type) {
    check(f.type == DType::F32 && kv.type == DType::F16, "CUDA engine: a KV cache in " + std::string(dtype_name(kv.type)) +
                                                             " for a model in " + dtype_name(f.type));
    const char* base = static_cast<const char*>(block);
    auto at = [&](const void* p) { return static_cast<size_t>(static_cast<const char*>(p) - base) / sizeof(float); };
    char* half = static_cast<char*>(f.arena->take(block_elems * 2));
    out_in = f.arena->take(out_elems * 2);
    convert(block, DType::F32, half, DType::F16, block_elems, f.stream);
    q_in = half + 2 * at(q);
    k_in = half + 2 * at(k);
    v_in = half + 2 * at(v);
  }
  append_kv(kv.layer_keys(layer), kv.layer_values(layer), k_in, v_in, kv.type, shape.batch, shape.q_len, kv.kv_dim,
            strides.kv_row, kv.capacity, kv.length, f.stream);
  // The new queries sit after the cached keys: query i of a sequence is key kv.length + i.
  cpu::AttentionShape cached = shape;
  cached.kv_len = kv.length + shape.q_len;
  cached.q_start = kv.length;
  cached.kv_batch_stride = static_cast<int64_t>(kv.capacity) * kv.kv_dim;
  cached.mask_batch_stride = kv.capacity;
  const AttentionStrides cached_strides{strides.q_row, kv.kv_dim, strides.out_row};
  attention(out_in, q_in, kv.layer_keys(layer), kv.layer_values(layer), kv.type, kv.valid, cached, cached_strides,
            f.stream);
  if (out_in != out) convert(out_in, DType::F16, out, DType::F32, out_elems, f.stream);
  f.arena->rewind(mark);
}

// ---- CudaModel ------------------------------------------------------------------------------

namespace {

// What a captured graph depends on: the batch shape, the head rows and whether it ends in
// the cross-entropy. Input values change between replays; shapes and addresses do not.
// batch, seq_len, n_rows (-1 = every token), losses, probe groups, packed tokens (-1 = padded)
using GraphKey = std::tuple<int, int, int, bool, int, int>;

struct CapturedGraph {
  cudaGraphExec_t exec = nullptr;
  void* inputs = nullptr;  // device address of the staged input block
  const void* output = nullptr;
};

// Byte offsets of the staged inputs inside one block (one host-to-device copy per forward):
// per-token inputs for the `tokens` the forward runs on (packed, or every slot), the mask and
// packed_of per slot, padded_of per packed token (both empty without packing).
struct InputLayout {
  size_t ids, positions, types, mask, rows, targets, packed_of, padded_of, bytes;
  InputLayout(int tokens, int slots, bool packed, int n_rows, int n_targets) {
    size_t at = 0;
    auto place = [&](size_t bytes) {
      const size_t offset = at;
      at += (bytes + 7) / 8 * 8;
      return offset;
    };
    ids = place(sizeof(int32_t) * tokens);
    positions = place(sizeof(int32_t) * tokens);
    types = place(sizeof(int32_t) * tokens);
    mask = place(slots);
    rows = place(sizeof(int64_t) * n_rows);
    targets = place(sizeof(int32_t) * n_targets);
    packed_of = place(packed ? sizeof(int32_t) * slots : 0);
    padded_of = place(packed ? sizeof(int32_t) * tokens : 0);
    bytes = at;
  }
};

// The CUDA engine's KVCache::device: keys and values of every layer, [layers][batch, capacity,
// kv_dim] each (layers layer_bytes apart, 256-byte aligned), and the slots' valid flags
// [batch, capacity] the attention masks padding by (the host KVCache keeps the same flags for
// the positions). With prefix-tuning each sequence's first `prefix` slots hold the prefix
// (DeviceKV::prefix) and capacity counts them: the host cache's capacity + prefix.
struct DeviceKVCache final : DeviceKVStorage {
  const void* owner = nullptr;  // the CudaModel that made it
  DType type = DType::F32;
  int batch = 0, capacity = 0, layers = 0, kv_dim = 0, prefix = 0;
  size_t layer_bytes = 0;
  DeviceBuffer keys, values, valid;
};

}  // namespace

struct CudaModel::State {
  CudaOptions options;
  cudaStream_t stream = nullptr;
  std::unique_ptr<Blas> blas;
  DeviceBuffer weights[3];  // one flat buffer per DType, laid out as the ParamStore
  DeviceBuffer inv_freq;
  DeviceBuffer probe_bank;  // [groups, PEFT region] fp32 (batched probes); kept between steps
  int bank_groups = 0;
  Arena arena;
  PinnedBuffer staging_in, staging_out;
  std::map<GraphKey, CapturedGraph> graphs;
  std::set<GraphKey> seen;  // keys run eagerly once in the arena's current generation
  uint64_t graph_generation = 0;
  int captured = 0;
  // How the forwards ran (engine_report): replayed graphs, eager first runs of a shape, with a
  // KV cache; graph sets dropped because the arena grew; with engine.unpadded, the head-row
  // forwards that ran packed and those that kept the padded layout.
  int64_t replayed = 0, eager = 0, cached = 0, graph_drops = 0, packed = 0, unpacked = 0;

  ~State() {
    for (auto& [key, g] : graphs) cudaGraphExecDestroy(g.exec);
    if (stream != nullptr) cudaStreamDestroy(stream);
  }
  void clear_graphs() {
    for (auto& [key, g] : graphs) cudaGraphExecDestroy(g.exec);
    graphs.clear();
    seen.clear();
  }
};

CudaModel::CudaModel(const ModelConfig& config, DType dtype, ParamStore layout, const CudaOptions& options)
    : Model(config, dtype), s_(std::make_unique<State>()) {
  params_ = std::move(layout);
  s_->options = options;
  check(device_count() > 0, "engine.device: cuda, but this machine has no usable CUDA device");
  check(options.device >= 0 && options.device < device_count(),
        "CUDA engine: device " + std::to_string(options.device) + " does not exist (" + std::to_string(device_count()) +
            " devices)");
  check_status(cudaSetDevice(options.device), "cudaSetDevice");
  check_status(cudaStreamCreateWithFlags(&s_->stream, cudaStreamNonBlocking), "cudaStreamCreate");
  s_->blas = std::make_unique<Blas>(s_->stream, options.tf32);
  for (DType t : {DType::F32, DType::F16, DType::BF16})
    s_->weights[static_cast<int>(t)] = DeviceBuffer(static_cast<size_t>(params_.numel(t)) * dtype_size(t));
  if (config_.arch == Architecture::Llama) {
    const std::vector<float> inv = rope_inv_freq(config_);
    s_->inv_freq = DeviceBuffer(inv.size() * sizeof(float));
    check_status(cudaMemcpy(s_->inv_freq.get(), inv.data(), inv.size() * sizeof(float), cudaMemcpyHostToDevice),
                 "upload of the RoPE frequencies");
  }
}

CudaModel::~CudaModel() = default;

std::unique_ptr<CudaModel> CudaModel::from_host(std::unique_ptr<Model> host, const CudaOptions& options) {
  check(host != nullptr && host->params().allocated(), "CudaModel::from_host: the host model has no parameters");
  const ModelConfig config = host->config();
  const DType dtype = host->dtype();
  std::unique_ptr<CudaModel> m(new CudaModel(config, dtype, std::move(host->params()), options));
  m->peft_ = std::move(host->peft());  // view indices into params_, which keeps the host's layout
  for (DType t : {DType::F32, DType::F16, DType::BF16}) {
    const size_t bytes = static_cast<size_t>(m->params_.numel(t)) * dtype_size(t);
    if (bytes)
      check_status(cudaMemcpy(m->device_buffer(t), m->params_.buffer(t), bytes, cudaMemcpyHostToDevice),
                   "upload of the parameters");
  }
  return m;
}

std::unique_ptr<CudaModel> CudaModel::uninitialized(const ModelConfig& config, DType dtype, const CudaOptions& options,
                                                    const PeftSettings& peft) {
  std::unique_ptr<Model> declared = declare_model(config, dtype, peft);
  std::unique_ptr<CudaModel> m(new CudaModel(config, dtype, std::move(declared->params()), options));
  m->peft_ = std::move(declared->peft());
  for (DType t : {DType::F32, DType::F16, DType::BF16})
    if (m->device_buffer(t))
      check_status(cudaMemset(m->device_buffer(t), 0, static_cast<size_t>(m->params_.numel(t)) * dtype_size(t)),
                   "cudaMemset (parameters)");
  return m;
}

std::unique_ptr<CudaModel> CudaModel::random(const ModelConfig& config, DType dtype, uint64_t seed,
                                             const CudaOptions& options, const PeftSettings& peft) {
  std::unique_ptr<Model> declared = declare_model(config, dtype, peft);
  std::unique_ptr<CudaModel> m(new CudaModel(config, dtype, std::move(declared->params()), options));
  m->peft_ = std::move(declared->peft());
  uint64_t first = 0;
  for (const ParamView& v : m->params_.views()) {
    void* p = m->device_data(v);
    const bool bias = v.name.size() >= 5 && v.name.compare(v.name.size() - 5, 5, ".bias") == 0;
    if (param_role(v.name) == ParamRole::Norm && !bias) {
      fill(p, v.dtype, static_cast<size_t>(v.numel), 1.0f, m->stream());
    } else {
      fill(p, v.dtype, static_cast<size_t>(v.numel), 0.0f, m->stream());
      if (!bias) {
        const cpu::DirectionTerm term{seed, 0, 0, 0.02f};
        perturb(p, v.dtype, v.numel, first, &term, 1, DirectionKind::Gaussian, m->stream());
      }
    }
    first += static_cast<uint64_t>(v.numel);
  }
  m->synchronize();
  return m;
}

void* CudaModel::device_buffer(DType t) const { return s_->weights[static_cast<int>(t)].get(); }

void* CudaModel::device_data(const ParamView& v) const {
  return static_cast<char*>(device_buffer(v.dtype)) + static_cast<size_t>(v.offset) * dtype_size(v.dtype);
}

void* CudaModel::stream() const { return s_->stream; }
int CudaModel::device() const { return s_->options.device; }
int CudaModel::graphs_captured() const { return s_->captured; }

std::string CudaModel::engine_report() const {
  const State& st = *s_;
  std::string r = "CUDA forwards: " + std::to_string(st.replayed) + " replayed from a captured graph, " +
                  std::to_string(st.captured) + " captured, " + std::to_string(st.eager) +
                  " eager (a shape's first run" + (st.options.graphs ? "" : ", or graphs off") + ")";
  if (st.cached > 0) r += ", " + std::to_string(st.cached) + " with a KV cache";
  if (st.graph_drops > 0) r += "; graphs dropped " + std::to_string(st.graph_drops) + " times (the arena grew)";
  if (st.options.unpadded)
    r += "; engine.unpadded: " + std::to_string(st.packed) + " of " + std::to_string(st.packed + st.unpacked) +
         " forwards with head rows ran on the real tokens";
  return r;
}

void CudaModel::synchronize() const { check_status(cudaStreamSynchronize(s_->stream), "CUDA engine stream"); }

void CudaModel::sync_params_to_host() {
  if (!params_.allocated()) params_.allocate();
  synchronize();
  for (DType t : {DType::F32, DType::F16, DType::BF16}) {
    const size_t bytes = static_cast<size_t>(params_.numel(t)) * dtype_size(t);
    if (bytes)
      check_status(cudaMemcpy(params_.buffer(t), device_buffer(t), bytes, cudaMemcpyDeviceToHost),
                   "download of the parameters");
  }
}

DType CudaModel::kv_cache_dtype() const {
  return dtype_ == DType::F32 && s_->blas->allow_tf32() ? DType::F16 : dtype_;
}

KVCache CudaModel::make_cache(int batch, int capacity) const {
  check(config_.arch == Architecture::OPT || config_.arch == Architecture::Llama,
        std::string("a KV cache needs a decoder; ") + architecture_name(config_.arch) + " is an encoder");
  check(batch > 0 && capacity > 0, "make_cache: batch " + std::to_string(batch) + " and capacity " +
                                       std::to_string(capacity) + " must be positive");
  auto storage = std::make_shared<DeviceKVCache>();
  storage->owner = this;
  storage->type = kv_cache_dtype();
  storage->batch = batch;
  storage->prefix = peft_.prefix_tokens();
  storage->capacity = capacity + storage->prefix;
  storage->layers = config_.num_layers;
  storage->kv_dim = config_.num_kv_heads * config_.head_dim;
  const size_t layer_bytes =
      static_cast<size_t>(batch) * storage->capacity * storage->kv_dim * dtype_size(storage->type);
  storage->layer_bytes = aligned(layer_bytes);
  storage->keys = DeviceBuffer(storage->layer_bytes * storage->layers);
  storage->values = DeviceBuffer(storage->layer_bytes * storage->layers);
  storage->valid = DeviceBuffer(static_cast<size_t>(batch) * storage->capacity);
  // Unused slots are never read (kv_len stops at the filled ones); zeros keep them harmless.
  check_status(cudaMemsetAsync(storage->valid.get(), 0, storage->valid.bytes(), s_->stream), "cudaMemset (KV cache)");
  // The prefix slots (prefix-tuning) are visible to every query: valid[b, 0 .. prefix) = 1.
  if (storage->prefix > 0)
    check_status(cudaMemset2DAsync(storage->valid.get(), storage->capacity, 1, storage->prefix, batch, s_->stream),
                 "cudaMemset (KV cache prefix slots)");

  KVCache c;
  c.batch = batch;
  c.capacity = capacity;
  c.valid.assign(static_cast<size_t>(batch) * capacity, 0);
  c.real_tokens.assign(batch, 0);
  c.device = std::move(storage);
  return c;
}

std::vector<float> CudaModel::forward(const Batch& batch, const std::vector<int64_t>& rows, KVCache* cache) {
  int n = 0;
  const void* out = run(batch, rows, nullptr, &n, cache);
  const size_t count = static_cast<size_t>(n) * output_width();
  void* host = s_->staging_out.reserve(count * sizeof(float));
  check_status(cudaMemcpyAsync(host, out, count * sizeof(float), cudaMemcpyDeviceToHost, s_->stream), "logits download");
  synchronize();
  const float* p = static_cast<const float*>(host);
  return std::vector<float>(p, p + count);
}

std::vector<double> CudaModel::row_losses(const Batch& batch, const std::vector<int64_t>& rows,
                                          const std::vector<int32_t>& targets) {
  check(config_.head == HeadKind::CausalLM || config_.head == HeadKind::MaskedLM,
        "row_losses: the model has no language-model head");
  check_row_targets(rows, targets);
  if (rows.empty()) return {};
  int n = 0;
  const void* out = run(batch, rows, &targets, &n, nullptr);
  void* host = s_->staging_out.reserve(rows.size() * sizeof(double));
  check_status(cudaMemcpyAsync(host, out, rows.size() * sizeof(double), cudaMemcpyDeviceToHost, s_->stream),
               "loss download");
  synchronize();
  const double* p = static_cast<const double*>(host);
  return std::vector<double>(p, p + rows.size());
}

const void* CudaModel::run(const Batch& batch, const std::vector<int64_t>& rows_in, const std::vector<int32_t>* targets,
                           int* out_rows, KVCache* cache) {
  check_batch(batch);
  const ModelConfig& c = config_;
  DeviceKVCache* kv_storage = nullptr;
  if (cache != nullptr) {
    check(c.arch == Architecture::OPT || c.arch == Architecture::Llama,
          std::string(architecture_name(c.arch)) + " is an encoder: it takes no KV cache");
    kv_storage = dynamic_cast<DeviceKVCache*>(cache->device.get());
    check(kv_storage != nullptr && kv_storage->owner == this,
          "forward: the KV cache was not made by this CUDA model; use its make_cache (a cache from the CPU engine keeps "
          "its keys and values on the host)");
    check(kv_storage->batch == cache->batch && kv_storage->capacity == cache->capacity + kv_storage->prefix &&
              kv_storage->prefix == peft_.prefix_tokens() &&
              cache->valid.size() == static_cast<size_t>(cache->batch) * cache->capacity &&
              cache->real_tokens.size() == static_cast<size_t>(cache->batch),
          "forward: the KV cache's batch or capacity no longer matches its device storage");
  }
  const int B = batch.batch, T = batch.seq_len, N = B * T;
  const bool lm_head = c.head == HeadKind::CausalLM || c.head == HeadKind::MaskedLM;
  // The head's rows: the requested ones (LM heads), the first token of each sequence
  // (classification), none (base: every token's hidden state).
  std::vector<int64_t> rows;
  if (lm_head) {
    rows = rows_in;
  } else if (c.head == HeadKind::SequenceClassification) {
    for (int b = 0; b < B; ++b) rows.push_back(static_cast<int64_t>(b) * T);
  }
  for (int64_t r : rows)
    check(r >= 0 && r < N, "forward: row " + std::to_string(r) + " is outside the batch's " + std::to_string(N) + " tokens");
  const bool every_token = lm_head && rows.empty();
  const int n_rows = static_cast<int>(rows.size());
  const int n_targets = targets ? static_cast<int>(targets->size()) : 0;
  *out_rows = c.head == HeadKind::Base ? N : every_token ? N : n_rows;

  // Host-side inputs; position ids as each architecture defines them (core/model/forward_util).
  // With a cache, positions continue each sequence's count of real tokens (decoder_positions
  // also checks the batch against the cache and marks the new slots in cache->valid).
  const int cached_length = cache ? cache->length : 0;
  std::vector<int32_t> positions;
  if (cache != nullptr) {
    positions = decoder_positions(*cache, batch);
    arch_decoder_positions(c, positions);
  } else {
    positions = batch_positions(c, batch);
  }
  // engine.unpadded: a forward whose head reads some rows (the LM heads' requested rows, the
  // classification head's first tokens: the training and evaluation losses) runs on the real
  // tokens only; generation (a cache), prefix-tuning, whole-sequence outputs and a head row on
  // padding keep the padded layout. Packed rows rounded to 64 per probe group and the padded
  // layout to 16 slots a sequence (core/model/packed_tokens.h): few shapes, so captured graphs
  // are replayed.
  constexpr int kPackedRowMultiple = 64, kSlotMultiple = 16;
  PackedTokens packing;
  std::vector<int32_t> packed_ids, packed_types;  // packed copies (the padded forward stages the batch's own)
  const bool packed = s_->options.unpadded && cache == nullptr && !rows.empty() && peft_.prefix_tokens() == 0 &&
                      std::all_of(rows.begin(), rows.end(), [&](int64_t r) { return batch.mask[r] != 0; });
  if (s_->options.unpadded && !rows.empty()) ++(packed ? s_->packed : s_->unpacked);
  if (packed) {
    packing = pack_tokens(batch, rows, peft_.probe_groups(), kPackedRowMultiple, kSlotMultiple);
    packed_ids = packed_values(packing, batch.ids);
    positions = packed_values(packing, positions);
    if (!batch.token_types.empty()) packed_types = packed_values(packing, batch.token_types);
    rows = packing.rows;
  }
  // The layout attention runs on: the batch's, or its widening (T_att slots a sequence).
  const int T_att = packed ? packing.padded_seq_len : T, slots = B * T_att;
  const uint8_t* mask = packed ? packing.mask.data() : batch.mask.data();
  const int tokens = packed ? packing.tokens() : N;
  const InputLayout layout(tokens, slots, packed, n_rows, n_targets);
  char* staged = static_cast<char*>(s_->staging_in.reserve(layout.bytes));
  std::memcpy(staged + layout.ids, packed ? packed_ids.data() : batch.ids.data(), sizeof(int32_t) * tokens);
  std::memcpy(staged + layout.positions, positions.data(), sizeof(int32_t) * tokens);
  if (batch.token_types.empty())  // no segments: type 0 everywhere
    std::memset(staged + layout.types, 0, sizeof(int32_t) * tokens);
  else
    std::memcpy(staged + layout.types, packed ? packed_types.data() : batch.token_types.data(),
                sizeof(int32_t) * tokens);
  std::memcpy(staged + layout.mask, mask, slots);
  if (n_rows) std::memcpy(staged + layout.rows, rows.data(), sizeof(int64_t) * n_rows);
  if (n_targets) std::memcpy(staged + layout.targets, targets->data(), sizeof(int32_t) * n_targets);
  if (packed) {
    std::memcpy(staged + layout.packed_of, packing.packed_of.data(), sizeof(int32_t) * slots);
    std::memcpy(staged + layout.padded_of, packing.padded_of.data(), sizeof(int32_t) * tokens);
  }

  const GraphKey key{B, T_att, every_token ? -1 : n_rows, targets != nullptr, peft_.probe_groups(), packed ? tokens : -1};
  // A forward with a KV cache runs eagerly: its cache offsets (length) change every step, and
  // a graph keyed by the batch shape alone would replay an uncached pass of the same shape.
  if (s_->options.graphs && cache == nullptr) {
    auto it = s_->graphs.find(key);
    if (it != s_->graphs.end()) {
      check_status(cudaMemcpyAsync(it->second.inputs, staged, layout.bytes, cudaMemcpyHostToDevice, s_->stream),
                   "input upload");
      check_status(cudaGraphLaunch(it->second.exec, s_->stream), "cudaGraphLaunch (forward)");
      ++s_->replayed;
      return it->second.output;
    }
  }

  s_->arena.begin();
  if (s_->arena.generation() != s_->graph_generation) {
    if (!s_->graphs.empty() || !s_->seen.empty()) ++s_->graph_drops;
    s_->clear_graphs();  // the arena moved: captured addresses are stale
    s_->graph_generation = s_->arena.generation();
  }
  char* inputs = static_cast<char*>(s_->arena.take(layout.bytes));
  check_status(cudaMemcpyAsync(inputs, staged, layout.bytes, cudaMemcpyHostToDevice, s_->stream), "input upload");

  DeviceForward f;
  f.config = &config_;
  f.type = dtype_;
  f.stream = s_->stream;
  f.blas = s_->blas.get();
  f.arena = &s_->arena;
  f.weight = [this](const std::string& name) -> const void* { return device_data(params_.at(name)); };
  f.weight_or_null = [this](const std::string& name) -> const void* {
    const ParamView* v = params_.find(name);
    return v ? device_data(*v) : nullptr;
  };
  f.batch = B;
  f.seq_len = T_att;
  if (packed) {
    f.packed_tokens = tokens;
    f.packed_of = reinterpret_cast<const int32_t*>(inputs + layout.packed_of);
    f.padded_of = reinterpret_cast<const int32_t*>(inputs + layout.padded_of);
  }
  f.ids = reinterpret_cast<const int32_t*>(inputs + layout.ids);
  f.positions = reinterpret_cast<const int32_t*>(inputs + layout.positions);
  f.types = reinterpret_cast<const int32_t*>(inputs + layout.types);
  f.mask = reinterpret_cast<const uint8_t*>(inputs + layout.mask);
  f.rows = n_rows ? reinterpret_cast<const int64_t*>(inputs + layout.rows) : nullptr;
  f.n_rows = n_rows;
  f.inv_freq = s_->inv_freq.as<float>();
  f.peft = &peft_;
  f.peft_tensor = [this](size_t view, int group) {
    const ParamView& v = params_.views()[view];
    if (peft_.probe_groups() == 1) return static_cast<const float*>(device_data(v));
    return static_cast<const float*>(s_->probe_bank.as<float>() + peft_.bank_offset(v, group));
  };
  DeviceKV kv;
  if (kv_storage != nullptr) {
    kv.type = kv_storage->type;
    kv.keys = kv_storage->keys.as<char>();
    kv.values = kv_storage->values.as<char>();
    kv.layer_bytes = kv_storage->layer_bytes;
    kv.capacity = kv_storage->capacity;
    kv.length = cached_length;
    kv.prefix = kv_storage->prefix;
    kv.kv_dim = kv_storage->kv_dim;
    kv.valid = kv_storage->valid.as<uint8_t>();
    f.kv = &kv;
    // The new slots' valid flags are the batch mask: valid[b, prefix + length + t] = mask[b, t].
    check_status(cudaMemcpy2DAsync(kv_storage->valid.as<char>() + kv.prefix + cached_length, kv_storage->capacity,
                                   f.mask, T, T, B, cudaMemcpyDeviceToDevice, s_->stream),
                 "KV cache: valid flags");
  }
  const int32_t* target_ptr = reinterpret_cast<const int32_t*>(inputs + layout.targets);
  auto body = [&]() -> const void* {
    float* out = nullptr;
    switch (c.arch) {
      case Architecture::OPT: out = device_forward_opt(f); break;
      case Architecture::Llama: out = device_forward_llama(f); break;
      case Architecture::BERT:
      case Architecture::RoBERTa: out = device_forward_bert(f); break;
    }
    if (targets == nullptr) return out;
    double* loss = s_->arena.take<double>(static_cast<size_t>(n_targets));
    cross_entropy(loss, out, target_ptr, n_targets, c.vocab_size, s_->stream);
    return loss;
  };

  if (cache != nullptr) {
    const void* out = body();
    ++s_->cached;
    cache->length += T;  // the pass appended its T tokens to every layer
    return out;
  }
  // A shape seen once runs eagerly (sizing the arena, loading kernels); the second time it is
  // captured, and replayed from then on.
  if (!s_->options.graphs || !s_->seen.count(key)) {
    const void* out = body();
    s_->seen.insert(key);
    ++s_->eager;
    return out;
  }
  check_status(cudaStreamBeginCapture(s_->stream, cudaStreamCaptureModeThreadLocal), "cudaStreamBeginCapture");
  const void* out = nullptr;
  try {
    out = body();
  } catch (...) {
    cudaGraph_t broken = nullptr;
    cudaStreamEndCapture(s_->stream, &broken);
    if (broken) cudaGraphDestroy(broken);
    throw;
  }
  cudaGraph_t graph = nullptr;
  check_status(cudaStreamEndCapture(s_->stream, &graph), "cudaStreamEndCapture");
  CapturedGraph g;
  g.inputs = inputs;
  g.output = out;
  const cudaError_t inst = cudaGraphInstantiate(&g.exec, graph, 0);
  cudaGraphDestroy(graph);
  check_status(inst, "cudaGraphInstantiate (forward)");
  s_->graphs[key] = g;
  ++s_->captured;
  check_status(cudaGraphLaunch(g.exec, s_->stream), "cudaGraphLaunch (forward)");
  return out;
}

void CudaModel::begin_probe_groups(int groups) {
  check(!peft_.empty(), config_.source + ": batched probes (engine.probe_batch > 1) need PEFT modules (trainable.mode "
                                         "lora, adapter or prefix)");
  check(groups >= 1, "begin_probe_groups: " + std::to_string(groups) + " groups");
  const size_t bytes = static_cast<size_t>(groups) * static_cast<size_t>(peft_.bank_stride()) * sizeof(float);
  if (s_->probe_bank.bytes() < bytes) {
    synchronize();  // the old bank may still be read by queued work
    s_->probe_bank = DeviceBuffer(bytes);
    s_->clear_graphs();  // captured forwards hold the old bank's address
  }
  s_->bank_groups = groups;
}

void CudaModel::store_probe_group(int group) {
  check(group >= 0 && group < s_->bank_groups, "store_probe_group: group " + std::to_string(group) + " of " +
                                                   std::to_string(s_->bank_groups));
  const size_t n = static_cast<size_t>(peft_.region_numel());
  const float* region = static_cast<const float*>(device_buffer(DType::F32)) + peft_.region_offset();
  // Copy g at g * bank_stride() (256-byte aligned, PeftModules::bank_stride); the gap after
  // each copy is never read.
  check_status(cudaMemcpyAsync(s_->probe_bank.as<float>() + static_cast<size_t>(group) * peft_.bank_stride(), region,
                               n * sizeof(float), cudaMemcpyDeviceToDevice, s_->stream),
               "copy of a probe's PEFT modules");
  peft_.set_probe_groups(s_->bank_groups, s_->probe_bank.as<float>());
}

void CudaModel::end_probe_groups() {
  peft_.set_probe_groups(1, nullptr);
  s_->bank_groups = 0;
}

}  // namespace zotune::cuda
