// Template families -> strings (render) -> token ids (encode). The templates themselves are the
// tables in templates_decoder.cpp and templates_mlm.cpp; this file only assembles and tokenizes,
// reproducing MeZO's encode_prompt (large_models/utils.py) for decoders and LM-BFF's
// tokenize_multipart_input (src/dataset.py) for its templates.
#include "core/tasks/templates.h"

#include <algorithm>

#include "core/tasks/sequence_encoding.h"
#include "core/tasks/templates_tables.h"
#include "core/util/error.h"

namespace zotune::tasks {
namespace {

using namespace templates_detail;

std::string where_of(const TaskSpec& task, const Example& ex) {
  return (ex.where.empty() ? std::string("example") : ex.where) + ": task " + task.name;
}

const char* family_error_name(TemplateFamily f) { return family_name(f); }

[[noreturn]] void no_template(const TaskSpec& task, TemplateFamily family) {
  throw Error("task " + task.name + ": the " + family_error_name(family) + " template family does not define it");
}

// The candidates a decoder scores: label words, options, or the first gold answer.
std::vector<std::string> decoder_candidates(const TaskSpec& task, const DecoderTemplate& t, const Example& ex,
                                            const std::string& where) {
  switch (task.kind) {
    case TaskKind::Classification: return t.label_words;
    case TaskKind::MultipleChoice:
      check(!ex.options.empty(), where + ": no options");
      return ex.options;
    case TaskKind::Generation:
      if (ex.answers.empty()) return {};
      return {ex.answers[0]};
  }
  return {};
}

// MeZO's strings: encode(sample).strip(' ') is the prompt whose length counts, verbalize(...)
// .strip(' ') the candidate's; the sequence fed is ("" + train_sep + verbalized).lstrip()
// .strip(' '), i.e. also without leading whitespace (no demonstrations).
struct DecoderStrings {
  std::string prompt;                  // strip(' '), for option_len
  std::vector<std::string> verbalized;  // strip(' '), for option_len
};

DecoderStrings decoder_strings(const TaskSpec& task, const Example& ex, const std::string& where) {
  const DecoderTemplate* t = decoder_template(task.name);
  if (t == nullptr) no_template(task, TemplateFamily::MezoDecoder);
  DecoderStrings out;
  const std::string prompt = fill(t->prompt, ex, {}, where);
  out.prompt = strip_spaces(prompt);
  for (const std::string& c : decoder_candidates(task, *t, ex, where)) {
    out.verbalized.push_back(strip_spaces(prompt + fill(t->continuation, ex, {{"candidate", c}}, where)));
  }
  return out;
}

std::string fed(const std::string& s) { return strip_spaces(py_lstrip(s)); }

// Whether the tokenizer's post-processor puts a token first (OPT's </s>, Llama's <s>): MeZO
// then keeps it when left-truncating (tokenizer.add_bos_token).
bool adds_bos(const Tokenizer& tok) {
  const std::vector<int32_t> empty = tok.encode("", true);
  return !empty.empty() && tok.encode("a", true).front() == empty.front();
}

std::vector<int32_t> left_truncate(std::vector<int32_t> ids, int max_length, bool keep_bos) {
  if (static_cast<int>(ids.size()) <= max_length) return ids;
  if (keep_bos) {
    std::vector<int32_t> out{ids.front()};
    out.insert(out.end(), ids.end() - (max_length - 1), ids.end());
    return out;
  }
  return std::vector<int32_t>(ids.end() - max_length, ids.end());
}

ScoredSequence scored(const Tokenizer& tok, const std::string& verbalized, size_t prompt_len, int max_length,
                      bool keep_bos, const std::string& where) {
  ScoredSequence s;
  const std::vector<int32_t> counted = tok.encode(verbalized);
  s.option_len = static_cast<int>(counted.size()) - static_cast<int>(prompt_len);
  check(s.option_len > 0, where + ": candidate adds no tokens to the prompt (\"" + verbalized + "\")");
  s.ids = left_truncate(tok.encode(fed(verbalized)), max_length, keep_bos);
  check(s.option_len <= static_cast<int>(s.ids.size()) - (keep_bos ? 1 : 0),
        where + ": the candidate's " + std::to_string(s.option_len) + " tokens do not fit in max_length " +
            std::to_string(max_length));
  return s;
}

EncodedExample encode_decoder(const TaskSpec& task, const Example& ex, const Tokenizer& tok, int max_length,
                              const std::string& where) {
  const DecoderStrings strings = decoder_strings(task, ex, where);
  const bool keep_bos = adds_bos(tok);
  const size_t prompt_len = tok.encode(strings.prompt).size();
  EncodedExample enc;
  enc.where = ex.where;
  if (task.kind == TaskKind::Generation) {
    enc.format = Format::Generation;
    enc.ids = left_truncate(tok.encode(fed(strings.prompt)), max_length, keep_bos);
    for (const std::string& v : strings.verbalized) {
      enc.candidates.push_back(scored(tok, v, prompt_len, max_length, keep_bos, where));
    }
    if (!enc.candidates.empty()) enc.correct = {0};
    enc.answers = ex.answers;
    return enc;
  }
  enc.format = Format::CandidateLM;
  for (const std::string& v : strings.verbalized) {
    enc.candidates.push_back(scored(tok, v, prompt_len, max_length, keep_bos, where));
  }
  if (task.kind == TaskKind::Classification) {
    enc.label = ex.label;
    if (ex.label >= 0) {
      check(ex.label < static_cast<int>(enc.candidates.size()), where + ": label " + std::to_string(ex.label) +
                                                                     " outside the " + std::to_string(enc.candidates.size()) + " classes");
      enc.correct = {ex.label};
    }
  } else {
    for (int c : ex.correct) {
      check(c >= 0 && c < static_cast<int>(enc.candidates.size()), where + ": correct option " + std::to_string(c) + " out of range");
    }
    enc.correct = ex.correct;
  }
  return enc;
}

// Each label word as one token: " word" for LM-BFF (its convention for RoBERTa's space-aware
// BPE; WordPiece drops the space), "word" for BSZO.
std::vector<int32_t> label_word_ids(const TaskSpec& task, const std::vector<std::string>& words, bool leading_space,
                                    const Tokenizer& tok) {
  std::vector<int32_t> ids;
  for (const std::string& w : words) {
    const std::vector<int32_t> t = tok.encode(leading_space ? " " + w : w, false);
    check(t.size() == 1, "task " + task.name + ": label word '" + w + "' is " + std::to_string(t.size()) +
                             " tokens for this tokenizer; the masked-LM templates need one token per label word");
    ids.push_back(t[0]);
  }
  return ids;
}

// The [CLS]-like and [SEP]-like tokens the tokenizer's post-processor wraps a sentence in.
std::pair<int32_t, int32_t> cls_sep(const TaskSpec& task, const Tokenizer& tok) {
  const std::vector<int32_t> empty = tok.encode("", true);
  check(empty.size() == 2, "task " + task.name +
                               ": LM-BFF templates need an encoder tokenizer whose post-processor wraps a sentence in "
                               "[CLS] ... [SEP] (this one adds " + std::to_string(empty.size()) + " tokens)");
  return {empty[0], empty[1]};
}

std::string sentence_part(const std::string& kind, const std::string& text) {
  // LM-BFF's *sent_i* variants: "+" = a space before, "l"/"u" = first character lower/upper
  // case, "-" = the last character dropped.
  std::string s = text;
  if (kind.find('l') != std::string::npos && !s.empty()) s[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(s[0])));
  if (kind.find('u') != std::string::npos && !s.empty()) s[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(s[0])));
  if (kind.find('-') != std::string::npos) s = drop_last_code_point(s);
  if (kind.find('+') != std::string::npos) s = " " + s;
  return s;
}

