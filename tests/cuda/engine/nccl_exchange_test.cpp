// The NCCL exchange against the MPI path: all-reduce bit for bit on the training loop's
// vectors, checksum all-gather, device-buffer broadcast (chunked, unaligned). Written for any
// number of ranks (one GPU each); ctest runs it as one process. Skips without a GPU or NCCL.
#include <cuda_runtime.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "core/util/error.h"
#include "distributed/communicator.h"
#include "distributed/gpu_assignment.h"
#include "distributed/nccl_exchange.h"
#include "kernels/cuda/device.cuh"

namespace zotune {
namespace {

// First slot where the two differ in their bits, or "" (== would let -0 match +0).
std::string first_difference(const std::vector<double>& got, const std::vector<double>& want) {
  if (got.size() != want.size()) return "sizes " + std::to_string(got.size()) + " vs " + std::to_string(want.size());
  for (size_t i = 0; i < got.size(); ++i)
    if (std::memcmp(&got[i], &want[i], sizeof(double)) != 0)
      return "slot " + std::to_string(i) + ": " + std::to_string(got[i]) + " vs " + std::to_string(want[i]);
  return "";
}

// Rank `rank`'s bytes before a broadcast: differ by rank, so a broadcast that did nothing fails.
uint8_t rank_byte(int rank, size_t i) { return static_cast<uint8_t>((i * 131 + 7 * (rank + 1)) ^ (i >> 8)); }

std::vector<uint8_t> rank_bytes(int rank, size_t n) {
  std::vector<uint8_t> bytes(n);
  for (size_t i = 0; i < n; ++i) bytes[i] = rank_byte(rank, i);
  return bytes;
}

class NcclExchangeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (cuda::device_count() == 0) GTEST_SKIP() << "no CUDA device";
    if (!Communicator::nccl_built()) GTEST_SKIP() << "built without ZOTUNE_NCCL";
    // NCCL refuses two ranks on one GPU.
    if (local_size() > cuda::device_count()) GTEST_SKIP() << "more ranks on this host than GPUs";
    device_ = assign_gpu(local_rank(), local_size(), cuda::device_count(), false);
    ASSERT_EQ(cudaSetDevice(device_), cudaSuccess);
  }
  int device_ = 0;
};

TEST_F(NcclExchangeTest, AllReduceMatchesMpiBitForBit) {
  Communicator mpi = Communicator::world();
  Communicator nccl = Communicator::world();
  nccl.use_nccl(device_);
  ASSERT_TRUE(nccl.nccl_attached());
  ASSERT_FALSE(mpi.nccl_attached());
  const int P = mpi.size(), me = mpi.rank();
  std::mt19937_64 rng(17);  // the same draws on every rank
  std::normal_distribution<double> normal(3.0, 2.0);
  // 20000 doubles outgrow the exchange's first staging buffer (64 KiB).
  for (size_t n : {size_t(1), size_t(5), size_t(333), size_t(20000)}) {
    // The training loop's vector: slot i written by one rank (i mod P), zero on the others.
    std::vector<double> truth(n), mine(n, 0.0);
    for (size_t i = 0; i < n; ++i) {
      truth[i] = normal(rng) * std::pow(10.0, int(i % 9) - 4);
      if (int(i % P) == me) mine[i] = truth[i];
    }
    std::vector<double> via_mpi = mine, via_nccl = mine;
    mpi.allreduce_sum(via_mpi);
    nccl.allreduce_sum(via_nccl);
    EXPECT_EQ(first_difference(via_nccl, via_mpi), "") << n << " slots";
    EXPECT_EQ(first_difference(via_nccl, truth), "") << n << " slots";

    // Every rank adds to every slot: small integers, exact in any order.
    std::vector<double> dense(n), dense_want(n);
    for (size_t i = 0; i < n; ++i) {
      dense[i] = double(me + 1) * double(i + 1) - 0.5;
      dense_want[i] = double(P) * (P + 1) / 2 * double(i + 1) - 0.5 * P;
    }
    std::vector<double> dense_mpi = dense;
    mpi.allreduce_sum(dense_mpi);
    nccl.allreduce_sum(dense);
    EXPECT_EQ(first_difference(dense, dense_mpi), "") << n << " slots, dense";
    EXPECT_EQ(first_difference(dense, dense_want), "") << n << " slots, dense";
  }
  std::vector<double> empty;
  nccl.allreduce_sum(empty);
  EXPECT_TRUE(empty.empty());
  EXPECT_EQ(nccl.bytes_reduced(), mpi.bytes_reduced());
  EXPECT_EQ(nccl.bytes_reduced(), 2 * (1 + 5 + 333 + 20000) * sizeof(double));
}

