// SQuAD-style answer scoring, as the official SQuAD v1.1 evaluate script
// (evaluate-v1.1.py) computes it and MeZO reuses for SQuAD and DROP (baselines.md 8.3).
// Every step follows the Python definition character for character:
//  - lower(): Python's str.lower() (full Unicode mapping, final sigma);
//  - remove_punc(): drops only the 32 ASCII characters of string.punctuation ("“", "—",
//    "¿" stay);
//  - remove_articles(): re.sub(r'\b(a|an|the)\b', ' ', s), with Python's Unicode \w
//    (letters, numbers, '_'; combining marks are not word characters);
//  - white_space_fix(): ' '.join(s.split()), Python's str.isspace() whitespace.
// Inputs are UTF-8 (ill-formed bytes read as U+FFFD).
#pragma once
#include <string>
#include <string_view>
#include <vector>

namespace zotune::tasks {

// normalize_answer(s): lower -> remove punctuation -> remove articles -> collapse whitespace.
std::string squad_normalize(std::string_view answer);

// f1_score(prediction, ground_truth): token-bag F1 of the normalized answers. As in v1.1,
// no common token gives 0, so an empty prediction against an empty gold answer scores 0
// (only the v2.0 script special-cases empty answers).
double squad_f1(std::string_view prediction, std::string_view ground_truth);

// exact_match_score: the normalized strings are equal (empty vs empty: 1).
double squad_exact_match(std::string_view prediction, std::string_view ground_truth);

// metric_max_over_ground_truths(f1_score, ...); no gold answers is an error (the script
// would fail on max() of nothing).
double squad_max_f1(std::string_view prediction, const std::vector<std::string>& ground_truths);
double squad_max_exact_match(std::string_view prediction, const std::vector<std::string>& ground_truths);

// MeZO's metrics.py f1(pred, gold): when gold[0] is "CANNOTANSWER" or "no answer" (QuAC's and
// MeZO's SQuAD v2 marker of an unanswerable question), 1 if the normalized prediction equals
// the normalized gold[0], else 0; otherwise squad_max_f1. No gold answers is an error.
double mezo_f1(std::string_view prediction, const std::vector<std::string>& ground_truths);

}  // namespace zotune::tasks