// One piece of an LM-BFF template: a special token, a sentence, or literal text.
struct LmBffPiece {
  enum Type { Special, Sentence, Literal } type;
  std::string special;  // "cls", "mask", "sep", "sep+"
  int sentence = -1;
  std::string text;  // the text to tokenize (sentence pieces with their variant applied)
};

std::vector<LmBffPiece> lmbff_pieces(const TaskSpec& task, const LmBffTemplate& t, const Example& ex,
                                     const std::string& where) {
  std::vector<LmBffPiece> pieces;
  size_t start = 0;
  while (start <= t.tmpl.size()) {
    const size_t star = t.tmpl.find('*', start);
    const std::string part = t.tmpl.substr(start, star == std::string::npos ? std::string::npos : star - start);
    start = star == std::string::npos ? t.tmpl.size() + 1 : star + 1;
    if (part.empty()) continue;
    if (part == "cls" || part == "mask" || part == "sep" || part == "sep+") {
      pieces.push_back({LmBffPiece::Special, part, -1, ""});
      continue;
    }
    const size_t us = part.find('_');
    const std::string head = us == std::string::npos ? "" : part.substr(0, us);
    const bool is_sentence = !head.empty() && head.find("sent") != std::string::npos &&
                             head.find_first_not_of("+sentlu-") == std::string::npos;
    if (is_sentence) {
      const int index = std::stoi(part.substr(us + 1));
      check(index >= 0 && index < static_cast<int>(t.inputs.size()),
            "task " + task.name + ": LM-BFF template sentence " + std::to_string(index) + " has no input field");
      auto it = ex.text.find(t.inputs[index]);
      check(it != ex.text.end(), where + ": the example has no text field '" + t.inputs[index] + "'");
      std::string kind = head;
      kind.erase(kind.find("sent"), 4);  // what is left: the variant flags "+", "l", "u", "-"
      pieces.push_back({LmBffPiece::Sentence, "", index, sentence_part(kind, it->second)});
      continue;
    }
    pieces.push_back({LmBffPiece::Literal, "", -1, replace_all(part, "_", " ")});
  }
  return pieces;
}


