// The token-level steps of the registered template families (templates.cpp), for prompts that
// are not in their tables (custom tasks, core/tasks/custom_task.h): the same string handling,
// truncation and scoring offsets, so a custom task's sequences are built as MeZO's and
// BSZO's are.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "core/tasks/example.h"
#include "core/tokenizer/tokenizer.h"

namespace zotune::tasks::encoding {

// MeZO's strings (large_models/utils.py encode_prompt, no demonstrations): the text counted for
// the prompt's length is prompt.strip(' '); the fed sequence is verbalized.lstrip().strip(' ').
std::string counted_text(const std::string& s);  // str.strip(' ')
std::string fed_text(const std::string& s);      // str.lstrip().strip(' ')

// Whether the tokenizer's post-processor puts a token first (kept by left truncation).
bool adds_bos(const Tokenizer& tok);

// A prompt + candidate as MeZO scores it: ids = encode(fed_text(verbalized)), left-truncated to
// max_length (keeping the first token when keep_bos); option_len = #encode(verbalized) -
// prompt_len (prompt_len = #encode(counted prompt)). Errors (naming `where`) when the
// candidate adds no tokens or does not fit in max_length.
ScoredSequence scored_sequence(const Tokenizer& tok, const std::string& verbalized, size_t prompt_len, int max_length,
                               bool keep_bos, const std::string& where);
std::vector<int32_t> left_truncated(std::vector<int32_t> ids, int max_length, bool keep_bos);

// Encoder inputs: keep the first max_length tokens and find the mask (an Error when truncation
// cut it off); keep the first max_length - 1 tokens and the final special token.
void truncate_keeping_mask(EncodedExample& enc, const Tokenizer& tok, int max_length, const std::string& where);
void truncate_keeping_last(EncodedExample& enc, int max_length);

}  // namespace zotune::tasks::encoding
