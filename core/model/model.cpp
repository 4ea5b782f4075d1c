#include "core/model/model.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <random>
#include <set>

#include "core/io/gguf.h"
#include "core/io/safetensors.h"
#include "core/util/error.h"
#include "kernels/cpu/cross_entropy.h"

namespace zotune {

namespace fs = std::filesystem;

std::unique_ptr<Model> create_opt(const ModelConfig& config, DType dtype);
std::unique_ptr<Model> create_bert(const ModelConfig& config, DType dtype);
std::unique_ptr<Model> create_llama(const ModelConfig& config, DType dtype);

Batch Batch::from_sequences(const std::vector<std::vector<int32_t>>& sequences, int32_t pad_id, bool pad_left) {
  Batch b;
  b.batch = static_cast<int>(sequences.size());
  for (const auto& s : sequences) b.seq_len = std::max(b.seq_len, static_cast<int>(s.size()));
  b.ids.assign(static_cast<size_t>(b.batch) * b.seq_len, pad_id);
  b.mask.assign(b.ids.size(), 0);
  for (int i = 0; i < b.batch; ++i) {
    const auto& s = sequences[i];
    const int start = pad_left ? b.seq_len - static_cast<int>(s.size()) : 0;
    for (size_t t = 0; t < s.size(); ++t) {
      b.ids[static_cast<size_t>(i) * b.seq_len + start + t] = s[t];
      b.mask[static_cast<size_t>(i) * b.seq_len + start + t] = 1;
    }
  }
  return b;
}

Batch Batch::repeated(int copies) const {
  check(copies >= 1, "Batch::repeated: " + std::to_string(copies) + " copies");
  Batch b;
  b.batch = batch * copies;
  b.seq_len = seq_len;
  for (int g = 0; g < copies; ++g) {
    b.ids.insert(b.ids.end(), ids.begin(), ids.end());
    b.mask.insert(b.mask.end(), mask.begin(), mask.end());
    b.token_types.insert(b.token_types.end(), token_types.begin(), token_types.end());
  }
  return b;
}

std::vector<int64_t> repeat_rows(const std::vector<int64_t>& rows, int copies, int64_t tokens) {
  std::vector<int64_t> out;
  out.reserve(rows.size() * static_cast<size_t>(copies));
  for (int g = 0; g < copies; ++g)
    for (int64_t r : rows) out.push_back(r + g * tokens);
  return out;
}

int Model::output_width() const {
  switch (config_.head) {
    case HeadKind::CausalLM:
    case HeadKind::MaskedLM: return config_.vocab_size;
    case HeadKind::SequenceClassification: return config_.num_labels;
    case HeadKind::Base:
      return config_.arch == Architecture::OPT ? config_.word_embed_proj_dim : config_.hidden_size;
  }
  return 0;
}

KVCache Model::make_cache(int batch, int capacity) const {
  check(config_.arch == Architecture::OPT || config_.arch == Architecture::Llama,
        std::string("a KV cache needs a decoder; ") + architecture_name(config_.arch) + " is an encoder");
  KVCache c;
  c.batch = batch;
  c.capacity = capacity;
  const size_t per_layer = static_cast<size_t>(batch) * capacity * config_.num_kv_heads * config_.head_dim;
  c.k.assign(config_.num_layers, std::vector<float>(per_layer));
  c.v.assign(config_.num_layers, std::vector<float>(per_layer));
  c.valid.assign(static_cast<size_t>(batch) * capacity, 0);
  c.real_tokens.assign(batch, 0);
  return c;
}

void Model::check_batch(const Batch& b) const {
  const size_t n = static_cast<size_t>(b.batch) * b.seq_len;
  check(b.batch > 0 && b.seq_len > 0, "forward: empty batch");
  check(b.ids.size() == n && b.mask.size() == n, "forward: batch ids/mask sizes disagree with [batch, seq_len] = [" +
                                                     std::to_string(b.batch) + ", " + std::to_string(b.seq_len) + "]");
  check(b.token_types.empty() || b.token_types.size() == n, "forward: token_types size disagrees with the batch");
  check(b.batch % peft_.probe_groups() == 0, "forward: " + std::to_string(b.batch) + " sequences do not split into " +
                                                 std::to_string(peft_.probe_groups()) + " probe groups");
  for (size_t i = 0; i < n; ++i) {
    if (b.ids[i] < 0 || b.ids[i] >= config_.vocab_size)
      throw Error("forward: token id " + std::to_string(b.ids[i]) + " at flat index " + std::to_string(i) +
                  " is outside the vocabulary [0, " + std::to_string(config_.vocab_size) + ")");
  }
  for (int32_t t : b.token_types)
    check(t >= 0 && t < std::max(config_.type_vocab_size, 1), "forward: token type " + std::to_string(t) + " out of range");
}

void Model::initialize_peft(uint64_t seed) {
  peft_.initialize(params_, seed);
  if (!peft_.prefix_from_activations()) return;
  const int P = peft_.prefix_tokens();
  Batch tokens;
  tokens.batch = 1;
  tokens.seq_len = P;
  tokens.ids = prefix_init_tokens(seed, P, config_.vocab_size);
  tokens.mask.assign(static_cast<size_t>(P), 1);
  peft_.set_prefix_capture(true);
  try {
    forward(tokens, {0});  // the capture hooks keep the keys and values; the logits are not needed
  } catch (const std::exception& e) {
    peft_.set_prefix_capture(false);
    throw Error(config_.source + ": peft.prefix_tokens = " + std::to_string(P) +
                ": running the backbone on the sampled prefix tokens (peft.prefix_init real_act) failed: " + e.what());
  }
  const bool recorded = peft_.prefix_captured();
  peft_.set_prefix_capture(false);
  check(recorded, config_.source + ": peft.prefix_init real_act: this engine's forward pass does not record the "
                                   "prefix activations (prefix-tuning runs on the CPU engine)");
}

std::vector<double> Model::row_losses(const Batch& batch, const std::vector<int64_t>& rows,
                                      const std::vector<int32_t>& targets) {
  check_row_targets(rows, targets);
  const int V = output_width();
  const std::vector<float> logits = forward(batch, rows);
  std::vector<double> loss(rows.size());
  cpu::cross_entropy(loss.data(), logits.data(), targets.data(), static_cast<int>(rows.size()), V);
  return loss;
}

void Model::check_row_targets(const std::vector<int64_t>& rows, const std::vector<int32_t>& targets) const {
  check(rows.size() == targets.size(), "row_losses: " + std::to_string(rows.size()) + " rows but " +
                                           std::to_string(targets.size()) + " targets");
  const int V = output_width();
  for (int32_t t : targets)
    check(t >= 0 && t < V, "row_losses: target " + std::to_string(t) + " is outside the vocabulary [0, " + std::to_string(V) + ")");
}

std::unique_ptr<Model> create_model(const ModelConfig& config, DType dtype, const PeftSettings& peft) {
  std::unique_ptr<Model> m = declare_model(config, dtype, peft);
  m->params().allocate();
  return m;
}

std::unique_ptr<Model> declare_model(const ModelConfig& config, DType dtype, const PeftSettings& peft) {
  std::unique_ptr<Model> m;
  switch (config.arch) {
    case Architecture::OPT: m = create_opt(config, dtype); break;
    case Architecture::BERT:
    case Architecture::RoBERTa: m = create_bert(config, dtype); break;
    case Architecture::Llama: m = create_llama(config, dtype); break;
  }
  if (peft.kind != PeftKind::None) m->peft().declare(peft, config, m->params());
  return m;
}

namespace {

// Head parameters a checkpoint may lack when a new head is put on a pretrained body.
bool is_peft_parameter(const std::string& name) { return name.rfind("peft.", 0) == 0; }

bool is_head_parameter(const std::string& name) {
  return name.rfind("classifier.", 0) == 0 || name.rfind("bert.pooler.", 0) == 0 || name.rfind("score.", 0) == 0;
}

// Deterministic initialization for parameters a checkpoint lacks: N(0, 0.02) weights
// (transformers' initializer_range), zero biases, unit norm weights.
void init_parameter(ParamStore& store, const ParamView& v, std::mt19937_64& rng) {
  std::vector<float> values(static_cast<size_t>(v.numel), 0.0f);
  const bool bias = v.name.size() >= 5 && v.name.compare(v.name.size() - 5, 5, ".bias") == 0;
  if (!bias) {
    std::normal_distribution<float> normal(0.0f, 0.02f);
    for (float& x : values) x = normal(rng);
  }
  convert(values.data(), DType::F32, store.data(v), v.dtype, values.size());
}

std::string strip_model_prefix(const std::string& name) {
  for (const char* p : {"bert.", "roberta."})
    if (name.rfind(p, 0) == 0) return name.substr(std::strlen(p));
  return name;
}

// config.json of a Hugging Face model directory, with the head LoadOptions asks for.
ModelConfig hf_directory_config(const fs::path& dir, const LoadOptions& opt) {
  const fs::path config_path = dir / "config.json";
  if (!fs::exists(config_path)) throw Error(dir.string() + ": no config.json in the model directory");
  ModelConfig config = parse_hf_config(config_path.string());
  if (opt.override_head) {
    config.head = opt.head;
    config.num_labels = opt.num_labels;
  }
  return config;
}

// The file's tensor for a declared parameter (under its name or without the bert./roberta.
// prefix), its shape checked; nullptr for a head parameter the checkpoint lacks (initialized
// fresh). Throws naming the tensor when a body parameter is missing or shaped otherwise.
const SafetensorsTensor* safetensors_tensor_for(const SafetensorsArchive& archive, const ParamView& v,
                                                const fs::path& dir, const ModelConfig& config) {
  const SafetensorsTensor* t = archive.find(v.name);
  if (t == nullptr) t = archive.find(strip_model_prefix(v.name));
  if (t == nullptr) {
    if (is_head_parameter(v.name)) return nullptr;
    throw Error(dir.string() + ": tensor '" + v.name + "' " + shape_string(v.shape) + " needed by the " +
                config.model_type + " model is missing from the weights");
  }
  if (t->shape != v.shape)
    throw Error(t->file + ": tensor '" + t->name + "' has shape " + shape_string(t->shape) + " but config.json implies " +
                shape_string(v.shape));
  return t;
}

// `weights`: the directory itself (model.safetensors or its sharded index inside) or one
// .safetensors file beside config.json.
std::unique_ptr<Model> load_safetensors_model(const fs::path& dir, const fs::path& weights, const LoadOptions& opt,
                                              LoadReport* report) {
  const ModelConfig config = hf_directory_config(dir, opt);
  SafetensorsArchive archive = SafetensorsArchive::open(weights.string());
  // Every tensor the config implies is checked against the file before anything is allocated:
  // a config.json stating sizes its weights do not hold costs an error, not its memory.
  std::unique_ptr<Model> model = declare_model(config, opt.dtype, opt.peft);
  for (const ParamView& v : model->params().views())
    if (!is_peft_parameter(v.name)) safetensors_tensor_for(archive, v, dir, config);
  model->params().allocate();
  std::mt19937_64 rng(opt.init_seed);
  std::set<std::string> used;
  for (const ParamView& v : model->params().views()) {
    if (is_peft_parameter(v.name)) continue;  // PEFT modules: initialized below
    const SafetensorsTensor* t = safetensors_tensor_for(archive, v, dir, config);
    if (t == nullptr) {  // a head the checkpoint lacks
      init_parameter(model->params(), v, rng);
      if (report) report->initialized.push_back(v.name);
      continue;
    }
    archive.read(t->name, v.dtype, model->params().data(v));
    used.insert(t->name);
  }
  // Fresh PEFT modules, unless the file holds trained ones (run.save / zotune replay --out).
  model->initialize_peft(opt.peft.seed);
  for (const ParamView& v : model->params().views()) {
    const SafetensorsTensor* t = is_peft_parameter(v.name) ? archive.find(v.name) : nullptr;
    if (t == nullptr) continue;
    if (t->shape != v.shape)
      throw Error(t->file + ": PEFT tensor '" + t->name + "' has shape " + shape_string(t->shape) +
                  " but the run's peft settings imply " + shape_string(v.shape));
    archive.read(t->name, v.dtype, model->params().data(v));
    used.insert(t->name);
  }
  if (report) {
    report->format = "safetensors";
    for (const std::string& n : archive.names())
      if (!used.count(n)) report->unused.push_back(n);
  }
  return model;
}

// GGUF tensor names (llama.cpp) for the Hugging Face names the Llama forward pass declares.
std::string gguf_name(const std::string& hf) {
  static const std::pair<const char*, const char*> top[] = {
      {"model.embed_tokens.weight", "token_embd.weight"},
      {"model.norm.weight", "output_norm.weight"},
      {"lm_head.weight", "output.weight"},
  };
  for (const auto& [h, g] : top)
    if (hf == h) return g;
  static const std::pair<const char*, const char*> layer[] = {
      {"input_layernorm.weight", "attn_norm.weight"},
      {"post_attention_layernorm.weight", "ffn_norm.weight"},
      {"self_attn.q_proj.weight", "attn_q.weight"},   {"self_attn.k_proj.weight", "attn_k.weight"},
      {"self_attn.v_proj.weight", "attn_v.weight"},   {"self_attn.o_proj.weight", "attn_output.weight"},
      {"self_attn.q_proj.bias", "attn_q.bias"},       {"self_attn.k_proj.bias", "attn_k.bias"},
      {"self_attn.v_proj.bias", "attn_v.bias"},       {"self_attn.o_proj.bias", "attn_output.bias"},
      {"mlp.gate_proj.weight", "ffn_gate.weight"},    {"mlp.up_proj.weight", "ffn_up.weight"},
      {"mlp.down_proj.weight", "ffn_down.weight"},
  };
  const std::string prefix = "model.layers.";
  if (hf.rfind(prefix, 0) == 0) {
    const size_t dot = hf.find('.', prefix.size());
    const std::string index = hf.substr(prefix.size(), dot - prefix.size());
    const std::string rest = hf.substr(dot + 1);
    for (const auto& [h, g] : layer)
      if (rest == h) return "blk." + index + "." + g;
  }
  return hf;
}

// The file's tensor for a declared parameter, its shape checked (errors name both names).
const GgufTensor& gguf_tensor_for(const GgufFile& file, const ParamView& v) {
  const std::string name = gguf_name(v.name);
  const GgufTensor* t = file.find_tensor(name);
  if (t == nullptr)
    throw Error(file.path() + ": tensor '" + name + "' (" + v.name + ") " + shape_string(v.shape) + " is missing from the file");
  if (t->shape != v.shape)
    throw Error(file.path() + ": tensor '" + name + "' has shape " + shape_string(t->shape) + " but the metadata implies " +
                shape_string(v.shape));
  return *t;
}

// llama.cpp's converter interleaves the two rotary halves of every q/k head (its RoPE pairs
// neighbours); undo it so rows follow Hugging Face's rotate_half layout.
void unpermute_rotary_rows(const uint8_t* src, uint8_t* dst, int64_t rows, int64_t row_bytes, int head_dim) {
  for (int64_t r = 0; r < rows; ++r)
    std::memcpy(dst + r * row_bytes, src + gguf_rotary_source_row(r, head_dim) * row_bytes, row_bytes);
}

std::unique_ptr<Model> load_gguf_model(const std::string& path, const LoadOptions& opt, LoadReport* report) {
  GgufFile file = GgufFile::open(path);
  const ModelConfig config = gguf_model_config(file, opt);
  // As for safetensors: the declared shapes against the file's tensors, then the allocation.
  std::unique_ptr<Model> model = declare_model(config, opt.dtype, opt.peft);
  for (const ParamView& v : model->params().views())
    if (!is_peft_parameter(v.name)) gguf_tensor_for(file, v);
  model->params().allocate();
  ParamStore& params = model->params();
  read_gguf_params(file, config, params, [&](const GgufTensor& t, const ParamView& v, int rotary_head_dim) {
    if (rotary_head_dim > 0) {
      std::vector<uint8_t> tmp(static_cast<size_t>(v.numel) * dtype_size(v.dtype));
      file.dequantize(t, v.dtype, tmp.data());
      const int64_t rows = v.shape[0];
      const int64_t row_bytes = (v.numel / rows) * static_cast<int64_t>(dtype_size(v.dtype));
      unpermute_rotary_rows(tmp.data(), static_cast<uint8_t*>(params.data(v)), rows, row_bytes, rotary_head_dim);
    } else {
      file.dequantize(t, v.dtype, params.data(v));
    }
  }, report);
  model->initialize_peft(opt.peft.seed);
  return model;
}

}  // namespace

int64_t gguf_rotary_source_row(int64_t row, int head_dim) {
  const int half = head_dim / 2;
  const int64_t head = row / head_dim, within = row % head_dim;
  const int64_t s = within / half, i = within % half;  // HF row: half s, index i
  return head * head_dim + 2 * i + s;
}

ModelConfig gguf_model_config(const GgufFile& file, const LoadOptions& options) {
  check(!options.override_head || options.head == HeadKind::CausalLM,
        file.path() + ": GGUF models load with their causal LM head only");
  return config_from_gguf(file);
}

void read_gguf_params(const GgufFile& file, const ModelConfig& config, const ParamStore& params,
                      const GgufParamWriter& write, LoadReport* report) {
  const bool permuted = file.get_string("general.architecture") == "llama";
  std::set<std::string> used;
  for (const ParamView& v : params.views()) {
    if (is_peft_parameter(v.name)) continue;  // PEFT modules: initialized by the caller, not read
    const std::string name = gguf_name(v.name);
    const GgufTensor* t = &gguf_tensor_for(file, v);
    const bool q = name.find(".attn_q.") != std::string::npos, k = name.find(".attn_k.") != std::string::npos;
    write(*t, v, permuted && (q || k) ? config.head_dim : 0);
    used.insert(name);
  }
  if (report) {
    report->format = "gguf";
    for (const GgufTensor& t : file.tensors())
      if (!used.count(t.name)) report->unused.push_back(t.name);
  }
}

ModelConfig load_model_config(const std::string& path, const LoadOptions& options) {
  if (!fs::exists(path)) throw Error(path + ": no such model file or directory");
  if (path.size() >= 5 && path.compare(path.size() - 5, 5, ".gguf") == 0 && !fs::is_directory(path)) {
    check(!options.override_head || options.head == HeadKind::CausalLM,
          path + ": GGUF models load with their causal LM head only");
    return config_from_gguf(GgufFile::open(path));
  }
  fs::path dir = fs::is_directory(path) ? fs::path(path) : fs::path(path).parent_path();
  if (dir.empty()) dir = ".";
  return hf_directory_config(dir, options);
}

std::unique_ptr<Model> load_model(const std::string& path, const LoadOptions& options, LoadReport* report) {
  if (!fs::exists(path)) throw Error(path + ": no such model file or directory");
  if (fs::is_directory(path)) return load_safetensors_model(path, path, options, report);
  if (path.size() >= 5 && path.compare(path.size() - 5, 5, ".gguf") == 0) return load_gguf_model(path, options, report);
  fs::path parent = fs::path(path).parent_path();
  if (parent.empty()) parent = ".";
  if (fs::exists(parent / "config.json")) return load_safetensors_model(parent, path, options, report);
  throw Error(path + ": not a model directory (config.json + safetensors) or a .gguf file");
}

void Model::begin_probe_groups(int groups) {
  check(!peft_.empty(), config_.source + ": batched probes (engine.probe_batch > 1) need PEFT modules (trainable.mode "
                                         "lora, adapter or prefix)");
  check(groups >= 1, "begin_probe_groups: " + std::to_string(groups) + " groups");
  probe_bank_.resize(static_cast<size_t>(groups) * static_cast<size_t>(peft_.bank_stride()));
  bank_groups_ = groups;
}

void Model::store_probe_group(int group) {
  check(group >= 0 && group < bank_groups_, "store_probe_group: group " + std::to_string(group) + " of " +
                                                std::to_string(bank_groups_));
  const float* region = static_cast<const float*>(params_.buffer(DType::F32)) + peft_.region_offset();
  std::copy(region, region + peft_.region_numel(), probe_bank_.begin() + static_cast<ptrdiff_t>(group) * peft_.bank_stride());
  peft_.set_probe_groups(bank_groups_, probe_bank_.data());
}

void Model::end_probe_groups() {
  peft_.set_probe_groups(1, nullptr);
  bank_groups_ = 0;
}

}  // namespace zotune