// MLM inputs keep their first max_length tokens (LM-BFF's tail truncation); the mask must
// survive it. Sets mask_position.
void truncate_and_find_mask(EncodedExample& enc, const Tokenizer& tok, int max_length, const std::string& where) {
  if (static_cast<int>(enc.ids.size()) > max_length) {
    enc.ids.resize(max_length);
    enc.token_types.resize(max_length);
  }
  const auto mask = std::find(enc.ids.begin(), enc.ids.end(), tok.mask_id());
  check(mask != enc.ids.end(), where + ": the mask token falls beyond max_length " + std::to_string(max_length));
  enc.mask_position = static_cast<int>(mask - enc.ids.begin());
}

EncodedExample encode_lmbff(const TaskSpec& task, const Example& ex, const Tokenizer& tok, int max_length,
                            const std::string& where) {
  const LmBffTemplate* t = lmbff_template(task.name);
  if (t == nullptr) no_template(task, TemplateFamily::LmBffMlm);
  check(tok.mask_id() >= 0, "task " + task.name + ": the tokenizer has no mask token");
  const auto [cls, sep] = cls_sep(task, tok);
  EncodedExample enc;
  enc.format = Format::MaskedLM;
  enc.where = ex.where;
  int segment = 0;
  for (const LmBffPiece& p : lmbff_pieces(task, *t, ex, where)) {
    std::vector<int32_t> ids;
    if (p.type == LmBffPiece::Special) {
      ids = {p.special == "cls" ? cls : p.special == "mask" ? tok.mask_id() : sep};
    } else if (p.type == LmBffPiece::Sentence) {
      ids = tok.encode(p.text, false);
      const int limit = p.sentence == 0 ? t->first_sent_limit : t->other_sent_limit;
      if (limit >= 0 && static_cast<int>(ids.size()) > limit) ids.resize(limit);
    } else if (p.text.size() == 1) {
      // LM-BFF looks a one-character piece up as a token ("." stays "." and does not become
      // RoBERTa's " ."), falling back to the unknown token as convert_tokens_to_ids does.
      const auto id = tok.token_to_id(p.text);
      ids = {id ? *id : tok.unk_id()};
      check(ids[0] >= 0, where + ": LM-BFF template piece '" + p.text + "' is not a token of this tokenizer");
    } else {
      ids = tok.encode(p.text, false);
    }
    enc.ids.insert(enc.ids.end(), ids.begin(), ids.end());
    enc.token_types.insert(enc.token_types.end(), ids.size(), segment);
    if (p.type == LmBffPiece::Special && p.special == "sep+") ++segment;
  }
  truncate_and_find_mask(enc, tok, max_length, where);
  enc.label_words = label_word_ids(task, t->label_words, true, tok);
  enc.label = ex.label;
  return enc;
}

