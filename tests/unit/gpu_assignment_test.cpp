// GPU assignment (one rank per GPU, sharing only when asked) and the NCCL back end's refusal
// in a build without it.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "core/util/error.h"
#include "distributed/communicator.h"
#include "distributed/gpu_assignment.h"

namespace zotune {
namespace {

std::string error_of(int local_rank, int local_size, int device_count, bool share_gpus) {
  try {
    assign_gpu(local_rank, local_size, device_count, share_gpus);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(GpuAssignment, OneRankPerGpuIsTheLocalRank) {
  for (int devices : {1, 2, 4, 8})
    for (int ranks = 1; ranks <= devices; ++ranks)
      for (int r = 0; r < ranks; ++r)
        for (bool share : {false, true}) EXPECT_EQ(assign_gpu(r, ranks, devices, share), r) << r << " of " << ranks;
}

TEST(GpuAssignment, MoreRanksThanGpusIsAnErrorOnEveryRank) {
  // Every rank of the host fails alike, rank 0 too: none is left waiting in a collective.
  for (int r = 0; r < 3; ++r) {
    const std::string message = error_of(r, 3, 2, false);
    EXPECT_NE(message.find("3 ranks on this host but 2 CUDA devices"), std::string::npos) << message;
    EXPECT_NE(message.find("engine.share_gpus: true"), std::string::npos) << message;
  }
  EXPECT_NE(error_of(0, 2, 1, false).find("2 ranks on this host but 1 CUDA device:"), std::string::npos);
}

TEST(GpuAssignment, SharingWrapsRoundTheGpus) {
  const std::vector<int> want = {0, 1, 2, 0, 1, 2, 0};
  for (int r = 0; r < 7; ++r) EXPECT_EQ(assign_gpu(r, 7, 3, true), want[r]) << r;
  for (int r = 0; r < 4; ++r) EXPECT_EQ(assign_gpu(r, 4, 1, true), 0);
}

TEST(GpuAssignment, NoDeviceIsAnErrorEvenWhenSharing) {
  for (bool share : {false, true}) {
    const std::string message = error_of(0, 1, 0, share);
    EXPECT_NE(message.find("no CUDA device"), std::string::npos) << message;
  }
  EXPECT_NE(error_of(1, 2, 0, true).find("no CUDA device on this host for its 2 ranks"), std::string::npos);
}

TEST(GpuAssignment, LocalRankOutsideTheHostIsAnError) {
  EXPECT_THROW(assign_gpu(-1, 2, 2, false), Error);
  EXPECT_THROW(assign_gpu(2, 2, 4, false), Error);
  EXPECT_THROW(assign_gpu(0, 0, 4, true), Error);
}

TEST(GpuAssignment, OneProcessIsLocalRankZeroOfOne) {
  // ctest runs this binary as one process (no mpirun): a world of one rank.
  EXPECT_EQ(local_rank(), 0);
  EXPECT_EQ(local_size(), 1);
}

TEST(NcclBackend, BuildWithoutNcclRefusesWithTheOptionToTurnOn) {
  if (Communicator::nccl_built()) GTEST_SKIP() << "built with ZOTUNE_NCCL (tests/cuda/engine/nccl_exchange_test.cpp)";
  Communicator comm;
  try {
    comm.use_nccl(0);
    FAIL() << "use_nccl returned in a build without NCCL";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("distributed.backend: nccl needs a build with ZOTUNE_NCCL"), std::string::npos)
        << e.what();
  }
  EXPECT_FALSE(comm.nccl_attached());
}

}  // namespace
}  // namespace zotune
