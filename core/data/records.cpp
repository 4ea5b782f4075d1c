// Readers for the task data layouts (records.h). Line-based readers split the file on '\n',
// drop a '\r' before it (CRLF files read like LF ones, as Python's text mode does) and a UTF-8
// byte-order mark at the start, skip blank lines, and keep every value verbatim otherwise.
// Whole-file JSON readers (SQuAD, DROP) parse with nlohmann::ordered_json so objects keep file
// order, and tag every object with the line of its '{' so errors can name file:line.
#include "core/data/records.h"

#include <cstddef>
#include <cstdint>
#include <fstream>
#include <sstream>
#include <string_view>
#include <unordered_set>
#include <utility>

#include "core/util/error.h"

namespace zotune::data {
namespace {

using nlohmann::json;
using nlohmann::ordered_json;

std::string read_whole_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  check(static_cast<bool>(in), path + ": cannot open data file");
  std::ostringstream buffer;
  buffer << in.rdbuf();
  check(!in.bad(), path + ": read failed");
  return buffer.str();
}

std::string where_line(const std::string& path, int64_t line) { return path + ":" + std::to_string(line); }

struct TextLine {
  std::string_view text;  // without the '\n' (and a '\r' before it)
  int64_t number;         // 1-based
};

constexpr std::string_view kUtf8Bom = "\xEF\xBB\xBF";

// The file's lines; a final line without '\n' counts, the empty piece after a final '\n' does not.
std::vector<TextLine> split_lines(std::string_view text) {
  if (text.substr(0, kUtf8Bom.size()) == kUtf8Bom) text.remove_prefix(kUtf8Bom.size());
  std::vector<TextLine> lines;
  int64_t number = 1;
  size_t begin = 0;
  while (begin < text.size()) {
    size_t end = text.find('\n', begin);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(begin, end - begin);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    lines.push_back({line, number});
    ++number;
    begin = end + 1;
  }
  return lines;
}

// 0 when `s` is valid UTF-8, else the 1-based byte column of the first bad sequence.
size_t invalid_utf8_column(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    size_t len = 0;
    uint32_t min = 0;  // smallest code point this length may encode (rejects overlong forms)
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xE0) == 0xC0) {
      len = 2, min = 0x80;
    } else if ((c & 0xF0) == 0xE0) {
      len = 3, min = 0x800;
    } else if ((c & 0xF8) == 0xF0) {
      len = 4, min = 0x10000;
    } else {
      return i + 1;
    }
    if (i + len > s.size()) return i + 1;
    uint32_t cp = c & (0x7F >> len);
    for (size_t k = 1; k < len; ++k) {
      const auto cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xC0) != 0x80) return i + 1;
      cp = (cp << 6) | (cc & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return i + 1;
    i += len;
  }
  return 0;
}

void check_utf8(const std::string& path, const TextLine& line) {
  const size_t column = invalid_utf8_column(line.text);
  check(column == 0, where_line(path, line.number) + ":" + std::to_string(column) + ": not valid UTF-8");
}

std::vector<std::string_view> split_on(std::string_view s, char sep) {
  std::vector<std::string_view> parts;
  size_t begin = 0;
  while (true) {
    const size_t end = s.find(sep, begin);
    if (end == std::string_view::npos) {
      parts.push_back(s.substr(begin));
      return parts;
    }
    parts.push_back(s.substr(begin, end - begin));
    begin = end + 1;
  }
}

std::string join_names(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "" : ", ") + n;
  return out;
}

void check_column_names(const std::vector<std::string>& names, const std::string& where) {
  check(!names.empty(), where + ": no column names");
  std::unordered_set<std::string> seen;
  for (const auto& n : names) check(seen.insert(n).second, where + ": column '" + n + "' appears twice");
}

Record make_row(const std::vector<std::string>& names, const std::vector<std::string_view>& values, std::string where) {
  Record r{json::object(), std::move(where)};
  for (size_t c = 0; c < names.size(); ++c) r.fields[names[c]] = std::string(values[c]);
  return r;
}

