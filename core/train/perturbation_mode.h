// How a probe moves the weights, and with which arithmetic (DESIGN.md section 4;
// docs/PRECISION.md has the measured drift of each mode).
//   Exact:     a snapshot of the trainable parameters is kept and every probe starts from its
//              bits; several direction terms are summed in fp32 and rounded once. Every rank
//              holds bit-identical weights (rank-count invariance, bit-exact replay) at the
//              cost of one copy of the trainable tensors. zotune's default.
//   InPlace:   no snapshot: the weights move between probes by fused passes (the difference
//              of two probes' offsets, fp32 directions, one rounding per pass). Saves the
//              snapshot's memory, but rounding leaves residues (measured: 7.5% of fp32
//              elements off by an ulp after one +/- round trip at eps 1e-3, 1.4% at 1e-4), so
//              replicas drift apart. It is neither exact nor the papers' arithmetic.
//   Reference: the papers' code's arithmetic, as `param.data.add_(z, alpha=c)` with
//              z = torch.normal(..., dtype=param.dtype): directions rounded to the
//              parameter's dtype, every perturbation, restore and update term its own
//              in-place pass with one rounding, in the official order (weight_moves.h). A
//              16-bit run drifts as the papers' runs drift; one rank only.
#pragma once
#include <array>
#include <string_view>

namespace zotune {

enum class PerturbationMode { InPlace, Exact, Reference };
inline constexpr std::array<std::string_view, 3> kPerturbationModeNames{"inplace", "exact", "reference"};

}  // namespace zotune
