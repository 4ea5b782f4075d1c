// Tokenizer::from_file: Hugging Face tokenizer.json (and tokenizer_config.json beside it).
// Every error names the file and the JSON key it concerns.
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "core/tokenizer/split_patterns.h"
#include "core/tokenizer/tokenizer.h"
#include "core/tokenizer/tokenizer_impl.h"
#include "core/tokenizer/unicode.h"
#include "core/util/error.h"

namespace zotune {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

// Limits of ids read from tokenizer.json, checked before an id sizes a table: the largest
// vocabulary a model config may state (core/model/config.cpp), gaps in a vocabulary's ids,
// segment (token type) ids.
constexpr int64_t kMaxTokenId = (int64_t{1} << 24) - 1;
constexpr int64_t kMaxIdGap = int64_t{1} << 16;
constexpr int64_t kMaxTypeId = (int64_t{1} << 16) - 1;

// Parsing context: the file, for messages, and what the parse learnt along the way.
struct JsonReader {
  std::string path;
  bool saw_byte_level = false;

  [[noreturn]] void fail(const std::string& key, const std::string& message) const {
    throw Error("tokenizer file '" + path + "': key '" + key + "': " + message);
  }
  const json& require(const json& object, const std::string& name, const std::string& key) const {
    if (!object.is_object() || !object.contains(name)) fail(key + "." + name, "missing");
    return object.at(name);
  }
  std::string type_of(const json& object, const std::string& key) const {
    const json& type = require(object, "type", key);
    if (!type.is_string()) fail(key + ".type", "not a string");
    return type.get<std::string>();
  }
  bool get_bool(const json& object, const std::string& name, bool fallback, const std::string& key) const {
    if (!object.contains(name) || object.at(name).is_null()) return fallback;
    if (!object.at(name).is_boolean()) fail(key + "." + name, "not a boolean");
    return object.at(name).get<bool>();
  }
  std::string get_string(const json& object, const std::string& name, const std::string& fallback,
                         const std::string& key) const {
    if (!object.contains(name) || object.at(name).is_null()) return fallback;
    if (!object.at(name).is_string()) fail(key + "." + name, "not a string");
    return object.at(name).get<std::string>();
  }
  // A token id (or type id) in [0, max]: checked whole, before it sizes anything (an id of
  // 2^31 - 1 grew the id table to 2^31 entries; 2^32 + 1 narrowed to 1).
  int32_t get_id(const json& value, int64_t max, const std::string& key) const {
    if (!value.is_number_integer()) fail(key, "not an integer id");
    if (value.is_number_unsigned() ? value.get<uint64_t>() > static_cast<uint64_t>(max)
                                   : value.get<int64_t>() < 0 || value.get<int64_t>() > max)
      fail(key, "id " + value.dump() + " is outside [0, " + std::to_string(max) + "]");
    return static_cast<int32_t>(value.get<int64_t>());
  }
  int64_t get_int(const json& object, const std::string& name, int64_t fallback, const std::string& key) const {
    if (!object.contains(name) || object.at(name).is_null()) return fallback;
    if (!object.at(name).is_number_integer()) fail(key + "." + name, "not an integer");
    return object.at(name).get<int64_t>();
  }
  char32_t get_char(const json& object, const std::string& name, char32_t fallback, const std::string& key) const {
    if (!object.contains(name)) return fallback;
    const std::u32string s = unicode::decode_utf8(get_string(object, name, "", key));
    if (s.size() != 1) fail(key + "." + name, "expected exactly one character");
    return s[0];
  }
  // {"String": "..."} or {"Regex": "..."}: (is_regex, text)
  std::pair<bool, std::string> get_pattern(const json& object, const std::string& key) const {
    const json& pattern = require(object, "pattern", key);
    if (pattern.is_object() && pattern.contains("String") && pattern.at("String").is_string()) {
      return {false, pattern.at("String").get<std::string>()};
    }
    if (pattern.is_object() && pattern.contains("Regex") && pattern.at("Regex").is_string()) {
      return {true, pattern.at("Regex").get<std::string>()};
    }
    fail(key + ".pattern", "expected {\"String\": ...} or {\"Regex\": ...}");
  }
  tok::SplitBehavior get_behavior(const json& object, const std::string& name, tok::SplitBehavior fallback,
                                  const std::string& key) const {
    if (!object.contains(name)) return fallback;
    const std::string b = get_string(object, name, "", key);
    if (b == "Removed") return tok::SplitBehavior::Removed;
    if (b == "Isolated") return tok::SplitBehavior::Isolated;
    if (b == "MergedWithPrevious") return tok::SplitBehavior::MergedWithPrevious;
    if (b == "MergedWithNext") return tok::SplitBehavior::MergedWithNext;
    if (b == "Contiguous") return tok::SplitBehavior::Contiguous;
    fail(key + "." + name, "unknown split behavior '" + b + "'");
  }
  // Metaspace's prepend_scheme, or the older add_prefix_space flag.
  tok::PrependScheme get_prepend_scheme(const json& object, const std::string& key) const {
    if (object.contains("prepend_scheme") && !object.at("prepend_scheme").is_null()) {
      const std::string s = get_string(object, "prepend_scheme", "", key);
      if (s == "always") return tok::PrependScheme::Always;
      if (s == "first") return tok::PrependScheme::First;
      if (s == "never") return tok::PrependScheme::Never;
      fail(key + ".prepend_scheme", "unknown prepend scheme '" + s + "' (known: always, first, never)");
    }
    return get_bool(object, "add_prefix_space", true, key) ? tok::PrependScheme::Always
                                                           : tok::PrependScheme::Never;
  }
  const json& get_array(const json& object, const std::string& name, const std::string& key) const {
    const json& a = require(object, name, key);
    if (!a.is_array()) fail(key + "." + name, "not an array");
    return a;
  }

