#include "core/peft/peft_modules.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/util/error.h"
#include "kernels/common/philox.h"
#include "kernels/cpu/matmul.h"

namespace zotune {

namespace {

// n as `count` factors >= 2, ascending, as balanced as possible: the smallest largest factor,
// then the largest smallest one (1024 in 3: [8, 8, 16], not [4, 16, 16]). Empty when n has
// fewer than `count` prime factors.
std::vector<int> balanced_factors(int n, int count) {
  std::vector<int> best, current;
  auto better = [](const std::vector<int>& a, const std::vector<int>& b) {
    if (b.empty()) return true;
    if (a.back() != b.back()) return a.back() < b.back();
    return a.front() > b.front();
  };
  // Depth-first over non-decreasing factor lists; sizes here are small (hidden <= 1e5).
  auto search = [&](auto&& self, int rest, int min_factor, int left) -> void {
    if (left == 1) {
      if (rest >= min_factor) {
        current.push_back(rest);
        if (better(current, best)) best = current;
        current.pop_back();
      }
      return;
    }
    for (int f = min_factor; static_cast<int64_t>(f) * f <= rest; ++f) {
      if (rest % f) continue;
      current.push_back(f);
      self(self, rest / f, f, left - 1);
      current.pop_back();
    }
  };
  if (n >= 2 && count >= 1) search(search, n, 2, count);
  return best;
}

bool decoder(Architecture arch) { return arch == Architecture::Llama || arch == Architecture::OPT; }

std::vector<int> down_modes(Architecture arch, int hidden, int bottleneck, int* in_modes) {
  const int bottleneck_modes = decoder(arch) ? 3 : 2;
  const std::vector<int> h = balanced_factors(hidden, 3), b = balanced_factors(bottleneck, bottleneck_modes);
  if (h.empty() || b.empty())
    throw Error("peft: adapter with hidden size " + std::to_string(hidden) + " and peft.adapter_bottleneck " +
                std::to_string(bottleneck) + " has no TT shape: the shape rule factors the hidden size into 3 modes " +
                ">= 2 (hidden sizes with at least three prime factors, e.g. 768, 1024, 4096 -> [16,16,16]) and the " +
                "bottleneck into " + std::to_string(bottleneck_modes) + " (e.g. 64 -> " +
                (bottleneck_modes == 3 ? "[4,4,4]" : "[8,8]") + ")");
  std::vector<int> modes = h;
  modes.insert(modes.end(), b.begin(), b.end());
  *in_modes = static_cast<int>(h.size());
  return modes;
}

// Uniform in [0, 1) from 24 bits, and N(0, 1) by Box-Muller, from Philox block (seed, tensor, i).
struct InitDraw {
  double uniform, normal;
};
constexpr uint32_t kPeftStream = 0x50454654u;  // "PEFT": apart from the directions' (step, query)
InitDraw init_draw(uint64_t seed, uint32_t tensor, uint64_t i) {
  const Philox4 r = philox4x32_10(Philox4{{static_cast<uint32_t>(i), static_cast<uint32_t>(i >> 32), tensor, kPeftStream}},
                                  static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32));
  const double u0 = (r.v[0] >> 8) * (1.0 / 16777216.0);
  const double u1 = ((r.v[1] >> 8) + 1) * (1.0 / 16777216.0);  // (0, 1]: log is finite
  const double u2 = (r.v[2] >> 8) * (1.0 / 16777216.0);
  return {u0, std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * M_PI * u2)};
}

struct Sites {
  std::vector<std::pair<AdapterPoint, std::string>> adapters;  // point, module path inside a layer
  std::string lora[4];                                         // module path per LoraTarget
  std::string attention;                                       // the self-attention module (prefix)
};

