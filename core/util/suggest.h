// "Did you mean" for misspelt names: run-file keys and choices, subcommands, task names.
#pragma once
#include <cstddef>
#include <optional>
#include <string_view>
#include <vector>

namespace zotune {

// Optimal-string-alignment distance, ignoring case: insertions, deletions, substitutions and
// transpositions ("MeZO" is 0 from "mezo", "stpes" 1 from "steps").
size_t edit_distance(std::string_view a, std::string_view b);

// The candidate within a small edit distance of `word`, or nothing. Dotted names are judged by
// their key part: one edit per three letters of the longer key name, at most three. Words too
// long to be misspellings (over 64 characters) are not compared at all.
std::optional<std::string_view> closest_spelling(std::string_view word, const std::vector<std::string_view>& candidates);

}  // namespace zotune
