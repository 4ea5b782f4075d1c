#include "core/train/hf_export.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <set>

#include "core/io/gguf.h"
#include "core/io/safetensors.h"
#include "core/model/hf_config_export.h"
#include "core/peft/peft_export.h"
#include "core/tokenizer/hf_tokenizer_export.h"
#include "core/util/error.h"

namespace fs = std::filesystem;

namespace zotune {

using ordered_json = nlohmann::ordered_json;

namespace {

bool is_gguf_path(const std::string& path) {
  return path.size() >= 5 && path.compare(path.size() - 5, 5, ".gguf") == 0 && !fs::is_directory(path);
}

// The folder holding a Hugging Face base's config.json and tokenizer files.
fs::path base_folder(const std::string& base_path) {
  const fs::path p(base_path);
  if (fs::is_directory(p)) return p;
  return p.has_parent_path() ? p.parent_path() : fs::path(".");
}

bool is_peft_name(const std::string& name) { return name.rfind("peft.", 0) == 0; }

bool is_head_name(const std::string& name) {
  return name.rfind("classifier.", 0) == 0 || name.rfind("bert.pooler.", 0) == 0 || name.rfind("score.", 0) == 0;
}

// path + ".tmp", then renamed: a reader never sees half a file.
void write_text(const fs::path& path, const std::string& text) {
  const fs::path tmp = path.string() + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    check(static_cast<bool>(out), tmp.string() + ": cannot create");
    out << text;
    out.close();
    check(static_cast<bool>(out), tmp.string() + ": cannot write");
  }
  std::error_code ec;
  fs::rename(tmp, path, ec);
  check(!ec, path.string() + ": cannot rename " + tmp.string() + " to it: " + ec.message());
}

void make_dir(const fs::path& dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  check(!ec && fs::is_directory(dir), dir.string() + ": cannot create the export directory" +
                                          (ec ? ": " + ec.message() : std::string()));
}

// What every model directory of the export gets besides its weights: config.json and the
// tokenizer, prepared once (a GGUF base is read once for all of DIR, DIR/base, DIR/merged).
struct Companions {
  std::string config_json;
  std::vector<std::pair<std::string, std::string>> generated;  // file name, text
  std::vector<fs::path> copied;                                // base files copied as they are
  std::string tokenizer_note;                                  // why no tokenizer, or empty
};

// Files of a Hugging Face model directory that travel with its weights: the tokenizer in its
// several forms, the chat template, the generation defaults.
constexpr const char* kBaseCompanionFiles[] = {
    "tokenizer.json",   "tokenizer_config.json", "special_tokens_map.json", "vocab.txt",
    "vocab.json",       "merges.txt",            "tokenizer.model",         "added_tokens.json",
    "chat_template.jinja", "chat_template.json", "generation_config.json",
};

Companions prepare_companions(const Model& model, const std::string& base_path) {
  Companions c;
  if (is_gguf_path(base_path)) {
    c.config_json = hf_config_json_from_model_config(model.config(), model.dtype());
    const GgufFile file = GgufFile::open(base_path);
    const GgufVocabulary vocabulary = read_gguf_vocabulary(file);
    const std::string chat_template =
        file.find("tokenizer.chat_template") ? file.get_string("tokenizer.chat_template") : std::string();
    std::string why_not;
    const std::optional<HfTokenizerFiles> files =
        hf_tokenizer_files_from_gguf(vocabulary, chat_template, model.config().max_position, &why_not);
    if (files) {
      c.generated = {{"tokenizer.json", files->tokenizer_json}, {"tokenizer_config.json", files->tokenizer_config_json}};
    } else {
      c.tokenizer_note = base_path + ": no tokenizer files written: " + why_not;
    }
    return c;
  }
  const fs::path folder = base_folder(base_path);
  const fs::path config_path = folder / "config.json";
  std::ifstream in(config_path, std::ios::binary);
  check(static_cast<bool>(in), config_path.string() + ": cannot read the base model's config.json");
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  c.config_json = hf_config_json_for_export(text, config_path.string(), model.config(), model.dtype());
  for (const char* name : kBaseCompanionFiles)
    if (fs::is_regular_file(folder / name)) c.copied.push_back(folder / name);
  if (!fs::is_regular_file(folder / "tokenizer.json") && !fs::is_regular_file(folder / "vocab.txt") &&
      !fs::is_regular_file(folder / "vocab.json") && !fs::is_regular_file(folder / "tokenizer.model"))
    c.tokenizer_note = folder.string() + ": the base directory has no tokenizer files to copy";
  return c;
}

void write_tokenizer_files(const fs::path& dir, const Companions& c, std::vector<std::string>& written,
                           const std::string& rel) {
  for (const auto& [name, text] : c.generated) {
    write_text(dir / name, text);
    written.push_back(rel + name);
  }
  for (const fs::path& from : c.copied) {
    std::error_code ec;
    fs::copy_file(from, dir / from.filename(), fs::copy_options::overwrite_existing, ec);
    check(!ec, (dir / from.filename()).string() + ": cannot copy " + from.string() + ": " + ec.message());
    written.push_back(rel + from.filename().string());
  }
}

// A transformers model directory: model.safetensors with the backbone (every parameter but
// the PEFT modules; `replaced` substitutes a tensor's bytes, in the model's dtype), config.json,
// the tokenizer.
void write_model_dir(const fs::path& dir, const Model& model, const Companions& c,
                     const std::map<std::string, std::vector<uint8_t>>& replaced,
                     const std::map<std::string, std::string>& metadata, std::vector<std::string>& written,
                     const std::string& rel) {
  make_dir(dir);
  const ParamStore& params = model.params();
  std::vector<SafetensorsEntry> entries;
  for (const ParamView& v : params.views()) {
    if (is_peft_name(v.name)) continue;
    const auto it = replaced.find(v.name);
    entries.push_back({v.name, safetensors_dtype_name(v.dtype), v.shape,
                       it != replaced.end() ? static_cast<const void*>(it->second.data()) : params.data(v)});
  }
  std::map<std::string, std::string> meta = metadata;
  meta["format"] = "pt";
  write_safetensors((dir / "model.safetensors").string(), entries, meta);
  written.push_back(rel + "model.safetensors");
  write_text(dir / "config.json", c.config_json);
  written.push_back(rel + "config.json");
  write_tokenizer_files(dir, c, written, rel);
}

// The module paths LoRA wraps, in declaration order, with each module's A and B views.
struct LoraModule {
  std::string module;  // "model.layers.3.self_attn.q_proj"
  const ParamView* a = nullptr;
  const ParamView* b = nullptr;
};

std::vector<LoraModule> lora_modules(const Model& model) {
  std::vector<LoraModule> out;
  const ParamStore& params = model.params();
  for (const std::string& name : model.peft().tensor_names()) {
    const PeftTensorSite site = peft_tensor_site(model.config(), name);
    if (out.empty() || out.back().module != site.module) out.push_back({site.module});
    (site.tensor == "lora_A" ? out.back().a : out.back().b) = &params.at(name);
  }
  for (const LoraModule& m : out)
    check(m.a && m.b, m.module + ": LoRA module without both lora_A and lora_B");
  return out;
}

// The LoRA modules merged into their base weights, in the model's dtype.
std::map<std::string, std::vector<uint8_t>> merged_lora_weights(const Model& model) {
  std::map<std::string, std::vector<uint8_t>> out;
  const ParamStore& params = model.params();
  for (const LoraModule& m : lora_modules(model)) {
    const ParamView& w = params.at(m.module + ".weight");
    const int rows = static_cast<int>(w.shape[0]), cols = static_cast<int>(w.shape[1]);
    const int r = static_cast<int>(m.a->shape[0]);
    check(m.a->shape == std::vector<int64_t>{r, cols} && m.b->shape == std::vector<int64_t>{rows, r},
          m.module + ": LoRA shapes " + shape_string(m.a->shape) + ", " + shape_string(m.b->shape) +
              " do not fit the weight " + shape_string(w.shape));
    std::vector<float> merged(static_cast<size_t>(w.numel));
    convert(params.data(w), w.dtype, merged.data(), DType::F32, merged.size());
    merge_lora_into(merged.data(), static_cast<const float*>(params.data(*m.a)),
                    static_cast<const float*>(params.data(*m.b)), rows, cols, r,
                    model.peft().settings().lora_alpha);
    std::vector<uint8_t>& bytes = out[w.name];
    bytes.resize(static_cast<size_t>(w.numel) * dtype_size(w.dtype));
    convert(merged.data(), DType::F32, bytes.data(), w.dtype, merged.size());
  }
  return out;
}

const char* point_name(AdapterPoint p) {
  switch (p) {
    case AdapterPoint::AttentionOutput:
    case AdapterPoint::MlpOutput: return "output";
    case AdapterPoint::GateInput:
    case AdapterPoint::UpInput:
    case AdapterPoint::MlpInput: return "input";
  }
  return "?";
}

ordered_json tt_json(const PeftModules::TtLayer& t, const ParamStore& params) {
  ordered_json cores = ordered_json::array();
  for (size_t i = 0; i < t.shape.modes.size(); ++i) cores.push_back(params.views()[t.first_core + i].name);
  return {{"in", t.shape.in()},      {"out", t.shape.out()}, {"modes", t.shape.modes}, {"in_modes", t.shape.in_modes},
          {"rank", t.shape.rank},    {"cores", cores},       {"bias", params.views()[t.bias].name}};
}

// zotune_peft.json: what a loader needs to rebuild the TT adapters or the prefix around the
// backbone (docs/EXPORT.md, "TT adapters and prefixes").
std::string zotune_peft_json(const Model& model) {
  const PeftModules& peft = model.peft();
  const PeftSettings& s = peft.settings();
  const ParamStore& params = model.params();
  ordered_json j;
  j["format"] = "zotune-peft";
  j["format_version"] = 1;
  j["model_type"] = model.config().model_type;
  j["weights"] = "zotune_peft.safetensors";
  ordered_json modules = ordered_json::array();
  if (peft.kind() == PeftKind::Adapter) {
    j["kind"] = "tt_adapter";
    j["placement"] = std::string(kAdapterPlacementNames[static_cast<size_t>(s.adapter_placement)]);
    j["bottleneck"] = s.adapter_bottleneck;
    j["rank"] = s.adapter_rank;
    j["scale"] = s.adapter_scale;
    j["adapter"] = "a(h) = h + scale * (relu(h @ D + D.bias) @ U + U.bias); D [hidden, bottleneck] and U "
                   "[bottleneck, hidden] are TT matrices";
    for (int l = 0; l < model.config().num_layers; ++l) {
      for (int p = 0; p < kAdapterPoints; ++p) {
        const PeftModules::Adapter* a = peft.adapter_at(l, static_cast<AdapterPoint>(p));
        if (!a) continue;
        const std::string first = params.views()[a->down.first_core].name;
        // BERT's sites are the output blocks (dense, dropout, residual + LayerNorm); the adapter
        // acts on the dense layer's output, before the residual add.
        std::string module = peft_tensor_site(model.config(), first).module;
        const bool encoder = model.config().arch == Architecture::BERT || model.config().arch == Architecture::RoBERTa;
        if (encoder) module += ".dense";
        modules.push_back({{"layer", l},
                           {"module", module},
                           {"point", point_name(static_cast<AdapterPoint>(p))},
                           {"hidden", a->hidden},
                           {"down", tt_json(a->down, params)},
                           {"up", tt_json(a->up, params)}});
      }
    }
  } else {
    j["kind"] = "prefix";
    j["prefix_tokens"] = s.prefix_tokens;
    j["prefix"] = "every attention layer prepends prefix_keys / prefix_values [prefix_tokens, num_key_value_heads * "
                  "head_dim] to its keys and values; every query sees them; they have no position (Llama keys are "
                  "stored after RoPE) and real tokens keep positions 0, 1, ...";
    const std::vector<std::string>& names = peft.tensor_names();
    for (size_t i = 0; i + 1 < names.size(); i += 2) {
      const PeftTensorSite site = peft_tensor_site(model.config(), names[i]);
      modules.push_back({{"layer", site.layer},
                         {"module", site.module},
                         {"keys", names[i]},
                         {"values", names[i + 1]},
                         {"shape", params.at(names[i]).shape}});
    }
  }
  j["modules"] = modules;
  return j.dump(2) + "\n";
}

void write_peft_tensors(const fs::path& path, const Model& model, const std::map<std::string, std::string>& metadata,
                        const std::function<std::string(const std::string&)>& rename) {
  std::vector<SafetensorsEntry> entries;
  const ParamStore& params = model.params();
  for (const std::string& name : model.peft().tensor_names()) {
    const ParamView& v = params.at(name);
    entries.push_back({rename(name), safetensors_dtype_name(v.dtype), v.shape, params.data(v)});
  }
  // A classification head the run put on the base goes with a PEFT adapter (modules_to_save).
  if (model.peft().kind() == PeftKind::Lora && model.config().head == HeadKind::SequenceClassification)
    for (const ParamView& v : params.views())
      if (is_head_name(v.name)) entries.push_back({"base_model.model." + v.name, safetensors_dtype_name(v.dtype), v.shape, params.data(v)});
  std::map<std::string, std::string> meta = metadata;
  meta["format"] = "pt";
  write_safetensors(path.string(), entries, meta);
}

std::vector<std::string> head_modules_to_save(const Model& model) {
  std::vector<std::string> out;
  if (model.config().head != HeadKind::SequenceClassification) return out;
  std::set<std::string> seen;
  for (const ParamView& v : model.params().views()) {
    if (!is_head_name(v.name)) continue;
    // classifier.*, score.*: the module "classifier" / "score"; bert.pooler.*: "pooler".
    const std::string module = v.name.rfind("bert.pooler.", 0) == 0 ? "pooler" : v.name.substr(0, v.name.find('.'));
    if (seen.insert(module).second) out.push_back(module);
  }
  return out;
}

std::string auto_class(const Model& model);

std::string readme(const HfExportReport& r, const Model& model, const HfExportOptions& o, const std::string& base_ref) {
  std::string t = "# zotune export\n\n";
  t += "Written by zotune (docs/EXPORT.md describes every layout). Base model: `" + o.base_path + "`; " +
       std::string(architecture_name(model.config().arch)) + ", " + head_name(model.config().head) + " head, weights " +
       hf_torch_dtype(model.dtype()) + ".\n\n";
  if (!o.metadata.empty()) {
    t += "Provenance (also in the safetensors `__metadata__`):\n\n";
    for (const auto& [k, v] : o.metadata) t += "- " + k + ": `" + v + "`\n";
    t += "\n";
  }
  t += "Layout: " + r.layout + ".\n\n";
  if (r.layout == "model") {
    t += "A transformers model directory (model.safetensors, config.json, tokenizer):\n\n```python\n"
         "from transformers import " + auto_class(model) + ", AutoTokenizer\n"
         "model = " + auto_class(model) + ".from_pretrained(\"DIR\")\ntokenizer = AutoTokenizer.from_pretrained(\"DIR\")\n```\n";
  } else if (r.layout == "lora adapter") {
    t += "A PEFT LoRA adapter (adapter_config.json, adapter_model.safetensors) over the base `" + base_ref +
         "`:\n\n```python\nfrom transformers import " + auto_class(model) + "\nfrom peft import PeftModel\n"
         "base = " + auto_class(model) + ".from_pretrained(\"" + base_ref + "\")\n"
         "model = PeftModel.from_pretrained(base, \"DIR\")\n```\n";
    if (fs::path(base_ref).filename() == "base")
      t += "\n`base/` holds the base (dequantized from the GGUF file) as a transformers model directory.\n";
    if (o.merge_lora)
      t += "\n`merged/` holds the base with the adapter merged in (W + (lora_alpha / r) B A): a plain transformers "
           "model directory.\n";
  } else {
    t += "The backbone as a transformers model directory, plus the " + r.layout +
         " modules in zotune_peft.safetensors (zotune's tensor names, fp32) described by zotune_peft.json. "
         "transformers and PEFT have no equivalent module, so the backbone alone is not the trained model: "
         "docs/EXPORT.md gives the format" +
         std::string(r.layout == "tt adapter" ? " and analysis/zotune_tt_adapters.py wraps a transformers model "
                                                "with the adapters" : "") +
         ".\n";
  }
  if (!r.tokenizer_note.empty()) t += "\nTokenizer: " + r.tokenizer_note + ".\n";
  t += "\nFiles:\n\n";
  for (const std::string& f : r.written) t += "- " + f + "\n";
  return t;
}

// The transformers Auto class that loads a model of this head.
std::string auto_class(const Model& model) {
  switch (model.config().head) {
    case HeadKind::CausalLM: return "AutoModelForCausalLM";
    case HeadKind::MaskedLM: return "AutoModelForMaskedLM";
    case HeadKind::SequenceClassification: return "AutoModelForSequenceClassification";
    case HeadKind::Base: return "AutoModel";
  }
  return "AutoModel";
}

// Export files of the layouts this one does not write: stale ones would change how DIR loads.
void remove_stale(const fs::path& dir, const std::vector<std::string>& written) {
  for (const char* name : {"model.safetensors", "model.safetensors.index.json", "adapter_config.json",
                           "adapter_model.safetensors", "zotune_peft.json", "zotune_peft.safetensors"}) {
    if (std::find(written.begin(), written.end(), name) != written.end()) continue;
    std::error_code ec;
    fs::remove(dir / name, ec);
    check(!ec, (dir / name).string() + ": cannot remove the file of an earlier export: " + ec.message());
  }
}

}  // namespace

