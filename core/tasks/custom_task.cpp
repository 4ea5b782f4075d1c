#include "core/tasks/custom_task.h"

#include <algorithm>

#include "core/data/records.h"
#include "core/tasks/sequence_encoding.h"
#include "core/tasks/templates_tables.h"
#include "core/util/error.h"

namespace zotune::tasks {

namespace {

using nlohmann::json;

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// The value of field `name`: the key itself, else a dotted path through nested objects.
const json* field_value(const json& fields, const std::string& name) { return data::find_field(fields, name); }

// A record's field names, for errors ("none" for an empty record).
std::string field_names(const json& fields) {
  std::string out;
  if (fields.is_object())
    for (auto it = fields.begin(); it != fields.end(); ++it) out += (out.empty() ? "" : ", ") + it.key();
  return out.empty() ? "none" : out;
}

// A scalar as text: strings verbatim, booleans true/false, numbers as JSON writes them.
std::string scalar_text(const json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_boolean()) return v.get<bool>() ? "true" : "false";
  return v.dump();
}

bool is_scalar(const json& v) { return v.is_string() || v.is_boolean() || v.is_number(); }

// A list of strings: a JSON array, or (TSV / CSV cells) a string holding one.
std::vector<std::string> string_list(const json& v, const std::string& where) {
  json list = v;
  if (v.is_string()) {
    list = json::parse(v.get<std::string>(), nullptr, /*allow_exceptions=*/false);
    check(!list.is_discarded() && list.is_array(),
          where + " is the text '" + v.get<std::string>() + "', expected a JSON list of strings");
  }
  check(list.is_array(), where + " is " + std::string(v.type_name()) + ", expected a list of strings");
  std::vector<std::string> out;
  for (const json& s : list) {
    check(s.is_string(), where + " holds " + s.dump() + ", expected strings");
    out.push_back(s.get<std::string>());
  }
  return out;
}

}  // namespace

// ---- PromptTemplate

PromptTemplate::PromptTemplate(const std::string& text, std::string where) : text_(text), where_(std::move(where)) {
  std::string literal;
  auto at = [&](size_t i) { return " (character " + std::to_string(i + 1) + " of the template)"; };
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '{' && i + 1 < text.size() && text[i + 1] == '{') {
      literal += '{', ++i;
    } else if (c == '}' && i + 1 < text.size() && text[i + 1] == '}') {
      literal += '}', ++i;
    } else if (c == '}') {
      throw Error(where_ + ": a lone '}'" + at(i) + "; write '}}' for a literal brace");
    } else if (c == '{') {
      const size_t close = text.find_first_of("{}", i + 1);
      check(close != std::string::npos && text[close] == '}',
            where_ + ": '{' without a closing '}'" + at(i) + "; write '{{' for a literal brace");
      const std::string name = text.substr(i + 1, close - i - 1);
      check(!name.empty(), where_ + ": an empty slot '{}'" + at(i) + "; a slot names a record field: {text}");
      if (!literal.empty()) pieces_.push_back({false, literal}), literal.clear();
      pieces_.push_back({true, name});
      i = close;
    } else {
      literal += c;
    }
  }
  if (!literal.empty()) pieces_.push_back({false, literal});
}

std::vector<std::string> PromptTemplate::slots() const {
  std::vector<std::string> out;
  for (const Piece& p : pieces_)
    if (p.slot && p.text != "mask") out.push_back(p.text);
  return out;
}

int PromptTemplate::mask_slots() const {
  return static_cast<int>(std::count_if(pieces_.begin(), pieces_.end(), [](const Piece& p) { return p.slot && p.text == "mask"; }));
}

std::string PromptTemplate::render(const json& fields, const std::string& mask, const std::string& record_where) const {
  std::string out;
  for (const Piece& p : pieces_) {
    if (!p.slot) {
      out += p.text;
    } else if (p.text == "mask") {
      out += mask;
    } else {
      const json* v = field_value(fields, p.text);
      check(v != nullptr, record_where + ": the record has no field '" + p.text + "' for the slot {" + p.text + "} of " +
                              where_ + " (its fields: " + field_names(fields) + ")");
      check(is_scalar(*v), record_where + ": field '" + p.text + "' for the slot {" + p.text + "} of " + where_ + " is " +
                               std::string(v->type_name()) + ", expected a string, number or boolean");
      out += scalar_text(*v);
    }
  }
  return out;
}

// ---- CustomTaskDefinition

const std::string& CustomTaskDefinition::gold_field() const {
  static const std::string kLabel = "label";
  return label_field.empty() ? kLabel : label_field;
}

std::string CustomTaskDefinition::where(const std::string& key) const {
  auto it = origins.find(key);
  return (it == origins.end() ? source : it->second) + ": " + key;
}