// nlohmann's parse_error text is "[json.exception.parse_error.101] parse error at line 1,
// column 5: syntax error ..."; keep the part after the position, which we report ourselves.
std::string parse_error_reason(const json::parse_error& e) {
  std::string_view what = e.what();
  const size_t column = what.find("column ");
  if (column != std::string_view::npos) {
    const size_t colon = what.find(": ", column);
    if (colon != std::string_view::npos) return std::string(what.substr(colon + 2));
  }
  return std::string(what);
}

// Other errors of the JSON parser (out_of_range 406: a number past a double, "1e400", which
// Python reads as inf; found by tests/fuzz/fuzz_data_records) carry no position: the message
// without nlohmann's "[json.exception.out_of_range.406] " prefix.
std::string json_error_reason(const json::exception& e) {
  std::string_view what = e.what();
  const size_t bracket = what.find("] ");
  return std::string(bracket == std::string_view::npos ? what : what.substr(bracket + 2));
}

// ---- whole-file JSON with object lines ----

// The reserved key under which every parsed object keeps the line of its '{'; readers never
// copy it into a record. (A control character, so no real data key collides with it.)
const std::string kLineKey = "\x01line";

// Line (1-based) of every '{' outside strings, in document order: the k-th object_start event
// of the parser is the k-th entry.
std::vector<int64_t> object_start_lines(std::string_view text) {
  std::vector<int64_t> lines;
  int64_t line = 1;
  bool in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '\n') ++line;
    if (in_string) {
      if (c == '\\') {
        ++i;  // the escaped character cannot end the string
        if (i < text.size() && text[i] == '\n') ++line;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '{') {
      lines.push_back(line);
    }
  }
  return lines;
}

ordered_json parse_json_file_with_lines(const std::string& path) {
  const std::string text = read_whole_file(path);
  const std::vector<int64_t> lines = object_start_lines(text);
  size_t next_object = 0;
  std::vector<int64_t> open;  // lines of the objects being parsed, innermost last
  auto tag_lines = [&](int /*depth*/, ordered_json::parse_event_t event, ordered_json& parsed) {
    if (event == ordered_json::parse_event_t::object_start) {
      open.push_back(next_object < lines.size() ? lines[next_object] : 0);
      ++next_object;
    } else if (event == ordered_json::parse_event_t::object_end) {
      parsed[kLineKey] = open.back();
      open.pop_back();
    }
    return true;
  };
  try {
    return ordered_json::parse(text, tag_lines);
  } catch (const json::parse_error& e) {
    // e.byte: 1-based offset of the last byte read.
    const size_t end = std::min<size_t>(e.byte == 0 ? 0 : e.byte - 1, text.size());
    int64_t line = 1;
    size_t line_start = 0;
    for (size_t i = 0; i < end; ++i) {
      if (text[i] == '\n') ++line, line_start = i + 1;
    }
    throw Error(where_line(path, line) + ":" + std::to_string(end - line_start + 1) +
                ": invalid JSON: " + parse_error_reason(e));
  } catch (const json::exception& e) {
    throw Error(path + ": invalid JSON: " + json_error_reason(e));
  }
}

// A JSON object of the file, with its path in the document ("data[0].paragraphs[3]") and the
// line of its '{', for error messages.
struct JsonNode {
  const ordered_json& value;
  std::string file;
  std::string path;

