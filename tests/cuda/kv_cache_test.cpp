// CUDA KV-cache append (kernels/cuda/kv_cache.cuh), bit for bit against the trivial host copy
// that the CPU engine's store_kv does: dense sources and column slices of a fused QKV row,
// every dtype, the 16-, 4- and 2-byte word paths (odd widths, pointers off the 16-byte grid),
// a cache that already holds tokens (length > 0: earlier and later slots stay untouched).
// Skipped without a GPU.
#include <cuda_runtime.h>
#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <vector>

#include "core/tensor/dtype.h"
#include "core/util/error.h"
#include "kernels/cuda/device.cuh"
#include "kernels/cuda/kv_cache.cuh"
#include "tests/cuda/cuda_test_util.h"

namespace zotune {
namespace {

struct AppendCase {
  DType type;
  int batch, seq_len, width;
  int64_t src_row;  // >= width; > width: k and v are column slices of one fused row
  int capacity, length;
  size_t offset_bytes;  // shifts every buffer off the allocation's 256-byte grid
};

TEST(CudaKvCache, AppendWritesTheNewSlotsOnly) {
  if (cuda::device_count() == 0) GTEST_SKIP() << "no CUDA device";
  const std::vector<AppendCase> cases = {
      {DType::F32, 3, 10, 64, 64, 16, 0, 0},      // prefill, dense, 16-byte words
      {DType::BF16, 3, 1, 64, 192, 16, 10, 0},    // one decode step from a fused [q | k | v] row
      {DType::F16, 2, 3, 16, 48, 8, 5, 0},        // a chunk of 3 filling the cache to capacity
      {DType::F32, 2, 4, 7, 21, 12, 2, 0},        // odd width: 4-byte words
      {DType::F16, 2, 2, 7, 21, 6, 1, 0},         // odd fp16 width: 2-byte words
      {DType::BF16, 4, 5, 128, 256, 9, 3, 2},     // misaligned pointers: 2-byte words
      {DType::F32, 1, 33, 256, 768, 40, 7, 4},    // misaligned fp32: 4-byte words
  };
  for (const AppendCase& c : cases) {
    const size_t es = dtype_size(c.type);
    const size_t src_bytes = (static_cast<size_t>(c.batch) * c.seq_len * c.src_row) * es;
    const size_t cache_bytes = static_cast<size_t>(c.batch) * c.capacity * c.width * es;
    std::mt19937 rng(static_cast<uint32_t>(c.width * 131 + c.seq_len));
    std::uniform_int_distribution<int> byte(0, 255);
    // Random source bytes: the copy is a bit copy, whatever they encode.
    std::vector<uint8_t> src(src_bytes), k_before(cache_bytes), v_before(cache_bytes);
    for (uint8_t& b : src) b = static_cast<uint8_t>(byte(rng));
    for (uint8_t& b : k_before) b = static_cast<uint8_t>(byte(rng));
    for (uint8_t& b : v_before) b = static_cast<uint8_t>(byte(rng));
    // k at column 0 of each source row, v at column width (or the same columns of a second
    // buffer when the rows hold one head block only).
    const bool fused = c.src_row >= 2 * c.width;
    std::vector<uint8_t> src_v(fused ? 0 : src_bytes);
    for (uint8_t& b : src_v) b = static_cast<uint8_t>(byte(rng));
    const std::vector<uint8_t>& v_host = fused ? src : src_v;
    const size_t v_column = fused ? static_cast<size_t>(c.width) : 0;

    std::vector<uint8_t> k_want = k_before, v_want = v_before;
    for (int b = 0; b < c.batch; ++b)
      for (int t = 0; t < c.seq_len; ++t) {
        const size_t from = (static_cast<size_t>(b) * c.seq_len + t) * c.src_row * es;
        const size_t to = ((static_cast<size_t>(b) * c.capacity) + c.length + t) * c.width * es;
        std::memcpy(k_want.data() + to, src.data() + from, c.width * es);
        std::memcpy(v_want.data() + to, v_host.data() + from + v_column * es, c.width * es);
      }

    test::DeviceBuffer d_src(src.data(), src_bytes, c.offset_bytes);
    test::DeviceBuffer d_src_v(fused ? nullptr : src_v.data(), fused ? 0 : src_bytes, c.offset_bytes);
    test::DeviceBuffer d_k(k_before.data(), cache_bytes, c.offset_bytes);
    test::DeviceBuffer d_v(v_before.data(), cache_bytes, c.offset_bytes);
    const char* v_src = fused ? static_cast<const char*>(d_src.get()) + v_column * es : static_cast<const char*>(d_src_v.get());
    cuda::append_kv(d_k.get(), d_v.get(), d_src.get(), v_src, c.type, c.batch, c.seq_len, c.width, c.src_row, c.capacity,
                    c.length);
    const std::vector<uint8_t> k_got = d_k.download(), v_got = d_v.download();
    const std::string what = std::string(dtype_name(c.type)) + " batch " + std::to_string(c.batch) + " seq_len " +
                             std::to_string(c.seq_len) + " width " + std::to_string(c.width) + " length " +
                             std::to_string(c.length) + " offset " + std::to_string(c.offset_bytes);
    EXPECT_EQ(k_got, k_want) << "keys, " << what;
    EXPECT_EQ(v_got, v_want) << "values, " << what;
    EXPECT_NE(k_got, k_before) << "nothing was written, " << what;
  }
}

TEST(CudaKvCache, AppendRefusesMoreTokensThanTheCapacity) {
  if (cuda::device_count() == 0) GTEST_SKIP() << "no CUDA device";
  EXPECT_THROW(cuda::append_kv(nullptr, nullptr, nullptr, nullptr, DType::F32, 1, 3, 8, 8, 4, 2), Error);
  EXPECT_THROW(cuda::append_kv(nullptr, nullptr, nullptr, nullptr, DType::F32, 1, 1, 8, 4, 4, 0), Error);
}

}  // namespace
}  // namespace zotune