// ---- CustomTask

CustomTask::CustomTask(CustomTaskDefinition definition)
    : def_(std::move(definition)), prompt_(def_.prompt, def_.where("task.prompt")) {
  check(!def_.prompt.empty(), def_.where("task.name") + ": custom needs task.prompt");
  check(def_.generation() || !def_.candidates.empty() || !def_.candidates_field.empty(),
        def_.where("task.name") + ": custom needs task.candidates, task.candidates_field or task.answer_field");
  check(def_.labels.empty() || def_.labels.size() == def_.candidates.size(),
        def_.where("task.labels") + ": " + std::to_string(def_.labels.size()) + " values for " +
            std::to_string(def_.candidates.size()) + " task.candidates");
}

int CustomTask::gold_index(const json& value, const std::vector<std::string>& options, bool per_example,
                           const std::string& where) const {
  const std::string key = "task.label_field";
  const std::string field = "field '" + def_.gold_field() + "' (" + def_.where(key) + ")";
  check(is_scalar(value), where + ": " + field + " is " + std::string(value.type_name()) +
                              ", expected a label: a string, number or boolean");
  const std::string text = scalar_text(value);
  if (!def_.labels.empty()) {
    for (size_t i = 0; i < def_.labels.size(); ++i)
      if (def_.labels[i] == text) return static_cast<int>(i);
    std::string known;
    for (const std::string& l : def_.labels) known += (known.empty() ? "" : ", ") + l;
    throw Error(where + ": " + field + ": label '" + text + "' is not one of task.labels (" + known + ", " +
                def_.where("task.labels") + ")");
  }
  // An index: a JSON integer or a decimal string (TSV / CSV cells).
  int64_t index = -1;
  if (value.is_number_integer()) {
    index = value.get<int64_t>();
  } else if (value.is_string() && !text.empty() && text.find_first_not_of("0123456789") == std::string::npos &&
             text.size() < 10) {
    index = std::stoll(text);
  }
  if (index >= 0) {
    check(index < static_cast<int64_t>(options.size()),
          where + ": " + field + ": label " + text + " is not an index of the " + std::to_string(options.size()) +
              (per_example ? " candidates of this record" : " task.candidates"));
    return static_cast<int>(index);
  }
  // The candidate's own text, as written or with surrounding whitespace stripped (" positive").
  for (size_t i = 0; i < options.size(); ++i)
    if (options[i] == text || templates_detail::py_strip(options[i]) == templates_detail::py_strip(text))
      return static_cast<int>(i);
  std::string known;
  for (const std::string& o : options) known += (known.empty() ? "\"" : ", \"") + o + "\"";
  throw Error(where + ": " + field + ": label '" + text + "' is neither an index nor one of the candidates (" + known +
              ")" + (per_example ? "" : "; task.labels maps other values to the candidates"));
}

std::vector<Example> CustomTask::examples(const std::vector<data::Record>& rows, const std::string& mask) const {
  std::vector<Example> out;
  out.reserve(rows.size());
  for (const data::Record& row : rows) {
    const std::string where = row.where;
    check(row.fields.is_object(), where + ": the record is not an object (task custom reads objects: JSON Lines, or "
                                          "TSV/CSV rows under a header)");
    Example ex;
    ex.where = row.where;
    ex.text["prompt"] = prompt_.render(row.fields, mask, where);
    if (def_.generation()) {
      const json* v = field_value(row.fields, def_.answer_field);
      check(v != nullptr, where + ": the record has no field '" + def_.answer_field + "' (" +
                              def_.where("task.answer_field") + "; its fields: " + field_names(row.fields) + ")");
      ex.answers = v->is_array() ? string_list(*v, where + ": field '" + def_.answer_field + "'")
                                 : std::vector<std::string>{is_scalar(*v) ? scalar_text(*v) : ""};
      check(is_scalar(*v) || v->is_array(), where + ": field '" + def_.answer_field + "' is " +
                                                std::string(v->type_name()) + ", expected a string or a list of strings");
      check(!ex.answers.empty(), where + ": field '" + def_.answer_field + "' holds no answer");
      out.push_back(std::move(ex));
      continue;
    }
    const bool per_example = !def_.candidates_field.empty();
    if (per_example) {
      const json* v = field_value(row.fields, def_.candidates_field);
      check(v != nullptr, where + ": the record has no field '" + def_.candidates_field + "' (" +
                              def_.where("task.candidates_field") + "; its fields: " + field_names(row.fields) + ")");
      ex.options = string_list(*v, where + ": field '" + def_.candidates_field + "'");
      check(ex.options.size() >= 2, where + ": field '" + def_.candidates_field + "' holds " +
                                        std::to_string(ex.options.size()) + " candidates; a choice needs at least two");
    } else {
      ex.options = def_.candidates;
    }
    const json* gold = field_value(row.fields, def_.gold_field());
    check(gold != nullptr, where + ": the record has no field '" + def_.gold_field() + "' for the gold candidate (" +
                               def_.where("task.label_field") + "; its fields: " + field_names(row.fields) + ")");
    ex.label = gold_index(*gold, ex.options, per_example, where);
    ex.correct = {ex.label};
    out.push_back(std::move(ex));
  }
  return out;
}