  tok::NormalizerPtr normalizer(const json& j, const std::string& key);
  tok::PreTokenizerPtr pre_tokenizer(const json& j, const std::string& key);
  std::unique_ptr<tok::Model> model(const json& j, const std::string& key);
  tok::PostProcessorPtr post_processor(const json& j, const std::string& key, const TokenizerImpl& impl);
  tok::DecoderPtr decoder(const json& j, const std::string& key);
};

tok::NormalizerPtr JsonReader::normalizer(const json& j, const std::string& key) {
  if (j.is_null()) return nullptr;
  const std::string type = type_of(j, key);
  if (type == "BertNormalizer") {
    const bool lowercase = get_bool(j, "lowercase", true, key);
    // strip_accents: null means "same as lowercase", as BERT does.
    const bool strip_accents = get_bool(j, "strip_accents", lowercase, key);
    return std::make_unique<tok::BertNormalizer>(get_bool(j, "clean_text", true, key),
                                                 get_bool(j, "handle_chinese_chars", true, key),
                                                 strip_accents, lowercase);
  }
  if (type == "Lowercase") return std::make_unique<tok::LowercaseNormalizer>();
  if (type == "NFD") return std::make_unique<tok::UnicodeNormalizer>(tok::NormalForm::NFD);
  if (type == "NFC") return std::make_unique<tok::UnicodeNormalizer>(tok::NormalForm::NFC);
  if (type == "NFKD") return std::make_unique<tok::UnicodeNormalizer>(tok::NormalForm::NFKD);
  if (type == "NFKC") return std::make_unique<tok::UnicodeNormalizer>(tok::NormalForm::NFKC);
  if (type == "StripAccents") return std::make_unique<tok::StripAccentsNormalizer>();
  if (type == "Prepend") {
    return std::make_unique<tok::PrependNormalizer>(
        unicode::decode_utf8(get_string(j, "prepend", "", key)));
  }
  if (type == "Strip") {
    return std::make_unique<tok::StripNormalizer>(get_bool(j, "strip_left", true, key),
                                                  get_bool(j, "strip_right", true, key));
  }
  if (type == "Replace") {
    const auto [is_regex, pattern] = get_pattern(j, key);
    if (is_regex) fail(key + ".pattern.Regex", "regex replace patterns are not supported: `" + pattern + "`");
    return std::make_unique<tok::ReplaceNormalizer>(unicode::decode_utf8(pattern),
                                                    unicode::decode_utf8(get_string(j, "content", "", key)));
  }
  if (type == "Sequence") {
    const json& list = get_array(j, "normalizers", key);
    std::vector<tok::NormalizerPtr> steps;
    for (size_t i = 0; i < list.size(); ++i) {
      if (auto step = normalizer(list[i], key + ".normalizers[" + std::to_string(i) + "]")) {
        steps.push_back(std::move(step));
      }
    }
    return std::make_unique<tok::SequenceNormalizer>(std::move(steps));
  }
  fail(key + ".type",
       "unknown normalizer '" + type +
           "' (known: BertNormalizer, Lowercase, NFD, NFC, NFKD, NFKC, StripAccents, Prepend, "
           "Replace, Strip, Sequence)");
}

tok::PreTokenizerPtr JsonReader::pre_tokenizer(const json& j, const std::string& key) {
  if (j.is_null()) return nullptr;
  const std::string type = type_of(j, key);
  if (type == "ByteLevel") {
    saw_byte_level = true;
    return std::make_unique<tok::ByteLevelPreTokenizer>(get_bool(j, "add_prefix_space", true, key),
                                                        get_bool(j, "use_regex", true, key));
  }
  if (type == "Split") {
    const auto [is_regex, pattern] = get_pattern(j, key);
    tok::SplitPatternPtr matcher;
    if (is_regex) {
      matcher = tok::make_regex_pattern(pattern);
      if (!matcher) {
        fail(key + ".pattern.Regex", "unsupported split regex `" + pattern +
                                         "` (supported: " + tok::known_split_regexes() + ")");
      }
    } else {
      matcher = tok::make_literal_pattern(unicode::decode_utf8(pattern));
    }
    return std::make_unique<tok::SplitPreTokenizer>(
        std::move(matcher), get_behavior(j, "behavior", tok::SplitBehavior::Removed, key),
        get_bool(j, "invert", false, key));
  }
  if (type == "Digits") {
    return std::make_unique<tok::DigitsPreTokenizer>(get_bool(j, "individual_digits", false, key));
  }
  if (type == "Metaspace") {
    return std::make_unique<tok::MetaspacePreTokenizer>(get_char(j, "replacement", U'\u2581', key),
                                                        get_prepend_scheme(j, key),
                                                        get_bool(j, "split", true, key));
  }
  if (type == "Whitespace") return std::make_unique<tok::WhitespacePreTokenizer>();
  if (type == "WhitespaceSplit") return std::make_unique<tok::WhitespaceSplitPreTokenizer>();
  if (type == "BertPreTokenizer") return std::make_unique<tok::BertPreTokenizer>();
  if (type == "Punctuation") {
    return std::make_unique<tok::PunctuationPreTokenizer>(
        get_behavior(j, "behavior", tok::SplitBehavior::Isolated, key));
  }
  if (type == "Sequence") {
    const json& list = get_array(j, "pretokenizers", key);
    std::vector<tok::PreTokenizerPtr> steps;
    for (size_t i = 0; i < list.size(); ++i) {
      if (auto step = pre_tokenizer(list[i], key + ".pretokenizers[" + std::to_string(i) + "]")) {
        steps.push_back(std::move(step));
      }
    }
    return std::make_unique<tok::SequencePreTokenizer>(std::move(steps));
  }
  fail(key + ".type",
       "unknown pre-tokenizer '" + type +
           "' (known: ByteLevel, Split, Digits, Metaspace, Whitespace, WhitespaceSplit, "
           "BertPreTokenizer, Punctuation, Sequence)");
}

std::unique_ptr<tok::Model> JsonReader::model(const json& j, const std::string& key) {
  if (!j.is_object()) fail(key, "not an object");
  std::string type;
  if (j.contains("type")) {
    type = type_of(j, key);
  } else if (j.contains("merges")) {
    type = "BPE";  // files from before the "type" field
  } else if (j.contains("max_input_chars_per_word")) {
    type = "WordPiece";
  } else {
    fail(key + ".type", "missing");
  }
  if (type != "BPE" && type != "WordPiece") {
    fail(key + ".type", "unknown model type '" + type + "' (known: BPE, WordPiece)");
  }
  const json& vocab_json = require(j, "vocab", key);
  if (!vocab_json.is_object()) fail(key + ".vocab", "not an object of token: id");
  tok::Vocabulary vocab;
  // Ids index a dense table: an id far past the number of entries is a corrupted file, not a
  // vocabulary (room is left for ids the added tokens take).
  const int64_t max_id = std::min<int64_t>(kMaxTokenId, static_cast<int64_t>(vocab_json.size()) + kMaxIdGap);
  for (const auto& [token, id] : vocab_json.items()) {
    if (!id.is_number_integer()) fail(key + ".vocab[\"" + token + "\"]", "not a non-negative 32-bit id");
    vocab.add(token, get_id(id, max_id, key + ".vocab[\"" + token + "\"]"));
  }
  try {
    if (type == "BPE") {
      if (j.contains("dropout") && !j.at("dropout").is_null() &&
          !(j.at("dropout").is_number() && j.at("dropout").get<double>() == 0.0)) {
        fail(key + ".dropout", "BPE dropout is not supported (only null)");
      }
      std::vector<std::pair<std::string, std::string>> merges;
      const json& list = get_array(j, "merges", key);
      merges.reserve(list.size());
      for (size_t i = 0; i < list.size(); ++i) {
        const json& m = list[i];
        const std::string mkey = key + ".merges[" + std::to_string(i) + "]";
        if (m.is_string()) {
          const std::string s = m.get<std::string>();
          const size_t space = s.find(' ');
          if (space == std::string::npos || s.find(' ', space + 1) != std::string::npos) {
            fail(mkey, "expected \"left right\", got \"" + s + "\"");
          }
          merges.emplace_back(s.substr(0, space), s.substr(space + 1));
        } else if (m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string()) {
          merges.emplace_back(m[0].get<std::string>(), m[1].get<std::string>());
        } else {
          fail(mkey, "expected \"left right\" or [left, right]");
        }
      }
      tok::BpeOptions options;
      if (j.contains("unk_token") && !j.at("unk_token").is_null()) {
        options.unk_token = get_string(j, "unk_token", "", key);
      }
      options.continuing_subword_prefix = get_string(j, "continuing_subword_prefix", "", key);
      options.end_of_word_suffix = get_string(j, "end_of_word_suffix", "", key);
      options.fuse_unk = get_bool(j, "fuse_unk", false, key);
      options.byte_fallback = get_bool(j, "byte_fallback", false, key);
      options.ignore_merges = get_bool(j, "ignore_merges", false, key);
      return std::make_unique<tok::BpeModel>(std::move(vocab), merges, std::move(options));
    }
    if (type == "WordPiece") {
      return std::make_unique<tok::WordPieceModel>(
          std::move(vocab), get_string(j, "unk_token", "[UNK]", key),
          get_string(j, "continuing_subword_prefix", "##", key),
          static_cast<size_t>(get_int(j, "max_input_chars_per_word", 100, key)));
    }
  } catch (const Error& e) {
    const std::string what = e.what();
    if (what.rfind("tokenizer file '", 0) == 0) throw;
    fail(key + (type == "BPE" ? ".merges" : ".vocab"), what);
  }
  fail(key + ".type", "unknown model type '" + type + "'");
}

tok::PostProcessorPtr JsonReader::post_processor(const json& j, const std::string& key,
                                                 const TokenizerImpl& impl) {
  if (j.is_null()) return nullptr;
  const std::string type = type_of(j, key);
  // ["[SEP]", 102]
  const auto token_pair = [&](const std::string& name) -> int32_t {
    const json& p = require(j, name, key);
    if (!p.is_array() || p.size() != 2 || !p[1].is_number_integer()) {
      fail(key + "." + name, "expected [token, id]");
    }
    return get_id(p[1], kMaxTokenId, key + "." + name);
  };
  if (type == "BertProcessing") return std::make_unique<tok::BertProcessor>(token_pair("cls"), token_pair("sep"));
  if (type == "RobertaProcessing") {
    return std::make_unique<tok::RobertaProcessor>(token_pair("cls"), token_pair("sep"));
  }
  if (type == "ByteLevel") return std::make_unique<tok::ByteLevelProcessor>();
  if (type == "TemplateProcessing") {
    std::map<std::string, std::vector<int32_t>> special_ids;
    if (j.contains("special_tokens")) {
      const json& specials = j.at("special_tokens");
      if (!specials.is_object()) fail(key + ".special_tokens", "not an object");
      for (const auto& [name, value] : specials.items()) {
        const std::string skey = key + ".special_tokens." + name;
        const json& ids = get_array(value, "ids", skey);
        for (const auto& id : ids) {
          special_ids[name].push_back(get_id(id, kMaxTokenId, skey + ".ids"));
        }
      }
    }
    const auto pieces = [&](const std::string& name) {
      std::vector<tok::TemplatePiece> out;
      if (!j.contains(name)) return out;
      const json& list = get_array(j, name, key);
      for (size_t i = 0; i < list.size(); ++i) {
        const json& p = list[i];
        const std::string pkey = key + "." + name + "[" + std::to_string(i) + "]";
        tok::TemplatePiece piece;
        if (p.contains("Sequence")) {
          const json& s = p.at("Sequence");
          const std::string id = get_string(s, "id", "A", pkey + ".Sequence");
          if (id != "A" && id != "B") fail(pkey + ".Sequence.id", "expected A or B, got '" + id + "'");
          piece.is_sequence = true;
          piece.sequence = id == "A" ? 0 : 1;
          piece.type_id = s.contains("type_id") ? get_id(s.at("type_id"), kMaxTypeId, pkey + ".Sequence.type_id") : 0;
        } else if (p.contains("SpecialToken")) {
          const json& s = p.at("SpecialToken");
          piece.special = get_string(s, "id", "", pkey + ".SpecialToken");
          if (!special_ids.count(piece.special)) {
            fail(pkey + ".SpecialToken.id", "'" + piece.special + "' is not in special_tokens");
          }
          piece.type_id = s.contains("type_id") ? get_id(s.at("type_id"), kMaxTypeId, pkey + ".SpecialToken.type_id") : 0;
        } else {
          fail(pkey, "expected {\"Sequence\": ...} or {\"SpecialToken\": ...}");
        }
        out.push_back(std::move(piece));
      }
      return out;
    };
    return std::make_unique<tok::TemplateProcessor>(pieces("single"), pieces("pair"), std::move(special_ids));
  }
  if (type == "Sequence") {
    const json& list = get_array(j, "processors", key);
    std::vector<tok::PostProcessorPtr> steps;
    for (size_t i = 0; i < list.size(); ++i) {
      if (auto step = post_processor(list[i], key + ".processors[" + std::to_string(i) + "]", impl)) {
        steps.push_back(std::move(step));
      }
    }
    return std::make_unique<tok::SequenceProcessor>(std::move(steps));
  }
  fail(key + ".type",
       "unknown post-processor '" + type +
           "' (known: TemplateProcessing, BertProcessing, RobertaProcessing, ByteLevel, Sequence)");
}

tok::DecoderPtr JsonReader::decoder(const json& j, const std::string& key) {
  if (j.is_null()) return nullptr;
  const std::string type = type_of(j, key);
  if (type == "ByteLevel") {
    saw_byte_level = true;
    return std::make_unique<tok::ByteLevelDecoder>();
  }
  if (type == "Metaspace") {
    return std::make_unique<tok::MetaspaceDecoder>(get_char(j, "replacement", U'\u2581', key),
                                                   get_prepend_scheme(j, key) != tok::PrependScheme::Never);
  }
  if (type == "WordPiece") {
    return std::make_unique<tok::WordPieceDecoder>(get_string(j, "prefix", "##", key),
                                                   get_bool(j, "cleanup", true, key));
  }
  if (type == "ByteFallback") return std::make_unique<tok::ByteFallbackDecoder>();
  if (type == "Fuse") return std::make_unique<tok::FuseDecoder>();
  if (type == "Strip") {
    return std::make_unique<tok::StripDecoder>(get_char(j, "content", U' ', key),
                                               static_cast<size_t>(get_int(j, "start", 0, key)),
                                               static_cast<size_t>(get_int(j, "stop", 0, key)));
  }
  if (type == "Replace") {
    const auto [is_regex, pattern] = get_pattern(j, key);
    if (is_regex) fail(key + ".pattern.Regex", "regex replace patterns are not supported: `" + pattern + "`");
    return std::make_unique<tok::ReplaceDecoder>(pattern, get_string(j, "content", "", key));
  }
  if (type == "BPEDecoder") return std::make_unique<tok::BpeDecoder>(get_string(j, "suffix", "</w>", key));
  if (type == "Sequence") {
    const json& list = get_array(j, "decoders", key);
    std::vector<tok::DecoderPtr> steps;
    for (size_t i = 0; i < list.size(); ++i) {
      if (auto step = decoder(list[i], key + ".decoders[" + std::to_string(i) + "]")) {
        steps.push_back(std::move(step));
      }
    }
    return std::make_unique<tok::SequenceDecoder>(std::move(steps));
  }
  fail(key + ".type",
       "unknown decoder '" + type +
           "' (known: ByteLevel, Metaspace, WordPiece, ByteFallback, Fuse, Strip, Replace, "
           "BPEDecoder, Sequence)");
}

json parse_json_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error("tokenizer file '" + path + "': cannot open");
  std::stringstream buffer;
  buffer << in.rdbuf();
  try {
    return json::parse(buffer.str());
  } catch (const json::exception& e) {
    throw Error("tokenizer file '" + path + "': not valid JSON: " + e.what());
  }
}

