// CUDA embedding lookups against cpu::embedding / cpu::embedding_add, bit for bit (both sides
// widen the same stored values to fp32 and add in fp32), per table dtype, on the 16-byte path
// and the scalar fallback (odd C, misaligned pointers). Skipped without a GPU.
#include <cuda_runtime.h>
#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <vector>

#include "core/tensor/dtype.h"
#include "kernels/cpu/embedding.h"
#include "kernels/cuda/device.cuh"
#include "kernels/cuda/embedding.cuh"
#include "tests/cuda/cuda_test_util.h"

namespace zotune {
namespace {

using test::DeviceBuffer;
using test::to_dtype;

struct Case {
  int vocab, n, C;
  size_t offset_elems;  // shifts the table pointer: nonzero forces the scalar path
};

TEST(CudaEmbedding, MatchesCpuBitForBitPerDtype) {
  if (cuda::device_count() == 0) GTEST_SKIP() << "no CUDA device";
  const std::vector<Case> cases = {{5, 1, 1, 0},      {17, 9, 3, 0},    {50, 33, 8, 0},   {50, 33, 12, 0},
                                   {100, 40, 100, 0}, {1000, 64, 768, 0}, {300, 129, 4096, 0},
                                   {64, 20, 768, 1},  {64, 20, 100, 3},   {70, 300, 1027, 0}};
  for (const Case& c : cases) {
    std::mt19937 rng(static_cast<uint32_t>(c.vocab * 131 + c.C));
    std::normal_distribution<float> nd(0.0f, 1.0f);
    std::vector<float> table(static_cast<size_t>(c.vocab) * c.C);
    for (size_t i = 0; i < table.size(); ++i) table[i] = 0.25f + nd(rng) * (1.0f + static_cast<float>(i % 7));
    std::vector<int32_t> ids(c.n);
    std::uniform_int_distribution<int32_t> pick(0, c.vocab - 1);
    for (int i = 0; i < c.n; ++i) ids[i] = i == 0 ? c.vocab - 1 : (i == 1 ? 0 : pick(rng));  // both ends, repeats
    std::vector<float> start(static_cast<size_t>(c.n) * c.C);
    for (float& v : start) v = 1.5f + nd(rng);
    for (DType t : {DType::F32, DType::F16, DType::BF16}) {
      const std::vector<uint8_t> tb = to_dtype(table, t);
      DeviceBuffer dtable(tb.data(), tb.size(), c.offset_elems * dtype_size(t));
      DeviceBuffer dids(ids.data(), ids.size() * sizeof(int32_t));
      for (bool add : {false, true}) {
        std::vector<float> want = start;
        if (add)
          cpu::embedding_add(want.data(), ids.data(), tb.data(), t, c.n, c.C);
        else
          cpu::embedding(want.data(), ids.data(), tb.data(), t, c.n, c.C);
        // embedding overwrites a poisoned (NaN) output; embedding_add adds into `start`.
        DeviceBuffer dout(add ? start.data() : nullptr, start.size() * sizeof(float));
        auto* out = static_cast<float*>(dout.get());
        const auto* idp = static_cast<const int32_t*>(dids.get());
        if (add)
          cuda::embedding_add(out, idp, dtable.get(), t, c.n, c.C);
        else
          cuda::embedding(out, idp, dtable.get(), t, c.n, c.C);
        const std::vector<uint8_t> got = dout.download();
        std::vector<uint8_t> want_bytes(want.size() * sizeof(float));
        std::memcpy(want_bytes.data(), want.data(), want_bytes.size());
        EXPECT_EQ(got, want_bytes) << dtype_name(t) << (add ? " add" : "") << " n " << c.n << " C " << c.C
                                   << " offset " << c.offset_elems;
      }
    }
  }
}

TEST(CudaEmbedding, EmptyAndNegativeShapes) {
  if (cuda::device_count() == 0) GTEST_SKIP() << "no CUDA device";
  EXPECT_NO_THROW(cuda::embedding(nullptr, nullptr, nullptr, DType::F16, 0, 64));
  EXPECT_THROW(cuda::embedding(nullptr, nullptr, nullptr, DType::F16, -1, 64), std::exception);
  EXPECT_EQ(cudaDeviceSynchronize(), cudaSuccess);
}

}  // namespace
}  // namespace zotune