Sites sites(Architecture arch, AdapterPlacement placement) {
  Sites s;
  const bool code = placement == AdapterPlacement::Code;
  switch (arch) {
    case Architecture::Llama:
      if (code)
        s.adapters = {{AdapterPoint::GateInput, "mlp.gate_proj"}, {AdapterPoint::UpInput, "mlp.up_proj"},
                      {AdapterPoint::MlpOutput, "mlp.down_proj"}};
      else
        s.adapters = {{AdapterPoint::AttentionOutput, "self_attn.o_proj"}, {AdapterPoint::MlpOutput, "mlp.down_proj"}};
      s.lora[0] = "self_attn.q_proj", s.lora[1] = "self_attn.k_proj", s.lora[2] = "self_attn.v_proj";
      s.lora[3] = "self_attn.o_proj";
      s.attention = "self_attn";
      break;
    case Architecture::OPT:
      if (code)
        s.adapters = {{AdapterPoint::MlpInput, "fc1"}, {AdapterPoint::MlpOutput, "fc2"}};
      else
        s.adapters = {{AdapterPoint::AttentionOutput, "self_attn.out_proj"}, {AdapterPoint::MlpOutput, "fc2"}};
      s.lora[0] = "self_attn.q_proj", s.lora[1] = "self_attn.k_proj", s.lora[2] = "self_attn.v_proj";
      s.lora[3] = "self_attn.out_proj";
      s.attention = "self_attn";
      break;
    case Architecture::BERT:
    case Architecture::RoBERTa:
      // Houlsby: the code's placement is the paper's.
      s.adapters = {{AdapterPoint::AttentionOutput, "attention.output"}, {AdapterPoint::MlpOutput, "output"}};
      s.lora[0] = "attention.self.query", s.lora[1] = "attention.self.key", s.lora[2] = "attention.self.value";
      s.lora[3] = "attention.output.dense";
      s.attention = "attention.self";
      break;
  }
  return s;
}

}  // namespace

cpu::TtShape adapter_down_shape(Architecture arch, int hidden, int bottleneck, int rank) {
  cpu::TtShape s;
  s.modes = down_modes(arch, hidden, bottleneck, &s.in_modes);
  s.rank = rank;
  return s;
}

cpu::TtShape adapter_up_shape(Architecture arch, int hidden, int bottleneck, int rank) {
  int hidden_modes = 0;
  cpu::TtShape s;
  s.modes = down_modes(arch, hidden, bottleneck, &hidden_modes);
  std::reverse(s.modes.begin(), s.modes.end());
  s.in_modes = static_cast<int>(s.modes.size()) - hidden_modes;
  s.rank = rank;
  return s;
}

std::vector<int32_t> prefix_init_tokens(uint64_t seed, int count, int vocab_size) {
  check(vocab_size > 0, "prefix_init_tokens: empty vocabulary");
  constexpr uint32_t kPrefixTokenStream = 0xFFFFFFFFu;  // no tensor ordinal gets this far
  std::vector<int32_t> tokens(static_cast<size_t>(std::max(count, 0)));
  for (size_t i = 0; i < tokens.size(); ++i) {
    const Philox4 r = philox4x32_10(Philox4{{static_cast<uint32_t>(i), 0u, kPrefixTokenStream, kPeftStream}},
                                    static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32));
    tokens[i] = static_cast<int32_t>((static_cast<uint64_t>(r.v[0]) * static_cast<uint64_t>(vocab_size)) >> 32);
  }
  return tokens;
}

size_t PeftModules::declare_tensor(ParamStore& params, const std::string& name, std::vector<int64_t> shape) {
  const ParamView& v = params.declare(name, DType::F32, std::move(shape));
  if (names_.empty()) region_offset_ = region_end_ = v.offset;
  // The bank copies one region: the tensors must follow each other in the fp32 buffer.
  check(v.offset == region_end_, name + ": PEFT tensors are not contiguous in the fp32 buffer");
  region_end_ = v.offset + v.numel;
  names_.push_back(name);
  numel_ += v.numel;
  return params.views().size() - 1;
}

void PeftModules::set_probe_groups(int groups, const float* bank) {
  check(groups >= 1, "probe groups: " + std::to_string(groups) + " groups");
  check(groups == 1 || (bank != nullptr && !empty()), "probe groups: a bank of PEFT modules is needed for " +
                                                          std::to_string(groups) + " groups");
  groups_ = groups;
  bank_ = groups > 1 ? bank : nullptr;
}

int64_t PeftModules::bank_offset(const ParamView& view, int group) const {
  return static_cast<int64_t>(group) * bank_stride() + (view.offset - region_offset_);
}

const float* PeftModules::group_tensor(size_t view, int group, const ParamStore& params) const {
  const ParamView& v = params.views()[view];
  if (groups_ == 1) return static_cast<const float*>(params.data(v));
  return bank_ + bank_offset(v, group);
}

