// The batched forward passes behind PromptTask (prompt_task.h), each over chunks of at
// most `max_batch` sequences so a large dev set never becomes one giant batch:
//  - decoders: -log p of each option token, sequences left-padded (MeZO's padding side;
//    with the attention mask and mask-derived positions a sequence's values do not depend
//    on what it is batched with); only the rows predicting option tokens are projected;
//  - encoders: per example the logits over its classes (right-padded: BERT positions count
//    padding slots, so left padding would move the tokens);
//  - decoders: greedy continuations of prompts.
#pragma once
#include <cstdint>
#include <vector>

#include "core/model/generate.h"
#include "core/model/model.h"
#include "core/tasks/example.h"

namespace zotune::tasks {

// With probe groups on (Model::probe_groups() = G > 1), each chunk runs once over G copies
// and the results of group g follow group g - 1's: result[g * n + i] for n inputs.

// result[i][j] = -log p(option token j of sequences[i] | the tokens before it), fp64;
// result[i] has sequences[i]->option_len entries.
std::vector<std::vector<double>> option_token_nll(Model& model, const std::vector<const ScoredSequence*>& sequences,
                                                  int32_t pad_id, int max_batch);

// result[i] = the class logits of examples[i]: MaskedLM: the logits of its label words at
// its mask position ([label_words.size()], only the mask row is projected onto the
// vocabulary); ClassificationHead: the head's logits ([num_labels]).
std::vector<std::vector<double>> class_logits(Model& model, const std::vector<const EncodedExample*>& examples,
                                              int32_t pad_id, int max_batch);

// generate_greedy over the prompts, max_batch prompts per call.
std::vector<std::vector<int32_t>> greedy_continuations(Model& model, const std::vector<const std::vector<int32_t>*>& prompts,
                                                       int32_t pad_id, int max_batch, const GenerateOptions& options);

}  // namespace zotune::tasks
