// Hugging Face exports (core/train/hf_export.h, docs/EXPORT.md): config.json built from GGUF
// metadata (and read back by the loader as the same model), a base config.json following a new
// head, PEFT's LoRA tensor names and shapes for every architecture, adapter_config.json's
// target_modules, the tokenizer.json of a GGUF vocabulary, and whole exports read back by
// zotune's own loader: a full model bit for bit, a LoRA run's merged model with the logits of
// the unmerged one. (tests/python/check_hf_export.py loads the exports with transformers.)
#include "core/train/hf_export.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <regex>

#include "core/io/gguf.h"
#include "core/io/safetensors.h"
#include "core/model/hf_config_export.h"
#include "core/peft/peft_export.h"
#include "core/tokenizer/hf_tokenizer_export.h"
#include "gguf_test_image.h"
#include "io_test_util.h"

namespace zotune {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;
using test::error_of;
using test::GgufImage;

const std::string kTinyLm = test::fixture_path("train/tiny_lm");


// SmolLM2-like metadata (GQA, rope base 1e5, eps 1e-5, ids), `arch` its architecture.
ModelConfig gguf_config(const std::string& arch, uint32_t window = 0) {
  GgufImage g;
  g.string("general.architecture", arch);
  const std::string p = arch + ".";
  g.u32(p + "block_count", 3);
  g.u32(p + "embedding_length", 48);
  g.u32(p + "feed_forward_length", 96);
  g.u32(p + "attention.head_count", 6);
  g.u32(p + "attention.head_count_kv", 2);
  g.u32(p + "context_length", 512);
  g.u32(p + "vocab_size", 100);
  g.f32(p + "attention.layer_norm_rms_epsilon", 1e-5f);
  g.f32(p + "rope.freq_base", 100000.0f);
  if (window) g.u32(p + "attention.sliding_window", window);
  g.u32("tokenizer.ggml.bos_token_id", 1);
  g.u32("tokenizer.ggml.eos_token_id", 2);
  g.u32("tokenizer.ggml.padding_token_id", 2);
  const std::vector<uint8_t>& bytes = g.finish();
  return config_from_gguf(GgufFile::from_memory(bytes.data(), bytes.size(), arch + ".gguf"));
}

// The fields zotune's forward pass depends on, equal in both configs.
void expect_same_model(const ModelConfig& a, const ModelConfig& b) {
  EXPECT_EQ(a.arch, b.arch);
  EXPECT_EQ(a.head, b.head);
  EXPECT_EQ(a.model_type, b.model_type);
  EXPECT_EQ(a.vocab_size, b.vocab_size);
  EXPECT_EQ(a.hidden_size, b.hidden_size);
  EXPECT_EQ(a.num_layers, b.num_layers);
  EXPECT_EQ(a.num_heads, b.num_heads);
  EXPECT_EQ(a.num_kv_heads, b.num_kv_heads);
  EXPECT_EQ(a.head_dim, b.head_dim);
  EXPECT_EQ(a.intermediate_size, b.intermediate_size);
  EXPECT_EQ(a.max_position, b.max_position);
  EXPECT_EQ(a.activation, b.activation);
  EXPECT_EQ(a.tie_word_embeddings, b.tie_word_embeddings);
  EXPECT_EQ(a.rope_theta, b.rope_theta);  // bit for bit: the shortest decimal reads back
  EXPECT_EQ(a.rms_norm_eps, b.rms_norm_eps);
  EXPECT_EQ(a.qkv_bias, b.qkv_bias);
  EXPECT_EQ(a.attention_bias, b.attention_bias);
  EXPECT_EQ(a.rope.type, b.rope.type);
  EXPECT_EQ(a.sliding_window, b.sliding_window);
  EXPECT_EQ(a.bos_token_id, b.bos_token_id);
  EXPECT_EQ(a.eos_token_id, b.eos_token_id);
  EXPECT_EQ(a.pad_token_id, b.pad_token_id);
}

TEST(HfConfigExport, LlamaConfigFromGgufMetadata) {
  const ModelConfig gguf = gguf_config("llama");
  const std::string text = hf_config_json_from_model_config(gguf, DType::BF16);
  const json j = json::parse(text);
  EXPECT_EQ(j["architectures"], json::array({"LlamaForCausalLM"}));
  EXPECT_EQ(j["model_type"], "llama");
  EXPECT_EQ(j["hidden_size"], 48);
  EXPECT_EQ(j["intermediate_size"], 96);
  EXPECT_EQ(j["num_hidden_layers"], 3);
  EXPECT_EQ(j["num_attention_heads"], 6);
  EXPECT_EQ(j["num_key_value_heads"], 2);
  EXPECT_EQ(j["head_dim"], 8);
  EXPECT_EQ(j["max_position_embeddings"], 512);
  EXPECT_EQ(j["vocab_size"], 100);
  EXPECT_EQ(j["rms_norm_eps"], 1e-5);  // the GGUF's float as its shortest decimal
  EXPECT_EQ(j["rope_theta"], 100000.0);
  EXPECT_EQ(j["tie_word_embeddings"], true);  // no output.weight tensor in the file
  EXPECT_EQ(j["bos_token_id"], 1);
  EXPECT_EQ(j["eos_token_id"], 2);
  EXPECT_EQ(j["pad_token_id"], 2);
  EXPECT_EQ(j["hidden_act"], "silu");
  EXPECT_EQ(j["torch_dtype"], "bfloat16");
  EXPECT_FALSE(j.contains("rope_scaling"));
  // zotune's own loader reads the written config.json as the model the GGUF gave.
  expect_same_model(parse_hf_config_text(text, "config.json"), gguf);
}

TEST(HfConfigExport, MistralAndQwen2ConfigsFromGgufMetadata) {
  const ModelConfig mistral = gguf_config("mistral", 256);
  const json m = json::parse(hf_config_json_from_model_config(mistral, DType::F32));
  EXPECT_EQ(m["architectures"], json::array({"MistralForCausalLM"}));
  EXPECT_EQ(m["sliding_window"], 256);
  expect_same_model(parse_hf_config_text(m.dump(), "mistral/config.json"), mistral);

  ModelConfig qwen = gguf_config("qwen2");
  qwen.qkv_bias = true;  // config_from_gguf sets it from blk.0.attn_q.bias
  const json q = json::parse(hf_config_json_from_model_config(qwen, DType::F16));
  EXPECT_EQ(q["architectures"], json::array({"Qwen2ForCausalLM"}));
  EXPECT_EQ(q["use_sliding_window"], false);
  EXPECT_FALSE(q.contains("attention_bias"));  // Qwen2's q/k/v biases are implied by its type
  EXPECT_FALSE(q.contains("head_dim"));
  EXPECT_EQ(q["torch_dtype"], "float16");
  expect_same_model(parse_hf_config_text(q.dump(), "qwen2/config.json"), qwen);

  // A q/k/v bias on a llama has no transformers configuration: an error, not a wrong model.
  ModelConfig biased = gguf_config("llama");
  biased.qkv_bias = true;
  EXPECT_NE(error_of([&] { hf_config_json_from_model_config(biased, DType::F32); }).find("llama.gguf: q/k/v"),
            std::string::npos);
}

TEST(HfConfigExport, BaseConfigFollowsANewHead) {
  const std::string base = R"({"model_type": "bert", "architectures": ["BertForMaskedLM"], "vocab_size": 30,
    "hidden_size": 12, "num_hidden_layers": 1, "num_attention_heads": 2, "intermediate_size": 24,
    "max_position_embeddings": 16, "custom_key": [1, 2], "torch_dtype": "float32"})";
  ModelConfig model = parse_hf_config_text(base, "bert/config.json");
  // The same head: architectures and every other key kept, only the dtype follows the run.
  json same = json::parse(hf_config_json_for_export(base, "bert/config.json", model, DType::F16));
  EXPECT_EQ(same["architectures"], json::array({"BertForMaskedLM"}));
  EXPECT_EQ(same["custom_key"], json::array({1, 2}));
  EXPECT_EQ(same["torch_dtype"], "float16");
  EXPECT_FALSE(same.contains("id2label"));
  // A classification head the run put on it: the class and the labels follow.
  model.head = HeadKind::SequenceClassification;
  model.num_labels = 3;
  const std::string text = hf_config_json_for_export(base, "bert/config.json", model, DType::F32);
  EXPECT_EQ(text.find("\"model_type\""), text.find('"'));  // the base's key order is kept
  const json j = json::parse(text);
  EXPECT_EQ(j["architectures"], json::array({"BertForSequenceClassification"}));
  EXPECT_EQ(j["id2label"].size(), 3u);
  EXPECT_EQ(j["label2id"]["LABEL_2"], 2);
  const ModelConfig back = parse_hf_config_text(text, "export/config.json");
  EXPECT_EQ(back.head, HeadKind::SequenceClassification);
  EXPECT_EQ(back.num_labels, 3);
}