// A token name in tokenizer_config.json: "<s>" or {"content": "<s>", ...}.
std::optional<std::string> config_token(const json& config, const std::string& name) {
  if (!config.contains(name)) return std::nullopt;
  const json& v = config.at(name);
  if (v.is_string()) return v.get<std::string>();
  if (v.is_object() && v.contains("content") && v.at("content").is_string()) {
    return v.at("content").get<std::string>();
  }
  return std::nullopt;
}

// transformers' LlamaTokenizerFast.update_post_processor: "<bos>:0 $A:0 <eos>:0" and
// "... <bos>:1 $B:1 <eos>:1", each special only when its add_*_token flag is on.
tok::PostProcessorPtr llama_post_processor(const TokenizerImpl& impl, bool add_bos, bool add_eos,
                                           const std::string& bos, const std::string& eos,
                                           const std::string& config_path) {
  std::map<std::string, std::vector<int32_t>> ids;
  const auto special = [&](const std::string& token, const char* what) {
    const auto id = impl.id_of(token);
    if (!id) {
      throw Error("tokenizer file '" + config_path + "': key '" + what + "': token '" + token +
                  "' is not in the vocabulary");
    }
    ids[token] = {*id};
    return tok::TemplatePiece{false, 0, token, 0};
  };
  std::vector<tok::TemplatePiece> single, pair;
  for (int seq = 0; seq < 2; ++seq) {
    auto& out = seq == 0 ? single : pair;
    for (int s = 0; s <= seq; ++s) {
      if (add_bos) {
        auto p = special(bos, "bos_token");
        p.type_id = s;
        out.push_back(p);
      }
      out.push_back({true, s, "", s});
      if (add_eos) {
        auto p = special(eos, "eos_token");
        p.type_id = s;
        out.push_back(p);
      }
    }
  }
  return std::make_unique<tok::TemplateProcessor>(std::move(single), std::move(pair), std::move(ids));
}

