// The safetensors element types (internal to the reader and writer). Sub-byte types (F4,
// F6_*) are left out: their shape-to-bytes rule differs and no model we load uses them.
#pragma once
#include <cstddef>
#include <string_view>

namespace zotune::safetensors_detail {

enum class Kind { Float, Signed, Unsigned, Bool, Other };

struct DtypeInfo {
  std::string_view name;
  size_t size;  // bytes per element
  Kind kind;
  int rank;     // position in the Rust crate's Dtype enum: the writer lays data out by descending rank
};

inline constexpr DtypeInfo kDtypes[] = {
    {"BOOL", 1, Kind::Bool, 0},     {"U8", 1, Kind::Unsigned, 4},   {"I8", 1, Kind::Signed, 5},
    {"F8_E5M2", 1, Kind::Other, 6}, {"F8_E4M3", 1, Kind::Other, 7}, {"F8_E8M0", 1, Kind::Other, 8},
    {"I16", 2, Kind::Signed, 9},    {"U16", 2, Kind::Unsigned, 10}, {"F16", 2, Kind::Float, 11},
    {"BF16", 2, Kind::Float, 12},   {"I32", 4, Kind::Signed, 13},   {"U32", 4, Kind::Unsigned, 14},
    {"F32", 4, Kind::Float, 15},    {"C64", 8, Kind::Other, 16},    {"F64", 8, Kind::Float, 17},
    {"I64", 8, Kind::Signed, 18},   {"U64", 8, Kind::Unsigned, 19},
};

inline const DtypeInfo* find_dtype(std::string_view name) {
  for (const DtypeInfo& d : kDtypes)
    if (d.name == name) return &d;
  return nullptr;
}

}  // namespace zotune::safetensors_detail