PeftModules::TtLayer PeftModules::declare_tt(ParamStore& params, const std::string& name, const cpu::TtShape& shape) {
  TtLayer t;
  t.shape = shape;
  const int p = static_cast<int>(shape.modes.size());
  int64_t expected_offset = 0;
  for (int i = 0; i < p; ++i) {
    const int64_t r_left = i == 0 ? 1 : shape.rank, r_right = i == p - 1 ? 1 : shape.rank;
    const size_t at = declare_tensor(params, name + ".core." + std::to_string(i), {r_left, shape.modes[i], r_right});
    const ParamView& v = params.views()[at];
    if (i == 0) {
      t.first_core = at;
      expected_offset = v.offset;
    }
    // tt_linear reads the cores as one concatenated array.
    check(v.offset == expected_offset, name + ": TT cores are not contiguous in the fp32 buffer");
    expected_offset += v.numel;
  }
  t.bias = declare_tensor(params, name + ".bias", {shape.out()});
  return t;
}

void PeftModules::declare(const PeftSettings& settings, const ModelConfig& config, ParamStore& params) {
  check(kind_ == PeftKind::None, config.source + ": PEFT modules are already declared");
  check(!params.allocated(), config.source + ": PEFT modules must be declared before the parameters are allocated");
  settings_ = settings;
  kind_ = settings.kind;
  const int L = config.num_layers, C = config.hidden_size;
  const Sites where = sites(config.arch, settings.adapter_placement);
  if (kind_ == PeftKind::Adapter) {
    check(settings.adapter_bottleneck >= 1 && settings.adapter_rank >= 1,
          "peft.adapter_bottleneck and peft.adapter_rank must be >= 1");
    const int b = static_cast<int>(settings.adapter_bottleneck), r = static_cast<int>(settings.adapter_rank);
    const cpu::TtShape down = adapter_down_shape(config.arch, C, b, r), up = adapter_up_shape(config.arch, C, b, r);
    adapter_at_.assign(static_cast<size_t>(L) * kAdapterPoints, -1);
    for (int l = 0; l < L; ++l) {
      for (const auto& [point, path] : where.adapters) {
        const std::string name = "peft.layers." + std::to_string(l) + "." + path + ".adapter.";
        Adapter a;
        a.hidden = C;
        a.bottleneck = b;
        a.down = declare_tt(params, name + "down", down);
        a.up = declare_tt(params, name + "up", up);
        adapter_at_[static_cast<size_t>(l) * kAdapterPoints + static_cast<int>(point)] = static_cast<int>(adapters_.size());
        adapters_.push_back(a);
      }
    }
  } else if (kind_ == PeftKind::Lora) {
    check(settings.lora_rank >= 1, "peft.lora_rank must be >= 1");
    check(!settings.lora_targets.empty(), "peft.lora_targets: LoRA needs at least one target projection");
    const int r = static_cast<int>(settings.lora_rank);
    const int q_dim = config.num_heads * config.head_dim;
    const int kv_dim = (config.arch == Architecture::Llama ? config.num_kv_heads : config.num_heads) * config.head_dim;
    lora_at_.assign(static_cast<size_t>(L) * 4, -1);
    for (int l = 0; l < L; ++l) {
      for (int t = 0; t < 4; ++t) {
        if (std::find(settings.lora_targets.begin(), settings.lora_targets.end(), static_cast<LoraTarget>(t)) ==
            settings.lora_targets.end())
          continue;
        Lora m;
        // [in, out] of q, k, v, o; only Llama's grouped-query k/v and o differ from C.
        const int ins[4] = {C, C, C, q_dim}, outs[4] = {q_dim, kv_dim, kv_dim, C};
        m.in = ins[t];
        m.out = outs[t];
        const std::string name = "peft.layers." + std::to_string(l) + "." + where.lora[t] + ".";
        m.a = declare_tensor(params, name + "lora_A", {r, m.in});
        m.b = declare_tensor(params, name + "lora_B", {m.out, r});
        lora_at_[static_cast<size_t>(l) * 4 + t] = static_cast<int>(loras_.size());
        loras_.push_back(m);
      }
    }
  } else if (kind_ == PeftKind::Prefix) {
    check(settings.prefix_tokens >= 1, "peft.prefix_tokens must be >= 1, got " + std::to_string(settings.prefix_tokens));
    // Keys and values as the attention reads them: Llama's grouped-query k/v are n_kv_heads wide.
    const int64_t kv_width = (config.arch == Architecture::Llama ? config.num_kv_heads : config.num_heads) * config.head_dim;
    for (int l = 0; l < L; ++l) {
      const std::string name = "peft.layers." + std::to_string(l) + "." + where.attention + ".";
      Prefix m;
      m.kv_width = static_cast<int>(kv_width);
      m.keys = declare_tensor(params, name + "prefix_keys", {settings.prefix_tokens, kv_width});
      m.values = declare_tensor(params, name + "prefix_values", {settings.prefix_tokens, kv_width});
      prefixes_.push_back(m);
    }
  }
}