// Special ids: tokenizer_config.json names them when present; otherwise the post-processor
// and the usual token names decide. BERT-style tokenizers report [CLS] as BOS, [SEP] as EOS.
void assign_special_ids(TokenizerImpl& impl, const json* config) {
  const auto id_of_any = [&](std::initializer_list<const char*> names) -> int32_t {
    for (const char* n : names) {
      if (const auto id = impl.id_of(n)) return *id;
    }
    return -1;
  };
  const auto from_config = [&](const char* name) -> std::optional<int32_t> {
    if (config == nullptr) return std::nullopt;
    const auto token = config_token(*config, name);
    if (!token) return std::nullopt;
    if (const auto id = impl.id_of(*token)) return *id;
    return std::nullopt;
  };
  const bool bert_style = impl.kind == "WordPiece" ||
                          dynamic_cast<const tok::BertProcessor*>(impl.post_processor.get()) != nullptr;
  if (bert_style) {
    impl.bos_id = from_config("cls_token").value_or(id_of_any({"[CLS]"}));
    impl.eos_id = from_config("sep_token").value_or(id_of_any({"[SEP]"}));
    impl.pad_id = from_config("pad_token").value_or(id_of_any({"[PAD]"}));
    impl.unk_id = from_config("unk_token").value_or(id_of_any({"[UNK]"}));
    impl.mask_id = from_config("mask_token").value_or(id_of_any({"[MASK]"}));
    return;
  }
  // BOS / EOS from the post-processor: the special tokens before and after $A.
  int32_t template_bos = -1, template_eos = -1;
  const tok::PostProcessor* pp = impl.post_processor.get();
  if (const auto* seq = dynamic_cast<const tok::SequenceProcessor*>(pp)) {
    for (const auto& step : seq->steps()) {
      if (dynamic_cast<const tok::ByteLevelProcessor*>(step.get()) == nullptr) pp = step.get();
    }
  }
  if (const auto* t = dynamic_cast<const tok::TemplateProcessor*>(pp)) {
    bool seen_a = false;
    for (const auto& piece : t->single()) {
      if (piece.is_sequence) {
        seen_a = true;
      } else if (!t->special_ids().at(piece.special).empty()) {
        const int32_t id = t->special_ids().at(piece.special).front();
        if (!seen_a && template_bos < 0) template_bos = id;
        if (seen_a) template_eos = id;
      }
    }
  } else if (const auto* r = dynamic_cast<const tok::RobertaProcessor*>(pp)) {
    template_bos = r->cls_id();
    template_eos = r->sep_id();
  }
  impl.bos_id = from_config("bos_token").value_or(
      template_bos >= 0 ? template_bos
                        : id_of_any({"<s>", "<|begin_of_text|>", "<|startoftext|>", "<bos>", "<|endoftext|>"}));
  impl.eos_id = from_config("eos_token").value_or(
      template_eos >= 0 ? template_eos
                        : id_of_any({"</s>", "<|end_of_text|>", "<|endoftext|>", "<eos>", "<|im_end|>"}));
  impl.pad_id = from_config("pad_token").value_or(id_of_any({"<pad>", "<|pad|>", "<|padding|>", "[PAD]"}));
  impl.unk_id = from_config("unk_token").value_or(id_of_any({"<unk>", "<|unk|>", "[UNK]"}));
  impl.mask_id = from_config("mask_token").value_or(id_of_any({"<mask>", "[MASK]"}));
}

}  // namespace

