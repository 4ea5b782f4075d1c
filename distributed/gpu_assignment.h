// Which CUDA device a rank runs on: one rank per GPU of its host, numbered by the rank's
// place among the ranks on that host (its local rank). Host-only; no CUDA here.
#pragma once

namespace zotune {

// The device of the rank that is `local_rank` of `local_size` ranks on a host that shows
// `device_count` CUDA devices: device = local_rank. More ranks on the host than devices is an
// error on every rank alike (so all of them stop, none waits in a collective) unless
// `share_gpus` (engine.share_gpus: true), which wraps round: device = local_rank % device_count.
// No device at all is always an error. Throws zotune::Error; pure, no MPI and no CUDA calls.
int assign_gpu(int local_rank, int local_size, int device_count, bool share_gpus);

// This rank's index among the ranks on its host, and how many there are
// (MPI_Comm_split_type(MPI_COMM_TYPE_SHARED)); 0 and 1 without MPI or on one rank. The first
// call of either is collective over MPI_COMM_WORLD (it starts MPI through World if needed);
// later calls return the cached answer.
int local_rank();
int local_size();

}  // namespace zotune
