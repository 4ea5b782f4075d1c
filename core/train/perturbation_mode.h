// How a probe moves the weights (DESIGN.md section 4).
//   InPlace: perturb, forward, subtract again, as the MeZO papers do: no copy, but fp
//            rounding leaves residues (measured: 7.5% of fp32 elements off by an ulp after
//            one +/- round trip at eps 1e-3, 1.4% at 1e-4), so replicas drift apart.
//   Exact:   a snapshot of the trainable parameters is kept and every probe starts from its
//            bits: every rank holds bit-identical weights (rank-count invariance, bit-exact
//            replay) at the cost of one copy of the trainable tensors.
#pragma once
#include <array>
#include <string_view>

namespace zotune {

enum class PerturbationMode { InPlace, Exact };
inline constexpr std::array<std::string_view, 2> kPerturbationModeNames{"inplace", "exact"};

}  // namespace zotune
