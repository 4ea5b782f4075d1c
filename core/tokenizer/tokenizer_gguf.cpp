// Tokenizer::from_gguf: the tokenizer a GGUF file embeds (tokenizer.ggml.*), assembled to
// behave as the Hugging Face tokenizer.json it was converted from:
//  - "gpt2": byte-level BPE with the file's merges; the pre-tokenizer chosen from `pre` as
//    llama.cpp chooses its regexes (plus Qwen2's NFC normalizer, which llama.cpp skips);
//  - "llama": SentencePiece BPE (highest-scored merge first, <0xXX> byte fallback), spaces
//    as U+2581 and a leading U+2581 when add_space_prefix;
//  - "bert": WordPiece over the vocabulary llama.cpp's converter rewrote into "phantom
//    space" form (U+2581 + word, continuation pieces bare), rewritten back to "##" form.
// Control tokens (type 3) and the unknown token (type 2) are special added tokens, as in
// the tokenizer.json files these vocabularies come from (and as llama.cpp matches them in
// text); user-defined ones (type 4) are plain added tokens. BOS / EOS are added per
// add_bos / add_eos.
#include "core/tokenizer/tokenizer.h"
#include "core/tokenizer/tokenizer_impl.h"
#include "core/tokenizer/unicode.h"
#include "core/util/error.h"