  std::string where() const {
    int64_t line = 1;
    if (value.is_object()) {
      const auto it = value.find(kLineKey);
      if (it != value.end()) line = it->get<int64_t>();
    }
    return where_line(file, line) + ": " + (path.empty() ? "top level" : path);
  }
  const ordered_json& get(const std::string& key) const {
    check(value.is_object(), where() + ": expected a JSON object");
    const auto it = value.find(key);
    check(it != value.end(), where() + ": missing key '" + key + "'");
    return *it;
  }
  const ordered_json* find(const std::string& key) const {
    const auto it = value.find(key);
    return it == value.end() ? nullptr : &*it;
  }
  std::string string_at(const std::string& key) const {
    const ordered_json& v = get(key);
    check(v.is_string(), where() + ": key '" + key + "' is " + std::string(v.type_name()) + ", expected a string");
    return v.get<std::string>();
  }
  const ordered_json& array_at(const std::string& key) const {
    const ordered_json& v = get(key);
    check(v.is_array(), where() + ": key '" + key + "' is " + std::string(v.type_name()) + ", expected an array");
    return v;
  }
  JsonNode object_at(const std::string& key) const {
    const ordered_json& v = get(key);
    JsonNode child{v, file, path.empty() ? key : path + "." + key};
    check(v.is_object(), where() + ": key '" + key + "' is " + std::string(v.type_name()) + ", expected an object");
    return child;
  }
  JsonNode element(const std::string& key, size_t i) const {
    const ordered_json& v = get(key)[i];
    JsonNode child{v, file, (path.empty() ? key : path + "." + key) + "[" + std::to_string(i) + "]"};
    check(v.is_object(), child.where() + ": is " + std::string(v.type_name()) + ", expected an object");
    return child;
  }
  int64_t line() const {
    const auto it = value.find(kLineKey);
    return it == value.end() ? 1 : it->get<int64_t>();
  }
};

// A string or a number as text: SQuAD ids and DROP numbers are strings in the official
// files, numbers in some exports.
std::string scalar_text(const JsonNode& node, const std::string& key) {
  const ordered_json& v = node.get(key);
  if (v.is_string()) return v.get<std::string>();
  check(v.is_number(), node.where() + ": key '" + key + "' is " + std::string(v.type_name()) +
                           ", expected a string or a number");
  return v.dump();
}

// Hugging Face's drop.py build_answers(answers): the gold strings of a list of DROP answer
// objects, flattened in order: per answer its number if non-empty, else its date as
// " ".join([day, month, year]).strip() (empty parts kept, so {day 9, year 2021} is "9  2021")
// if any part is non-empty, then its spans. An answer that is both number and date, number and
// spans, or date and spans, or a list that yields nothing, is HF's AnswerParsingError: the
// message is returned in *error and the result is empty (HF then skips the question).
json hf_drop_build_answers(const JsonNode& qa, const std::string& key, bool single, std::string* error) {
  std::vector<JsonNode> answers;
  if (single) {
    answers.push_back(qa.object_at(key));
  } else {
    const ordered_json& list = qa.array_at(key);
    for (size_t k = 0; k < list.size(); ++k) answers.push_back(qa.element(key, k));
  }
  json out = json::array();
  for (const JsonNode& answer : answers) {
    const std::string number = answer.find("number") != nullptr ? scalar_text(answer, "number") : "";
    std::string day, month, year;
    if (answer.find("date") != nullptr) {
      const JsonNode date = answer.object_at("date");
      if (date.find("day") != nullptr) day = scalar_text(date, "day");
      if (date.find("month") != nullptr) month = scalar_text(date, "month");
      if (date.find("year") != nullptr) year = scalar_text(date, "year");
    }
    const bool has_date = !day.empty() || !month.empty() || !year.empty();
    std::vector<std::string> spans;
    if (const ordered_json* s = answer.find("spans")) {
      check(s->is_array(), answer.where() + ": key 'spans' is " + std::string(s->type_name()) + ", expected an array");
      for (const auto& v : *s) {
        check(v.is_string(), answer.where() + ": 'spans' holds " + v.dump() + ", expected strings");
        spans.push_back(v.get<std::string>());
      }
    }
    if (!number.empty()) {
      if (has_date) { *error = "both number and date"; return json::array(); }
      if (!spans.empty()) { *error = "both number and text"; return json::array(); }
      out.push_back(number);
    } else if (has_date) {
      if (!spans.empty()) { *error = "both date and text"; return json::array(); }
      // Python: " ".join(self).strip() -- ASCII spaces joined; strip() only removes the
      // whitespace the empty parts leave at the ends (DROP's date parts hold no other).
      std::string text = day + " " + month + " " + year;
      const size_t a = text.find_first_not_of(" \t\n\r\f\v");
      text = a == std::string::npos ? "" : text.substr(a, text.find_last_not_of(" \t\n\r\f\v") - a + 1);
      out.push_back(text);
    }
    for (const std::string& span : spans) out.push_back(span);
  }
  if (out.empty()) *error = "empty answer";
  return out;
}

}  // namespace

