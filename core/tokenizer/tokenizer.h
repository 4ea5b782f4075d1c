// Tokenizers, built from a Hugging Face tokenizer.json or from a GGUF file's vocabulary:
//  - byte-level BPE (GPT-2, OPT, RoBERTa, SmolLM2, Qwen2, Llama-3), with the pre-tokenizer
//    the file names;
//  - SentencePiece-style BPE with byte fallback (Llama-2, Mistral);
//  - WordPiece (BERT, MiniLM).
// Results equal Hugging Face `tokenizers` token for token (tests/unit/tokenizer_*).
//
// Behaviour worth knowing:
//  - Text that is not valid UTF-8 is read as Python's bytes.decode("utf-8", "replace")
//    reads it: each maximal ill-formed subsequence becomes U+FFFD (HF itself only takes
//    valid strings). decode() always returns valid UTF-8.
//  - tokenizer.json's "truncation" and "padding" sections are ignored, as transformers'
//    tokenizer(text) ignores them unless asked: callers pad and truncate.
//  - Supported components: normalizers BertNormalizer, Lowercase, NFD/NFC/NFKD/NFKC,
//    StripAccents, Prepend, Replace (string patterns), Strip, Sequence; pre-tokenizers
//    ByteLevel, Split (string patterns and the GPT-2 / Llama-3 / Qwen2 regexes), Digits,
//    Metaspace, Whitespace, WhitespaceSplit, BertPreTokenizer, Punctuation, Sequence;
//    models BPE (no dropout) and WordPiece; post-processors TemplateProcessing,
//    BertProcessing, RobertaProcessing, ByteLevel, Sequence; decoders ByteLevel, Metaspace,
//    WordPiece, ByteFallback, Fuse, Strip, Replace, BPEDecoder, Sequence. Anything else is
//    an Error naming the file and key.
#pragma once
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/tokenizer/gguf_vocabulary.h"

namespace zotune {

class TokenizerImpl;

class Tokenizer {
 public:
  // tokenizer.json path, or a model directory holding it (tokenizer_config.json beside it,
  // when present, decides add_bos/add_eos as transformers does). Errors name file and key.
  static Tokenizer from_file(const std::string& path);
  static Tokenizer from_gguf(const GgufVocabulary& vocab);
  Tokenizer(Tokenizer&&) noexcept;
  Tokenizer& operator=(Tokenizer&&) noexcept;
  ~Tokenizer();

  // As HF `tokenizer(text, add_special_tokens=...)["input_ids"]`: added/special tokens in the
  // text are matched first; the post-processor (BOS, [CLS] ... [SEP]) applies when asked.
  std::vector<int32_t> encode(std::string_view text, bool add_special_tokens = true) const;
  // Sentence pair for encoders ([CLS] a [SEP] b [SEP]) with token type ids.
  std::vector<int32_t> encode_pair(std::string_view a, std::string_view b, std::vector<int32_t>* type_ids = nullptr) const;
  std::string decode(const std::vector<int32_t>& ids, bool skip_special_tokens = true) const;

  int32_t vocab_size() const;  // largest id + 1, added tokens included (embedding rows)
  std::optional<int32_t> token_to_id(std::string_view token) const;
  std::string id_to_token(int32_t id) const;  // the raw vocabulary entry
  // Special ids, -1 when the tokenizer has none.
  int32_t bos_id() const;
  int32_t eos_id() const;
  int32_t pad_id() const;
  int32_t unk_id() const;
  int32_t mask_id() const;
  std::string kind() const;  // "byte-level BPE", "SentencePiece BPE", "WordPiece"

 private:
  explicit Tokenizer(std::unique_ptr<TokenizerImpl> impl);
  std::unique_ptr<TokenizerImpl> impl_;
};

}  // namespace zotune