Tokenizer Tokenizer::from_file(const std::string& path_or_dir) {
  fs::path path(path_or_dir);
  if (fs::is_directory(path)) path /= "tokenizer.json";
  JsonReader reader{path.string()};
  const json root = parse_json_file(reader.path);
  if (!root.is_object()) reader.fail("(root)", "not a JSON object");

  auto impl = std::make_unique<TokenizerImpl>();
  impl->model = reader.model(reader.require(root, "model", "(root)"), "model");
  impl->normalizer = reader.normalizer(root.value("normalizer", json()), "normalizer");
  impl->pre_tokenizer = reader.pre_tokenizer(root.value("pre_tokenizer", json()), "pre_tokenizer");
  impl->decoder = reader.decoder(root.value("decoder", json()), "decoder");

  std::vector<tok::AddedToken> added;
  if (root.contains("added_tokens") && !root.at("added_tokens").is_null()) {
    const json& list = reader.get_array(root, "added_tokens", "(root)");
    for (size_t i = 0; i < list.size(); ++i) {
      const json& t = list[i];
      const std::string key = "added_tokens[" + std::to_string(i) + "]";
      tok::AddedToken token;
      token.content = reader.get_string(t, "content", "", key);
      if (token.content.empty()) reader.fail(key + ".content", "missing or empty");
      if (!t.contains("id") || t.at("id").is_null()) reader.fail(key + ".id", "missing or negative");
      token.id = reader.get_id(t.at("id"), kMaxTokenId, key + ".id");
      token.special = reader.get_bool(t, "special", false, key);
      token.single_word = reader.get_bool(t, "single_word", false, key);
      token.lstrip = reader.get_bool(t, "lstrip", false, key);
      token.rstrip = reader.get_bool(t, "rstrip", false, key);
      token.normalized = reader.get_bool(t, "normalized", !token.special, key);
      added.push_back(std::move(token));
    }
  }
  impl->added.build(std::move(added), impl->normalizer.get());

  if (dynamic_cast<const tok::WordPieceModel*>(impl->model.get()) != nullptr) {
    impl->kind = "WordPiece";
  } else {
    impl->kind = reader.saw_byte_level ? "byte-level BPE" : "SentencePiece BPE";
  }
  impl->post_processor = reader.post_processor(root.value("post_processor", json()), "post_processor", *impl);

  // tokenizer_config.json: add_bos_token / add_eos_token rebuild the post-processor as
  // transformers does for Llama-style tokenizers (its Llama classes default add_bos_token
  // to true); it also names the special tokens.
  const fs::path config_path = path.parent_path() / "tokenizer_config.json";
  json config;
  const bool has_config = fs::exists(config_path);
  if (has_config) {
    config = parse_json_file(config_path.string());
    if (!config.is_object()) {
      throw Error("tokenizer file '" + config_path.string() + "': key '(root)': not a JSON object");
    }
    const std::string cls = config.value("tokenizer_class", std::string());
    const bool llama_class = cls.find("Llama") != std::string::npos || cls.find("Gemma") != std::string::npos;
    const bool has_flags = config.contains("add_bos_token") || config.contains("add_eos_token");
    if (llama_class || has_flags) {
      const auto flag = [&](const char* name, bool fallback) {
        if (!config.contains(name) || config.at(name).is_null()) return fallback;
        if (!config.at(name).is_boolean()) {
          throw Error("tokenizer file '" + config_path.string() + "': key '" + name + "': not a boolean");
        }
        return config.at(name).get<bool>();
      };
      const bool add_bos = flag("add_bos_token", llama_class);
      const bool add_eos = flag("add_eos_token", false);
      const auto bos = config_token(config, "bos_token");
      const auto eos = config_token(config, "eos_token");
      if (add_bos && !bos) {
        throw Error("tokenizer file '" + config_path.string() + "': key 'bos_token': missing while add_bos_token is true");
      }
      if (add_eos && !eos) {
        throw Error("tokenizer file '" + config_path.string() + "': key 'eos_token': missing while add_eos_token is true");
      }
      impl->post_processor = llama_post_processor(*impl, add_bos, add_eos, bos.value_or(""),
                                                  eos.value_or(""), config_path.string());
    }
  }
  assign_special_ids(*impl, has_config ? &config : nullptr);
  return Tokenizer(std::move(impl));
}

}  // namespace zotune
