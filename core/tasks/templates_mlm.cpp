// Encoder templates, one table per family: LM-BFF (MeZO's RoBERTa runs, baselines.md 9),
// BSZO's RoBERTa MLM templates (bszo.md b), and the inputs of a plain classification head.
// Label words are indexed by the HF class numbering (task_registry.h).
#include "core/tasks/templates_tables.h"

namespace zotune::tasks::templates_detail {
namespace {

// MeZO medium_models/run_fewshot.sh: TEMPLATE, MAPPING and TASK_EXTRA's sentence limits.
// LM-BFF's TREC mapping is in its own label order (0 DESC, 1 ENTY, 2 ABBR, ...); here it is
// re-indexed to HF's (0 ABBR "Expression", 1 ENTY, 2 DESC, ...).
const std::vector<LmBffTemplate> kLmBff = {
    {"sst2", "*cls**sent_0*_It_was*mask*.*sep+*", {"sentence"}, {"terrible", "great"}},
    {"sst5", "*cls**sent_0*_It_was*mask*.*sep+*", {"sentence"}, {"terrible", "bad", "okay", "good", "great"}, 110, 20},
    {"mr", "*cls**sent_0*_It_was*mask*.*sep+*", {"sentence"}, {"terrible", "great"}, 110, 50},
    {"trec", "*cls**mask*:*+sent_0**sep+*", {"question"},
     {"Expression", "Entity", "Description", "Human", "Location", "Number"}, 110},
    {"rte", "*cls**sent-_0*?*mask*,*+sentl_1**sep+*", {"premise", "hypothesis"}, {"Yes", "No"}, 240},
    {"qnli", "*cls**sent-_0*?*mask*,*+sentl_1**sep+*", {"question", "sentence"}, {"Yes", "No"}},
    {"snli", "*cls**sent-_0*?*mask*,*+sentl_1**sep+*", {"premise", "hypothesis"}, {"Yes", "Maybe", "No"}},
    {"mnli", "*cls**sent-_0*?*mask*,*+sentl_1**sep+*", {"premise", "hypothesis"}, {"Yes", "Maybe", "No"}, 240},
};

// BSZO's templates.py *TemplateMLM classes. The label words are those its code scores (bszo.md
// (d) 11): RTE and BoolQ ["No", "Yes"] and CB ["Yes", "Maybe", "No"] disagree with the classes'
// meaning (RTE class 0 = entailment -> "No") but are what BSZO's numbers come from.
const std::vector<BszoTemplate> kBszo = {
    {"sst2", "{sentence|strip} It was {mask} .", {"bad", "great"}},
    {"rte", "{premise|strip} ? {mask} , {hypothesis|strip}", {"No", "Yes"}},
    {"cb", "{premise|strip} ? {mask} , {hypothesis|strip}", {"Yes", "Maybe", "No"}},
    {"wic", "{sentence1|strip} {sentence2|strip} Does the word \"{word}\" have the same meaning? {mask} .", {"No", "Yes"}},
    {"trec", "{question|strip} This is a {mask} question.", {"short", "thing", "what", "who", "where", "how"}},
    {"boolq", "{passage|strip} {question|strip|question_mark|upper_first} {mask} .", {"No", "Yes"}},
};

// The classification head reads the task's own sentence (pair), no prompt.
const std::vector<HeadInputs> kHead = {
    {"sst2", "{sentence}", ""},
    {"sst5", "{sentence}", ""},
    {"mr", "{sentence}", ""},
    {"trec", "{question}", ""},
    {"rte", "{premise}", "{hypothesis}"},
    {"cb", "{premise}", "{hypothesis}"},
    {"snli", "{premise}", "{hypothesis}"},
    {"mnli", "{premise}", "{hypothesis}"},
    {"qnli", "{question}", "{sentence}"},
    {"boolq", "{question}", "{passage}"},
    {"wic", "{sentence1}", "{sentence2}"},
    {"wsc", "{text}", ""},
    {"multirc", "{paragraph}", "{question} {answer}"},
};

template <class Row>
const Row* find_row(const std::vector<Row>& table, const std::string& task) {
  for (const Row& r : table) {
    if (task == r.task) return &r;
  }
  return nullptr;
}

}  // namespace

const LmBffTemplate* lmbff_template(const std::string& task) { return find_row(kLmBff, task); }
const BszoTemplate* bszo_template(const std::string& task) { return find_row(kBszo, task); }
const HeadInputs* head_inputs(const std::string& task) { return find_row(kHead, task); }

}  // namespace zotune::tasks::templates_detail
