// The assembled pipeline behind zotune::Tokenizer: added-token splitting, normalizer,
// pre-tokenizer, model, post-processor and decoder, plus the special ids. The front ends
// (tokenizer_json.cpp, tokenizer_gguf.cpp) fill it in.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/tokenizer/added_tokens.h"
#include "core/tokenizer/decoders.h"
#include "core/tokenizer/models.h"
#include "core/tokenizer/normalizers.h"
#include "core/tokenizer/post_processors.h"
#include "core/tokenizer/pre_tokenizers.h"

namespace zotune {

class TokenizerImpl {
 public:
  tok::NormalizerPtr normalizer;        // may be null
  tok::PreTokenizerPtr pre_tokenizer;   // may be null
  std::unique_ptr<tok::Model> model;
  tok::PostProcessorPtr post_processor; // may be null
  tok::DecoderPtr decoder;              // may be null: tokens joined by ' '
  tok::AddedVocabulary added;
  std::string kind;
  int32_t bos_id = -1, eos_id = -1, pad_id = -1, unk_id = -1, mask_id = -1;

  // One sequence before post-processing (type ids all `type_id`).
  tok::Encoding encode_sequence(std::string_view text, int32_t type_id) const;
  std::vector<int32_t> encode(std::string_view a, const std::string_view* b, bool add_special_tokens,
                              std::vector<int32_t>* type_ids) const;
  std::string decode(const std::vector<int32_t>& ids, bool skip_special_tokens) const;
  // Added tokens first, then the model's vocabulary; nullptr for an unknown id.
  const std::string* token_of(int32_t id) const;
  std::optional<int32_t> id_of(std::string_view token) const;
  int32_t id_bound() const;  // max id + 1 over the model and the added tokens
};

}  // namespace zotune