std::vector<Record> read_tsv(const std::string& path, const std::vector<std::string>& columns) {
  const std::string text = read_whole_file(path);
  const std::vector<TextLine> lines = split_lines(text);
  std::vector<std::string> names = columns;
  size_t first = 0;
  if (names.empty()) {
    while (first < lines.size() && lines[first].text.empty()) ++first;
    check(first < lines.size(), path + ": empty TSV file, expected a header row");
    check_utf8(path, lines[first]);
    for (auto name : split_on(lines[first].text, '\t')) names.emplace_back(name);
    check_column_names(names, where_line(path, lines[first].number) + ": header");
    ++first;
  } else {
    check_column_names(names, path + ": given columns");
  }
  std::vector<Record> rows;
  rows.reserve(lines.size() - first);
  for (size_t i = first; i < lines.size(); ++i) {
    const TextLine& line = lines[i];
    if (line.text.empty()) continue;
    check_utf8(path, line);
    const auto values = split_on(line.text, '\t');
    check(values.size() == names.size(), where_line(path, line.number) + ": " + std::to_string(values.size()) +
                                             " tab-separated columns, expected " + std::to_string(names.size()) +
                                             " (" + join_names(names) + ")");
    rows.push_back(make_row(names, values, where_line(path, line.number)));
  }
  return rows;
}

std::vector<Record> read_csv(const std::string& path, const std::vector<std::string>& given_columns) {
  // No columns given: the first record is a header naming them.
  std::vector<std::string> columns = given_columns;
  bool header_pending = columns.empty();
  if (!header_pending) check_column_names(columns, path + ": given columns");
  const std::string whole = read_whole_file(path);
  std::string_view text = whole;
  if (text.substr(0, kUtf8Bom.size()) == kUtf8Bom) text.remove_prefix(kUtf8Bom.size());

  std::vector<Record> rows;
  std::vector<std::string> fields;
  std::string field;
  int64_t line = 1;              // line of the byte at i
  size_t line_start = 0;         // offset of that line's first byte
  int64_t record_line = 1;       // line where the current record began
  bool record_has_bytes = false;  // false on a blank line
  size_t i = 0;
  auto column_of = [&](size_t at) { return std::to_string(at - line_start + 1); };
  auto end_record = [&]() {
    if (record_has_bytes && header_pending) {
      const std::string where = where_line(path, record_line);
      for (const std::string& name : fields) {
        check(invalid_utf8_column(name) == 0, where + ": header: a column name is not valid UTF-8");
        columns.push_back(name);
      }
      check_column_names(columns, where + ": header");
      header_pending = false;
    } else if (record_has_bytes) {
      const std::string where = where_line(path, record_line);
      check(fields.size() == columns.size(), where + ": " + std::to_string(fields.size()) +
                                                 " comma-separated columns, expected " +
                                                 std::to_string(columns.size()) + " (" + join_names(columns) + ")");
      Record r{json::object(), where};
      for (size_t c = 0; c < columns.size(); ++c) {
        const size_t bad = invalid_utf8_column(fields[c]);
        check(bad == 0, where + ": column '" + columns[c] + "' is not valid UTF-8");
        r.fields[columns[c]] = std::move(fields[c]);
      }
      rows.push_back(std::move(r));
    }
    fields.clear();
    record_has_bytes = false;
  };
  while (i <= text.size()) {
    // At the start of a field.
    field.clear();
    if (i < text.size() && text[i] == '"') {
      record_has_bytes = true;
      const int64_t open_line = line;
      const std::string open_column = column_of(i);
      ++i;
      while (true) {
        check(i < text.size(), where_line(path, open_line) + ":" + open_column +
                                   ": quoted field never closes (end of file inside quotes)");
        const char c = text[i];
        if (c == '"') {
          if (i + 1 < text.size() && text[i + 1] == '"') {
            field += '"';
            i += 2;
            continue;
          }
          ++i;
          break;
        }
        if (c == '\n') ++line, line_start = i + 1;
        field += c;
        ++i;
      }
      // After the closing quote: a separator, a line end or the end of the file.
      const bool ok = i == text.size() || text[i] == ',' || text[i] == '\n' ||
                      (text[i] == '\r' && i + 1 < text.size() && text[i + 1] == '\n');
      check(ok, where_line(path, line) + ":" + column_of(i) + ": unexpected '" + std::string(1, text[i]) +
                    "' after a closing quote (RFC 4180: a quote inside a quoted field is written \"\")");
    } else {
      while (i < text.size() && text[i] != ',' && text[i] != '\n') {
        if (text[i] == '\r' && i + 1 < text.size() && text[i + 1] == '\n') break;
        check(text[i] != '"', where_line(path, line) + ":" + column_of(i) +
                                  ": quote inside an unquoted field (RFC 4180: quote the whole field)");
        field += text[i];
        record_has_bytes = true;
        ++i;
      }
    }
    fields.push_back(field);
    if (i < text.size() && text[i] == ',') {
      record_has_bytes = true;
      ++i;
      continue;
    }
    // A line end or the end of the file closes the record.
    if (i < text.size() && text[i] == '\r') ++i;
    end_record();
    if (i >= text.size()) break;
    ++i;  // the '\n'
    ++line;
    line_start = i;
    record_line = line;
    if (i == text.size()) break;
  }
  return rows;
}