bool is_directory_export(const std::string& path) {
  const std::string suffix = ".safetensors";
  return !(path.size() >= suffix.size() && path.compare(path.size() - suffix.size(), suffix.size(), suffix) == 0);
}

HfExportReport export_hf(const std::string& dir_path, const Model& model, const HfExportOptions& o) {
  check(!dir_path.empty(), "export: no output directory given");
  check(!o.base_path.empty(), dir_path + ": export: the base model path is not known");
  const fs::path dir(dir_path);
  check(!fs::exists(dir) || fs::is_directory(dir), dir_path + ": export: exists and is not a directory");
  make_dir(dir);
  if (!is_gguf_path(o.base_path)) {
    std::error_code ec;
    check(!fs::equivalent(dir, base_folder(o.base_path), ec),
          dir_path + ": export: this is the base model's directory; choose another (the export would overwrite the base)");
  }
  const Companions companions = prepare_companions(model, o.base_path);
  HfExportReport r;
  r.tokenizer_note = companions.tokenizer_note;
  const PeftKind kind = model.peft().kind();
  if (o.merge_lora && kind == PeftKind::None)
    throw Error(dir_path + ": --merge-lora: the run trained no LoRA modules (its weights are exported as they are)");
  std::string base_ref;
  if (kind == PeftKind::None) {
    r.layout = "model";
    write_model_dir(dir, model, companions, {}, o.metadata, r.written, "");
    r.load_hint = auto_class(model) + ".from_pretrained(\"" + dir_path + "\")";
  } else if (kind == PeftKind::Lora) {
    r.layout = "lora adapter";
    const bool gguf = is_gguf_path(o.base_path);
    if (gguf) {
      // The adapter's base as transformers loads it: the dequantized GGUF weights zotune trained on.
      write_model_dir(dir / "base", model, companions, {}, {}, r.written, "base/");
      base_ref = fs::absolute(dir / "base").lexically_normal().string();
    } else {
      base_ref = fs::absolute(base_folder(o.base_path)).lexically_normal().string();
    }
    std::vector<std::string> sites;
    for (const LoraModule& m : lora_modules(model)) sites.push_back(m.module);
    write_text(dir / "adapter_config.json", peft_lora_adapter_config(model.config(), model.peft().settings(), sites,
                                                                     base_ref, head_modules_to_save(model)));
    r.written.push_back("adapter_config.json");
    write_peft_tensors(dir / "adapter_model.safetensors", model, o.metadata,
                       [&](const std::string& name) { return peft_lora_tensor_name(model.config(), name); });
    r.written.push_back("adapter_model.safetensors");
    write_tokenizer_files(dir, companions, r.written, "");
    if (o.merge_lora) write_model_dir(dir / "merged", model, companions, merged_lora_weights(model), o.metadata, r.written, "merged/");
    r.load_hint = "PeftModel.from_pretrained(" + auto_class(model) + ".from_pretrained(\"" + base_ref + "\"), \"" + dir_path + "\")";
  } else {
    check(!o.merge_lora, dir_path + ": --merge-lora: the run trained " +
                             std::string(kind == PeftKind::Adapter ? "TT adapters" : "a prefix") +
                             ", not LoRA (TT adapters are nonlinear bottlenecks: no merge into linear weights exists)");
    r.layout = kind == PeftKind::Adapter ? "tt adapter" : "prefix";
    write_model_dir(dir, model, companions, {}, o.metadata, r.written, "");
    write_text(dir / "zotune_peft.json", zotune_peft_json(model));
    r.written.push_back("zotune_peft.json");
    write_peft_tensors(dir / "zotune_peft.safetensors", model, o.metadata, [](const std::string& n) { return n; });
    r.written.push_back("zotune_peft.safetensors");
    r.load_hint = "docs/EXPORT.md (TT adapters and prefixes)";
  }
  remove_stale(dir, r.written);
  write_text(dir / "README.md", readme(r, model, o, base_ref));
  r.written.push_back("README.md");
  return r;
}

}  // namespace zotune