// A model of `config` with LoRA on `targets`, every tensor seeded (B too: not PEFT's zeros).
std::unique_ptr<Model> lora_model(const ModelConfig& config, std::vector<LoraTarget> targets, int rank = 4) {
  PeftSettings peft;
  peft.kind = PeftKind::Lora;
  peft.lora_rank = rank;
  peft.lora_alpha = 16.0;
  peft.lora_targets = std::move(targets);
  std::unique_ptr<Model> m = create_model(config, DType::F32, peft);
  std::mt19937 rng(11);
  std::normal_distribution<float> normal(0.0f, 0.1f);
  for (const ParamView& v : m->params().views()) {
    float* p = static_cast<float*>(m->params().data(v));
    for (int64_t i = 0; i < v.numel; ++i) p[i] = normal(rng);
  }
  return m;
}

TEST(PeftExport, LoraTensorNamesAndShapesArePeftsForEveryArchitecture) {
  struct Case {
    std::string config;  // config.json
    std::string a_name;  // PEFT's name of layer 1's first LoRA A
    std::string o_module;
  };
  const Case cases[] = {
      {R"({"model_type": "llama", "architectures": ["LlamaForCausalLM"], "vocab_size": 32, "hidden_size": 16,
           "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2, "intermediate_size": 24,
           "max_position_embeddings": 32})",
       "base_model.model.model.layers.1.self_attn.q_proj.lora_A.weight", "model.layers.1.self_attn.o_proj"},
      {R"({"model_type": "opt", "architectures": ["OPTForCausalLM"], "vocab_size": 32, "hidden_size": 16,
           "num_hidden_layers": 2, "num_attention_heads": 4, "ffn_dim": 24, "max_position_embeddings": 32})",
       "base_model.model.model.decoder.layers.1.self_attn.q_proj.lora_A.weight",
       "model.decoder.layers.1.self_attn.out_proj"},
      {R"({"model_type": "bert", "architectures": ["BertForMaskedLM"], "vocab_size": 32, "hidden_size": 16,
           "num_hidden_layers": 2, "num_attention_heads": 4, "intermediate_size": 24, "max_position_embeddings": 32})",
       "base_model.model.bert.encoder.layer.1.attention.self.query.lora_A.weight",
       "bert.encoder.layer.1.attention.output.dense"},
  };
  for (const Case& c : cases) {
    const ModelConfig config = parse_hf_config_text(c.config, "config.json");
    SCOPED_TRACE(config.model_type);
    const std::unique_ptr<Model> m = lora_model(config, {LoraTarget::Q, LoraTarget::O}, 4);
    std::vector<std::string> sites;
    bool saw_a = false;
    for (const std::string& name : m->peft().tensor_names()) {
      const std::string peft_name = peft_lora_tensor_name(config, name);
      saw_a = saw_a || peft_name == c.a_name;
      const PeftTensorSite site = peft_tensor_site(config, name);
      // PEFT's layout: lora_A [r, in] and lora_B [out, r] of the wrapped Linear's [out, in].
      const std::vector<int64_t>& w = m->params().at(site.module + ".weight").shape;
      const std::vector<int64_t>& t = m->params().at(name).shape;
      if (site.tensor == "lora_A") {
        EXPECT_EQ(t, (std::vector<int64_t>{4, w[1]})) << name;
        sites.push_back(site.module);
      } else {
        EXPECT_EQ(t, (std::vector<int64_t>{w[0], 4})) << name;
      }
      EXPECT_EQ(peft_name, "base_model.model." + site.module + "." + site.tensor + ".weight");
    }
    EXPECT_TRUE(saw_a) << c.a_name;
    EXPECT_NE(std::find(sites.begin(), sites.end(), c.o_module), sites.end());
    const json ac = json::parse(peft_lora_adapter_config(config, m->peft().settings(), sites, "/base", {}));
    EXPECT_EQ(ac["peft_type"], "LORA");
    EXPECT_EQ(ac["r"], 4);
    EXPECT_EQ(ac["lora_alpha"], 16.0);
    EXPECT_EQ(ac["base_model_name_or_path"], "/base");
    // target_modules selects exactly the wrapped modules among every Linear of the model.
    const json& targets = ac["target_modules"];
    for (const ParamView& v : m->params().views()) {
      const std::string& n = v.name;
      if (n.size() < 7 || n.compare(n.size() - 7, 7, ".weight") != 0 || v.shape.size() != 2) continue;
      const std::string module = n.substr(0, n.size() - 7);
      bool selected = false;
      if (targets.is_string()) {
        selected = std::regex_match(module, std::regex(targets.get<std::string>()));
      } else {
        for (const auto& t : targets) {
          const std::string s = t.get<std::string>();
          selected = selected || module == s ||
                     (module.size() > s.size() && module.compare(module.size() - s.size() - 1, s.size() + 1, "." + s) == 0);
        }
      }
      EXPECT_EQ(selected, std::find(sites.begin(), sites.end(), module) != sites.end()) << module;
    }
  }
  EXPECT_EQ(peft_task_type(parse_hf_config_text(cases[2].config, "c")), "");  // masked LM: no PEFT task type
  EXPECT_NE(error_of([&] { peft_lora_tensor_name(parse_hf_config_text(cases[0].config, "c"), "model.norm.weight"); })
                .find("not a zotune PEFT tensor name"),
            std::string::npos);
}

