#!/usr/bin/env python3
"""Generates core/tokenizer/unicode_tables.cpp from Python's `unicodedata`.

The tokenizers need general categories (\\p{L}, \\p{N}, punctuation, marks), whitespace,
lowercase mappings, combining classes and the canonical / compatibility decompositions
and canonical compositions behind NFD, NFC, NFKD and NFKC. Everything is stored as runs
(a start code point and a length) so the committed file stays small; the C++ side expands
the hot tables into flat lookup arrays at first use (core/tokenizer/unicode.cpp).

Usage: python3 scripts/gen_unicode_tables.py [output path]
The Unicode version is the one of the Python that runs this script; it is recorded in
the output (kUnicodeVersion).
"""
import sys
import unicodedata
from pathlib import Path

MAX_CP = 0x110000
HANGUL_FIRST, HANGUL_LAST = 0xAC00, 0xD7A3  # composed algorithmically in unicode.cpp

# Order fixes the numeric values of zotune::unicode::Category in unicode.h.
CATEGORIES = ["Cn", "Lu", "Ll", "Lt", "Lm", "Lo", "Mn", "Mc", "Me", "Nd", "Nl", "No",
              "Pc", "Pd", "Ps", "Pe", "Pi", "Pf", "Po", "Sm", "Sc", "Sk", "So",
              "Zs", "Zl", "Zp", "Cc", "Cf", "Cs", "Co"]

# Alphabetic (Rust's char::is_alphabetic, regex \w) is L + Nl + Other_Alphabetic. Python's
# unicodedata has no Other_Alphabetic; the members outside the mark categories (which \w
# already takes whole) are these So ranges (PropList.txt, stable since Unicode 6).
ALPHABETIC_SYMBOL_RANGES = [(0x24B6, 0x24E9), (0x1F130, 0x1F149), (0x1F150, 0x1F169),
                            (0x1F170, 0x1F189)]

# Hugging Face `tokenizers` decides some character classes with older Unicode data:
#  - BertNormalizer's strip_accents drops Mn, BertPreTokenizer / Punctuation split on P*,
#    clean_text drops Cc/Cf/Co: the `unicode_categories` crate (Unicode 8.0; its "other"
#    leaves unassigned code points out);
#  - StripAccents drops every mark (M*): unicode-normalization's is_combining_mark
#    (Unicode 9.0 data).
# Token ids depend on those answers, so zotune reproduces them: below are the ranges where
# they differ from the same rule over this Unicode version's categories, measured over
# every code point against tokenizers 0.23.3 (`--measure` recomputes them with tokenizers
# installed).
LEGACY_NONSPACING_MARK_TOGGLES = [
    (0x7FD, 0x7FD), (0x898, 0x89F), (0x8CA, 0x8E1), (0x9FE, 0x9FE), (0xAFA, 0xAFF), (0xB55, 0xB55),
    (0xC04, 0xC04), (0xC3C, 0xC3C), (0xD00, 0xD00), (0xD3B, 0xD3C), (0xD81, 0xD81), (0xEBA, 0xEBA),
    (0x1734, 0x1734), (0x180F, 0x180F), (0x1885, 0x1886), (0x1ABF, 0x1ACE), (0x1DF6, 0x1DFB),
    (0xA82C, 0xA82C), (0xA8C5, 0xA8C5), (0xA8FF, 0xA8FF), (0xA9BD, 0xA9BD), (0x10D24, 0x10D27),
    (0x10EAB, 0x10EAC), (0x10F46, 0x10F50), (0x10F82, 0x10F85), (0x11070, 0x11070), (0x11073, 0x11074),
    (0x110C2, 0x110C2), (0x111C9, 0x111C9), (0x111CF, 0x111CF), (0x1123E, 0x1123E), (0x1133B, 0x1133B),
    (0x11438, 0x1143F), (0x11442, 0x11444), (0x11446, 0x11446), (0x1145E, 0x1145E), (0x1182F, 0x11837),
    (0x11839, 0x1183A), (0x1193B, 0x1193C), (0x1193E, 0x1193E), (0x11943, 0x11943), (0x119D4, 0x119D7),
    (0x119DA, 0x119DB), (0x119E0, 0x119E0), (0x11A01, 0x11A0A), (0x11A33, 0x11A38), (0x11A3B, 0x11A3E),
    (0x11A47, 0x11A47), (0x11A51, 0x11A56), (0x11A59, 0x11A5B), (0x11A8A, 0x11A96), (0x11A98, 0x11A99),
    (0x11C30, 0x11C36), (0x11C38, 0x11C3D), (0x11C3F, 0x11C3F), (0x11C92, 0x11CA7), (0x11CAA, 0x11CB0),
    (0x11CB2, 0x11CB3), (0x11CB5, 0x11CB6), (0x11D31, 0x11D36), (0x11D3A, 0x11D3A), (0x11D3C, 0x11D3D),
    (0x11D3F, 0x11D45), (0x11D47, 0x11D47), (0x11D90, 0x11D91), (0x11D95, 0x11D95), (0x11D97, 0x11D97),
    (0x11EF3, 0x11EF4), (0x16F4F, 0x16F4F), (0x16FE4, 0x16FE4), (0x1CF00, 0x1CF2D), (0x1CF30, 0x1CF46),
    (0x1E000, 0x1E006), (0x1E008, 0x1E018), (0x1E01B, 0x1E021), (0x1E023, 0x1E024), (0x1E026, 0x1E02A),
    (0x1E130, 0x1E136), (0x1E2AE, 0x1E2AE), (0x1E2EC, 0x1E2EF), (0x1E944, 0x1E94A)]
