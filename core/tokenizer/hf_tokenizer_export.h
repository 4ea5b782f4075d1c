// The Hugging Face tokenizer files of a GGUF vocabulary (core/train/hf_export.h writes them
// beside a model exported from a GGUF base): a tokenizer.json that the `tokenizers` library
// (transformers' PreTrainedTokenizerFast) runs as Tokenizer::from_gguf does, and the
// tokenizer_config.json naming its special tokens.
#pragma once
#include <optional>
#include <string>

#include "core/tokenizer/gguf_vocabulary.h"

namespace zotune {

struct HfTokenizerFiles {
  std::string tokenizer_json;
  std::string tokenizer_config_json;
};

// Byte-level BPE vocabularies (tokenizer.ggml.model "gpt2") with a pre-tokenizer
// Tokenizer::from_gguf knows (default, gpt-2, smollm, llama-bpe, llama3, qwen2): the same
// vocabulary, merges, pre-tokenizer, normalizer (qwen2: NFC), special and added tokens and
// BOS / EOS insertion. `chat_template` (tokenizer.chat_template, may be empty) and
// `model_max_length` (the context length) go into tokenizer_config.json.
// Other vocabularies (SentencePiece "llama", WordPiece "bert"): nullopt with *why_not saying
// why (their GGUF form lost what tokenizer.json needs: SentencePiece merges, "##" pieces).
// Throws Error for a vocabulary from_gguf would reject too (ids out of range, bad merges).
std::optional<HfTokenizerFiles> hf_tokenizer_files_from_gguf(const GgufVocabulary& vocabulary,
                                                             const std::string& chat_template, int model_max_length,
                                                             std::string* why_not);

}  // namespace zotune
