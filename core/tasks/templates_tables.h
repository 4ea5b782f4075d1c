// Internal to core/tasks/templates*.cpp: the template tables' row types and the placeholder
// language their strings are written in.
//
// A pattern is literal text with "{name|filter|filter...}" placeholders. `name` is one of the
// example's text fields, or "candidate" (the label word / option / answer being verbalized), or
// "mask" (the tokenizer's mask token). Filters apply left to right; they reproduce the Python
// string handling of the papers' templates (MeZO large_models/templates.py):
//   strip, lstrip, rstrip        str.strip() / lstrip() / rstrip() (Python whitespace)
//   lower                        str.lower() (ASCII letters)
//   upper_first                  s[0].upper() + s[1:] (ASCII letters)
//   question_mark                s + "?" unless s ends with "?"
//   drop_final_period            s[:-1] if s ends with "."
//   copa_connective              "effect" -> " so ", "cause" -> " because "
//   lower_first_word_unless_I    MeZO's COPA capitalisation: words = s.split(" "); words[0]
//                                lower-cased unless it is "I"
//   highlight_to_dash            s.replace("@highlight\n", "- ")  (ReCoRD, GPT-3 style)
//   fill_placeholder             s.replace("@placeholder", candidate)
#pragma once
#include <map>
#include <string>
#include <vector>

#include "core/tasks/example.h"

namespace zotune::tasks::templates_detail {

// MeZO decoder template: verbalized = prompt + continuation (with {candidate}).
struct DecoderTemplate {
  const char* task;
  std::string prompt;
  std::string continuation;
  std::vector<std::string> label_words;  // classification: candidate of each class
  const char* source;                    // where the template comes from
};
const DecoderTemplate* decoder_template(const std::string& task);

// LM-BFF template in LM-BFF's own language (*cls*, *mask*, *sep+*, *sent_0*, *+sentl_1*,
// *sent-_0*, literal text with "_" for spaces), as MeZO's medium_models/run_fewshot.sh gives it.
struct LmBffTemplate {
  const char* task;
  std::string tmpl;
  std::vector<std::string> inputs;       // example text fields read as sent_0, sent_1, ...
  std::vector<std::string> label_words;  // per class (HF numbering), encoded as " word"
  int first_sent_limit = -1;             // run_fewshot.sh's --first_sent_limit (tokens of sent_0)
  int other_sent_limit = -1;             // --other_sent_limit (tokens of every later sentence)
};
const LmBffTemplate* lmbff_template(const std::string& task);

// BSZO's RoBERTa MLM template: one pattern with {mask}, tokenized whole.
struct BszoTemplate {
  const char* task;
  std::string pattern;
  std::vector<std::string> label_words;  // per class (HF numbering), encoded without a space
};
const BszoTemplate* bszo_template(const std::string& task);

// Classification head inputs: sentence a (and b for pairs), as patterns.
struct HeadInputs {
  const char* task;
  std::string a;
  std::string b;  // "" = single sentence
};
const HeadInputs* head_inputs(const std::string& task);

// Python string helpers.
bool is_py_space(const std::string& s, size_t i, size_t* len);  // a whitespace code point at byte i
std::string py_strip(const std::string& s);
std::string py_lstrip(const std::string& s);
std::string py_rstrip(const std::string& s);
std::string strip_spaces(const std::string& s);  // str.strip(' ')
std::string ascii_lower(std::string s);
std::string drop_last_code_point(const std::string& s);  // s[:-1]
std::string replace_all(std::string s, const std::string& from, const std::string& to);

// `pattern` with its placeholders filled from ex.text and `extra` ("candidate", "mask").
// Unknown fields or filters are Errors naming `where`.
std::string fill(const std::string& pattern, const Example& ex, const std::map<std::string, std::string>& extra,
                 const std::string& where);

}  // namespace zotune::tasks::templates_detail
