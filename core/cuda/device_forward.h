// What the per-architecture device forward passes (device_forward_{opt,llama,bert}.cpp) share:
// the staged inputs, the weights by name, and a bump arena for activations. CudaModel fills a
// DeviceForward per call; a pass launches kernels only (no allocation, no synchronization),
// so the same call sequence can be captured as a CUDA graph.
#pragma once
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/cuda/device_memory.h"
#include "core/model/config.h"
#include "core/peft/peft_modules.h"
#include "core/tensor/dtype.h"
#include "kernels/cpu/attention.h"
#include "kernels/cuda/attention.cuh"
#include "kernels/cuda/matmul.cuh"

namespace zotune::cuda {

// Activations of one forward pass, carved from one device buffer in call order. A pass that
// needs more than the buffer holds gets extra chunks; the next pass starts from one buffer of
// the high-water size (and generation() changes, which invalidates captured graphs).
class Arena {
 public:
  void begin();  // called before each pass: consolidates when the last pass overflowed
  void* take(size_t bytes);
  template <typename T>
  T* take(size_t count) {
    return static_cast<T*>(take(count * sizeof(T)));
  }
  uint64_t generation() const { return generation_; }
  // Scratch that one op needs only while it runs: take after mark(), rewind(mark) after the
  // launches (stream order makes the reuse by the next op safe).
  size_t mark() const { return used_; }
  void rewind(size_t mark) { used_ = mark; }

 private:
  struct Overflow {
    size_t at;  // the logical offset it stands in for: a take after rewind() reuses it
    DeviceBuffer buffer;
  };
  DeviceBuffer main_;
  std::vector<Overflow> overflow_;
  size_t used_ = 0, high_water_ = 0;
  uint64_t generation_ = 0;
};

// The KV cache a decoder forward appends to and attends over (generation; CudaModel's
// make_cache allocates it). Keys and values of layer l: [batch, capacity, kv_dim] in `type`,
// at keys + l * layer_bytes (values alike), the first `length` slots of each sequence filled
// by earlier forwards; valid [batch, capacity] says which slots hold real tokens (the new
// slots included: CudaModel writes them from the batch mask before the pass).
// With prefix-tuning the first `prefix` slots of every sequence hold the layer's prefix keys
// and values (core/cuda/device_prefix.h), valid = 1, and the tokens follow them: token slot t
// is slot prefix + t, and capacity counts the prefix slots.
struct DeviceKV {
  DType type = DType::F32;
  char* keys = nullptr;
  char* values = nullptr;
  size_t layer_bytes = 0;
  int capacity = 0;
  int length = 0;  // tokens cached per sequence before this forward (the prefix slots not counted)
  int prefix = 0;  // prefix slots before the tokens (prefix-tuning), else 0
  int kv_dim = 0;  // n_kv_heads * head_dim
  const uint8_t* valid = nullptr;

  void* layer_keys(int l) const { return keys + static_cast<size_t>(l) * layer_bytes; }
  void* layer_values(int l) const { return values + static_cast<size_t>(l) * layer_bytes; }
};

struct DeviceForward {
  const ModelConfig* config = nullptr;
  DType type = DType::F32;  // storage dtype of weights and GEMM activations
  void* stream = nullptr;
  const Blas* blas = nullptr;
  Arena* arena = nullptr;
  // Device address of a parameter by Hugging Face name: throws naming the tensor when absent;
  // weight_or_null returns null instead (optional biases).
  std::function<const void*(const std::string&)> weight, weight_or_null;

  // The padded layout attention runs on: batch * seq_len slots (the batch's own, or with
  // engine.unpadded its widening to a multiple of 16 slots a sequence: core/model/packed_tokens.h).
  int batch = 0, seq_len = 0;
  // Unpadded forward (engine.unpadded): only the real tokens run (and dummy rows rounding
  // their count), packed_tokens rows, and the per-token inputs below (ids, positions, types,
  // rows) are packed; attention moves its input rows to the padded layout (packed_of: [slots],
  // the packed row of each slot, -1 for padding) and its output rows back (padded_of: [tokens],
  // the slot of each packed row, -1 for a dummy). Null packed_of: every slot runs.
  int packed_tokens = 0;
  const int32_t* packed_of = nullptr;
  const int32_t* padded_of = nullptr;
  const int32_t* ids = nullptr;        // [tokens]
  const int32_t* positions = nullptr;  // [tokens], the architecture's position ids
  const int32_t* types = nullptr;      // [tokens] token types (BERT), zeros when the batch has none
  const uint8_t* mask = nullptr;       // [batch * seq_len] 1 = real token (the padded layout)
  const int64_t* rows = nullptr;       // [n_rows] the head's token rows (packed rows when unpadded); null = every token
  int n_rows = 0;
  const float* inv_freq = nullptr;     // [head_dim / 2] RoPE frequencies (Llama)
  // Decoders with a KV cache: the batch's tokens follow kv->length cached ones per sequence
  // (positions count them already). Null: the batch is the whole sequence.
  const DeviceKV* kv = nullptr;
  // The model's PEFT modules (core/cuda/device_peft.h hooks read them; empty() without any)
  // and the device address of a ParamStore view by its index (their fp32 tensors) as probe
  // group `group` sees it: with probe groups on (peft->probe_groups() > 1) the batch is that
  // many equal blocks of sequences, each with its own copy of the modules in the bank.
  const PeftModules* peft = nullptr;
  std::function<const float*(size_t view, int group)> peft_tensor;

  // The rows every row-wise op and GEMM runs on: the packed tokens, or every slot.
  int tokens() const { return packed_of != nullptr ? packed_tokens : batch * seq_len; }
};

// Each returns its fp32 output in the arena: [rows or tokens, vocab] logits (LM heads),
// [batch, num_labels] (classification) or [tokens, hidden] (base).
float* device_forward_opt(const DeviceForward& f);
float* device_forward_llama(const DeviceForward& f);
float* device_forward_bert(const DeviceForward& f);

// cuda::attention over q, k, v lying inside one block of `block_elems` elements at `block`
// (a fused QKV GEMM output, or three [tokens, C] buffers back to back), into out
// (`out_elems` elements). fp32 models with TF32 allowed run it on the fp16 tensor-core
// kernel (fp16 keeps TF32's 10 mantissa bits); everything else in the storage dtype.
// Unpadded (f.packed_of): the block's rows go to the padded layout (zeros at padding), the
// attention runs there as without packing, and out gets the packed tokens' rows back.
void device_attention(const DeviceForward& f, void* out, size_t out_elems, const void* block, size_t block_elems,
                      const void* q, const void* k, const void* v, const cpu::AttentionShape& shape,
                      const AttentionStrides& strides);

// A decoder's self-attention in layer `layer`, arguments as device_attention's (shape and
// strides describe the batch's own tokens). Without f.kv it is device_attention. With f.kv,
// this layer's k and v rows are appended to the cache after its kv->length slots, and the
// queries attend over the cached and new keys (q_start = kv->length, key padding from
// kv->valid), in the cache's dtype: the storage dtype, or fp16 for fp32 models on TF32 (the
// rounding device_attention applies to q, k, v there).
void device_decoder_attention(const DeviceForward& f, int layer, void* out, size_t out_elems, const void* block,
                              size_t block_elems, const void* q, const void* k, const void* v,
                              const cpu::AttentionShape& shape, const AttentionStrides& strides);

// The LM head's input rows: x [tokens, C] itself when f.rows is null, else x[rows] gathered.
// Returns the row count through n.
float* select_rows(const DeviceForward& f, float* x, int C, int* n);

}  // namespace zotune::cuda