std::vector<Record> read_label_space_text(const std::string& path) {
  const std::string text = read_whole_file(path);
  std::vector<Record> rows;
  for (const TextLine& line : split_lines(text)) {
    if (line.text.empty()) continue;
    check_utf8(path, line);
    const size_t space = line.text.find(' ');
    const std::string where = where_line(path, line.number);
    check(space != std::string_view::npos, where + ": no space between label and sentence");
    check(space > 0, where + ": empty label (line starts with a space)");
    Record r{json::object(), where};
    r.fields["label"] = std::string(line.text.substr(0, space));
    r.fields["sentence"] = std::string(line.text.substr(space + 1));
    rows.push_back(std::move(r));
  }
  return rows;
}

std::vector<Record> read_jsonl(const std::string& path) {
  const std::string text = read_whole_file(path);
  std::vector<Record> rows;
  for (const TextLine& line : split_lines(text)) {
    if (line.text.find_first_not_of(" \t") == std::string_view::npos) continue;
    const std::string where = where_line(path, line.number);
    json value;
    try {
      value = json::parse(line.text);
    } catch (const json::parse_error& e) {
      throw Error(where + ":" + std::to_string(e.byte) + ": invalid JSON: " + parse_error_reason(e));
    } catch (const json::exception& e) {
      throw Error(where + ": invalid JSON: " + json_error_reason(e));
    }
    check(value.is_object(), where + ": line is a JSON " + std::string(value.type_name()) + ", expected an object");
    rows.push_back({std::move(value), where});
  }
  return rows;
}

std::vector<Record> read_squad_json(const std::string& path) {
  const ordered_json root_value = parse_json_file_with_lines(path);
  const JsonNode root{root_value, path, ""};
  check(root_value.is_object(), root.where() + ": expected a JSON object with key 'data'");
  std::vector<Record> rows;
  const ordered_json& data = root.array_at("data");
  for (size_t a = 0; a < data.size(); ++a) {
    const JsonNode article{data[a], path, "data[" + std::to_string(a) + "]"};
    check(data[a].is_object(), article.where() + ": is " + std::string(data[a].type_name()) + ", expected an object");
    const std::string title = article.string_at("title");
    const ordered_json& paragraphs = article.array_at("paragraphs");
    for (size_t p = 0; p < paragraphs.size(); ++p) {
      const JsonNode paragraph = article.element("paragraphs", p);
      const std::string context = paragraph.string_at("context");
      const ordered_json& qas = paragraph.array_at("qas");
      for (size_t q = 0; q < qas.size(); ++q) {
        const JsonNode qa = paragraph.element("qas", q);
        Record r{json::object(), where_line(path, qa.line())};
        r.fields["id"] = scalar_text(qa, "id");
        r.fields["title"] = title;
        r.fields["context"] = context;
        r.fields["question"] = qa.string_at("question");
        json answers = json::array();
        const ordered_json& answer_list = qa.array_at("answers");
        for (size_t k = 0; k < answer_list.size(); ++k) answers.push_back(qa.element("answers", k).string_at("text"));
        r.fields["answers"] = std::move(answers);
        bool impossible = false;  // SQuAD v2.0's unanswerable questions; v1.1 has no such key
        if (const ordered_json* flag = qa.find("is_impossible")) {
          check(flag->is_boolean(), qa.where() + ": key 'is_impossible' is " + std::string(flag->type_name()) +
                                        ", expected a boolean");
          impossible = flag->get<bool>();
        }
        r.fields["is_impossible"] = impossible;
        rows.push_back(std::move(r));
      }
    }
  }
  return rows;
}

