// Readers for the data layouts the papers' tasks ship in. Every reader returns the rows of one
// file as JSON objects (nlohmann::json), in file order, each with the "file:line" it came
// from, so task definitions (core/tasks) turn rows into examples without caring about the
// layout. A malformed row is a zotune::Error naming the file and line (and the column or key).
// Line-based readers skip blank lines, read CRLF like LF, drop a leading UTF-8 byte-order mark
// and reject bytes that are not UTF-8; every TSV/CSV/text value is a JSON string, verbatim.
#pragma once
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace zotune::data {

struct Record {
  nlohmann::json fields;  // an object: column name (TSV/CSV) or JSON key -> value
  std::string where;      // "path:line" (1-based line of the row in the file)
};

// GLUE TSV: a header row names the columns (values are strings, kept verbatim, trailing
// spaces included; a row with a different column count is an error). With `columns` given,
// the file has no header and these are the column names (LM-BFF's SST-5 `label<TAB>sentence`).
std::vector<Record> read_tsv(const std::string& path, const std::vector<std::string>& columns = {});

// CSV with RFC 4180 quoting (LM-BFF's TREC `label,question`, no header): `columns` name them.
// A quoted field may hold commas, newlines and "" for a quote; a quote inside an unquoted
// field, text after a closing quote, or a quote that never closes is an error. `where` is the
// line the record starts on. `columns` empty: the first record is a header row naming them.
std::vector<Record> read_csv(const std::string& path, const std::vector<std::string>& columns);

// LM-BFF's "label<SPACE>sentence" lines (SST-2 lm-bff/test.tsv): fields "label", "sentence".
std::vector<Record> read_label_space_text(const std::string& path);

// JSON Lines (SuperGLUE, SNLI): one object per non-blank line.
std::vector<Record> read_jsonl(const std::string& path);

// SQuAD v1.1/v2.0-style JSON ({"data": [{"title", "paragraphs": [{"context", "qas": [{"id",
// "question", "answers": [{"text", "answer_start"}]}]}]}]}): one record per question with
// fields "id", "title", "context", "question", "answers" (array of strings, in file order;
// empty for SQuAD v2.0's unanswerable questions) and "is_impossible" (v2.0's flag, false when
// absent). `where` is the line of the question's '{'; errors name it and the JSON path
// ("data[0].paragraphs[2].qas[1]: missing key 'question'").
std::vector<Record> read_squad_json(const std::string& path);

// DROP-style JSON ({passage_id: {"passage", "qa_pairs": [{"query_id", "question",
// "answer": {"number", "date", "spans"}, "validated_answers": [...]}]}}): one record per
// question with fields "id", "passage_id", "passage", "question", and the gold strings as
// Hugging Face's drop.py builds answers_spans (build_answers): "answers" from [answer] (what
// HF's train split holds) and, when the question has "validated_answers" (the dev set),
// "validated_answers" from that list (what HF's validation split holds), each flattened in
// order: per answer its number, or its date " ".join([day, month, year]).strip(), then its
// spans. Where HF's parser raises AnswerParsingError (an answer that is both number and date,
// number and spans or date and spans, or nothing at all) the field is null and
// "<field>_error" says why; HF drops such questions. Passages in file order; `where` is the
// line of the question's '{'.
std::vector<Record> read_drop_json(const std::string& path);

// TREC's original "COARSE:fine question" lines: fields "coarse", "fine", "question".
std::vector<Record> read_trec_text(const std::string& path);

// The value of `key` in a record's fields: the key itself, else a dotted path into nested
// objects ("answers.text"); null when a part is missing.
const nlohmann::json* find_field(const nlohmann::json& fields, const std::string& key);

}  // namespace zotune::data