LEGACY_COMBINING_MARK_TOGGLES = [
    (0x7FD, 0x7FD), (0x898, 0x89F), (0x8CA, 0x8D3), (0x9FE, 0x9FE), (0xAFA, 0xAFF), (0xB55, 0xB55),
    (0xC04, 0xC04), (0xC3C, 0xC3C), (0xD00, 0xD00), (0xD3B, 0xD3C), (0xD81, 0xD81), (0xEBA, 0xEBA),
    (0x1715, 0x1715), (0x180F, 0x180F), (0x1ABF, 0x1ACE), (0x1CF2, 0x1CF3), (0x1CF7, 0x1CF7),
    (0x1DF6, 0x1DFA), (0xA82C, 0xA82C), (0xA8FF, 0xA8FF), (0x10D24, 0x10D27), (0x10EAB, 0x10EAC),
    (0x10F46, 0x10F50), (0x10F82, 0x10F85), (0x11070, 0x11070), (0x11073, 0x11074), (0x110C2, 0x110C2),
    (0x11145, 0x11146), (0x111C9, 0x111C9), (0x111CE, 0x111CF), (0x1133B, 0x1133B), (0x1145E, 0x1145E),
    (0x1182C, 0x1183A), (0x11930, 0x11935), (0x11937, 0x11938), (0x1193B, 0x1193E), (0x11940, 0x11940),
    (0x11942, 0x11943), (0x119D1, 0x119D7), (0x119DA, 0x119E0), (0x119E4, 0x119E4), (0x11A01, 0x11A0A),
    (0x11A33, 0x11A39), (0x11A3B, 0x11A3E), (0x11A47, 0x11A47), (0x11A51, 0x11A5B), (0x11A8A, 0x11A99),
    (0x11D31, 0x11D36), (0x11D3A, 0x11D3A), (0x11D3C, 0x11D3D), (0x11D3F, 0x11D45), (0x11D47, 0x11D47),
    (0x11D8A, 0x11D8E), (0x11D90, 0x11D91), (0x11D93, 0x11D97), (0x11EF3, 0x11EF6), (0x16F4F, 0x16F4F),
    (0x16F7F, 0x16F87), (0x16FE4, 0x16FE4), (0x16FF0, 0x16FF1), (0x1CF00, 0x1CF2D), (0x1CF30, 0x1CF46),
    (0x1E130, 0x1E136), (0x1E2AE, 0x1E2AE), (0x1E2EC, 0x1E2EF)]
