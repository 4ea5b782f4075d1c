// Prompt templates: a tasks::Example -> the strings a model reads -> a tasks::EncodedExample.
//
// Four families, each a table of data (one row per task) in its own file:
//  - MezoDecoder (templates_decoder.cpp): MeZO's large_models/templates.py, baselines.md 8.2,
//    plus BSZO's TREC template; decoders score every candidate (Format::CandidateLM) or
//    generate (Format::Generation, SQuAD and DROP).
//  - LmBffMlm (templates_mlm.cpp): LM-BFF's templates as MeZO's medium_models/run_fewshot.sh
//    passes them (baselines.md 9), in LM-BFF's own template language, assembled token piece by
//    token piece as LM-BFF does; label words are " word" (leading space, LM-BFF's convention
//    for RoBERTa) and must be one token each (Format::MaskedLM).
//  - BszoMlm (templates_mlm.cpp): BSZO's RoBERTa MLM templates (bszo.md b): one string with
//    the tokenizer's mask token, tokenized whole; label words without a leading space, as
//    BSZO's code takes them (Format::MaskedLM).
//  - ClassificationHead (templates_mlm.cpp): no prompt; the task's sentence or sentence pair
//    through Tokenizer::encode / encode_pair, label = class (Format::ClassificationHead).
#pragma once
#include <string>
#include <vector>

#include "core/tasks/example.h"
#include "core/tasks/task_registry.h"
#include "core/tokenizer/tokenizer.h"

namespace zotune::tasks {

enum class TemplateFamily { MezoDecoder, LmBffMlm, BszoMlm, ClassificationHead };

const char* family_name(TemplateFamily family);  // "mezo", "lmbff", "bszo-mlm", "cls-head"
TemplateFamily parse_family(const std::string& name);  // Error listing the names

// Whether `family` defines `task` (LM-BFF covers sst2, sst5, mr, trec, rte, qnli, snli, mnli;
// BSZO's MLM sst2, rte, cb, wic, trec, boolq; the head every classification task).
bool has_template(const TaskSpec& task, TemplateFamily family);
// The format `family` encodes `task` in (MezoDecoder: Generation for generation tasks,
// CandidateLM otherwise).
Format format_of(const TaskSpec& task, TemplateFamily family);
// Classification: the label word of each class (decoder candidates / MLM label words).
std::vector<std::string> label_words(const TaskSpec& task, TemplateFamily family);

// The strings the model reads, for tests and `zotune` output:
//  - CandidateLM: [prompt, prompt+candidate 0, prompt+candidate 1, ...], each as it is
//    tokenized (MeZO strips spaces at both ends and leading whitespace);
//  - Generation: [prompt, prompt + " answer\n"] (the training target; only [prompt] when the
//    example has no answer);
//  - MaskedLM: [the template with the tokenizer's special tokens written out] (LM-BFF pieces
//    are joined without separators: they are tokenized one by one);
//  - ClassificationHead: [sentence] or [sentence a, sentence b].
// `tok` supplies the mask/special token strings; it may be null for the decoder family.
std::vector<std::string> render(const TaskSpec& task, TemplateFamily family, const Example& example,
                                const Tokenizer* tok);

// The example as token ids (see EncodedExample in example.h). Sequences longer than
// max_length: CandidateLM / Generation are left-truncated keeping the BOS token when the
// tokenizer adds one (MeZO); MaskedLM keeps its first max_length tokens (LM-BFF's tail
// truncation; an Error when that cuts off the mask); ClassificationHead keeps its first
// max_length - 1 tokens and the final special token ([SEP], </s>). For
// Generation pass max_length minus the tokens to generate, as MeZO does. Errors name the
// example's file:line and the task.
EncodedExample encode(const TaskSpec& task, TemplateFamily family, const Example& example, const Tokenizer& tok,
                      int max_length);

}  // namespace zotune::tasks