std::vector<Example> CustomTask::load(const std::string& path, const std::string& file_key, const std::string& mask) const {
  std::vector<data::Record> rows;
  if (ends_with(path, ".jsonl")) {
    rows = data::read_jsonl(path);
  } else if (ends_with(path, ".tsv")) {
    rows = data::read_tsv(path);
  } else if (ends_with(path, ".csv")) {
    rows = data::read_csv(path, {});
  } else {
    throw Error(def_.where(file_key) + ": '" + path +
                "': a custom task reads .jsonl (JSON Lines), .tsv or .csv (with a header row) files");
  }
  check(!rows.empty(), def_.where(file_key) + ": '" + path + "' holds no records");
  return examples(rows, mask);
}

EncodedExample CustomTask::encode(const Example& ex, CustomFormat format, const Tokenizer& tok, int max_length) const {
  const std::string where = (ex.where.empty() ? std::string("example") : ex.where) + ": task custom";
  check(max_length > 1, where + ": max_length " + std::to_string(max_length) + " is too small");
  const std::string& prompt = ex.text.at("prompt");
  EncodedExample enc;
  enc.where = ex.where;
  enc.label = ex.label;
  enc.correct = ex.correct;
  enc.candidate_texts = ex.options;
  switch (format) {
    case CustomFormat::Decoder: {
      const bool keep_bos = encoding::adds_bos(tok);
      const std::string counted_prompt = encoding::counted_text(prompt);
      const size_t prompt_len = tok.encode(counted_prompt).size();
      if (def_.generation()) {
        enc.format = Format::Generation;
        enc.ids = encoding::left_truncated(tok.encode(encoding::fed_text(counted_prompt)), max_length, keep_bos);
        enc.answers = ex.answers;
        // MeZO's SQuAD / DROP target: " {answers[0]}\n" after the prompt.
        enc.candidates.push_back(encoding::scored_sequence(
            tok, encoding::counted_text(prompt + " " + ex.answers.at(0) + "\n"), prompt_len, max_length, keep_bos, where));
        enc.correct = {0};
        enc.candidate_texts.clear();
        return enc;
      }
      enc.format = Format::CandidateLM;
      for (const std::string& c : ex.options)
        enc.candidates.push_back(
            encoding::scored_sequence(tok, encoding::counted_text(prompt + c), prompt_len, max_length, keep_bos, where));
      return enc;
    }
    case CustomFormat::MaskedLM: {
      check(tok.mask_id() >= 0, where + ": the tokenizer has no mask token for {mask}");
      enc.format = Format::MaskedLM;
      enc.ids = tok.encode(prompt, true);
      enc.token_types.assign(enc.ids.size(), 0);
      encoding::truncate_keeping_mask(enc, tok, max_length, where);
      for (const std::string& c : ex.options) {
        const std::vector<int32_t> ids = tok.encode(c, false);
        check(ids.size() == 1, where + ": candidate \"" + c + "\" is " + std::to_string(ids.size()) +
                                   " tokens for this tokenizer; a label word at {mask} must be one token (" +
                                   def_.where(def_.candidates_field.empty() ? "task.candidates" : "task.candidates_field") +
                                   ")");
        enc.label_words.push_back(ids[0]);
      }
      return enc;
    }
    case CustomFormat::Head: {
      enc.format = Format::ClassificationHead;
      enc.ids = tok.encode(prompt, true);
      enc.token_types.assign(enc.ids.size(), 0);
      encoding::truncate_keeping_last(enc, max_length);
      return enc;
    }
  }
  return enc;
}

std::vector<std::string> CustomTask::render(const Example& ex, CustomFormat format) const {
  const std::string& prompt = ex.text.at("prompt");
  if (format != CustomFormat::Decoder) return {prompt};
  std::vector<std::string> out{encoding::fed_text(encoding::counted_text(prompt))};
  if (def_.generation()) {
    if (!ex.answers.empty()) out.push_back(encoding::fed_text(encoding::counted_text(prompt + " " + ex.answers[0] + "\n")));
    return out;
  }
  for (const std::string& c : ex.options) out.push_back(encoding::fed_text(encoding::counted_text(prompt + c)));
  return out;
}

}  // namespace zotune::tasks
