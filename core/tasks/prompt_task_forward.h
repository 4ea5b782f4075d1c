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

// The sequences option_token_nll runs for `sequences`: runs[run_of[i]] scores sequences[i].
// Without sharing, each sequence's own ids in order; with it, the one-token-option sequences
// that have the same tokens before their option share one run, those tokens (in order of
// first appearance), and every other sequence keeps its own.
struct OptionScoringPlan {
  std::vector<std::vector<int32_t>> runs;
  std::vector<size_t> run_of;
};
OptionScoringPlan plan_option_scoring(const std::vector<const ScoredSequence*>& sequences, bool share_prompts);

// result[i][j] = -log p(option token j of sequences[i] | the tokens before it), fp64;
// result[i] has sequences[i]->option_len entries. share_prompts: sequences whose option is one
// token and whose tokens before it are the same (an example's one-token candidates) run as one
// sequence, that prompt, each option's loss read at its last row; in a causal model the row
// does not see the option token, so the numbers are the unshared ones up to the GEMM rounding
// of a different batch shape. Off: one sequence each, as MeZO's code scores candidates.
std::vector<std::vector<double>> option_token_nll(Model& model, const std::vector<const ScoredSequence*>& sequences,
                                                  int32_t pad_id, int max_batch, bool share_prompts = false);

// result[i] = the class logits of examples[i]: MaskedLM: the logits of its label words at
// its mask position ([label_words.size()], only the mask row is projected onto the
// vocabulary); ClassificationHead: the head's logits ([num_labels]).
std::vector<std::vector<double>> class_logits(Model& model, const std::vector<const EncodedExample*>& examples,
                                              int32_t pad_id, int max_batch);

// generate_greedy over the prompts, max_batch prompts per call.
std::vector<std::vector<int32_t>> greedy_continuations(Model& model, const std::vector<const std::vector<int32_t>*>& prompts,
                                                       int32_t pad_id, int max_batch, const GenerateOptions& options);

}  // namespace zotune::tasks
