// CUDA dequantization of every ggml block format against the CPU reference
// (kernels/cpu/dequantize), bit for bit: fp32 output equal to the CPU's values, fp16 / bf16
// output equal to those values rounded (zotune::convert). Random blocks (random quants, packed
// scales and mins, random finite fp16 block scales and mins: tests/cuda/quant_blocks_test_util.h),
// 1, 3 and 37 blocks read from odd device addresses into a buffer poisoned with NaN, so a kernel
// that skips elements, writes zeros, or ignores a block's scale, min or high bits cannot pass.
// Skipped without a GPU.
#include "kernels/cuda/dequantize.cuh"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "core/tensor/dtype.h"
#include "core/util/error.h"
#include "cuda_test_util.h"
#include "kernels/cpu/dequantize.h"
#include "kernels/cuda/device.cuh"
#include "quant_blocks_test_util.h"

namespace zotune {
namespace {

using CpuRow = void (*)(const uint8_t*, float*, int64_t);
using CudaLaunch = void (*)(const void*, void*, DType, int64_t, void*);

struct KernelCase {
  const char* name;  // test::quant_format's name
  CpuRow cpu;
  CudaLaunch cuda;
};

const KernelCase kKernels[] = {
    {"q4_0", cpu::dequantize_row_q4_0, cuda::dequantize_q4_0}, {"q4_1", cpu::dequantize_row_q4_1, cuda::dequantize_q4_1},
    {"q5_0", cpu::dequantize_row_q5_0, cuda::dequantize_q5_0}, {"q5_1", cpu::dequantize_row_q5_1, cuda::dequantize_q5_1},
    {"q8_0", cpu::dequantize_row_q8_0, cuda::dequantize_q8_0}, {"q2_k", cpu::dequantize_row_q2_k, cuda::dequantize_q2_k},
    {"q3_k", cpu::dequantize_row_q3_k, cuda::dequantize_q3_k}, {"q4_k", cpu::dequantize_row_q4_k, cuda::dequantize_q4_k},
    {"q5_k", cpu::dequantize_row_q5_k, cuda::dequantize_q5_k}, {"q6_k", cpu::dequantize_row_q6_k, cuda::dequantize_q6_k},
};

void PrintTo(const KernelCase& k, std::ostream* os) { *os << k.name; }

// "" when equal, else the first differing element (index, got and want bits).
std::string first_difference(const std::vector<uint8_t>& got, const std::vector<uint8_t>& want, DType t) {
  if (got.size() != want.size()) return "sizes differ";
  const size_t elem = dtype_size(t);
  for (size_t i = 0; i < want.size() / elem; ++i) {
    if (std::memcmp(got.data() + i * elem, want.data() + i * elem, elem) == 0) continue;
    uint32_t g = 0, w = 0;
    std::memcpy(&g, got.data() + i * elem, elem);
    std::memcpy(&w, want.data() + i * elem, elem);
    return "element " + std::to_string(i) + ": got " + std::to_string(load_f32(got.data(), t, i)) + " (bits " +
           std::to_string(g) + "), want " + std::to_string(load_f32(want.data(), t, i)) + " (bits " + std::to_string(w) +
           ")";
  }
  return "";
}

class CudaDequantize : public ::testing::TestWithParam<KernelCase> {
 protected:
  void SetUp() override {
    if (cuda::device_count() == 0) GTEST_SKIP() << "no CUDA device";
  }
};

TEST_P(CudaDequantize, MatchesTheCpuBitForBitInEveryDtype) {
  const KernelCase& k = GetParam();
  const test::QuantFormat& f = test::quant_format(k.name);
  std::mt19937 rng(static_cast<uint32_t>(f.ggml_type) * 7919u + 1u);
  for (int64_t n_blocks : {1, 3, 37}) {
    const std::vector<uint8_t> blocks = test::random_blocks(f, n_blocks, rng);
    const int64_t n = n_blocks * f.block;
    std::vector<float> want(static_cast<size_t>(n));
    k.cpu(blocks.data(), want.data(), n);
    // The reference itself is not degenerate: nearly every value is nonzero.
    const auto nonzero = std::count_if(want.begin(), want.end(), [](float x) { return x != 0.0f; });
    ASSERT_GT(nonzero, n * 3 / 4) << k.name << ": the random blocks dequantize to mostly zeros";
    // An odd source address: chunks of 18-, 22-, 110-byte blocks start anywhere.
    const test::DeviceBuffer src(blocks.data(), blocks.size(), 1 + static_cast<size_t>(n_blocks % 3));
    for (DType t : {DType::F32, DType::F16, DType::BF16}) {
      const std::vector<uint8_t> want_bytes = test::to_dtype(want, t);
      const test::DeviceBuffer dst(nullptr, want_bytes.size(), dtype_size(t));  // NaN-poisoned
      k.cuda(src.get(), dst.get(), t, n, nullptr);
      EXPECT_EQ(first_difference(dst.download(), want_bytes, t), "")
          << k.name << ", " << n_blocks << " blocks, " << dtype_name(t) << " output";
    }
  }
}

// How the loader calls it: a tensor in chunks of whole blocks, each written at its element
// offset in the parameter, gives the one-call result.
TEST_P(CudaDequantize, ChunksWrittenAtTheirOffsetsEqualOneCall) {
  const KernelCase& k = GetParam();
  const test::QuantFormat& f = test::quant_format(k.name);
  std::mt19937 rng(static_cast<uint32_t>(f.ggml_type) + 100u);
  const int64_t n_blocks = 11, first_chunk = 4;
  const std::vector<uint8_t> blocks = test::random_blocks(f, n_blocks, rng);
  const int64_t n = n_blocks * f.block;
  std::vector<float> want(static_cast<size_t>(n));
  k.cpu(blocks.data(), want.data(), n);
  const DType t = DType::F16;
  const std::vector<uint8_t> want_bytes = test::to_dtype(want, t);
  const test::DeviceBuffer src(blocks.data(), blocks.size());
  const test::DeviceBuffer dst(nullptr, want_bytes.size());
  const auto* s = static_cast<const uint8_t*>(src.get());
  auto* d = static_cast<uint8_t*>(dst.get());
  k.cuda(s, d, t, first_chunk * f.block, nullptr);
  k.cuda(s + first_chunk * f.block_bytes, d + first_chunk * f.block * dtype_size(t), t, (n_blocks - first_chunk) * f.block,
         nullptr);
  EXPECT_EQ(first_difference(dst.download(), want_bytes, t), "") << k.name;
}

INSTANTIATE_TEST_SUITE_P(EveryFormat, CudaDequantize, ::testing::ValuesIn(kKernels),
                         [](const ::testing::TestParamInfo<KernelCase>& info) { return std::string(info.param.name); });

// A count that is not a whole number of blocks is refused before anything is launched (no GPU
// needed).
TEST(CudaDequantizeArguments, PartialBlockIsAnError) {
  try {
    cuda::dequantize_q4_k(nullptr, nullptr, DType::F32, 300, nullptr);
    FAIL() << "no error for 300 values of 256-element blocks";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("dequantize_q4_k: 300 values are not a whole number of 256-element blocks"),
              std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace zotune