TEST(HfTokenizerExport, ByteLevelBpeFromGgufVocabulary) {
  GgufVocabulary v;
  v.model = "gpt2";
  v.pre = "smollm";
  v.tokens = {"<s>", "a", "b", "ab", "\xC4\xA0" "a", "<u>"};
  v.token_types = {3, 1, 1, 1, 1, 4};
  v.merges = {"a b", "\xC4\xA0 a"};
  v.bos_id = 0;
  v.add_bos = true;
  std::string why;
  const std::optional<HfTokenizerFiles> files = hf_tokenizer_files_from_gguf(v, "{{ x }}", 64, &why);
  ASSERT_TRUE(files) << why;
  const json t = json::parse(files->tokenizer_json);
  EXPECT_EQ(t["model"]["type"], "BPE");
  EXPECT_EQ(t["model"]["vocab"]["ab"], 3);
  EXPECT_EQ(t["model"]["merges"], json::array({"a b", "\xC4\xA0 a"}));
  EXPECT_EQ(t["model"]["ignore_merges"], false);
  ASSERT_EQ(t["added_tokens"].size(), 2u);
  EXPECT_EQ(t["added_tokens"][0]["content"], "<s>");
  EXPECT_EQ(t["added_tokens"][0]["special"], true);  // control token
  EXPECT_EQ(t["added_tokens"][1]["content"], "<u>");
  EXPECT_EQ(t["added_tokens"][1]["special"], false);  // user-defined token
  EXPECT_EQ(t["pre_tokenizer"]["pretokenizers"][0]["type"], "Digits");
  EXPECT_EQ(t["pre_tokenizer"]["pretokenizers"][1]["type"], "ByteLevel");
  EXPECT_EQ(t["post_processor"]["single"][0]["SpecialToken"]["id"], "<s>");
  EXPECT_EQ(t["post_processor"]["special_tokens"]["<s>"]["ids"], json::array({0}));
  const json c = json::parse(files->tokenizer_config_json);
  EXPECT_EQ(c["tokenizer_class"], "PreTrainedTokenizerFast");
  EXPECT_EQ(c["bos_token"], "<s>");
  EXPECT_EQ(c["chat_template"], "{{ x }}");
  EXPECT_EQ(c["model_max_length"], 64);

  v.pre = "llama-bpe";  // Llama 3: regex split, whole words looked up first
  const json l = json::parse(hf_tokenizer_files_from_gguf(v, "", 0, &why)->tokenizer_json);
  EXPECT_EQ(l["pre_tokenizer"]["pretokenizers"][0]["type"], "Split");
  EXPECT_EQ(l["model"]["ignore_merges"], true);
  v.tokens[2] = "a";  // a token listed twice cannot be a tokenizer.json vocabulary
  EXPECT_NE(error_of([&] { hf_tokenizer_files_from_gguf(v, "", 0, &why); }).find("repeats id 1"), std::string::npos);
  v.model = "llama";  // SentencePiece: no merges to write, said so
  EXPECT_FALSE(hf_tokenizer_files_from_gguf(v, "", 0, &why));
  EXPECT_NE(why.find("'llama'"), std::string::npos);
}

