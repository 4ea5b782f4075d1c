// Raw Unicode data tables, generated into unicode_tables.cpp by scripts/gen_unicode_tables.py.
// Private to core/tokenizer: use the lookups in unicode.h instead.
#pragma once
#include <cstddef>
#include <cstdint>

namespace zotune::unicode_tables {

// cp maps to cp + k*stride + delta for cp = first + k*stride, k < count.
struct MappingRun {
  uint32_t first;
  uint32_t count;
  uint32_t stride;
  int32_t delta;
};
// cp maps to kMappingPool[offset .. offset+length).
struct MultiMapping {
  uint32_t code_point;
  uint32_t offset;
  uint32_t length;
};
struct Composition {
  uint32_t first;
  uint32_t second;
  uint32_t composite;
};
struct CodePointRange {
  uint32_t first;
  uint32_t last;  // inclusive
};

extern const char kUnicodeVersion[];
extern const uint32_t kCategoryRuns[];
extern const size_t kCategoryRunCount;
extern const uint32_t kCombiningClassRuns[];
extern const size_t kCombiningClassRunCount;
extern const uint32_t kMappingPool[];
extern const MappingRun kLowercaseRuns[];
extern const size_t kLowercaseRunCount;
extern const MultiMapping kLowercaseMulti[];
extern const size_t kLowercaseMultiCount;
extern const MappingRun kCanonicalRuns[];
extern const size_t kCanonicalRunCount;
extern const MultiMapping kCanonicalMulti[];
extern const size_t kCanonicalMultiCount;
extern const MappingRun kCompatibilityRuns[];
extern const size_t kCompatibilityRunCount;
extern const MultiMapping kCompatibilityMulti[];
extern const size_t kCompatibilityMultiCount;
extern const Composition kCompositions[];
extern const size_t kCompositionCount;
extern const CodePointRange kAlphabeticSymbolRanges[];
extern const size_t kAlphabeticSymbolRangeCount;
extern const CodePointRange kLegacyNonspacingMarkToggles[];
extern const size_t kLegacyNonspacingMarkToggleCount;
extern const CodePointRange kLegacyCombiningMarkToggles[];
extern const size_t kLegacyCombiningMarkToggleCount;
extern const CodePointRange kLegacyOtherToggles[];
extern const size_t kLegacyOtherToggleCount;
extern const CodePointRange kLegacyPunctuationToggles[];
extern const size_t kLegacyPunctuationToggleCount;

}  // namespace zotune::unicode_tables