std::vector<Record> read_drop_json(const std::string& path) {
  const ordered_json root_value = parse_json_file_with_lines(path);
  const JsonNode root{root_value, path, ""};
  check(root_value.is_object(), root.where() + ": expected a JSON object of passages");
  std::vector<Record> rows;
  for (const auto& [passage_id, section_value] : root_value.items()) {
    if (passage_id == kLineKey) continue;
    const JsonNode section{section_value, path, passage_id};
    check(section_value.is_object(), section.where() + ": is " + std::string(section_value.type_name()) +
                                         ", expected an object");
    const std::string passage = section.string_at("passage");
    const ordered_json& qa_pairs = section.array_at("qa_pairs");
    for (size_t q = 0; q < qa_pairs.size(); ++q) {
      const JsonNode qa = section.element("qa_pairs", q);
      Record r{json::object(), where_line(path, qa.line())};
      r.fields["id"] = scalar_text(qa, "query_id");
      r.fields["passage_id"] = passage_id;
      r.fields["passage"] = passage;
      r.fields["question"] = qa.string_at("question");
      // HF's train split reads build_answers([answer]), its validation split
      // build_answers(validated_answers); both are kept, null where HF's parser fails.
      auto put = [&](const std::string& key, const std::string& field, bool single) {
        std::string error;
        json answers = hf_drop_build_answers(qa, key, single, &error);
        r.fields[field] = error.empty() ? std::move(answers) : json(nullptr);
        if (!error.empty()) r.fields[field + "_error"] = error;
      };
      put("answer", "answers", true);
      if (qa.find("validated_answers") != nullptr) put("validated_answers", "validated_answers", false);
      rows.push_back(std::move(r));
    }
  }
  return rows;
}

std::vector<Record> read_trec_text(const std::string& path) {
  const std::string text = read_whole_file(path);
  std::vector<Record> rows;
  for (const TextLine& line : split_lines(text)) {
    if (line.text.empty()) continue;
    check_utf8(path, line);
    const std::string where = where_line(path, line.number);
    const size_t space = line.text.find(' ');
    check(space != std::string_view::npos, where + ": expected 'COARSE:fine question', found no space");
    const std::string_view label = line.text.substr(0, space);
    const size_t colon = label.find(':');
    check(colon != std::string_view::npos && colon > 0 && colon + 1 < label.size(),
          where + ": label '" + std::string(label) + "' is not COARSE:fine");
    Record r{json::object(), where};
    r.fields["coarse"] = std::string(label.substr(0, colon));
    r.fields["fine"] = std::string(label.substr(colon + 1));
    r.fields["question"] = std::string(line.text.substr(space + 1));
    rows.push_back(std::move(r));
  }
  return rows;
}

const nlohmann::json* find_field(const nlohmann::json& fields, const std::string& key) {
  if (!fields.is_object()) return nullptr;
  if (auto it = fields.find(key); it != fields.end()) return &*it;
  const nlohmann::json* node = &fields;
  size_t start = 0;
  while (true) {
    const size_t dot = key.find('.', start);
    const std::string part = key.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    if (!node->is_object()) return nullptr;
    auto it = node->find(part);
    if (it == node->end()) return nullptr;
    node = &*it;
    if (dot == std::string::npos) return node;
    start = dot + 1;
  }
}

}  // namespace zotune::data
