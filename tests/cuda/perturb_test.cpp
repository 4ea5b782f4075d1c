// The device perturbation against the CPU reference: the same Philox integer stream bit for
// bit; every normal z within the documented bound kDeviceZAbsError (kernels/common/philox.h:
// the device's hardware log2/sqrt/sin/cos against libm), Rademacher signs exactly; the fused
// sum of directions per dtype (fp32: a few ulp; fp16/bf16: at most one storage ulp, where the
// fp32 sums round on either side of a tie); and perturb_segments against the CPU's
// TrainableSpace::apply (per segment: decay, then cpu::perturb) over segment tables of odd
// lengths, mixed dtypes and unaligned segments, with 1, 70 and more than kMaxPerturbTerms
// terms, directly and through a CUDA graph. Skipped without a GPU.
#include <cuda_runtime.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <tuple>
#include <vector>

#include "core/tensor/dtype.h"
#include "kernels/common/philox.h"
#include "kernels/cpu/perturb.h"
#include "kernels/cuda/device.cuh"
#include "kernels/cuda/perturb.cuh"
#include "tests/cuda/cuda_test_util.h"

namespace zotune {
namespace {

using test::device_copy;
using test::host_copy;

double relative_tolerance(DType t) { return t == DType::F32 ? 1e-5 : (t == DType::F16 ? 1.0 / 1024 : 1.0 / 128); }

double coeff_sum(const std::vector<cpu::DirectionTerm>& terms) {
  double s = 0;
  for (const cpu::DirectionTerm& t : terms) s += std::fabs(t.coeff);
  return s;
}

TEST(CudaPhilox, IntegerStreamEqualsTheCpuBitForBit) {
  if (cuda::device_count() == 0) GTEST_SKIP() << "no CUDA device";
  const int64_t n_blocks = 1 << 18;
  const uint64_t first_block = (uint64_t(1) << 33) - 1000;  // crosses the 32-bit boundary of the counter
  for (const auto& [seed, step, query] : {std::tuple<uint64_t, uint32_t, uint32_t>{0, 0, 0},
                                          {0x123456789abcdefull, 7, 3}, {~0ull, ~0u, 255}}) {
    uint32_t* d = nullptr;
    ASSERT_EQ(cudaMalloc(&d, 4 * n_blocks * sizeof(uint32_t)), cudaSuccess);
    cuda::philox_blocks(d, seed, step, query, first_block, n_blocks);
    const std::vector<uint32_t> got = host_copy(d, 4 * n_blocks);
    cudaFree(d);
    int64_t mismatches = 0;
    for (int64_t b = 0; b < n_blocks; ++b) {
      const Philox4 want = direction_block(seed, step, query, first_block + b);
      for (int l = 0; l < 4; ++l) mismatches += got[4 * b + l] != want.v[l];
    }
    EXPECT_EQ(mismatches, 0) << "seed " << seed << " step " << step << " query " << query;
  }
}

struct Case {
  int64_t n;
  uint64_t first;  // not a multiple of 4: the range starts and ends inside Philox blocks
};

TEST(CudaPerturb, FusedTermsMatchTheCpuPerDtype) {
  if (cuda::device_count() == 0) GTEST_SKIP() << "no CUDA device";
  // Several terms (summed, then added) and one term (the one-term kernel shape: fused into the add).
  const std::vector<std::vector<cpu::DirectionTerm>> term_lists = {
      {{11, 5, 0, 1e-3f}, {11, 5, 1, -2.5e-3f}, {11, 4, 0, -1e-3f}, {99, 5, 7, 0.0f}, {12, 5, 2, 3e-2f}},
      {{13, 2, 1, -2e-2f}}};
  for (const std::vector<cpu::DirectionTerm>& terms : term_lists) {
    for (DirectionKind kind : {DirectionKind::Gaussian, DirectionKind::Rademacher}) {
      // (2^32 - 1000) * 4: the first tile's Philox blocks straddle the counter's high word.
      for (const Case c : {Case{1 << 20, 3}, Case{4097, (uint64_t(1) << 34) + 1}, Case{3, 5},
                           Case{1 << 16, (uint64_t(1) << 34) - 4000}}) {
        std::mt19937 rng(static_cast<uint32_t>(c.n));
        std::normal_distribution<float> d(0.0f, 0.05f);
        std::vector<float> base(static_cast<size_t>(c.n));
        for (float& v : base) v = d(rng) + 0.01f;  // nonzero everywhere: a no-op kernel cannot pass
        for (DType t : {DType::F32, DType::F16, DType::BF16}) {
          const size_t bytes = static_cast<size_t>(c.n) * dtype_size(t);
          std::vector<uint8_t> want(bytes), start(bytes);
          convert(base.data(), DType::F32, start.data(), t, static_cast<size_t>(c.n));
          want = start;
          cpu::perturb(want.data(), t, c.n, c.first, terms.data(), static_cast<int>(terms.size()), kind);
          uint8_t* dx = device_copy(start);
          cuda::perturb(dx, t, c.n, c.first, terms.data(), static_cast<int>(terms.size()), kind);
          const std::vector<uint8_t> got = host_copy(dx, bytes);
          cudaFree(dx);
          std::vector<float> got_f(static_cast<size_t>(c.n)), want_f(got_f.size()), start_f(got_f.size());
          convert(got.data(), t, got_f.data(), DType::F32, got_f.size());
          convert(want.data(), t, want_f.data(), DType::F32, want_f.size());
          convert(start.data(), t, start_f.data(), DType::F32, start_f.size());
          // Tolerance: fp32 relative 1e-5 of the value; fp16/bf16 one storage ulp of it; plus
          // the documented bound on z times sum |c| (sums that cancel to near zero), and 1e-7
          // for fp32 rounding of the sum. A wrong direction moves values by ~1e-2.
          const double rel = relative_tolerance(t);
          const double abs_tol = 1e-7 + coeff_sum(terms) * kDeviceZAbsError;
          int64_t bad = 0, changed = 0;
          for (size_t i = 0; i < got_f.size(); ++i) {
            changed += want_f[i] != start_f[i];
            if (std::fabs(got_f[i] - want_f[i]) > rel * std::fabs(want_f[i]) + abs_tol) ++bad;
          }
          EXPECT_EQ(bad, 0) << dtype_name(t) << " n " << c.n << " first " << c.first << ", " << terms.size()
                            << " terms";
          EXPECT_GT(changed, 0) << "the reference moved nothing: the test would pass on a no-op";
        }
      }
    }
  }
}

// kDeviceZAbsError holds for every pair of Philox outputs, not only for those a test draws:
// the sweep covers all 2^32 values of each Box-Muller input (about 20 ms on an H200).
TEST(CudaPerturb, BoxMullerErrorSweepStaysInsideTheDocumentedBound) {
  if (cuda::device_count() == 0) GTEST_SKIP() << "no CUDA device";
  const cuda::BoxMullerErrors e = cuda::box_muller_error_sweep();
  std::printf("device Box-Muller over all 2^32 inputs: max |dr| %.3g, max |dcos|,|dsin| %.3g, |dz| <= %.3g\n",
              e.max_dr, e.max_dcs, e.max_dz);
  EXPECT_GT(e.max_dr, 0.0) << "hardware approximations differ from fp64 somewhere: the sweep ran";
  EXPECT_GT(e.max_dcs, 0.0);
  EXPECT_LE(e.max_dz, double(kDeviceZAbsError));
}

TEST(CudaPerturb, DirectionValuesAgreeWithTheCpuWithinTheDocumentedBound) {
  if (cuda::device_count() == 0) GTEST_SKIP() << "no CUDA device";
  const int64_t n = 1 << 22;
  const uint64_t first = (uint64_t(1) << 34) + 2;
  const std::vector<float> zero(static_cast<size_t>(n), 0.0f);
  for (const auto& [seed, step, query] :
       {std::tuple<uint64_t, uint32_t, uint32_t>{7, 3, 1}, {0xfeedbeef12345ull, 100, 9}}) {
    for (DirectionKind kind : {DirectionKind::Gaussian, DirectionKind::Rademacher}) {
      // x = 0 in fp32 and c = 1: x becomes z exactly.
      const cpu::DirectionTerm term{seed, step, query, 1.0f};
      float* d = device_copy(zero);
      cuda::perturb(d, DType::F32, n, first, &term, 1, kind);
      const std::vector<float> got = host_copy(d, static_cast<size_t>(n));
      cudaFree(d);
      std::vector<float> want(static_cast<size_t>(n));
      cpu::direction(want.data(), n, first, seed, step, query, kind);
      double max_diff = 0, sum_diff = 0, max_z = 0, mean = 0, second = 0;
      int64_t non_finite = 0;
      for (int64_t i = 0; i < n; ++i) {
        non_finite += !std::isfinite(got[i]);
        const double d_i = std::fabs(double(got[i]) - want[i]);
        max_diff = std::max(max_diff, d_i);
        sum_diff += d_i;
        max_z = std::max(max_z, std::fabs(double(got[i])));
        mean += got[i];
        second += double(got[i]) * got[i];
      }
      mean /= n;
      second /= n;
      EXPECT_EQ(non_finite, 0);
      if (kind == DirectionKind::Rademacher) {
        EXPECT_EQ(max_diff, 0.0) << "Rademacher signs come from the integer stream alone";
      } else {
        EXPECT_LE(max_diff, kDeviceZAbsError) << "seed " << seed;
        EXPECT_LE(sum_diff / n, 1e-6) << "typical differences are ~1e-7";
        EXPECT_GT(max_z, 4.5) << "4M normals reach past 4.5 sigma: the tails were exercised";
      }
      // N(0, 1) or +-1: the device values are a real standard distribution (std error ~5e-4).
      EXPECT_LT(std::fabs(mean), 5e-3);
      EXPECT_LT(std::fabs(second - 1.0), 5e-3);
    }
  }
}

// One trainable tensor of the segment test: its length, dtype, decay flag, and whether its
// Philox blocks are aligned in memory (vector path) or not (element path).
struct SegSpec {
  int64_t n;
  DType dtype;
  bool decay;
  bool aligned;
};

// A trainable space of odd-length tensors in three dtype buffers, with untouched gaps between
// tensors (sentinels) that also shift some tensors off Philox-block alignment.
struct SegmentSetup {
  uint64_t first = 0;  // global index of the first element
  uint64_t total = 0;
  std::vector<SegSpec> specs;
  std::vector<int64_t> offset;           // element offset of each tensor in its dtype buffer
  std::vector<uint64_t> seg_first;       // global index of each tensor's element 0
  std::vector<std::vector<uint8_t>> host;  // per dtype (index = DType), initial bytes
};

SegmentSetup make_segments(uint64_t first, const std::vector<SegSpec>& specs) {
  SegmentSetup s;
  s.first = first;
  s.specs = specs;
  s.host.resize(3);
  std::vector<int64_t> used(3, 0);
  uint64_t g = first;
  for (size_t k = 0; k < specs.size(); ++k) {
    const int t = static_cast<int>(specs[k].dtype);
    // Smallest gap of >= 1 element giving the wanted alignment: (offset - g) % 4 == 0 or not.
    int64_t off = used[t] + 1;
    while (((static_cast<uint64_t>(off) - g) % 4 == 0) != specs[k].aligned) ++off;
    s.offset.push_back(off);
    s.seg_first.push_back(g);
    used[t] = off + specs[k].n;
    g += static_cast<uint64_t>(specs[k].n);
  }
  s.total = g - first;
  std::mt19937 rng(77);
  std::normal_distribution<float> d(0.01f, 0.05f);
  for (int t = 0; t < 3; ++t) {
    const DType dt = static_cast<DType>(t);
    std::vector<float> v(static_cast<size_t>(used[t]) + 3);
    for (size_t i = 0; i < v.size(); ++i) v[i] = d(rng) * std::pow(10.0f, float(int(i % 3) - 1));
    s.host[t].resize(v.size() * dtype_size(dt));
    convert(v.data(), DType::F32, s.host[t].data(), dt, v.size());
  }
  return s;
}

// The CPU's TrainableSpace::apply on the host copies: per tensor, scale and round into the
// dtype (when decay_scale != 1 and the tensor decays), then cpu::perturb, in passes of at most
// kMaxPerturbTerms terms as the device runs them (one pass, exactly apply(), up to that).
// `mid` receives the state after the first pass when there are more.
void cpu_apply(const SegmentSetup& s, std::vector<std::vector<uint8_t>>& bufs,
               const std::vector<cpu::DirectionTerm>& terms, DirectionKind kind, float decay_scale,
               std::vector<std::vector<uint8_t>>* mid) {
  for (size_t k = 0; k < s.specs.size(); ++k) {
    const SegSpec& sp = s.specs[k];
    uint8_t* data = bufs[static_cast<int>(sp.dtype)].data() + s.offset[k] * dtype_size(sp.dtype);
    if (decay_scale != 1.0f && sp.decay) {
      std::vector<float> tmp(static_cast<size_t>(sp.n));
      convert(data, sp.dtype, tmp.data(), DType::F32, tmp.size());
      for (float& x : tmp) x *= decay_scale;
      convert(tmp.data(), DType::F32, data, sp.dtype, tmp.size());
    }
    for (size_t done = 0; done < terms.size(); done += cuda::kMaxPerturbTerms) {
      const int count = static_cast<int>(std::min<size_t>(cuda::kMaxPerturbTerms, terms.size() - done));
      cpu::perturb(data, sp.dtype, sp.n, s.seg_first[k], terms.data() + done, count, kind);
      if (done == 0 && mid != nullptr && terms.size() > size_t(cuda::kMaxPerturbTerms)) {
        if (mid->empty()) *mid = s.host;
        std::memcpy((*mid)[static_cast<int>(sp.dtype)].data() + s.offset[k] * dtype_size(sp.dtype), data,
                    static_cast<size_t>(sp.n) * dtype_size(sp.dtype));
      }
    }
  }
}

std::vector<cpu::DirectionTerm> many_terms(int n) {
  std::vector<cpu::DirectionTerm> terms;
  for (int j = 0; j < n; ++j)
    terms.push_back({42u + uint64_t(j / 10), 100u + uint32_t(j % 7), uint32_t(j),
                     j == 3 ? 0.0f : 1e-3f * float(1 + j % 5) * (j % 2 ? -1.0f : 1.0f)});
  return terms;
}

// Runs perturb_segments on device copies of s.host (directly, or captured in a CUDA graph and
// replayed) and returns the resulting buffers.
std::vector<std::vector<uint8_t>> gpu_apply(const SegmentSetup& s, const std::vector<cpu::DirectionTerm>& terms,
                                            DirectionKind kind, float decay_scale, bool graph) {
  std::vector<uint8_t*> d(3);
  for (int t = 0; t < 3; ++t) d[t] = device_copy(s.host[t]);
  std::vector<cuda::PerturbSegment> table;
  for (size_t k = 0; k < s.specs.size(); ++k) {
    cuda::PerturbSegment seg;
    seg.data = d[static_cast<int>(s.specs[k].dtype)] + s.offset[k] * dtype_size(s.specs[k].dtype);
    seg.first = s.seg_first[k];
    seg.n = s.specs[k].n;
    seg.dtype = s.specs[k].dtype;
    seg.decay = s.specs[k].decay;
    table.push_back(seg);
  }
  cuda::PerturbSegment* d_table = device_copy(table);
  const int n_terms = static_cast<int>(terms.size());
  if (graph) {
    cudaStream_t stream = nullptr;
    EXPECT_EQ(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking), cudaSuccess);
    cudaGraph_t g = nullptr;
    cudaGraphExec_t exec = nullptr;
    EXPECT_EQ(cudaStreamBeginCapture(stream, cudaStreamCaptureModeGlobal), cudaSuccess);
    cuda::perturb_segments(d_table, static_cast<int>(table.size()), s.total, terms.data(), n_terms, kind,
                           decay_scale, stream);
    EXPECT_EQ(cudaStreamEndCapture(stream, &g), cudaSuccess);
    EXPECT_EQ(cudaGraphInstantiate(&exec, g, 0), cudaSuccess);
    EXPECT_EQ(cudaGraphLaunch(exec, stream), cudaSuccess);
    EXPECT_EQ(cudaStreamSynchronize(stream), cudaSuccess);
    cudaGraphExecDestroy(exec);
    cudaGraphDestroy(g);
    cudaStreamDestroy(stream);
  } else {
    cuda::perturb_segments(d_table, static_cast<int>(table.size()), s.total, terms.data(), n_terms, kind,
                           decay_scale);
  }
  EXPECT_EQ(cudaDeviceSynchronize(), cudaSuccess);
  std::vector<std::vector<uint8_t>> out(3);
  for (int t = 0; t < 3; ++t) {
    out[t] = host_copy(d[t], s.host[t].size());
    cudaFree(d[t]);
  }
  cudaFree(d_table);
  return out;
}

// Every element of every tensor within tolerance of the CPU; the gaps untouched; returns the
// number of elements the reference moved (a no-op must not pass). With two passes (`mid`: the
// state after the first) each pass rounds, so either side may land one ulp of the
// intermediate value away too.
int64_t compare_segments(const SegmentSetup& s, const std::vector<std::vector<uint8_t>>& got,
                         const std::vector<std::vector<uint8_t>>& want, const std::vector<std::vector<uint8_t>>& mid,
                         double abs_tol, const std::string& what) {
  int64_t changed = 0;
  for (int t = 0; t < 3; ++t) {
    const DType dt = static_cast<DType>(t);
    const size_t n = s.host[t].size() / dtype_size(dt);
    std::vector<bool> inside(n, false);
    for (size_t k = 0; k < s.specs.size(); ++k)
      if (s.specs[k].dtype == dt)
        for (int64_t i = 0; i < s.specs[k].n; ++i) inside[static_cast<size_t>(s.offset[k] + i)] = true;
    int64_t bad = 0, gap_touched = 0;
    for (size_t i = 0; i < n; ++i) {
      const float g = load_f32(got[t].data(), dt, i), w = load_f32(want[t].data(), dt, i);
      if (!inside[i]) {
        gap_touched += std::memcmp(got[t].data() + i * dtype_size(dt), s.host[t].data() + i * dtype_size(dt),
                                   dtype_size(dt)) != 0;
        continue;
      }
      changed += w != load_f32(s.host[t].data(), dt, i);
      const double scale = std::fabs(w) + (mid.empty() ? 0.0 : std::fabs(load_f32(mid[t].data(), dt, i)));
      if (!(std::fabs(g - w) <= relative_tolerance(dt) * scale + abs_tol)) ++bad;
    }
    EXPECT_EQ(bad, 0) << what << " " << dtype_name(dt);
    EXPECT_EQ(gap_touched, 0) << what << " " << dtype_name(dt) << ": elements outside the segments were written";
  }
  return changed;
}

TEST(CudaPerturbSegments, MatchTheCpuTrainableSpacePerDtype) {
  if (cuda::device_count() == 0) GTEST_SKIP() << "no CUDA device";
  // Odd lengths (Philox blocks straddle tensors), 1-element tensors, tensors spanning many
  // tiles (aligned: vector path; unaligned: element path), all three dtypes interleaved.
  const std::vector<SegSpec> specs = {
      {1, DType::F32, true, true},          {3, DType::F16, false, false},
      {4097, DType::BF16, true, true},      {2, DType::F32, false, false},
      {(1 << 18) + 3, DType::F16, true, true}, {5, DType::BF16, false, true},
      {(1 << 18) + 1, DType::F32, true, false}, {1000, DType::F16, true, false},
      {1 << 17, DType::BF16, true, true},   {7, DType::F32, true, true},
      {(1 << 16) + 5, DType::F32, false, true}, {(1 << 16) + 2, DType::BF16, true, false},
      {1, DType::F16, true, true},
  };
  // The table crosses global index 2^34: the Philox block counter's high word changes inside it.
  const SegmentSetup s = make_segments((uint64_t(1) << 34) - 300001, specs);
  struct Config {
    int n_terms;
    DirectionKind kind;
    float decay_scale;
  };
  for (const Config c : {Config{1, DirectionKind::Gaussian, 1.0f}, Config{1, DirectionKind::Gaussian, 0.99f},
                         Config{70, DirectionKind::Gaussian, 0.99f}, Config{70, DirectionKind::Rademacher, 1.0f},
                         Config{cuda::kMaxPerturbTerms + 5, DirectionKind::Gaussian, 0.99f},
                         Config{0, DirectionKind::Gaussian, 0.99f}}) {
    const std::vector<cpu::DirectionTerm> terms =
        c.n_terms == 1 ? std::vector<cpu::DirectionTerm>{{11, 5, 2, 3e-2f}} : many_terms(c.n_terms);
    const std::string what = std::to_string(c.n_terms) + " terms, " +
                             (c.kind == DirectionKind::Gaussian ? "gaussian" : "rademacher") + ", decay " +
                             std::to_string(c.decay_scale);
    std::vector<std::vector<uint8_t>> want = s.host, mid;
    cpu_apply(s, want, terms, c.kind, c.decay_scale, &mid);
    const auto got = gpu_apply(s, terms, c.kind, c.decay_scale, /*graph=*/false);
    const double abs_tol = 1e-7 + coeff_sum(terms) * kDeviceZAbsError;
    EXPECT_GT(compare_segments(s, got, want, mid, abs_tol, what), int64_t(s.total / 2))
        << what << ": the reference moved little";
  }
  // Captured in a graph and replayed: the same bytes as the direct launch.
  const std::vector<cpu::DirectionTerm> terms = many_terms(3);
  EXPECT_EQ(gpu_apply(s, terms, DirectionKind::Gaussian, 0.99f, /*graph=*/true),
            gpu_apply(s, terms, DirectionKind::Gaussian, 0.99f, /*graph=*/false));
}

// The reference mode's pass (perturb_segments_in_dtype) against cpu::perturb_in_dtype per
// segment. Rounding z to the dtype and the fma are the same operations on both sides, so a
// 16-bit element may differ only where the CPU's z lies within kDeviceZAbsError of a rounding
// boundary of the dtype (the device's z may round to the neighbour): every such element must
// equal the CPU's arithmetic with the neighbouring rounding, and they must be rare (< 1e-4 of
// the elements: the boundaries are 2^-8 (bf16) or 2^-11 (fp16) apart relative to |z|, the
// band around each 1.6e-5 wide). fp32: |gpu - cpu| <= |c| kDeviceZAbsError + 1 ulp.
TEST(CudaPerturbSegmentsInDtype, MatchTheCpuPerDtypeUpToTheRoundingOfZ) {
  if (cuda::device_count() == 0) GTEST_SKIP() << "no CUDA device";
  const std::vector<SegSpec> specs = {
      {3, DType::F16, false, false},        {4097, DType::BF16, true, true},  {2, DType::F32, false, false},
      {(1 << 18) + 3, DType::F16, true, true}, {5, DType::BF16, false, true}, {(1 << 18) + 1, DType::F32, true, false},
      {(1 << 18) + 2, DType::BF16, true, false}, {1, DType::F16, true, true},
  };
  const SegmentSetup s = make_segments((uint64_t(1) << 34) - 300001, specs);
  const cpu::DirectionTerm term{77, 9, 1, 1e-2f};  // large enough that most 16-bit elements move
  std::vector<std::vector<uint8_t>> want = s.host;
  for (size_t k = 0; k < s.specs.size(); ++k) {
    const SegSpec& sp = s.specs[k];
    cpu::perturb_in_dtype(want[static_cast<int>(sp.dtype)].data() + s.offset[k] * dtype_size(sp.dtype), sp.dtype, sp.n,
                          s.seg_first[k], term, DirectionKind::Gaussian);
  }
  std::vector<uint8_t*> d(3);
  for (int t = 0; t < 3; ++t) d[t] = device_copy(s.host[t]);
  std::vector<cuda::PerturbSegment> table;
  for (size_t k = 0; k < s.specs.size(); ++k) {
    cuda::PerturbSegment seg;
    seg.data = d[static_cast<int>(s.specs[k].dtype)] + s.offset[k] * dtype_size(s.specs[k].dtype);
    seg.first = s.seg_first[k];
    seg.n = s.specs[k].n;
    seg.dtype = s.specs[k].dtype;
    table.push_back(seg);
  }
  cuda::PerturbSegment* d_table = device_copy(table);
  cuda::perturb_segments_in_dtype(d_table, static_cast<int>(table.size()), s.total, term, DirectionKind::Gaussian);
  ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess);
  std::vector<std::vector<uint8_t>> got(3);
  for (int t = 0; t < 3; ++t) {
    got[t] = host_copy(d[t], s.host[t].size());
    cudaFree(d[t]);
  }
  cudaFree(d_table);
  int64_t total = 0, moved = 0, boundary = 0, bad = 0;
  for (size_t k = 0; k < s.specs.size(); ++k) {
    const SegSpec& sp = s.specs[k];
    const int t = static_cast<int>(sp.dtype);
    std::vector<float> z(static_cast<size_t>(sp.n));
    cpu::direction(z.data(), sp.n, s.seg_first[k], term.seed, term.step, term.query, DirectionKind::Gaussian);
    for (int64_t i = 0; i < sp.n; ++i) {
      const size_t at = static_cast<size_t>(s.offset[k] + i);
      const float x = load_f32(s.host[t].data(), sp.dtype, at), w = load_f32(want[t].data(), sp.dtype, at),
                  g = load_f32(got[t].data(), sp.dtype, at);
      ++total;
      moved += w != x;
      if (sp.dtype == DType::F32) {
        bad += !(std::fabs(g - w) <= std::fabs(term.coeff) * kDeviceZAbsError + 1.2e-7 * std::fabs(w));
        continue;
      }
      if (g == w) continue;
      ++boundary;
      bool explained = false;
      for (const float dz : {-kDeviceZAbsError, kDeviceZAbsError}) {
        const float zr = cpu::round_to_dtype(z[static_cast<size_t>(i)] + dz, sp.dtype);
        explained = explained || cpu::round_to_dtype(std::fma(term.coeff, zr, x), sp.dtype) == g;
      }
      bad += !explained;
    }
  }
  EXPECT_EQ(bad, 0);
  EXPECT_LT(boundary, total / 10000 + 1) << "elements where the device's z rounded to the neighbour";
  EXPECT_GT(moved, total / 2) << "the reference moved little: the test would pass vacuously";
  std::printf("[perturb_in_dtype] %lld elements, %lld rounded z to the neighbour (16-bit), %lld moved\n",
              static_cast<long long>(total), static_cast<long long>(boundary), static_cast<long long>(moved));
}

TEST(CudaPerturb, TooManyTermsIsAnError) {
  if (cuda::device_count() == 0) GTEST_SKIP() << "no CUDA device";
  std::vector<cpu::DirectionTerm> terms(cuda::kMaxPerturbTerms + 1, cpu::DirectionTerm{1, 0, 0, 1.0f});
  EXPECT_THROW(cuda::perturb(nullptr, DType::F32, 16, 0, terms.data(), static_cast<int>(terms.size()),
                             DirectionKind::Gaussian),
               std::exception);
}

}  // namespace
}  // namespace zotune
