// The device perturbation against the CPU reference: the same Philox integer stream bit for
// bit, and the fused sum of directions per dtype (fp32: a few ulp of the Box-Muller math;
// fp16/bf16: at most one storage ulp, where the fp32 sums round on either side of a tie).
// Skipped without a GPU.
#include <cuda_runtime.h>
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "core/tensor/dtype.h"
#include "kernels/common/philox.h"
#include "kernels/cpu/perturb.h"
#include "kernels/cuda/device.cuh"
#include "kernels/cuda/perturb.cuh"

namespace zotune {
namespace {

template <typename T>
T* device_copy(const std::vector<T>& host) {
  void* p = nullptr;
  EXPECT_EQ(cudaMalloc(&p, host.size() * sizeof(T)), cudaSuccess);
  EXPECT_EQ(cudaMemcpy(p, host.data(), host.size() * sizeof(T), cudaMemcpyHostToDevice), cudaSuccess);
  return static_cast<T*>(p);
}

template <typename T>
std::vector<T> host_copy(const T* device, size_t n) {
  std::vector<T> out(n);
  EXPECT_EQ(cudaMemcpy(out.data(), device, n * sizeof(T), cudaMemcpyDeviceToHost), cudaSuccess);
  return out;
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
  const std::vector<cpu::DirectionTerm> terms = {
      {11, 5, 0, 1e-3f}, {11, 5, 1, -2.5e-3f}, {11, 4, 0, -1e-3f}, {99, 5, 7, 0.0f}, {12, 5, 2, 3e-2f}};
  for (DirectionKind kind : {DirectionKind::Gaussian, DirectionKind::Rademacher}) {
    for (const Case c : {Case{1 << 20, 3}, Case{4097, (uint64_t(1) << 34) + 1}, Case{3, 5}}) {
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
        // 1e-6 absolute for sums that cancel to near zero, where the few-ulp differences of z
        // (|c| * 4e-7) dominate. A wrong direction moves values by ~1e-2.
        const double rel = t == DType::F32 ? 1e-5 : (t == DType::F16 ? 1.0 / 1024 : 1.0 / 128);
        int64_t bad = 0, changed = 0;
        for (size_t i = 0; i < got_f.size(); ++i) {
          changed += want_f[i] != start_f[i];
          if (std::fabs(got_f[i] - want_f[i]) > rel * std::fabs(want_f[i]) + 1e-6) ++bad;
        }
        EXPECT_EQ(bad, 0) << dtype_name(t) << " n " << c.n << " first " << c.first;
        EXPECT_GT(changed, 0) << "the reference moved nothing: the test would pass on a no-op";
      }
    }
  }
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
