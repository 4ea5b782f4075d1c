#include "core/tasks/hf_conversions.h"

#include <vector>

#include "core/tasks/python_str.h"
#include "core/tokenizer/unicode.h"
#include "core/util/error.h"

namespace zotune::tasks {

namespace {

using nlohmann::json;

const json& field(const json& object, const std::string& key, const std::string& where) {
  check(object.is_object() && object.contains(key), where + ": missing field '" + key + "'");
  return object.at(key);
}

std::string string_at(const json& object, const std::string& key, const std::string& where) {
  const json& v = field(object, key, where);
  check(v.is_string(), where + ": field '" + key + "' is not a string");
  return v.get<std::string>();
}

int64_t int_at(const json& object, const std::string& key, const std::string& where) {
  const json& v = field(object, key, where);
  check(v.is_number_integer(), where + ": field '" + key + "' is not an integer");
  return v.get<int64_t>();
}

}  // namespace

std::string boolq_hf_passage(const json& row, const std::string& where) {
  const std::string passage = string_at(row, "passage", where);
  if (row.contains("title")) return passage;  // already HF's layout
  const size_t sep = passage.find(" -- ");
  check(sep != std::string::npos,
        where + ": BoolQ passage has no \"Title -- \" prefix (SuperGLUE layout expected, or a row with a 'title' field)");
  return passage.substr(sep + 4);
}

json wsc_fixed_row(const json& row, const std::string& where) {
  json out = row;
  const std::string text = string_at(out, "text", where);
  check(out.contains("target") && out["target"].is_object(), where + ": missing object field 'target'");
  json& target = out["target"];
  auto fix_span = [&](const std::string& k) {
    std::string span = string_at(target, k + "_text", where + " target");
    const int64_t index = int_at(target, k + "_index", where + " target");
    if (text.find(span) != std::string::npos) return;
    // No way to correct these: the subjects have intervening text (HF's comment).
    if (span == "Kamenev and Zinoviev" || span == "Kamenev, Zinoviev, and Stalin") return;
    // HF: ex["text"].replace("theyscold", "they scold") discards its result; only the index moves.
    if (span.find("theyscold") != std::string::npos) target["span2_index"] = 10;
    const std::vector<std::u32string> words = python_split(unicode::decode_utf8(text));
    check(index >= 0 && index < static_cast<int64_t>(words.size()),
          where + ": WSC " + k + "_index " + std::to_string(index) + " is outside the text's " +
              std::to_string(words.size()) + " words");
    check(!span.empty(), where + ": WSC " + k + "_text is empty");
    std::u32string s = unicode::decode_utf8(span);
    const char32_t first = words[static_cast<size_t>(index)][0];
    std::u32string head;
    if (unicode::category(first) == unicode::Category::Ll) {  // str.islower() of one character
      unicode::append_lowercase(s[0], head);
    } else {
      check(s[0] < 0x80, where + ": WSC " + k + "_text starts with a non-ASCII letter to upper-case");
      head.push_back(s[0] >= U'a' && s[0] <= U'z' ? s[0] - U'a' + U'A' : s[0]);
    }
    s = head + s.substr(1);
    while (!s.empty() && s.back() == U'.') s.pop_back();  // rstrip(".")
    for (char32_t& c : s)
      if (c == U'\n') c = U' ';
    span = unicode::encode_utf8(s);
    check(text.find(span) != std::string::npos,
          where + ": WSC " + k + "_text \"" + span + "\" is not in the text after HF's wsc.fixed correction");
    target[k + "_text"] = span;
  };
  fix_span("span1");
  fix_span("span2");
  return out;
}

}  // namespace zotune::tasks
