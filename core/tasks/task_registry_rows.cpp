// Data rows -> tasks::Example: one table row per (task, file layout) says which row fields
// become which example fields and how label values map to class indices (HF numbering).
// MultiRC and ReCoRD rows hold several examples each and are expanded by their own code below.
// BoolQ and WSC rows are first turned into the rows of the Hugging Face datasets MeZO loads
// (hf_conversions.h); DROP's gold answers are HF's answers_spans (records.h).
#include <algorithm>
#include <set>
#include <utility>

#include "core/data/records.h"
#include "core/tasks/hf_conversions.h"
#include "core/tasks/task_registry.h"
#include "core/util/error.h"

namespace zotune::tasks {
namespace {

using nlohmann::json;

enum class Expand {
  Row,      // one row = one example
  MultiRC,  // one row = a paragraph: one example per (question, answer)
  ReCoRD,   // one row = a passage: one example per query
  Drop,     // one row = a question, gold = HF's answers_spans; rows HF's parser rejects are dropped
};

struct RowSpec {
  const char* task = "";
  Layout layout = Layout::Jsonl;
  // example text field <- row key; a dotted key reads a nested object ("target.span1_text")
  std::vector<std::pair<std::string, std::string>> text = {};
  std::string label_key = "";  // "" = the layout has no label; a row without the key is unlabeled
  // label value (JSON strings as they are, booleans "true"/"false", integers in decimal) ->
  // class index (classification) or option index (multiple choice); empty = the value is the
  // index itself
  std::vector<std::pair<std::string, int>> label_values = {};
  std::vector<std::string> dropped_labels = {};  // rows with these label values are skipped
  std::vector<std::string> option_keys = {};     // multiple choice: the fields holding the options
  std::string answers_key = "";                  // generation: the array of gold answers
  Expand expand = Expand::Row;
};

const std::vector<std::pair<std::string, int>> kEntailment2 = {{"entailment", 0}, {"not_entailment", 1}};
const std::vector<std::pair<std::string, int>> kNli3 = {{"entailment", 0}, {"neutral", 1}, {"contradiction", 2}};
const std::vector<std::pair<std::string, int>> kFalseTrue = {{"false", 0}, {"true", 1}};

const std::vector<RowSpec> kRows = {
    {"sst2", Layout::GlueTsv, {{"sentence", "sentence"}}, "label"},
    {"sst2", Layout::LabelSpaceText, {{"sentence", "sentence"}}, "label"},
    {"sst5", Layout::SstLabelTab, {{"sentence", "sentence"}}, "label"},
    {"mr", Layout::LmBffCsv, {{"sentence", "text"}}, "label"},
    {"trec", Layout::TrecText, {{"question", "question"}}, "coarse",
     {{"ABBR", 0}, {"ENTY", 1}, {"DESC", 2}, {"HUM", 3}, {"LOC", 4}, {"NUM", 5}}},
    // LM-BFF numbers TREC 0 DESC, 1 ENTY, 2 ABBR, 3 HUM, 4 LOC, 5 NUM (data/README.md).
    {"trec", Layout::LmBffCsv, {{"question", "text"}}, "label",
     {{"0", 2}, {"1", 1}, {"2", 0}, {"3", 3}, {"4", 4}, {"5", 5}}},
    {"rte", Layout::Jsonl, {{"premise", "premise"}, {"hypothesis", "hypothesis"}}, "label", kEntailment2},
    {"rte", Layout::GlueTsv, {{"premise", "sentence1"}, {"hypothesis", "sentence2"}}, "label", kEntailment2},
    {"cb", Layout::Jsonl, {{"premise", "premise"}, {"hypothesis", "hypothesis"}}, "label",
     {{"entailment", 0}, {"contradiction", 1}, {"neutral", 2}}},
    // MeZO: candidates ["Yes", "No"], "Yes" when the answer is true.
    {"boolq", Layout::Jsonl, {{"passage", "passage"}, {"question", "question"}}, "label", {{"true", 0}, {"false", 1}}},
    {"wic", Layout::Jsonl, {{"word", "word"}, {"sentence1", "sentence1"}, {"sentence2", "sentence2"}}, "label", kFalseTrue},
    {"wsc", Layout::Jsonl,
     {{"text", "text"}, {"span1_text", "target.span1_text"}, {"span2_text", "target.span2_text"}}, "label", kFalseTrue},
    {"copa", Layout::Jsonl, {{"premise", "premise"}, {"question", "question"}}, "label", {}, {}, {"choice1", "choice2"}},
    {"multirc", Layout::Jsonl, {}, "label", {}, {}, {}, "", Expand::MultiRC},
    {"record", Layout::Jsonl, {}, "", {}, {}, {}, "", Expand::ReCoRD},
    {"squad", Layout::SquadJson, {{"title", "title"}, {"context", "context"}, {"question", "question"}}, "", {}, {}, {}, "answers"},
    {"drop", Layout::DropJson, {{"passage", "passage"}, {"question", "question"}}, "", {}, {}, {}, "", Expand::Drop},
    {"snli", Layout::Jsonl, {{"premise", "sentence1"}, {"hypothesis", "sentence2"}}, "gold_label", kNli3, {"-"}},
    {"mnli", Layout::Jsonl, {{"premise", "sentence1"}, {"hypothesis", "sentence2"}}, "gold_label", kNli3, {"-"}},
    {"mnli", Layout::GlueTsv, {{"premise", "sentence1"}, {"hypothesis", "sentence2"}}, "gold_label", kNli3, {"-"}},
    {"qnli", Layout::GlueTsv, {{"question", "question"}, {"sentence", "sentence"}}, "label", kEntailment2},
};

std::string context(const data::Record& row, const TaskSpec& task) { return row.where + ": task " + task.name; }

// The value at a dotted key, or null when a part is missing.
const json* lookup(const json& fields, const std::string& key) { return data::find_field(fields, key); }

std::string string_field(const json& fields, const std::string& key, const std::string& where) {
  const json* v = lookup(fields, key);
  check(v != nullptr, where + ": missing field '" + key + "'");
  check(v->is_string(), where + ": field '" + key + "' is not a string");
  return v->get<std::string>();
}

std::string value_text(const json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_boolean()) return v.get<bool>() ? "true" : "false";
  if (v.is_number_integer()) return std::to_string(v.get<int64_t>());
  return v.dump();
}

// Class / option index of a label value; -1 for a row without the label field.
int label_index(const RowSpec& spec, const json& fields, int num_values, const std::string& where) {
  const json* v = lookup(fields, spec.label_key);
  if (v == nullptr || v->is_null()) return -1;
  const std::string text = value_text(*v);
  if (!spec.label_values.empty()) {
    for (const auto& [value, index] : spec.label_values) {
      if (value == text) return index;
    }
    std::string known;
    for (const auto& [value, index] : spec.label_values) known += (known.empty() ? "" : ", ") + value;
    throw Error(where + ": field '" + spec.label_key + "': unknown label '" + text + "' (expected " + known + ")");
  }
  int index = -1;
  try {
    size_t used = 0;
    index = std::stoi(text, &used);
    if (used != text.size()) index = -1;
  } catch (const std::exception&) {
    index = -1;
  }
  check(index >= 0 && index < num_values, where + ": field '" + spec.label_key + "': label '" + text +
                                              "' is not an index in [0, " + std::to_string(num_values) + ")");
  return index;
}

std::vector<std::string> string_array(const json& fields, const std::string& key, const std::string& where) {
  const json* v = lookup(fields, key);
  check(v != nullptr && v->is_array(), where + ": missing array field '" + key + "'");
  std::vector<std::string> out;
  for (const json& s : *v) {
    check(s.is_string(), where + ": field '" + key + "' holds a non-string");
    out.push_back(s.get<std::string>());
  }
  return out;
}

Example row_example(const TaskSpec& task, const RowSpec& spec, const data::Record& row) {
  const std::string where = context(row, task);
  Example ex;
  ex.where = row.where;
  for (const auto& [name, key] : spec.text) ex.text[name] = string_field(row.fields, key, where);
  for (const std::string& key : spec.option_keys) ex.options.push_back(string_field(row.fields, key, where));
  if (!spec.label_key.empty()) {
    const int num = task.kind == TaskKind::MultipleChoice ? static_cast<int>(ex.options.size())
                                                          : static_cast<int>(task.class_names.size());
    const int index = label_index(spec, row.fields, num, where);
    if (task.kind == TaskKind::MultipleChoice) {
      if (index >= 0) ex.correct = {index};
    } else {
      ex.label = index;
    }
  }
  if (!spec.answers_key.empty()) {
    ex.answers = string_array(row.fields, spec.answers_key, where);
    // SQuAD v2.0's unanswerable questions: MeZO's SQuADv2Dataset makes the gold ['no answer'],
    // which its f1 scores by exact match (squad_f1.h mezo_f1). v1.1 files have none.
    if (ex.answers.empty() && task.name == "squad") ex.answers = {"no answer"};
    check(!ex.answers.empty(), where + ": no gold answer");
  }
  return ex;
}

// SuperGLUE MultiRC: passage{text, questions[{question, answers[{text, label}]}]}, as HF's
// super_glue "multirc" flattens it: one example per answer, label 1 = a correct answer.
void expand_multirc(const TaskSpec& task, const data::Record& row, std::vector<Example>& out) {
  const std::string where = context(row, task);
  const std::string paragraph = string_field(row.fields, "passage.text", where);
  const json* questions = lookup(row.fields, "passage.questions");
  check(questions != nullptr && questions->is_array(), where + ": missing array field 'passage.questions'");
  for (size_t q = 0; q < questions->size(); ++q) {
    const json& qa = (*questions)[q];
    const std::string qwhere = where + " (question " + std::to_string(q + 1) + ")";
    const std::string question = string_field(qa, "question", qwhere);
    const json* answers = lookup(qa, "answers");
    check(answers != nullptr && answers->is_array(), qwhere + ": missing array field 'answers'");
    for (size_t a = 0; a < answers->size(); ++a) {
      const json& ans = (*answers)[a];
      const std::string awhere = qwhere.substr(0, qwhere.size() - 1) + ", answer " + std::to_string(a + 1) + ")";
      Example ex;
      ex.where = row.where + " (question " + std::to_string(q + 1) + ", answer " + std::to_string(a + 1) + ")";
      ex.text["paragraph"] = paragraph;
      ex.text["question"] = question;
      ex.text["answer"] = string_field(ans, "text", awhere);
      RowSpec spec{"multirc", Layout::Jsonl, {}, "label"};
      ex.label = label_index(spec, ans, 2, awhere);
      out.push_back(std::move(ex));
    }
  }
}

// Byte offset of every code point of UTF-8 `s`, plus s.size(): ReCoRD's entity offsets count
// characters (Python str indices), not bytes.
std::vector<size_t> code_point_offsets(const std::string& s) {
  std::vector<size_t> offsets;
  for (size_t i = 0; i < s.size(); ++i) {
    if ((static_cast<unsigned char>(s[i]) & 0xC0) != 0x80) offsets.push_back(i);
  }
  offsets.push_back(s.size());
  return offsets;
}

// SuperGLUE ReCoRD: passage{text, entities[{start, end}]}, qas[{query, answers[{text}]}], as
// HF's super_glue "record" reads it: entity text = text[start:end+1] (characters, end
// inclusive); options = the distinct entity texts, sorted (HF 1.0.2: sorted(set); 1.0.3 keeps
// an unsorted set, whose order depends on Python's string hashing: the same members); answers
// = sorted(set(answer texts)) (_get_record_answers). correct lists the options' indices in the
// answers' sorted order, so correct[0] is MeZO's training gold
// candidates.index(correct_candidate[0]) (run.py _convert). Sorting compares UTF-8 bytes,
// which orders like Python's code points. An answer that is not an entity is an Error (MeZO's
// candidates.index would raise).
void expand_record(const TaskSpec& task, const data::Record& row, std::vector<Example>& out) {
  const std::string where = context(row, task);
  const std::string passage = string_field(row.fields, "passage.text", where);
  const std::vector<size_t> cp = code_point_offsets(passage);
  const int64_t num_chars = static_cast<int64_t>(cp.size()) - 1;
  const json* entities = lookup(row.fields, "passage.entities");
  check(entities != nullptr && entities->is_array(), where + ": missing array field 'passage.entities'");
  std::vector<std::pair<int64_t, std::string>> spans;
  for (const json& e : *entities) {
    const json* s = lookup(e, "start");
    const json* f = lookup(e, "end");
    check(s && f && s->is_number_integer() && f->is_number_integer(), where + ": an entity without integer start/end");
    const int64_t start = s->get<int64_t>(), end = f->get<int64_t>();
    check(0 <= start && start <= end && end < num_chars,
          where + ": entity [" + std::to_string(start) + ", " + std::to_string(end) + "] outside the passage");
    spans.emplace_back(start, passage.substr(cp[start], cp[end + 1] - cp[start]));
  }
  std::set<std::string> distinct;
  for (const auto& [start, text] : spans) distinct.insert(text);
  const std::vector<std::string> options(distinct.begin(), distinct.end());
  const json* qas = lookup(row.fields, "qas");
  check(qas != nullptr && qas->is_array(), where + ": missing array field 'qas'");
  for (size_t q = 0; q < qas->size(); ++q) {
    const json& qa = (*qas)[q];
    const std::string qwhere = where + " (query " + std::to_string(q + 1) + ")";
    Example ex;
    ex.where = row.where + " (query " + std::to_string(q + 1) + ")";
    ex.text["passage"] = passage;
    ex.text["query"] = string_field(qa, "query", qwhere);
    ex.options = options;
    std::set<std::string> answers;
    if (const json* a = lookup(qa, "answers"); a != nullptr) {
      check(a->is_array(), qwhere + ": field 'answers' is not an array");
      for (const json& ans : *a) answers.insert(string_field(ans, "text", qwhere));
    }
    for (const std::string& answer : answers) {  // std::set: sorted, de-duplicated
      const auto it = std::lower_bound(options.begin(), options.end(), answer);
      check(it != options.end() && *it == answer,
            qwhere + ": answer \"" + answer + "\" is not one of the passage's entities");
      ex.correct.push_back(static_cast<int>(it - options.begin()));
    }
    out.push_back(std::move(ex));
  }
}

// DROP as HF's drop.py yields it and MeZO's DROPDataset reads it: the dev set's gold answers
// are build_answers(validated_answers), the train set's build_answers([answer]) (the question
// has no validated_answers); a question whose answers HF cannot parse (the reader's null) is
// not yielded, so the seeded permutation over the kept rows picks what MeZO's picks. The
// training target is the first gold string (templates: " {answers[0]}\n").
void expand_drop(const TaskSpec& task, const data::Record& row, std::vector<Example>& out) {
  const std::string where = context(row, task);
  const char* key = row.fields.contains("validated_answers") ? "validated_answers" : "answers";
  const json* gold = lookup(row.fields, key);
  check(gold != nullptr, where + ": missing field '" + std::string(key) + "'");
  if (gold->is_null()) return;  // HF's AnswerParsingError: the question is skipped
  Example ex;
  ex.where = row.where;
  ex.text["passage"] = string_field(row.fields, "passage", where);
  ex.text["question"] = string_field(row.fields, "question", where);
  ex.answers = string_array(row.fields, key, where);
  check(!ex.answers.empty(), where + ": no gold answer");
  out.push_back(std::move(ex));
}

}  // namespace

