// NcclExchange: the training loop's three collectives (scalar all-reduce, weight broadcast,
// checksum all-gather) over NCCL, one communicator per MPI world, one GPU per rank.
// Host-only header: nccl.h and the CUDA runtime stay in nccl_exchange.cpp, so this compiles
// in a build without them (the .cpp is left out there; Communicator::use_nccl says so).
//
// The per-step all-reduce goes host -> device staging buffer -> ncclAllReduce -> host on one
// private stream, then one cudaStreamSynchronize: the step's only host sync besides reading
// its losses. It sums doubles; in the training loop each slot is nonzero on one rank only, so
// the result is exactly MPI's whatever order NCCL reduces in.
#pragma once
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace zotune {

class NcclExchange {
 public:
  // Weights go in pieces of this many bytes, so no single NCCL call is huge and a failure
  // names how far it got.
  static constexpr size_t kDefaultBroadcastChunkBytes = size_t(256) << 20;

  // Collective over MPI_COMM_WORLD (World::instance() starts MPI if it has not): every rank
  // calls it with the CUDA device it runs on (gpu_assignment.h). Rank 0 makes the NCCL id and
  // MPI broadcasts it; each rank then joins with ncclCommInitRank on `device`. A rank whose
  // device cannot be used makes every rank throw instead of leaving the others in the init.
  explicit NcclExchange(int device, size_t broadcast_chunk_bytes = kDefaultBroadcastChunkBytes);
  ~NcclExchange();
  NcclExchange(const NcclExchange&) = delete;
  NcclExchange& operator=(const NcclExchange&) = delete;

  int rank() const;
  int size() const;
  int device() const;

  // values[i] = sum over ranks of values[i] (ncclDouble, ncclSum). Collective.
  void allreduce_sum(std::vector<double>& values);
  // `bytes` of device memory at `device_ptr` (on this rank's device) take root's contents on
  // every rank. Waits for all work queued on the device first (a load-time call, not a step's),
  // and returns once the bytes are in place. Collective.
  void broadcast(void* device_ptr, size_t bytes, int root);
  // Every rank's `value`, in rank order. Collective.
  std::vector<uint64_t> allgather(uint64_t value);

  // The cudaStream_t the collectives run on (for a caller that wants to order work after them).
  void* stream() const;

  // distributed.timeout_s (Communicator::set_timeout): instead of cudaStreamSynchronize each
  // collective hands `waiter` a poll of its stream (true once the stream's work is done) and
  // what it is; the waiter polls it against its deadline and, when the deadline passes, calls
  // the abort it is given (ncclCommAbort: the kernels waiting for a silent peer stop) before it
  // throws. Empty: synchronize (wait forever).
  using Waiter = std::function<void(const std::function<bool()>& done, const std::string& what,
                                    const std::function<void()>& abort)>;
  void set_waiter(Waiter waiter);

 private:
  struct State;  // NCCL communicator, stream, device and pinned host staging buffers
  std::unique_ptr<State> state_;
  void reserve_staging(size_t bytes);
  void wait_stream(const std::string& what);
};

}  // namespace zotune