void PeftModules::initialize(ParamStore& params, uint64_t seed) const {
  check(params.allocated(), "PeftModules::initialize: the parameters are not allocated");
  uint32_t ordinal = 0;  // the tensor's place among the PEFT tensors: its Philox stream
  auto fill = [&](size_t view, auto value_of) {
    const ParamView& v = params.views()[view];
    float* x = params.f32(v);
    for (int64_t i = 0; i < v.numel; ++i) x[i] = static_cast<float>(value_of(init_draw(seed, ordinal, i)));
    ++ordinal;
  };
  for (const Adapter& a : adapters_) {
    for (const TtLayer* t : {&a.down, &a.up}) {
      const int p = static_cast<int>(t->shape.modes.size());
      const double s = std::pow(1.0 / (t->shape.in() + t->shape.out()), 0.5 / p);  // s^(1/p), s = sqrt(1/(in+out))
      for (int i = 0; i < p; ++i) {
        const double r_right = i == p - 1 ? 1.0 : t->shape.rank;
        fill(t->first_core + i, [&](const InitDraw& d) { return d.normal / std::sqrt(r_right) * s; });
      }
      const double bound = 1.0 / std::sqrt(static_cast<double>(t->shape.out()));
      fill(t->bias, [&](const InitDraw& d) { return (2.0 * d.uniform - 1.0) * bound; });
    }
  }
  for (const Lora& m : loras_) {
    const double bound = 1.0 / std::sqrt(static_cast<double>(m.in));  // kaiming_uniform_(a = sqrt 5)
    fill(m.a, [&](const InitDraw& d) { return (2.0 * d.uniform - 1.0) * bound; });
    fill(m.b, [](const InitDraw&) { return 0.0; });
  }
  const bool random_prefix = settings_.prefix_init == PrefixInit::Random;
  for (const Prefix& m : prefixes_) {
    // MeZO: torch.randn(num_prefix, hidden); real_act overwrites these (Model::initialize_peft).
    for (size_t view : {m.keys, m.values})
      fill(view, [&](const InitDraw& d) { return random_prefix ? d.normal : 0.0; });
  }
}

int PeftModules::adapter_index(int layer, AdapterPoint point) const {
  const size_t i = static_cast<size_t>(layer) * kAdapterPoints + static_cast<int>(point);
  return i < adapter_at_.size() ? adapter_at_[i] : -1;
}

const PeftModules::Adapter* PeftModules::adapter_at(int layer, AdapterPoint point) const {
  const int index = adapter_index(layer, point);
  return index < 0 ? nullptr : &adapters_[index];
}

const PeftModules::Lora* PeftModules::lora_at(int layer, LoraTarget target) const {
  const size_t i = static_cast<size_t>(layer) * 4 + static_cast<int>(target);
  return i < lora_at_.size() && lora_at_[i] >= 0 ? &loras_[lora_at_[i]] : nullptr;
}

const PeftModules::Prefix* PeftModules::prefix_at(int layer) const {
  return layer >= 0 && static_cast<size_t>(layer) < prefixes_.size() ? &prefixes_[layer] : nullptr;
}

