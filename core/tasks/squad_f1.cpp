#include "core/tasks/squad_f1.h"

#include <algorithm>
#include <map>

#include "core/tasks/python_str.h"
#include "core/tokenizer/unicode.h"
#include "core/util/error.h"

namespace zotune::tasks {

namespace {

using unicode::Category;

// Python's Cased property (Lu, Ll, Lt; Other_Lowercase/Other_Uppercase are left out: they
// only matter for a capital sigma right after a modifier letter such as 'ª').
bool is_cased(char32_t c) {
  const Category k = unicode::category(c);
  return k == Category::Lu || k == Category::Ll || k == Category::Lt;
}

// Python's Case_Ignorable: Mn, Me, Cf, Lm, Sk and the Word_Break classes MidLetter,
// MidNumLet and Single_Quote.
bool is_case_ignorable(char32_t c) {
  switch (c) {
    case 0x27: case 0x2E: case 0x3A: case 0xB7: case 0x387: case 0x55F: case 0x5F4: case 0x2018: case 0x2019:
    case 0x2024: case 0x2027: case 0xFE13: case 0xFE52: case 0xFE55: case 0xFF07: case 0xFF0E: case 0xFF1A:
      return true;
    default: break;
  }
  const Category k = unicode::category(c);
  return k == Category::Mn || k == Category::Me || k == Category::Cf || k == Category::Lm || k == Category::Sk;
}

// str.lower(): the full lowercase mapping, with U+03A3 -> final sigma U+03C2 where
// \p{cased}\p{case-ignorable}* precedes it and (\p{case-ignorable}*\p{cased}) does not follow.
std::u32string python_lower(const std::u32string& s) {
  std::u32string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != 0x3A3) {
      unicode::append_lowercase(s[i], out);
      continue;
    }
    size_t j = i;
    while (j > 0 && is_case_ignorable(s[j - 1])) --j;
    bool final_sigma = j > 0 && is_cased(s[j - 1]);
    if (final_sigma) {
      size_t k = i + 1;
      while (k < s.size() && is_case_ignorable(s[k])) ++k;
      final_sigma = k == s.size() || !is_cased(s[k]);
    }
    out.push_back(final_sigma ? 0x3C2 : 0x3C3);
  }
  return out;
}

// string.punctuation: the ASCII punctuation only.
bool is_ascii_punctuation(char32_t c) {
  return (c >= 0x21 && c <= 0x2F) || (c >= 0x3A && c <= 0x40) || (c >= 0x5B && c <= 0x60) || (c >= 0x7B && c <= 0x7E);
}

// re's \w on str patterns: str.isalnum() (L*, N*) or '_'.
bool is_python_word_char(char32_t c) { return c == U'_' || unicode::is_letter(c) || unicode::is_number(c); }

std::vector<std::u32string> normalized_tokens(std::string_view answer) {
  const std::u32string lowered = python_lower(unicode::decode_utf8(answer));
  std::u32string no_punc;
  for (char32_t c : lowered)
    if (!is_ascii_punctuation(c)) no_punc.push_back(c);
  // \b(a|an|the)\b matches exactly the maximal runs of word characters equal to an article.
  std::u32string no_articles;
  for (size_t i = 0; i < no_punc.size();) {
    if (!is_python_word_char(no_punc[i])) {
      no_articles.push_back(no_punc[i++]);
      continue;
    }
    size_t end = i;
    while (end < no_punc.size() && is_python_word_char(no_punc[end])) ++end;
    const std::u32string_view word(no_punc.data() + i, end - i);
    if (word == U"a" || word == U"an" || word == U"the")
      no_articles.push_back(U' ');
    else
      no_articles.append(word);
    i = end;
  }
  return python_split(no_articles);
}

void check_answers(const std::vector<std::string>& ground_truths) {
  check(!ground_truths.empty(), "SQuAD metric: no gold answers to score against");
}

}  // namespace

std::string squad_normalize(std::string_view answer) {
  std::string out;
  for (const std::u32string& w : normalized_tokens(answer)) {
    if (!out.empty()) out.push_back(' ');
    out += unicode::encode_utf8(w);
  }
  return out;
}

double squad_f1(std::string_view prediction, std::string_view ground_truth) {
  const std::vector<std::u32string> pred = normalized_tokens(prediction);
  const std::vector<std::u32string> gold = normalized_tokens(ground_truth);
  // Counter(pred) & Counter(gold): per token the smaller count.
  std::map<std::u32string, int> gold_counts;
  for (const auto& t : gold) ++gold_counts[t];
  int num_same = 0;
  for (const auto& t : pred) {
    auto it = gold_counts.find(t);
    if (it != gold_counts.end() && it->second > 0) {
      --it->second;
      ++num_same;
    }
  }
  if (num_same == 0) return 0.0;
  // The script's operations in its order, so the doubles agree bit for bit.
  const double precision = 1.0 * num_same / static_cast<double>(pred.size());
  const double recall = 1.0 * num_same / static_cast<double>(gold.size());
  return (2 * precision * recall) / (precision + recall);
}

double squad_exact_match(std::string_view prediction, std::string_view ground_truth) {
  return squad_normalize(prediction) == squad_normalize(ground_truth) ? 1.0 : 0.0;
}

double squad_max_f1(std::string_view prediction, const std::vector<std::string>& ground_truths) {
  check_answers(ground_truths);
  double best = 0.0;
  for (const auto& g : ground_truths) best = std::max(best, squad_f1(prediction, g));
  return best;
}

double squad_max_exact_match(std::string_view prediction, const std::vector<std::string>& ground_truths) {
  check_answers(ground_truths);
  double best = 0.0;
  for (const auto& g : ground_truths) best = std::max(best, squad_exact_match(prediction, g));
  return best;
}

double mezo_f1(std::string_view prediction, const std::vector<std::string>& ground_truths) {
  check_answers(ground_truths);
  if (ground_truths[0] == "CANNOTANSWER" || ground_truths[0] == "no answer")
    return squad_normalize(ground_truths[0]) == squad_normalize(prediction) ? 1.0 : 0.0;
  return squad_max_f1(prediction, ground_truths);
}

}  // namespace zotune::tasks
