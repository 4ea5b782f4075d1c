#include "distributed/gpu_assignment.h"

#include <string>

#include "core/util/error.h"
#include "distributed/world.h"

#ifdef ZOTUNE_HAVE_MPI
#include <mpi.h>
#endif

namespace zotune {

int assign_gpu(int local_rank, int local_size, int device_count, bool share_gpus) {
  check(local_size >= 1 && local_rank >= 0 && local_rank < local_size,
        "GPU assignment: local rank " + std::to_string(local_rank) + " of " + std::to_string(local_size) +
            " ranks on this host is not a rank");
  const std::string ranks = std::to_string(local_size) + (local_size == 1 ? " rank" : " ranks");
  check(device_count > 0, "engine.device: cuda: no CUDA device on this host for its " + ranks +
                              " (check the driver, nvidia-smi and CUDA_VISIBLE_DEVICES)");
  const std::string devices = std::to_string(device_count) + (device_count == 1 ? " CUDA device" : " CUDA devices");
  if (local_size > device_count && !share_gpus)
    throw Error("engine.device: cuda: " + ranks + " on this host but " + devices +
                ": one rank per GPU; start at most " + std::to_string(device_count) +
                " ranks per host, or set engine.share_gpus: true to let ranks share GPUs (local rank r on GPU r mod " +
                std::to_string(device_count) + ")");
  return local_rank % device_count;
}

namespace {

struct LocalRanks {
  int rank = 0;
  int size = 1;
};

LocalRanks find_local_ranks() {
  LocalRanks local;
#ifdef ZOTUNE_HAVE_MPI
  const World& world = World::instance();
  if (world.size() > 1) {
    // Ranks that can share memory are the ranks of one host; key = world rank keeps the
    // local numbering in world order, so the same launch gives the same assignment.
    MPI_Comm host = MPI_COMM_NULL;
    MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, world.rank(), MPI_INFO_NULL, &host);
    MPI_Comm_rank(host, &local.rank);
    MPI_Comm_size(host, &local.size);
    MPI_Comm_free(&host);
  }
#endif
  return local;
}

const LocalRanks& local_ranks() {
  static const LocalRanks local = find_local_ranks();
  return local;
}

}  // namespace

int local_rank() { return local_ranks().rank; }
int local_size() { return local_ranks().size; }

}  // namespace zotune