void PeftModules::adapt(int layer, AdapterPoint point, float* h, int N, const ParamStore& params) const {
  const int index = adapter_index(layer, point);
  if (index < 0) return;
  const Adapter& a = adapters_[index];
  check(N % groups_ == 0, "adapter: " + std::to_string(N) + " rows do not split into " + std::to_string(groups_) +
                              " probe groups");
  const int n = N / groups_;
  std::vector<float> mid(static_cast<size_t>(n) * a.bottleneck), out(static_cast<size_t>(n) * a.hidden);
  const float s = static_cast<float>(settings_.adapter_scale);
  for (int g = 0; g < groups_; ++g) {
    auto cores = [&](const TtLayer& t) { return group_tensor(t.first_core, g, params); };
    auto bias = [&](const TtLayer& t) { return group_tensor(t.bias, g, params); };
    float* hg = h + static_cast<size_t>(g) * n * a.hidden;
    cpu::tt_linear(mid.data(), hg, a.down.shape, cores(a.down), bias(a.down), n);
    for (float& x : mid) x = x > 0.0f ? x : 0.0f;
    cpu::tt_linear(out.data(), mid.data(), a.up.shape, cores(a.up), bias(a.up), n);
    for (size_t i = 0; i < out.size(); ++i) hg[i] += s * out[i];
  }
}

const float* PeftModules::adapt_input(int layer, AdapterPoint point, const float* x, int N, std::vector<float>& scratch,
                                      const ParamStore& params) const {
  const int index = adapter_index(layer, point);
  if (index < 0) return x;
  scratch.assign(x, x + static_cast<size_t>(N) * adapters_[index].hidden);
  adapt(layer, point, scratch.data(), N, params);
  return scratch.data();
}

void PeftModules::lora(int layer, LoraTarget target, float* out, const float* x, int N, const ParamStore& params) const {
  const size_t i = static_cast<size_t>(layer) * 4 + static_cast<int>(target);
  if (i >= lora_at_.size() || lora_at_[i] < 0) return;
  const Lora& m = loras_[lora_at_[i]];
  const int r = static_cast<int>(settings_.lora_rank);
  check(N % groups_ == 0, "LoRA: " + std::to_string(N) + " rows do not split into " + std::to_string(groups_) +
                              " probe groups");
  const int n = N / groups_;
  std::vector<float> xa(static_cast<size_t>(n) * r), delta(static_cast<size_t>(n) * m.out);
  const float scale = static_cast<float>(settings_.lora_alpha / settings_.lora_rank);
  for (int g = 0; g < groups_; ++g) {
    const float* xg = x + static_cast<size_t>(g) * n * m.in;
    float* og = out + static_cast<size_t>(g) * n * m.out;
    cpu::matmul(xa.data(), xg, group_tensor(m.a, g, params), DType::F32, nullptr, DType::F32, n, m.in, r);
    cpu::matmul(delta.data(), xa.data(), group_tensor(m.b, g, params), DType::F32, nullptr, DType::F32, n, r, m.out);
    for (size_t k = 0; k < delta.size(); ++k) og[k] += scale * delta[k];
  }
}

cpu::AttentionPrefix PeftModules::attention_prefix(int layer, const ParamStore& params) const {
  if (capturing_prefix_ || layer < 0 || static_cast<size_t>(layer) >= prefixes_.size()) return {};
  const Prefix& m = prefixes_[layer];
  return {group_tensor(m.keys, 0, params), group_tensor(m.values, 0, params), prefix_tokens(), groups_,
          groups_ > 1 ? bank_stride() : 0};
}

void PeftModules::set_prefix_capture(bool on) {
  capturing_prefix_ = on && has_prefix();
  prefix_recorded_.assign(prefixes_.size(), 0);
}

void PeftModules::capture_prefix(int layer, const float* k, const float* v, int N, ParamStore& params) {
  if (!capturing_prefix_) return;
  check(layer >= 0 && static_cast<size_t>(layer) < prefixes_.size(), "capture_prefix: no prefix at layer " + std::to_string(layer));
  const Prefix& m = prefixes_[layer];
  check(N == prefix_tokens(), "peft.prefix_tokens: the real-activation init ran " + std::to_string(N) +
                                  " tokens through layer " + std::to_string(layer) + " for a prefix of " +
                                  std::to_string(prefix_tokens()));
  const size_t bytes = static_cast<size_t>(N) * m.kv_width * sizeof(float);
  std::memcpy(params.data(params.views()[m.keys]), k, bytes);
  std::memcpy(params.data(params.views()[m.values]), v, bytes);
  prefix_recorded_[layer] = 1;
}

bool PeftModules::prefix_captured() const {
  return !prefix_recorded_.empty() &&
         std::all_of(prefix_recorded_.begin(), prefix_recorded_.end(), [](uint8_t r) { return r != 0; });
}

}  // namespace zotune
