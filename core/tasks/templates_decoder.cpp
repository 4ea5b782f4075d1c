// MeZO's decoder templates (large_models/templates.py; baselines.md 8.2, paper Table 14) and
// BSZO's TREC template, one row per task. The verbalized sequence of a candidate is
// prompt + continuation; MeZO then strips spaces at both ends and leading whitespace
// (templates.cpp). Label words are indexed by the HF class numbering (task_registry.h).
#include "core/tasks/templates_tables.h"

namespace zotune::tasks::templates_detail {
namespace {

const std::vector<DecoderTemplate> kDecoder = {
    {"sst2", "{sentence|strip} It was", " {candidate}", {"terrible", "great"}, "MeZO SST2Template"},
    {"rte", "{premise}\nDoes this mean that \"{hypothesis}\" is true? Yes or No?\n", "{candidate}", {"Yes", "No"},
     "MeZO RTETemplate"},
    {"cb", "Suppose {premise} Can we infer that \"{hypothesis}\"? Yes, No, or Maybe?\n", "{candidate}",
     {"Yes", "No", "Maybe"}, "MeZO CBTemplate"},
    // BoolQTemplateV3, MeZO's default (template_version=2).
    {"boolq", "{passage} {question|question_mark|upper_first}\n", "{candidate}", {"Yes", "No"},
     "MeZO BoolQTemplateV3"},
    {"wsc", "{text}\nIn the previous sentence, does the pronoun \"{span2_text|lower}\" refer to {span1_text}? Yes or No?\n",
     "{candidate}", {"No", "Yes"}, "MeZO WSCTemplate"},
    {"wic", "Does the word \"{word}\" have the same meaning in these two sentences? Yes, No?\n{sentence1}\n{sentence2}\n",
     "{candidate}", {"No", "Yes"}, "MeZO WICTemplate"},
    {"multirc", "{paragraph}\nQuestion: {question}\nI found this answer \"{answer}\". Is that correct? Yes or No?\n",
     "{candidate}", {"No", "Yes"}, "MeZO MultiRCTemplate"},
    {"copa", "{premise|rstrip|drop_final_period}{question|copa_connective}", "{candidate|lower_first_word_unless_I}", {},
     "MeZO CopaTemplate (capitalization \"correct\")"},
    // The scored option is the whole filled-in query line (baselines.md 8.2).
    {"record", "{passage|highlight_to_dash}\n-", " {query|fill_placeholder}", {}, "MeZO ReCoRDTemplateGPT3"},
    {"squad", "Title: {title}\nContext: {context}\nQuestion: {question|strip}\nAnswer:", " {candidate}\n", {},
     "MeZO SQuADv2Template"},
    {"drop", "Passage: {passage}\nQuestion: {question|strip}\nAnswer:", " {candidate}\n", {}, "MeZO DROPTemplate"},
    {"trec", "Question: {question}\nType:", " {candidate}",
     {"Abbreviation", "Entity", "Description", "Human", "Location", "Number"}, "BSZO TRECTemplate"},
    // No MeZO template: the SST-2 template with LM-BFF's SST-5 words, and for MR as is.
    {"sst5", "{sentence|strip} It was", " {candidate}", {"terrible", "bad", "okay", "good", "great"},
     "zotune: MeZO's SST-2 template, LM-BFF's SST-5 label words"},
    {"mr", "{sentence|strip} It was", " {candidate}", {"terrible", "great"}, "zotune: MeZO's SST-2 template"},
    // No MeZO template: CB's, with the words in SNLI/MNLI's class order.
    {"snli", "Suppose {premise} Can we infer that \"{hypothesis}\"? Yes, No, or Maybe?\n", "{candidate}",
     {"Yes", "Maybe", "No"}, "zotune: MeZO's CB template"},
    {"mnli", "Suppose {premise} Can we infer that \"{hypothesis}\"? Yes, No, or Maybe?\n", "{candidate}",
     {"Yes", "Maybe", "No"}, "zotune: MeZO's CB template"},
};

}  // namespace

const DecoderTemplate* decoder_template(const std::string& task) {
  for (const DecoderTemplate& t : kDecoder) {
    if (task == t.task) return &t;
  }
  return nullptr;
}

}  // namespace zotune::tasks::templates_detail