// Keeps the first max_length - 1 tokens and the last one (the closing [SEP] / </s>).
void truncate_keep_last(EncodedExample& enc, int max_length) {
  if (static_cast<int>(enc.ids.size()) <= max_length) return;
  const int32_t last = enc.ids.back();
  enc.ids.resize(max_length - 1);
  enc.ids.push_back(last);
  if (!enc.token_types.empty()) {
    const int32_t last_type = enc.token_types.back();
    enc.token_types.resize(max_length - 1);
    enc.token_types.push_back(last_type);
  }
}

std::string bszo_text(const TaskSpec& task, const Example& ex, const Tokenizer* tok, const std::string& where) {
  const BszoTemplate* t = bszo_template(task.name);
  if (t == nullptr) no_template(task, TemplateFamily::BszoMlm);
  const std::string mask = tok != nullptr && tok->mask_id() >= 0 ? tok->id_to_token(tok->mask_id()) : "<mask>";
  return fill(t->pattern, ex, {{"mask", mask}}, where);
}

EncodedExample encode_bszo(const TaskSpec& task, const Example& ex, const Tokenizer& tok, int max_length,
                           const std::string& where) {
  check(tok.mask_id() >= 0, "task " + task.name + ": the tokenizer has no mask token");
  EncodedExample enc;
  enc.format = Format::MaskedLM;
  enc.where = ex.where;
  enc.ids = tok.encode(bszo_text(task, ex, &tok, where), true);
  enc.token_types.assign(enc.ids.size(), 0);
  truncate_and_find_mask(enc, tok, max_length, where);
  enc.label_words = label_word_ids(task, bszo_template(task.name)->label_words, false, tok);
  enc.label = ex.label;
  return enc;
}

std::vector<std::string> head_texts(const TaskSpec& task, const Example& ex, const std::string& where) {
  const HeadInputs* h = head_inputs(task.name);
  if (h == nullptr) no_template(task, TemplateFamily::ClassificationHead);
  std::vector<std::string> out{fill(h->a, ex, {}, where)};
  if (!h->b.empty()) out.push_back(fill(h->b, ex, {}, where));
  return out;
}

EncodedExample encode_head(const TaskSpec& task, const Example& ex, const Tokenizer& tok, int max_length,
                           const std::string& where) {
  const std::vector<std::string> texts = head_texts(task, ex, where);
  EncodedExample enc;
  enc.format = Format::ClassificationHead;
  enc.where = ex.where;
  if (texts.size() == 1) {
    enc.ids = tok.encode(texts[0], true);
    enc.token_types.assign(enc.ids.size(), 0);
  } else {
    enc.ids = tok.encode_pair(texts[0], texts[1], &enc.token_types);
  }
  truncate_keep_last(enc, max_length);
  enc.label = ex.label;
  return enc;
}

}  // namespace

const char* family_name(TemplateFamily family) {
  switch (family) {
    case TemplateFamily::MezoDecoder: return "mezo";
    case TemplateFamily::LmBffMlm: return "lmbff";
    case TemplateFamily::BszoMlm: return "bszo-mlm";
    case TemplateFamily::ClassificationHead: return "cls-head";
  }
  return "?";
}

TemplateFamily parse_family(const std::string& name) {
  for (TemplateFamily f : {TemplateFamily::MezoDecoder, TemplateFamily::LmBffMlm, TemplateFamily::BszoMlm,
                           TemplateFamily::ClassificationHead}) {
    if (name == family_name(f)) return f;
  }
  throw Error("template family '" + name + "': unknown (known: mezo, lmbff, bszo-mlm, cls-head)");
}

bool has_template(const TaskSpec& task, TemplateFamily family) {
  switch (family) {
    case TemplateFamily::MezoDecoder: return decoder_template(task.name) != nullptr;
    case TemplateFamily::LmBffMlm: return lmbff_template(task.name) != nullptr;
    case TemplateFamily::BszoMlm: return bszo_template(task.name) != nullptr;
    case TemplateFamily::ClassificationHead: return head_inputs(task.name) != nullptr;
  }
  return false;
}