namespace zotune {
namespace {

constexpr int32_t kTokenTypeUnknown = 2;
constexpr int32_t kTokenTypeControl = 3;
constexpr int32_t kTokenTypeUserDefined = 4;
const char kSpaceMarker[] = "\xE2\x96\x81";  // U+2581, SentencePiece's space

[[noreturn]] void fail(const std::string& key, const std::string& message) {
  throw Error("GGUF vocabulary: key '" + key + "': " + message);
}

tok::PreTokenizerPtr gpt2_pre_tokenizer(const std::string& pre) {
  std::vector<tok::PreTokenizerPtr> steps;
  if (pre == "default" || pre == "gpt-2" || pre.empty()) {
    steps.push_back(std::make_unique<tok::ByteLevelPreTokenizer>(false, true));
  } else if (pre == "smollm") {
    steps.push_back(std::make_unique<tok::DigitsPreTokenizer>(true));
    steps.push_back(std::make_unique<tok::ByteLevelPreTokenizer>(false, true));
  } else if (pre == "llama-bpe" || pre == "llama3" || pre == "qwen2") {
    const char* regex = pre == "qwen2" ? tok::kQwen2Pattern : tok::kLlama3Pattern;
    steps.push_back(std::make_unique<tok::SplitPreTokenizer>(tok::make_regex_pattern(regex),
                                                             tok::SplitBehavior::Isolated, false));
    steps.push_back(std::make_unique<tok::ByteLevelPreTokenizer>(false, false));
  } else {
    fail("tokenizer.ggml.pre", "unknown pre-tokenizer '" + pre +
                                   "' (known: default, gpt-2, smollm, llama-bpe, llama3, qwen2)");
  }
  return std::make_unique<tok::SequencePreTokenizer>(std::move(steps));
}

// "##piece" form of llama.cpp's phantom-space BERT vocabulary.
std::string wordpiece_token(const std::string& token) {
  if (token.size() >= 2 && token.front() == '[' && token.back() == ']') return token;
  if (token.rfind(kSpaceMarker, 0) == 0) return token.substr(sizeof(kSpaceMarker) - 1);
  return "##" + token;
}

int32_t checked_id(int32_t id, size_t count, const char* key) {
  if (id >= static_cast<int64_t>(count)) fail(key, "id " + std::to_string(id) + " is out of range");
  return id;
}

}  // namespace

Tokenizer Tokenizer::from_gguf(const GgufVocabulary& v) {
  const size_t n = v.tokens.size();
  // Ids are int32 and index dense tables: the same limit as a config's vocabulary size.
  if (n > (size_t{1} << 24)) fail("tokenizer.ggml.tokens", std::to_string(n) + " tokens exceed the supported 16777216");
  if (n == 0) fail("tokenizer.ggml.tokens", "missing or empty");
  if (!v.token_types.empty() && v.token_types.size() != n) {
    fail("tokenizer.ggml.token_type", std::to_string(v.token_types.size()) + " types for " +
                                          std::to_string(n) + " tokens");
  }
  auto impl = std::make_unique<TokenizerImpl>();
  impl->bos_id = checked_id(v.bos_id, n, "tokenizer.ggml.bos_token_id");
  impl->eos_id = checked_id(v.eos_id, n, "tokenizer.ggml.eos_token_id");
  impl->pad_id = checked_id(v.pad_id, n, "tokenizer.ggml.padding_token_id");
  impl->unk_id = checked_id(v.unk_id, n, "tokenizer.ggml.unknown_token_id");
  impl->mask_id = checked_id(v.mask_id, n, "tokenizer.ggml.mask_token_id");

  const bool phantom_bert = v.model == "bert" && [&] {
    for (const auto& t : v.tokens) {
      if (t.rfind(kSpaceMarker, 0) == 0) return true;
    }
    return false;
  }();
  tok::Vocabulary vocab;
  for (size_t i = 0; i < n; ++i) {
    vocab.add(phantom_bert ? wordpiece_token(v.tokens[i]) : v.tokens[i], static_cast<int32_t>(i));
  }

  std::vector<tok::AddedToken> added;
  for (size_t i = 0; i < v.token_types.size(); ++i) {
    const int32_t type = v.token_types[i];
    if (type != kTokenTypeUnknown && type != kTokenTypeControl && type != kTokenTypeUserDefined) continue;
    if (v.tokens[i].empty()) continue;
    tok::AddedToken t;
    t.content = v.tokens[i];
    t.id = static_cast<int32_t>(i);
    t.special = type != kTokenTypeUserDefined;
    t.normalized = false;
    added.push_back(std::move(t));
  }

  try {
    if (v.model == "gpt2") {
      std::vector<std::pair<std::string, std::string>> merges;
      merges.reserve(v.merges.size());
      for (size_t i = 0; i < v.merges.size(); ++i) {
        const std::string& m = v.merges[i];
        // Split at the first space after the first byte, as llama.cpp does.
        const size_t space = m.find(' ', 1);
        if (space == std::string::npos) {
          fail("tokenizer.ggml.merges[" + std::to_string(i) + "]", "expected \"left right\", got \"" + m + "\"");
        }
        merges.emplace_back(m.substr(0, space), m.substr(space + 1));
      }
      tok::BpeOptions options;
      // Llama-3's tokenizer.json (and llama.cpp for this pre-tokenizer) look a whole word
      // up in the vocabulary before merging.
      options.ignore_merges = v.pre == "llama-bpe" || v.pre == "llama3";
      impl->model = std::make_unique<tok::BpeModel>(std::move(vocab), merges, std::move(options));
      impl->pre_tokenizer = gpt2_pre_tokenizer(v.pre);
      // Qwen2's tokenizer.json normalizes to NFC first (llama.cpp does not).
      if (v.pre == "qwen2") impl->normalizer = std::make_unique<tok::UnicodeNormalizer>(tok::NormalForm::NFC);
      impl->decoder = std::make_unique<tok::ByteLevelDecoder>();
      impl->kind = "byte-level BPE";
    } else if (v.model == "llama") {
      if (v.scores.size() != n) {
        fail("tokenizer.ggml.scores", std::to_string(v.scores.size()) + " scores for " + std::to_string(n) + " tokens");
      }
      std::optional<int32_t> unk;
      if (v.unk_id >= 0) unk = v.unk_id;
      impl->model = std::make_unique<tok::ScoredBpeModel>(std::move(vocab), v.scores, unk);
      std::vector<tok::NormalizerPtr> steps;
      if (v.add_space_prefix) steps.push_back(std::make_unique<tok::PrependNormalizer>(U"\u2581"));
      steps.push_back(std::make_unique<tok::ReplaceNormalizer>(U" ", U"\u2581"));
      impl->normalizer = std::make_unique<tok::SequenceNormalizer>(std::move(steps));
      std::vector<tok::DecoderPtr> decoders;
      decoders.push_back(std::make_unique<tok::ReplaceDecoder>(kSpaceMarker, " "));
      decoders.push_back(std::make_unique<tok::ByteFallbackDecoder>());
      decoders.push_back(std::make_unique<tok::FuseDecoder>());
      if (v.add_space_prefix) decoders.push_back(std::make_unique<tok::StripDecoder>(U' ', 1, 0));
      impl->decoder = std::make_unique<tok::SequenceDecoder>(std::move(decoders));
      impl->kind = "SentencePiece BPE";
    } else if (v.model == "bert") {
      const auto unk_token = v.unk_id >= 0 ? *vocab.token(v.unk_id) : std::string("[UNK]");
      impl->model = std::make_unique<tok::WordPieceModel>(std::move(vocab), unk_token, "##", 100);
      impl->normalizer = std::make_unique<tok::BertNormalizer>(true, true, true, true);
      impl->pre_tokenizer = std::make_unique<tok::BertPreTokenizer>();
      impl->decoder = std::make_unique<tok::WordPieceDecoder>("##", true);
      impl->kind = "WordPiece";
      const int32_t cls = checked_id(v.cls_id >= 0 ? v.cls_id : v.bos_id, n, "tokenizer.ggml.cls_token_id");
      const int32_t sep = checked_id(v.sep_id >= 0 ? v.sep_id : v.eos_id, n, "tokenizer.ggml.seperator_token_id");
      if (cls < 0 || sep < 0) fail("tokenizer.ggml.cls_token_id", "BERT vocabulary without [CLS] / [SEP] ids");
      impl->post_processor = std::make_unique<tok::BertProcessor>(cls, sep);
      impl->bos_id = cls;
      impl->eos_id = sep;
    } else {
      fail("tokenizer.ggml.model", "unknown tokenizer model '" + v.model + "' (known: gpt2, llama, bert)");
    }
  } catch (const Error& e) {
    const std::string what = e.what();
    if (what.rfind("GGUF vocabulary", 0) == 0) throw;
    fail(v.model == "gpt2" ? "tokenizer.ggml.merges" : "tokenizer.ggml.tokens", what);
  }
  impl->added.build(std::move(added), impl->normalizer.get());

  if (v.model != "bert" && (v.add_bos || v.add_eos)) {
    std::vector<tok::TemplatePiece> single, pair;
    std::map<std::string, std::vector<int32_t>> special_ids;
    const auto special = [&](int32_t id, int32_t type_id, const char* key) {
      if (id < 0) fail(key, "needed by add_bos/add_eos but not set");
      special_ids[v.tokens[id]] = {id};
      return tok::TemplatePiece{false, 0, v.tokens[id], type_id};
    };
    for (int seq = 0; seq < 2; ++seq) {
      auto& out = seq == 0 ? single : pair;
      for (int s = 0; s <= seq; ++s) {
        if (v.add_bos) out.push_back(special(v.bos_id, s, "tokenizer.ggml.bos_token_id"));
        out.push_back({true, s, "", s});
        if (v.add_eos) out.push_back(special(v.eos_id, s, "tokenizer.ggml.eos_token_id"));
      }
    }
    impl->post_processor =
        std::make_unique<tok::TemplateProcessor>(std::move(single), std::move(pair), std::move(special_ids));
  }
  return Tokenizer(std::move(impl));
}

}  // namespace zotune
