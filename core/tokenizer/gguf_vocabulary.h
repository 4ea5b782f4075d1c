// The tokenizer a GGUF file embeds (its tokenizer.ggml.* metadata), as plain data.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace zotune {

struct GgufVocabulary {
  std::string model;                 // tokenizer.ggml.model: "gpt2" (byte-level BPE), "llama" (SentencePiece), "bert"
  std::string pre;                   // tokenizer.ggml.pre: pre-tokenizer name ("smollm", "llama-bpe", "qwen2", "default", ...)
  std::vector<std::string> tokens;   // tokenizer.ggml.tokens
  std::vector<int32_t> token_types;  // tokenizer.ggml.token_type: 1 normal, 2 unknown, 3 control, 4 user-defined, 5 unused, 6 byte
  std::vector<float> scores;         // tokenizer.ggml.scores (SentencePiece), may be empty
  std::vector<std::string> merges;   // tokenizer.ggml.merges ("a b"), may be empty
  int32_t bos_id = -1, eos_id = -1, unk_id = -1, pad_id = -1, sep_id = -1, cls_id = -1, mask_id = -1;
  bool add_bos = false, add_eos = false, add_space_prefix = false;
};

}  // namespace zotune