Format format_of(const TaskSpec& task, TemplateFamily family) {
  switch (family) {
    case TemplateFamily::MezoDecoder: return task.kind == TaskKind::Generation ? Format::Generation : Format::CandidateLM;
    case TemplateFamily::LmBffMlm:
    case TemplateFamily::BszoMlm: return Format::MaskedLM;
    case TemplateFamily::ClassificationHead: return Format::ClassificationHead;
  }
  return Format::CandidateLM;
}

std::vector<std::string> label_words(const TaskSpec& task, TemplateFamily family) {
  switch (family) {
    case TemplateFamily::MezoDecoder:
      if (const auto* t = decoder_template(task.name)) return t->label_words;
      break;
    case TemplateFamily::LmBffMlm:
      if (const auto* t = lmbff_template(task.name)) return t->label_words;
      break;
    case TemplateFamily::BszoMlm:
      if (const auto* t = bszo_template(task.name)) return t->label_words;
      break;
    case TemplateFamily::ClassificationHead:
      if (head_inputs(task.name)) return task.class_names;
      break;
  }
  no_template(task, family);
}

std::vector<std::string> render(const TaskSpec& task, TemplateFamily family, const Example& example,
                                const Tokenizer* tok) {
  const std::string where = where_of(task, example);
  switch (family) {
    case TemplateFamily::MezoDecoder: {
      const DecoderStrings s = decoder_strings(task, example, where);
      std::vector<std::string> out{fed(s.prompt)};
      for (const std::string& v : s.verbalized) out.push_back(fed(v));
      return out;
    }
    case TemplateFamily::LmBffMlm: {
      const LmBffTemplate* t = lmbff_template(task.name);
      if (t == nullptr) no_template(task, family);
      std::string out;
      for (const LmBffPiece& p : lmbff_pieces(task, *t, example, where)) {
        if (p.type != LmBffPiece::Special) {
          out += p.text;
        } else if (p.special == "mask") {
          out += tok != nullptr && tok->mask_id() >= 0 ? tok->id_to_token(tok->mask_id()) : "[MASK]";
        } else if (tok != nullptr) {
          const auto [cls, sep] = cls_sep(task, *tok);
          out += tok->id_to_token(p.special == "cls" ? cls : sep);
        } else {
          out += p.special == "cls" ? "[CLS]" : "[SEP]";
        }
      }
      return {out};
    }
    case TemplateFamily::BszoMlm: return {bszo_text(task, example, tok, where)};
    case TemplateFamily::ClassificationHead: return head_texts(task, example, where);
  }
  return {};
}

EncodedExample encode(const TaskSpec& task, TemplateFamily family, const Example& example, const Tokenizer& tok,
                      int max_length) {
  const std::string where = where_of(task, example);
  check(max_length > 1, where + ": max_length " + std::to_string(max_length) + " is too small");
  switch (family) {
    case TemplateFamily::MezoDecoder: return encode_decoder(task, example, tok, max_length, where);
    case TemplateFamily::LmBffMlm: return encode_lmbff(task, example, tok, max_length, where);
    case TemplateFamily::BszoMlm: return encode_bszo(task, example, tok, max_length, where);
    case TemplateFamily::ClassificationHead: return encode_head(task, example, tok, max_length, where);
  }
  return {};
}

}  // namespace zotune::tasks

namespace zotune::tasks::encoding {

std::string counted_text(const std::string& s) { return templates_detail::strip_spaces(s); }
std::string fed_text(const std::string& s) { return fed(s); }
bool adds_bos(const Tokenizer& tok) { return tasks::adds_bos(tok); }
ScoredSequence scored_sequence(const Tokenizer& tok, const std::string& verbalized, size_t prompt_len, int max_length,
                               bool keep_bos, const std::string& where) {
  return scored(tok, verbalized, prompt_len, max_length, keep_bos, where);
}
std::vector<int32_t> left_truncated(std::vector<int32_t> ids, int max_length, bool keep_bos) {
  return left_truncate(std::move(ids), max_length, keep_bos);
}
void truncate_keeping_mask(EncodedExample& enc, const Tokenizer& tok, int max_length, const std::string& where) {
  truncate_and_find_mask(enc, tok, max_length, where);
}
void truncate_keeping_last(EncodedExample& enc, int max_length) { truncate_keep_last(enc, max_length); }

}  // namespace zotune::tasks::encoding
