// The TT linear layer on the host (docs/papers/adazeta.md a.1): shape arithmetic, the dense
// reconstruction, the two-group forward and the code's Gaussian initialisation. Everything
// goes through one primitive, the chain contraction: a matrix A[rows, r] times core
// G[r, k * r'] read as one GEMM is A' [rows * k, r'] whose row index is the row-major pair
// (row, a) (a the core's mode index, fastest). Starting from A = [1] (r_0 = 1) and folding
// cores first..last gives the row-major flattening of (a_first..a_last) against r_last.
#include "kernels/cpu/tt_linear.h"

#include <cmath>
#include <string>

#include "core/util/error.h"
#include "kernels/common/philox.h"
#include "kernels/cpu/matmul.h"

namespace zotune::cpu {
namespace {

// r_i for i in 0..p: 1 at both ends, `rank` inside.
int rank_at(const TtShape& s, int i) { return (i == 0 || i == static_cast<int>(s.modes.size())) ? 1 : s.rank; }

int64_t product(const std::vector<int>& v, size_t begin, size_t end) {
  int64_t p = 1;
  for (size_t i = begin; i < end; ++i) p *= v[i];
  return p;
}

// Folds cores [first, last) onto `a` [rows, r_first] (row-major); returns [rows * prod k, r_last].
std::vector<float> fold_cores(std::vector<float> a, int64_t rows, const TtShape& s, const float* cores, int first,
                              int last) {
  for (int i = first; i < last; ++i) {
    const int r_in = rank_at(s, i), r_out = rank_at(s, i + 1), k = s.modes[i];
    std::vector<float> next(static_cast<size_t>(rows) * k * r_out);
    matmul_nn(next.data(), a.data(), cores + s.core_offset(i), static_cast<int>(rows), r_in, k * r_out);
    a = std::move(next);
    rows *= k;
  }
  return a;
}

}  // namespace

void tt_check_shape(const TtShape& s, const std::string& what) {
  const int p = static_cast<int>(s.modes.size());
  check(p >= 2, what + ": a TT shape needs at least 2 modes, got " + std::to_string(p));
  check(s.in_modes >= 1 && s.in_modes < p, what + ": in_modes (o) must be in [1, " + std::to_string(p - 1) +
                                               "] for " + std::to_string(p) + " modes, got " +
                                               std::to_string(s.in_modes));
  check(s.rank >= 1, what + ": TT rank must be >= 1, got " + std::to_string(s.rank));
  int64_t in = 1, out = 1;
  for (int i = 0; i < p; ++i) {
    check(s.modes[i] >= 1, what + ": TT mode " + std::to_string(i) + " is " + std::to_string(s.modes[i]));
    (i < s.in_modes ? in : out) *= s.modes[i];
    check(in <= INT32_MAX && out <= INT32_MAX, what + ": TT in or out size overflows int");
  }
}

int TtShape::in() const { return static_cast<int>(product(modes, 0, static_cast<size_t>(in_modes))); }
int TtShape::out() const { return static_cast<int>(product(modes, static_cast<size_t>(in_modes), modes.size())); }

int64_t TtShape::core_numel(int i) const {
  return static_cast<int64_t>(rank_at(*this, i)) * modes[static_cast<size_t>(i)] * rank_at(*this, i + 1);
}

int64_t TtShape::cores_numel() const { return core_offset(static_cast<int>(modes.size())); }

int64_t TtShape::core_offset(int i) const {
  int64_t off = 0;
  for (int j = 0; j < i; ++j) off += core_numel(j);
  return off;
}

std::vector<float> tt_dense(const TtShape& shape, const float* cores) {
  tt_check_shape(shape, "tt_dense");
  // All p cores folded from [1]: [in * out, r_p = 1], i.e. W[in, out] row-major.
  return fold_cores({1.0f}, 1, shape, cores, 0, static_cast<int>(shape.modes.size()));
}

std::vector<float> tt_left(const TtShape& shape, const float* cores) {
  tt_check_shape(shape, "tt_left");
  return fold_cores({1.0f}, 1, shape, cores, 0, shape.in_modes);
}

std::vector<float> tt_right(const TtShape& shape, const float* cores) {
  tt_check_shape(shape, "tt_right");
  // Folding from the identity I[r_o, r_o]: [r_o * out, 1] = R[r_o, out] row-major.
  const int r = rank_at(shape, shape.in_modes);
  std::vector<float> eye(static_cast<size_t>(r) * r, 0.0f);
  for (int c = 0; c < r; ++c) eye[static_cast<size_t>(c) * r + c] = 1.0f;
  return fold_cores(std::move(eye), r, shape, cores, shape.in_modes, static_cast<int>(shape.modes.size()));
}

void tt_linear(float* y, const float* x, const TtShape& shape, const float* cores, const float* bias, int M) {
  tt_check_shape(shape, "tt_linear");
  check(M >= 0, "tt_linear: M is " + std::to_string(M));
  const int in = shape.in(), out = shape.out(), r = rank_at(shape, shape.in_modes);
  if (M == 0) return;
  const std::vector<float> left = tt_left(shape, cores), right = tt_right(shape, cores);
  std::vector<float> u(static_cast<size_t>(M) * r);  // x @ L, [M, r_o]
  matmul_nn(u.data(), x, left.data(), M, in, r);
  matmul_nn(y, u.data(), right.data(), M, r, out);
  if (bias != nullptr)
    for (int m = 0; m < M; ++m)
      for (int n = 0; n < out; ++n) y[static_cast<size_t>(m) * out + n] += bias[n];
}

void tt_init(float* cores, float* bias, const TtShape& shape, uint64_t seed) {
  tt_check_shape(shape, "tt_init");
  const int p = static_cast<int>(shape.modes.size());
  const double s = std::sqrt(1.0 / (static_cast<double>(shape.in()) + shape.out()));
  const double s_root = std::pow(s, 1.0 / p);  // s^{1/p}
  for (int i = 0; i < p; ++i) {
    const float scale = static_cast<float>(s_root / std::sqrt(static_cast<double>(rank_at(shape, i + 1))));
    const int64_t begin = shape.core_offset(i), end = begin + shape.core_numel(i);
    for (int64_t j = begin; j < end; ++j) {
      float z[4];
      direction_values(seed, 0, kTtInitCoreQuery, static_cast<uint64_t>(j) / 4, DirectionKind::Gaussian, z);
      cores[j] = scale * z[j % 4];
    }
  }
  if (bias == nullptr) return;
  const int out = shape.out();
  const double bound = 1.0 / std::sqrt(static_cast<double>(out));
  for (int n = 0; n < out; ++n) {
    const Philox4 bits = direction_block(seed, 0, kTtInitBiasQuery, static_cast<uint64_t>(n) / 4);
    const double u = (static_cast<double>(bits.v[n % 4]) + 0.5) * 0x1p-32;  // (0, 1), symmetric about 1/2
    bias[n] = static_cast<float>((2.0 * u - 1.0) * bound);
  }
}

}  // namespace zotune::cpu