std::vector<float> logits_of(Model& m) {
  return m.forward(Batch::from_sequences({{3, 17, 42, 100, 7, 256}}, 0));
}

TEST(HfExport, FullExportReadsBackBitForBit) {
  test::TempDir dir;
  LoadOptions options;
  std::unique_ptr<Model> model = load_model(kTinyLm, options);
  float* embed = static_cast<float*>(model->params().data(model->params().at("model.embed_tokens.weight")));
  embed[5] += 0.25f;  // "trained": differs from the base
  HfExportOptions export_options;
  export_options.base_path = kTinyLm;
  export_options.metadata = {{"zotune_steps", "5"}};
  const HfExportReport r = export_hf(dir.file("out"), *model, export_options);
  EXPECT_EQ(r.layout, "model");
  for (const char* f : {"model.safetensors", "config.json", "tokenizer.json", "README.md"})
    EXPECT_TRUE(fs::exists(dir.path() / "out" / f)) << f;
  EXPECT_EQ(SafetensorsArchive::open(dir.file("out/model.safetensors")).metadata().at("zotune_steps"), "5");
  std::unique_ptr<Model> back = load_model(dir.file("out"), options);
  EXPECT_EQ(logits_of(*back), logits_of(*model));
  // The base's own directory is refused: the export would overwrite the base.
  EXPECT_NE(error_of([&] { export_hf(kTinyLm, *model, export_options); }).find("the base model's directory"),
            std::string::npos);
}

