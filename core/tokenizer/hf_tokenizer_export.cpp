// hf_tokenizer_files_from_gguf: Tokenizer::from_gguf's assembly (tokenizer_gguf.cpp), written
// out in the `tokenizers` library's JSON schema instead of built in memory. Every component
// here mirrors one there; keep them in step.
#include "core/tokenizer/hf_tokenizer_export.h"

#include <nlohmann/json.hpp>
#include <set>

#include "core/tokenizer/split_patterns.h"
#include "core/util/error.h"

namespace zotune {

using ordered_json = nlohmann::ordered_json;

namespace {

constexpr int32_t kTokenTypeUnknown = 2;
constexpr int32_t kTokenTypeControl = 3;
constexpr int32_t kTokenTypeUserDefined = 4;

[[noreturn]] void fail(const std::string& key, const std::string& message) {
  throw Error("GGUF vocabulary: key '" + key + "': " + message);
}

ordered_json byte_level(bool add_prefix_space, bool trim_offsets, bool use_regex) {
  return {{"type", "ByteLevel"}, {"add_prefix_space", add_prefix_space}, {"trim_offsets", trim_offsets},
          {"use_regex", use_regex}};
}

// tokenizer_gguf.cpp's gpt2_pre_tokenizer, as tokenizers JSON.
ordered_json pre_tokenizer(const std::string& pre) {
  ordered_json steps = ordered_json::array();
  if (pre == "default" || pre == "gpt-2" || pre.empty()) {
    steps.push_back(byte_level(false, true, true));
  } else if (pre == "smollm") {
    steps.push_back({{"type", "Digits"}, {"individual_digits", true}});
    steps.push_back(byte_level(false, true, true));
  } else if (pre == "llama-bpe" || pre == "llama3" || pre == "qwen2") {
    const char* regex = pre == "qwen2" ? tok::kQwen2Pattern : tok::kLlama3Pattern;
    steps.push_back({{"type", "Split"}, {"pattern", {{"Regex", regex}}}, {"behavior", "Isolated"}, {"invert", false}});
    steps.push_back(byte_level(false, false, false));
  } else {
    fail("tokenizer.ggml.pre",
         "unknown pre-tokenizer '" + pre + "' (known: default, gpt-2, smollm, llama-bpe, llama3, qwen2)");
  }
  return {{"type", "Sequence"}, {"pretokenizers", steps}};
}

const std::string& token_at(const GgufVocabulary& v, int32_t id, const char* key) {
  if (id < 0 || static_cast<size_t>(id) >= v.tokens.size())
    fail(key, "id " + std::to_string(id) + " is not a token of the vocabulary");
  return v.tokens[static_cast<size_t>(id)];
}

// BOS / EOS around each sequence, as from_gguf's TemplateProcessor (add_bos / add_eos).
ordered_json template_processing(const GgufVocabulary& v) {
  ordered_json single = ordered_json::array(), pair = ordered_json::array(), special = ordered_json::object();
  const auto special_piece = [&](int32_t id, int type_id, const char* key) {
    const std::string& token = token_at(v, id, key);
    special[token] = {{"id", token}, {"ids", {id}}, {"tokens", {token}}};
    return ordered_json{{"SpecialToken", {{"id", token}, {"type_id", type_id}}}};
  };
  for (int seq = 0; seq < 2; ++seq) {
    ordered_json& out = seq == 0 ? single : pair;
    for (int s = 0; s <= seq; ++s) {
      if (v.add_bos) out.push_back(special_piece(v.bos_id, s, "tokenizer.ggml.bos_token_id"));
      out.push_back({{"Sequence", {{"id", s == 0 ? "A" : "B"}, {"type_id", s}}}});
      if (v.add_eos) out.push_back(special_piece(v.eos_id, s, "tokenizer.ggml.eos_token_id"));
    }
  }
  return {{"type", "TemplateProcessing"}, {"single", single}, {"pair", pair}, {"special_tokens", special}};
}

ordered_json token_or_null(const GgufVocabulary& v, int32_t id, const char* key) {
  return id >= 0 ? ordered_json(token_at(v, id, key)) : ordered_json(nullptr);
}

}  // namespace

std::optional<HfTokenizerFiles> hf_tokenizer_files_from_gguf(const GgufVocabulary& v, const std::string& chat_template,
                                                             int model_max_length, std::string* why_not) {
  if (v.model != "gpt2") {
    if (why_not)
      *why_not = "the GGUF vocabulary is tokenizer.ggml.model '" + v.model +
                 "'; only byte-level BPE ('gpt2') vocabularies are written as tokenizer.json (a SentencePiece "
                 "vocabulary keeps scores, not the merges tokenizer.json lists; a WordPiece one was rewritten by "
                 "llama.cpp's converter)";
    return std::nullopt;
  }
  const size_t n = v.tokens.size();
  if (n == 0) fail("tokenizer.ggml.tokens", "missing or empty");
  if (!v.token_types.empty() && v.token_types.size() != n)
    fail("tokenizer.ggml.token_type",
         std::to_string(v.token_types.size()) + " types for " + std::to_string(n) + " tokens");

  // The vocabulary as a token -> id object. A token listed twice cannot be written (the object
  // keeps one id per token) and from_gguf's vocabulary would differ from tokenizer.json's.
  ordered_json vocab = ordered_json::object();
  for (size_t i = 0; i < n; ++i) {
    if (vocab.contains(v.tokens[i]))
      fail("tokenizer.ggml.tokens", "token " + std::to_string(i) + " '" + v.tokens[i] + "' repeats id " +
                                        std::to_string(vocab[v.tokens[i]].get<int64_t>()));
    vocab[v.tokens[i]] = static_cast<int64_t>(i);
  }
  ordered_json merges = ordered_json::array();
  for (size_t i = 0; i < v.merges.size(); ++i) {
    const std::string& m = v.merges[i];
    // from_gguf splits at the first space after the first byte, as llama.cpp does; byte-level
    // tokens hold no spaces, so "left right" is unambiguous in tokenizer.json too.
    const size_t space = m.find(' ', 1);
    if (space == std::string::npos)
      fail("tokenizer.ggml.merges[" + std::to_string(i) + "]", "expected \"left right\", got \"" + m + "\"");
    merges.push_back(m);
  }

  // Control and unknown tokens are special added tokens, user-defined ones plain added tokens,
  // none normalized (from_gguf's AddedToken list).
  ordered_json added = ordered_json::array();
  for (size_t i = 0; i < v.token_types.size(); ++i) {
    const int32_t type = v.token_types[i];
    if (type != kTokenTypeUnknown && type != kTokenTypeControl && type != kTokenTypeUserDefined) continue;
    if (v.tokens[i].empty()) continue;
    added.push_back({{"id", static_cast<int64_t>(i)},
                     {"content", v.tokens[i]},
                     {"single_word", false},
                     {"lstrip", false},
                     {"rstrip", false},
                     {"normalized", false},
                     {"special", type != kTokenTypeUserDefined}});
  }

  ordered_json model = {{"type", "BPE"},
                        {"dropout", nullptr},
                        {"unk_token", nullptr},
                        {"continuing_subword_prefix", nullptr},
                        {"end_of_word_suffix", nullptr},
                        {"fuse_unk", false},
                        {"byte_fallback", false},
                        // Llama-3's tokenizer.json looks a whole word up before merging.
                        {"ignore_merges", v.pre == "llama-bpe" || v.pre == "llama3"},
                        {"vocab", vocab},
                        {"merges", merges}};
  ordered_json tokenizer = {{"version", "1.0"}, {"truncation", nullptr}, {"padding", nullptr}, {"added_tokens", added}};
  tokenizer["normalizer"] = v.pre == "qwen2" ? ordered_json{{"type", "NFC"}} : ordered_json(nullptr);
  tokenizer["pre_tokenizer"] = pre_tokenizer(v.pre);
  tokenizer["post_processor"] = v.add_bos || v.add_eos ? template_processing(v) : ordered_json(nullptr);
  tokenizer["decoder"] = byte_level(true, true, true);
  tokenizer["model"] = model;

  ordered_json config;
  config["tokenizer_class"] = "PreTrainedTokenizerFast";
  config["bos_token"] = token_or_null(v, v.bos_id, "tokenizer.ggml.bos_token_id");
  config["eos_token"] = token_or_null(v, v.eos_id, "tokenizer.ggml.eos_token_id");
  config["unk_token"] = token_or_null(v, v.unk_id, "tokenizer.ggml.unknown_token_id");
  config["pad_token"] = token_or_null(v, v.pad_id, "tokenizer.ggml.padding_token_id");
  config["add_bos_token"] = v.add_bos;
  config["add_eos_token"] = v.add_eos;
  config["clean_up_tokenization_spaces"] = false;
  if (model_max_length > 0) config["model_max_length"] = model_max_length;
  if (!chat_template.empty()) config["chat_template"] = chat_template;

  return HfTokenizerFiles{tokenizer.dump(2, ' ', false, nlohmann::json::error_handler_t::strict) + "\n",
                          config.dump(2) + "\n"};
}

}  // namespace zotune