LEGACY_OTHER_TOGGLES = [(0x890, 0x891), (0x8E2, 0x8E2), (0x110CD, 0x110CD), (0x13430, 0x13438)]
LEGACY_PUNCTUATION_TOGGLES = [
    (0x61D, 0x61D), (0x9FD, 0x9FD), (0xA76, 0xA76), (0xC77, 0xC77), (0xC84, 0xC84), (0x166D, 0x166D),
    (0x1B7D, 0x1B7E), (0x2E43, 0x2E4F), (0x2E52, 0x2E5D), (0x10EAD, 0x10EAD), (0x10F55, 0x10F59),
    (0x10F86, 0x10F89), (0x111C9, 0x111C9), (0x1144B, 0x1144F), (0x1145A, 0x1145B), (0x1145D, 0x1145D),
    (0x11660, 0x1166C), (0x116B9, 0x116B9), (0x1183B, 0x1183B), (0x11944, 0x11946), (0x119E2, 0x119E2),
    (0x11A3F, 0x11A46), (0x11A9A, 0x11A9C), (0x11A9E, 0x11AA2), (0x11C41, 0x11C45), (0x11C70, 0x11C71),
    (0x11EF7, 0x11EF8), (0x11FFF, 0x11FFF), (0x12FF1, 0x12FF2), (0x16E97, 0x16E9A), (0x16FE2, 0x16FE2),
    (0x1E95E, 0x1E95F)]


def measure_tokenizers_toggles():
    """Prints the three toggle lists above, measured with the installed `tokenizers`."""
    from tokenizers import normalizers, pre_tokenizers
    strip = normalizers.StripAccents()
    bert_strip = normalizers.BertNormalizer(clean_text=False, handle_chinese_chars=False,
                                            strip_accents=True, lowercase=False)
    clean = normalizers.BertNormalizer(clean_text=True, handle_chinese_chars=False,
                                       strip_accents=False, lowercase=False)
    punct = pre_tokenizers.Punctuation()
    removed = lambda n, c: n.normalize_str("a" + c + "b") == "ab"
    cps = [cp for cp in range(MAX_CP) if not 0xD800 <= cp < 0xE000]
    cat = lambda cp: unicodedata.category(chr(cp))
    lists = {
        # Code points without a decomposition, so that the NFD before the filter is moot.
        "nonspacing mark": [cp for cp in cps if unicodedata.normalize("NFD", chr(cp)) == chr(cp)
                            and removed(bert_strip, chr(cp)) != (cat(cp) == "Mn")],
        "combining mark": [cp for cp in cps if removed(strip, chr(cp)) != (cat(cp)[0] == "M")],
        "other": [cp for cp in cps if cp not in (0, 9, 10, 13, 0xFFFD)
                  and removed(clean, chr(cp)) != (cat(cp) in ("Cc", "Cf", "Co"))],
        "punctuation": [cp for cp in cps if cp >= 0x80
                        and (len(punct.pre_tokenize_str("a" + chr(cp) + "b")) == 3) != cat(cp).startswith("P")],
    }
    for name, cps_ in lists.items():
        ranges = []
        for cp in cps_:
            if ranges and ranges[-1][1] == cp - 1:
                ranges[-1][1] = cp
            else:
                ranges.append([cp, cp])
        print(name, ", ".join(f"(0x{a:X}, 0x{b:X})" for a, b in ranges))


def runs_of(values):
    """[(first, value)] where each run lasts until the next run's first code point."""
    out = []
    prev = object()
    for cp, v in enumerate(values):
        if v != prev:
            out.append((cp, v))
            prev = v
    return out


def fmt_rows(items, per_line, indent="    "):
    lines = []
    for i in range(0, len(items), per_line):
        lines.append(indent + ", ".join(items[i:i + per_line]) + ",")
    return "\n".join(lines)


def mapping_runs(mapping):
    """Compresses {cp: [cps]} into runs (first, count, stride, delta) for one-code-point
    mappings whose delta is constant along cp = first + k*stride, plus a list of the rest
    (multi-code-point targets), each (cp, target list)."""
    singles = sorted((cp, t[0] - cp) for cp, t in mapping.items() if len(t) == 1)
    multi = sorted((cp, t) for cp, t in mapping.items() if len(t) != 1)
    runs = []
    i = 0
    while i < len(singles):
        cp, delta = singles[i]
        best = (1, 1)
        for stride in (1, 2):
            n = 1
            j = i + 1
            while j < len(singles) and singles[j] == (cp + n * stride, delta):
                n += 1
                j += 1
            # stride 2 runs also need the skipped code points to be absent from the run's
            # sequence of singles, which the equality test above already guarantees.
            if n > best[0]:
                best = (n, stride)
        n, stride = best
        runs.append((cp, n, stride, delta))
        i += n
    return runs, multi