TEST(HfExport, LoraExportIsAPeftAdapterAndItsMergeMatchesTheUnmergedModel) {
  test::TempDir dir;
  LoadOptions options;
  options.peft.kind = PeftKind::Lora;
  options.peft.lora_rank = 2;
  options.peft.lora_alpha = 8.0;
  options.peft.lora_targets = {LoraTarget::Q, LoraTarget::V, LoraTarget::O};
  std::unique_ptr<Model> model = load_model(kTinyLm, options);
  std::mt19937 rng(5);
  std::normal_distribution<float> normal(0.0f, 0.3f);
  for (const std::string& name : model->peft().tensor_names()) {
    const ParamView& v = model->params().at(name);
    float* p = static_cast<float*>(model->params().data(v));
    for (int64_t i = 0; i < v.numel; ++i) p[i] = normal(rng);  // B != 0: the adapter matters
  }
  HfExportOptions export_options;
  export_options.base_path = kTinyLm;
  export_options.merge_lora = true;
  const std::string out = dir.file("out");
  fs::create_directories(out);
  { std::ofstream(out + "/zotune_peft.json") << "{}"; }  // an earlier export of another layout
  const HfExportReport r = export_hf(out, *model, export_options);
  EXPECT_EQ(r.layout, "lora adapter");
  EXPECT_FALSE(fs::exists(out + "/zotune_peft.json"));
  EXPECT_FALSE(fs::exists(out + "/model.safetensors"));  // an adapter directory holds no backbone
  const json ac = json::parse(test::read_bytes(out + "/adapter_config.json"));
  EXPECT_EQ(ac["base_model_name_or_path"], fs::absolute(kTinyLm).lexically_normal().string());
  EXPECT_EQ(ac["task_type"], "CAUSAL_LM");
  EXPECT_EQ(ac["target_modules"], json::array({"o_proj", "q_proj", "v_proj"}));
  const SafetensorsArchive adapter = SafetensorsArchive::open(out + "/adapter_model.safetensors");
  EXPECT_EQ(adapter.names().size(), 2u * 3u * 2u);  // 2 layers x 3 modules x (A, B)
  const SafetensorsTensor* b = adapter.find("base_model.model.model.layers.1.self_attn.v_proj.lora_B.weight");
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(b->shape, (std::vector<int64_t>{8, 2}));  // [kv_dim, r]
  // The merged model, read by zotune's loader with no LoRA, computes what the LoRA model does.
  std::unique_ptr<Model> merged = load_model(out + "/merged", LoadOptions{});
  const std::vector<float> expected = logits_of(*model), got = logits_of(*merged);
  ASSERT_EQ(got.size(), expected.size());
  double worst = 0.0, effect = 0.0;
  std::unique_ptr<Model> base = load_model(kTinyLm, LoadOptions{});
  const std::vector<float> plain = logits_of(*base);
  for (size_t i = 0; i < got.size(); ++i) {
    worst = std::max(worst, static_cast<double>(std::fabs(got[i] - expected[i])));
    effect = std::max(effect, static_cast<double>(std::fabs(plain[i] - expected[i])));
  }
  EXPECT_LT(worst, 1e-5);
  EXPECT_GT(effect, 1e-2);  // the merge carried the adapter, not only the base
  EXPECT_TRUE(is_directory_export(out));
  EXPECT_FALSE(is_directory_export(dir.file("w.safetensors")));
}