std::vector<Example> examples_from_records(const TaskSpec& task, Layout layout, const std::vector<data::Record>& rows) {
  const RowSpec* spec = nullptr;
  for (const RowSpec& r : kRows) {
    if (task.name == r.task && r.layout == layout) spec = &r;
  }
  check(spec != nullptr, std::string("task ") + task.name + ": no " + layout_name(layout) + " layout");
  std::vector<Example> out;
  out.reserve(rows.size());
  for (const data::Record& row : rows) {
    check(row.fields.is_object(), row.where + ": task " + task.name + ": the row is not an object");
    if (spec->expand == Expand::MultiRC) {
      expand_multirc(task, row, out);
      continue;
    }
    if (spec->expand == Expand::ReCoRD) {
      expand_record(task, row, out);
      continue;
    }
    if (spec->expand == Expand::Drop) {
      expand_drop(task, row, out);
      continue;
    }
    if (task.name == "boolq" && layout == Layout::Jsonl) {
      data::Record hf = row;
      hf.fields["passage"] = boolq_hf_passage(row.fields, context(row, task));
      out.push_back(row_example(task, *spec, hf));
      continue;
    }
    if (task.name == "wsc" && layout == Layout::Jsonl) {
      const data::Record hf{wsc_fixed_row(row.fields, context(row, task)), row.where};
      out.push_back(row_example(task, *spec, hf));
      continue;
    }
    if (!spec->dropped_labels.empty()) {
      const json* v = lookup(row.fields, spec->label_key);
      if (v != nullptr && std::find(spec->dropped_labels.begin(), spec->dropped_labels.end(), value_text(*v)) !=
                              spec->dropped_labels.end()) {
        continue;
      }
    }
    out.push_back(row_example(task, *spec, row));
  }
  return out;
}

}  // namespace zotune::tasks