def main():
    if sys.argv[1:] == ["--measure"]:
        measure_tokenizers_toggles()
        return
    out_path = Path(sys.argv[1]) if len(sys.argv) > 1 else (
        Path(__file__).resolve().parent.parent / "core" / "tokenizer" / "unicode_tables.cpp")
    chars = [chr(cp) for cp in range(MAX_CP)]

    cat_index = {c: i for i, c in enumerate(CATEGORIES)}
    categories = [cat_index[unicodedata.category(ch)] for ch in chars]
    category_runs = runs_of(categories)

    ccc_runs = runs_of([unicodedata.combining(ch) for ch in chars])

    lower = {}
    for cp, ch in enumerate(chars):
        lo = ch.lower()
        if lo != ch:
            lower[cp] = [ord(c) for c in lo]
    lower_runs, lower_multi = mapping_runs(lower)

    canonical = {}
    compat = {}
    for cp, ch in enumerate(chars):
        if HANGUL_FIRST <= cp <= HANGUL_LAST:
            continue
        d = unicodedata.normalize("NFD", ch)
        if d != ch:
            canonical[cp] = [ord(c) for c in d]
        kd = unicodedata.normalize("NFKD", ch)
        if kd != d:
            compat[cp] = [ord(c) for c in kd]
    canon_runs, canon_multi = mapping_runs(canonical)
    compat_runs, compat_multi = mapping_runs(compat)

    # Primary composites: a two-code-point canonical decomposition that NFC recomposes.
    compositions = []
    for cp, ch in enumerate(chars):
        if HANGUL_FIRST <= cp <= HANGUL_LAST:
            continue
        dec = unicodedata.decomposition(ch)
        if not dec or dec.startswith("<"):
            continue
        parts = [int(p, 16) for p in dec.split()]
        if len(parts) == 2 and unicodedata.normalize("NFC", ch) == ch:
            compositions.append((parts[0], parts[1], cp))
    compositions.sort()

    pool = []

    def pooled(multi):
        rows = []
        for cp, target in multi:
            rows.append((cp, len(pool), len(target)))
            pool.extend(target)
        return rows

    lower_multi_rows = pooled(lower_multi)
    canon_multi_rows = pooled(canon_multi)
    compat_multi_rows = pooled(compat_multi)

    def run_items(runs):
        return [f"{{0x{a:X}, {n}, {s}, {d}}}" for a, n, s, d in runs]

    def multi_items(rows):
        return [f"{{0x{a:X}, {o}, {n}}}" for a, o, n in rows]

    parts = []
    parts.append(f"""// GENERATED by scripts/gen_unicode_tables.py from Python {sys.version.split()[0]}'s unicodedata
// (Unicode {unicodedata.unidata_version}). Do not edit: rerun the script.
// Every table is sorted by code point; core/tokenizer/unicode.cpp looks them up.
#include "core/tokenizer/unicode_tables.h"

namespace zotune::unicode_tables {{

const char kUnicodeVersion[] = "{unicodedata.unidata_version}";

// General category runs, (first code point << 5) | Category; a run ends where the next begins.
const uint32_t kCategoryRuns[] = {{
{fmt_rows([f"0x{(cp << 5) | c:X}" for cp, c in category_runs], 8)}
}};
const size_t kCategoryRunCount = {len(category_runs)};

// Canonical combining class runs, (first code point << 8) | class.
const uint32_t kCombiningClassRuns[] = {{
{fmt_rows([f"0x{(cp << 8) | c:X}" for cp, c in ccc_runs], 8)}
}};
const size_t kCombiningClassRunCount = {len(ccc_runs)};

// Code points of multi-code-point mappings, indexed by the *Multi tables below.
const uint32_t kMappingPool[] = {{
{fmt_rows([f"0x{c:X}" for c in pool], 10)}
}};

// Lowercase (char-wise, as Rust's char::to_lowercase): one-code-point runs and the
// multi-code-point cases (SpecialCasing's unconditional mappings).
const MappingRun kLowercaseRuns[] = {{
{fmt_rows(run_items(lower_runs), 4)}
}};
const size_t kLowercaseRunCount = {len(lower_runs)};
const MultiMapping kLowercaseMulti[] = {{
{fmt_rows(multi_items(lower_multi_rows), 4)}
}};
const size_t kLowercaseMultiCount = {len(lower_multi_rows)};

// Full canonical decompositions (NFD of one code point; Hangul syllables excluded).
const MappingRun kCanonicalRuns[] = {{
{fmt_rows(run_items(canon_runs), 4)}
}};
const size_t kCanonicalRunCount = {len(canon_runs)};
const MultiMapping kCanonicalMulti[] = {{
{fmt_rows(multi_items(canon_multi_rows), 4)}
}};
const size_t kCanonicalMultiCount = {len(canon_multi_rows)};

// Full compatibility decompositions, only where NFKD differs from NFD.
const MappingRun kCompatibilityRuns[] = {{
{fmt_rows(run_items(compat_runs), 4)}
}};
const size_t kCompatibilityRunCount = {len(compat_runs)};
const MultiMapping kCompatibilityMulti[] = {{
{fmt_rows(multi_items(compat_multi_rows), 4)}
}};
const size_t kCompatibilityMultiCount = {len(compat_multi_rows)};

// Primary composites: (first, second) -> composite, sorted by (first, second).
const Composition kCompositions[] = {{
{fmt_rows([f"{{0x{a:X}, 0x{b:X}, 0x{c:X}}}" for a, b, c in compositions], 4)}
}};
const size_t kCompositionCount = {len(compositions)};

// Alphabetic code points outside the letter, mark and Nl categories (inclusive ranges).
const CodePointRange kAlphabeticSymbolRanges[] = {{
{fmt_rows([f"{{0x{a:X}, 0x{b:X}}}" for a, b in ALPHABETIC_SYMBOL_RANGES], 4)}
}};
const size_t kAlphabeticSymbolRangeCount = {len(ALPHABETIC_SYMBOL_RANGES)};

// Where tokenizers' unicode_categories answers differ from this version's categories
// (see LEGACY_* in the generator): non-spacing marks vs Mn, combining marks vs M*, other
// vs Cc/Cf/Co, punctuation vs P*.
const CodePointRange kLegacyNonspacingMarkToggles[] = {{
{fmt_rows([f"{{0x{a:X}, 0x{b:X}}}" for a, b in LEGACY_NONSPACING_MARK_TOGGLES], 4)}
}};
const size_t kLegacyNonspacingMarkToggleCount = {len(LEGACY_NONSPACING_MARK_TOGGLES)};
const CodePointRange kLegacyCombiningMarkToggles[] = {{
{fmt_rows([f"{{0x{a:X}, 0x{b:X}}}" for a, b in LEGACY_COMBINING_MARK_TOGGLES], 4)}
}};
const size_t kLegacyCombiningMarkToggleCount = {len(LEGACY_COMBINING_MARK_TOGGLES)};
const CodePointRange kLegacyOtherToggles[] = {{
{fmt_rows([f"{{0x{a:X}, 0x{b:X}}}" for a, b in LEGACY_OTHER_TOGGLES], 4)}
}};
const size_t kLegacyOtherToggleCount = {len(LEGACY_OTHER_TOGGLES)};
const CodePointRange kLegacyPunctuationToggles[] = {{
{fmt_rows([f"{{0x{a:X}, 0x{b:X}}}" for a, b in LEGACY_PUNCTUATION_TOGGLES], 4)}
}};
const size_t kLegacyPunctuationToggleCount = {len(LEGACY_PUNCTUATION_TOGGLES)};

}}  // namespace zotune::unicode_tables
""")
    out_path.write_text(parts[0])
    print(f"wrote {out_path}: {len(category_runs)} category runs, {len(ccc_runs)} ccc runs, "
          f"{len(lower_runs)}+{len(lower_multi_rows)} lowercase, "
          f"{len(canon_runs)}+{len(canon_multi_rows)} canonical, "
          f"{len(compat_runs)}+{len(compat_multi_rows)} compatibility, "
          f"{len(compositions)} compositions, pool {len(pool)}")


if __name__ == "__main__":
    main()