TEST_F(NcclExchangeTest, AllGatherMatchesMpi) {
  Communicator mpi = Communicator::world();
  Communicator nccl = Communicator::world();
  nccl.use_nccl(device_);
  const auto checksum_of = [](int rank) { return 0x9E3779B97F4A7C15ull * uint64_t(rank + 1) ^ 0xD1B54A32D192ED03ull; };
  std::vector<uint64_t> want;
  for (int r = 0; r < mpi.size(); ++r) want.push_back(checksum_of(r));
  EXPECT_EQ(mpi.allgather(checksum_of(mpi.rank())), want);
  EXPECT_EQ(nccl.allgather(checksum_of(nccl.rank())), want);
  EXPECT_EQ(nccl.allgather(0), std::vector<uint64_t>(mpi.size(), 0));  // the word itself, not a stale slot
}

TEST_F(NcclExchangeTest, BroadcastDeviceMatchesMpiStaging) {
  Communicator mpi = Communicator::world();
  Communicator nccl = Communicator::world();
  nccl.use_nccl(device_);
  const int root = mpi.size() - 1;
  const size_t bytes = (size_t(3) << 20) + 13;
  const std::vector<uint8_t> mine = rank_bytes(mpi.rank(), bytes), want = rank_bytes(root, bytes);
  for (Communicator* comm : {&mpi, &nccl}) {
    void* buffer = nullptr;
    ASSERT_EQ(cudaMalloc(&buffer, bytes), cudaSuccess);
    ASSERT_EQ(cudaMemcpy(buffer, mine.data(), bytes, cudaMemcpyHostToDevice), cudaSuccess);
    comm->broadcast_device(buffer, bytes, root);
    std::vector<uint8_t> got(bytes);
    ASSERT_EQ(cudaMemcpy(got.data(), buffer, bytes, cudaMemcpyDeviceToHost), cudaSuccess);
    cudaFree(buffer);
    EXPECT_TRUE(got == want) << (comm->nccl_attached() ? "NCCL" : "MPI");
    EXPECT_EQ(comm->bytes_broadcast(), bytes);
  }
  EXPECT_THROW(nccl.broadcast_device(nullptr, 0, mpi.size()), Error);  // no such root
}

TEST_F(NcclExchangeTest, ChunkedBroadcastOfAnUnalignedRange) {
  NcclExchange exchange(device_, 4096);  // small pieces: the chunk loop runs many times
  EXPECT_EQ(exchange.device(), device_);
  ASSERT_GE(exchange.size(), 1);
  const int me = exchange.rank(), root = 0;
  const size_t total = 64 << 10, offset = 3, n = 5 * 4096 + 17;  // bytes [3, 3 + n) of the buffer
  const std::vector<uint8_t> mine = rank_bytes(me, total), root_bytes = rank_bytes(root, total);
  std::vector<uint8_t> want = mine;
  std::memcpy(want.data() + offset, root_bytes.data() + offset, n);
  uint8_t* buffer = nullptr;
  ASSERT_EQ(cudaMalloc(reinterpret_cast<void**>(&buffer), total), cudaSuccess);
  ASSERT_EQ(cudaMemcpy(buffer, mine.data(), total, cudaMemcpyHostToDevice), cudaSuccess);
  exchange.broadcast(buffer + offset, n, root);
  std::vector<uint8_t> got(total);
  ASSERT_EQ(cudaMemcpy(got.data(), buffer, total, cudaMemcpyDeviceToHost), cudaSuccess);
  cudaFree(buffer);
  EXPECT_TRUE(got == want);  // the range is root's, the bytes around it this rank's own

  std::vector<uint8_t> host(16);
  EXPECT_THROW(exchange.broadcast(host.data(), host.size(), root), Error);  // host memory
  EXPECT_THROW(exchange.broadcast(nullptr, 8, exchange.size()), Error);     // no such root
}

TEST_F(NcclExchangeTest, MissingDeviceIsAnError) {
  try {
    NcclExchange exchange(cuda::device_count());
    FAIL() << "an exchange on a device that does not exist";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("does not exist"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace zotune
