// The shared data files (/work/shared/data) are the SuperGLUE/FewGLUE releases; the papers'
// code (MeZO large_models/tasks.py) loads the Hugging Face datasets instead, whose loading
// scripts change some rows. These functions turn a row of the shared layout into the row the
// HF dataset holds, so prompts match what the papers' models read:
//  - BoolQ: MeZO loads HF `boolq` (Google's release: fields question, title, answer, passage);
//    SuperGLUE's BoolQ passage is that passage prefixed with "<title> -- ".
//  - WSC: MeZO loads super_glue `wsc.fixed`, whose script runs _fix_wst on every row.
// DROP's answer parsing (HF drop.py) lives in the reader (core/data/records.h); ReCoRD's
// entity and answer sets in task_registry_rows.cpp.
#pragma once
#include <nlohmann/json.hpp>
#include <string>

namespace zotune::tasks {

// The passage as HF `boolq` holds it: the text after the first " -- " (SuperGLUE writes
// title + " -- " + passage; titles hold no " -- ", checked on all 3270 validation rows). A row
// that already has a "title" field (an HF/Google export) keeps its passage. No " -- " in a
// SuperGLUE row is an Error naming `where`.
std::string boolq_hf_passage(const nlohmann::json& row, const std::string& where);

// HF super_glue's _fix_wst on a SuperGLUE WSC row ({text, target{span1_index, span1_text,
// span2_index, span2_text}}), returned as a copy. For span1 then span2, a span text that is
// not a substring of text (and is not one of the two "Kamenev ..." spans HF leaves alone) gets
// its first character's case from the word at its index in text.split() (lower-cased when
// that word's first character is lower case, else upper-cased), trailing '.' removed and
// newlines turned into spaces; HF asserts the result is in text, so a row it cannot fix is an
// Error naming `where`. (HF's "theyscold" branch sets span2_index = 10 and calls
// str.replace without keeping the result; reproduced, so the text is unchanged.) Upper-casing
// is ASCII only: a non-ASCII first letter that would need upper-casing is an Error.
nlohmann::json wsc_fixed_row(const nlohmann::json& row, const std::string& where);

}  // namespace zotune::tasks
