// Communicator: what the training loop needs from the process group, and nothing more:
// an all-reduce of a short vector of doubles (the probe losses), a broadcast of raw bytes
// (initial weights), and an all-gather of one 64-bit word (replica checksums). Every
// collective, whatever its kind, is counted (calls and payload bytes), so a test can show
// what crosses between ranks during a step and that it does not grow with model size.
// Built without MPI, or run as one process, it is a single rank and moves nothing.
//
// With `distributed.backend: nccl` the same calls go through an attached NcclExchange
// (use_nccl): all-reduce and all-gather through the GPU each rank runs on, device buffers
// GPU to GPU. Host-byte broadcasts (strings, sizes, host weights) stay on MPI.
//
// A hung rank (distributed.timeout_s, set_timeout): with a timeout every collective is started
// non-blocking (MPI_Iallreduce, MPI_Ibcast, MPI_Iallgather, MPI_Ibarrier; NCCL's stream is
// polled with cudaStreamQuery) and waited for in a polling loop with a deadline. A rank whose
// deadline passes calls the roll: it asks every other rank, over a duplicate of the world
// communicator, which collective and step it is at; ranks waiting in a collective answer from
// their polling loop, so the ranks that stay silent for a few seconds are the hung ones. It
// then throws CollectiveTimeout naming them and the step (NCCL: after ncclCommAbort).
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/util/error.h"

namespace zotune {

class NcclExchange;

// A collective that did not complete within distributed.timeout_s: the message names the
// step, the collective and the rank(s) that did not answer. The MPI job cannot go on (a
// collective is left pending): the caller records the failure and ends every rank
// (World::abort).
class CollectiveTimeout : public Error {
 public:
  using Error::Error;
};

class Communicator {
 public:
  // MPI_COMM_WORLD when built with MPI and launched with more than one rank.
  static Communicator world();
  int rank() const { return rank_; }
  int size() const { return size_; }

  // Whether this build has the NCCL exchange (ZOTUNE_NCCL: CUDA, MPI and NCCL found).
  static bool nccl_built();
  // Routes allreduce_sum, allgather and broadcast_device through NCCL from now on, on CUDA
  // device `device` (gpu_assignment.h's assign_gpu). Collective: every rank calls it, once,
  // before the first step. Throws zotune::Error in a build without NCCL, or when any rank
  // cannot set up its GPU. Copies of this Communicator share the exchange.
  void use_nccl(int device);
  bool nccl_attached() const { return nccl_ != nullptr; }

  // values[i] = sum over ranks of values[i]. Each slot is written by one rank and zero
  // elsewhere in the training loop, so the sum is exact whatever the reduction order: MPI
  // and NCCL give the same bits.
  void allreduce_sum(std::vector<double>& values);
  // Host bytes, always through MPI.
  void broadcast(void* data, size_t bytes, int root);
  // `text` as the root holds it, on every rank (length first, then the bytes).
  void broadcast(std::string& text, int root);
  // `bytes` of CUDA device memory (this rank's GPU) take root's contents on every rank: NCCL
  // when attached, else staged through host memory and MPI in 64 MiB pieces. Waits for the
  // device's queued work first and returns with the bytes in place (load time, not per step).
  void broadcast_device(void* device_ptr, size_t bytes, int root);
  std::vector<uint64_t> allgather(uint64_t value);
  void barrier();

  // distributed.timeout_s: from now on a collective that has not completed `seconds` after
  // this rank entered it throws CollectiveTimeout (see above); 0 = wait forever (blocking
  // calls, the default). Collective (it duplicates the world communicator for the roll
  // call): every rank calls it with the same value. One rank or no MPI: nothing to wait for.
  void set_timeout(double seconds);
  double timeout_s() const;
  // The training step that the next collectives belong to, for the timeout's message.
  void set_step(int64_t step);
  struct Watch;  // the deadline, the roll call and its communicator (communicator.cpp)

  uint64_t bytes_reduced() const { return bytes_reduced_; }    // all-reduce payload, this rank
  uint64_t bytes_broadcast() const { return bytes_broadcast_; }  // host and device broadcasts
  uint64_t bytes_gathered() const { return bytes_gathered_; }    // all-gather results (8 bytes x ranks each)
  // Every collective this rank took part in (all-reduce, broadcast of any kind, all-gather,
  // barrier), and the sum of the three byte counts above.
  uint64_t collective_calls() const { return collective_calls_; }
  uint64_t bytes_exchanged() const { return bytes_reduced_ + bytes_broadcast_ + bytes_gathered_; }

 private:
  int rank_ = 0;
  int size_ = 1;
  uint64_t bytes_reduced_ = 0;
  uint64_t bytes_broadcast_ = 0;
  uint64_t bytes_gathered_ = 0;
  uint64_t collective_calls_ = 0;
  std::shared_ptr<NcclExchange> nccl_;
  std::shared_ptr<Watch> watch_;  // null: no timeout
  void attach_watch_to_nccl();
};

}  // namespace zotune