TEST(HfExport, TtAdapterExportDescribesItsModulesAndRefusesAMerge) {
  test::TempDir dir;
  LoadOptions options;
  options.peft.kind = PeftKind::Adapter;
  options.peft.adapter_bottleneck = 8;
  options.peft.adapter_rank = 2;
  std::unique_ptr<Model> model = load_model(kTinyLm, options);
  HfExportOptions export_options;
  export_options.base_path = kTinyLm;
  const HfExportReport r = export_hf(dir.file("out"), *model, export_options);
  EXPECT_EQ(r.layout, "tt adapter");
  const json spec = json::parse(test::read_bytes(dir.file("out/zotune_peft.json")));
  EXPECT_EQ(spec["kind"], "tt_adapter");
  ASSERT_EQ(spec["modules"].size(), 2u * 3u);  // code placement: gate_proj, up_proj inputs, down_proj output
  EXPECT_EQ(spec["modules"][0]["module"], "model.layers.0.mlp.gate_proj");
  EXPECT_EQ(spec["modules"][0]["point"], "input");
  EXPECT_EQ(spec["modules"][2]["point"], "output");
  const SafetensorsArchive tensors = SafetensorsArchive::open(dir.file("out/zotune_peft.safetensors"));
  EXPECT_EQ(tensors.names().size(), model->peft().tensor_names().size());
  for (const auto& core : spec["modules"][0]["down"]["cores"]) EXPECT_NE(tensors.find(core.get<std::string>()), nullptr);
  // The backbone loads alone (no PEFT tensors in model.safetensors).
  EXPECT_EQ(SafetensorsArchive::open(dir.file("out/model.safetensors")).find(model->peft().tensor_names()[0]), nullptr);
  export_options.merge_lora = true;
  EXPECT_NE(error_of([&] { export_hf(dir.file("out2"), *model, export_options); }).find("no merge into linear weights"),
            std::string::npos);
}

}  // namespace
}  // namespace zotune
