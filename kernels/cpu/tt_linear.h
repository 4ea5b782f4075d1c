// Tensor-train (TT) linear layer (AdaZeta / LoRETTA; docs/papers/adazeta.md a.1): a dense
// map W [in, out] stored as p TT cores G_i [r_{i-1}, k_i, r_i] (r_0 = r_p = 1), the first o
// modes factoring `in` and the last p - o factoring `out` (prod k_1..k_o = in,
// prod k_{o+1}..k_p = out), plus a dense bias [out]. fp32 throughout.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace zotune::cpu {

struct TtShape {
  std::vector<int> modes;  // k_1 .. k_p
  int in_modes = 0;        // o: modes[0..o) factor `in`, modes[o..p) factor `out`
  int rank = 1;            // every inner rank r_1 .. r_{p-1}
  int in() const;          // prod modes[0..o)
  int out() const;         // prod modes[o..p)
  // Cores are numbered from 0 here: core i holds modes[i], [r_i, modes[i], r_{i+1}] in the
  // 0-based ranks (r_0 = r_p = 1), i.e. G_{i+1} of the paper's notation.
  int64_t core_numel(int i) const;   // r_{i-1} * k_i * r_i
  int64_t cores_numel() const;       // sum over the cores
  int64_t core_offset(int i) const;  // of core i in the concatenated cores (row-major each)
};

// Throws zotune::Error naming `what` unless p >= 2, 1 <= o <= p - 1, rank >= 1, every mode >= 1
// and in, out fit in int. Every function below checks its shape with it.
void tt_check_shape(const TtShape& shape, const std::string& what);

// W [in, out] row-major, W(a_1..a_p) = G_1[:, a_1, :] ... G_p[:, a_p, :], with the row index
// the row-major flattening of (a_1..a_o) and the column index that of (a_{o+1}..a_p).
// cores: every core concatenated, each row-major [r_{i-1}, k_i, r_i].
std::vector<float> tt_dense(const TtShape& shape, const float* cores);

// y[M, out] = x[M, in] @ W + bias (bias may be null), by the code's two-group contraction:
// L = G_1 ... G_o as [in, r_o], R = G_{o+1} ... G_p as [r_o, out], y = (x @ L) @ R + bias.
void tt_linear(float* y, const float* x, const TtShape& shape, const float* cores, const float* bias, int M);

// The two groups of tt_linear: L [in, r_o] (row index the flattening of a_1..a_o) and
// R [r_o, out] (column index that of a_{o+1}..a_p), both row-major; W = L @ R.
std::vector<float> tt_left(const TtShape& shape, const float* cores);
std::vector<float> tt_right(const TtShape& shape, const float* cores);

// The code's initialisation (low_rank_tensors.py::build_factors_Gaussian), reproducible from
// `seed` alone through Philox (kernels/common/philox.h):
//   cores[j] = z_j * s^{1/p} / sqrt(r_right), z_j = direction_values(seed, step 0,
//     query kTtInitCoreQuery) at index j of the concatenated cores (Box-Muller N(0, 1)),
//     s = sqrt(1 / (in + out)), r_right the core's right rank: W's entries get std s;
//   bias[n] = (2 u_n - 1) / sqrt(out), u_n = (b + 0.5) 2^-32 with b lane n % 4 of the raw
//     Philox block n / 4 of (seed, step 0, query kTtInitBiasQuery): U(-1/sqrt(out), 1/sqrt(out)).
// bias may be null (cores only). Give each layer its own seed.
inline constexpr uint32_t kTtInitCoreQuery = 0, kTtInitBiasQuery = 1;
void tt_init(float* cores, float* bias, const TtShape& shape, uint64_t seed);

}  // namespace zotune::cpu
