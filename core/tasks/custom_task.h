// A task defined in the run file instead of in C++ (task.name: custom; docs/TASKS.md): a prompt
// template with {field} slots filled from the records of JSONL, TSV or CSV files, and either
// candidates (one per class, or a list per example) with a gold label, or a gold answer to
// generate. Its examples become the same tasks::Example / EncodedExample the registered tasks
// produce, encoded by the registered families' token-level steps (sequence_encoding.h), and
// are trained and scored by PromptTask like theirs:
//  - decoders (CustomFormat::Decoder): MeZO's encoding of prompt + candidate (the candidate
//    appended as written, spaces at both ends of the sequence stripped, option_len = its
//    tokens), candidate cross-entropy or teacher forcing; generation: prompt + " answer\n"
//    as MeZO's SQuAD/DROP target, greedy decoding scored against the answers;
//  - masked-LM encoders (MaskedLM): the prompt with the tokenizer's mask token at {mask},
//    tokenized whole as BSZO's MLM templates are; each candidate must be one token (written
//    as the tokenizer spells it: " great" for RoBERTa's BPE);
//  - encoders with a classification head (Head): the rendered prompt as one sentence, the
//    candidates naming the head's classes.
#pragma once
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/data/records.h"
#include "core/tasks/example.h"
#include "core/tokenizer/tokenizer.h"

namespace zotune::tasks {

// The task.name that selects a custom task.
inline constexpr const char* kCustomTaskName = "custom";

// A prompt template: literal text and {name} slots. `{{` and `}}` are literal braces; a slot
// name is any text without braces (a dotted name reads a nested JSON object when the record
// has no field of that exact name); {mask} is the mask token, not a field.
class PromptTemplate {
 public:
  // `where` names the template in errors ("r.yaml:7: task.prompt"): an unclosed '{', a lone
  // '}' or an empty slot is an Error naming it and the character position.
  PromptTemplate(const std::string& text, std::string where);

  const std::string& text() const { return text_; }
  std::vector<std::string> slots() const;  // the field slots, in order (without mask)
  int mask_slots() const;                  // how many {mask} slots

  // The text with each slot filled from `fields` (a record's JSON object: strings as they are,
  // numbers and booleans as JSON writes them) and {mask} with `mask`. A missing field, or one
  // holding a list, an object or null, is an Error naming `record_where` (file:line), this
  // template's `where`, the slot and the record's fields.
  std::string render(const nlohmann::json& fields, const std::string& mask, const std::string& record_where) const;

 private:
  struct Piece {
    bool slot = false;
    std::string text;  // literal text, or the slot's name
  };
  std::string text_;
  std::string where_;
  std::vector<Piece> pieces_;
};

// How the model reads a custom task's prompt (from the run's template family and model head).
enum class CustomFormat { Decoder, MaskedLM, Head };

// The run file's task.* keys of a custom task (TaskSettings), with where each was written.
struct CustomTaskDefinition {
  std::string prompt;
  std::vector<std::string> candidates;  // one per class; empty with candidates_field or answer_field
  std::string candidates_field;
  std::string label_field;  // empty: "label"
  std::vector<std::string> labels;
  std::string answer_field;  // non-empty: a generation task
  std::string source;        // the run file
  std::map<std::string, std::string> origins;  // dotted key -> "file:line" that set it

  bool generation() const { return !answer_field.empty(); }
  const std::string& gold_field() const;  // label_field, or "label"
  // "file:line: task.key" (the run file alone when the key was not given), for errors.
  std::string where(const std::string& key) const;
};

class CustomTask {
 public:
  // Parses the prompt (errors name task.prompt and its line).
  explicit CustomTask(CustomTaskDefinition definition);

  const CustomTaskDefinition& definition() const { return def_; }
  const PromptTemplate& prompt() const { return prompt_; }

  // The records of one data file as examples, in file order: text["prompt"] = the rendered
  // prompt ({mask} = `mask`), options = the candidates, label = correct[0] = the gold
  // candidate, or answers = the gold answers. The layout follows the name: .jsonl (JSON
  // Lines), .tsv (tab-separated, header row), .csv (RFC 4180, header row); anything else is
  // an Error naming `file_key` ("task.train") and its line. Every record needs the gold field.
  std::vector<Example> load(const std::string& path, const std::string& file_key, const std::string& mask) const;
  std::vector<Example> examples(const std::vector<data::Record>& rows, const std::string& mask) const;

  // The example as token ids for `format` (see the header comment); max_length as
  // templates.h's encode takes it (generation: less the tokens to generate).
  EncodedExample encode(const Example& example, CustomFormat format, const Tokenizer& tok, int max_length) const;
  // The strings the model reads, as templates.h's render gives them: decoders [prompt,
  // prompt+candidate 0, ...] (generation: [prompt, prompt + " answer\n"]); encoders [input].
  std::vector<std::string> render(const Example& example, CustomFormat format) const;

 private:
  int gold_index(const nlohmann::json& value, const std::vector<std::string>& options, bool per_example,
                 const std::string& where) const;

  CustomTaskDefinition def_;
  PromptTemplate prompt_;
};

}  // namespace zotune::tasks
