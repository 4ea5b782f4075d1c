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
