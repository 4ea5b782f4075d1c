// Communicator: what the training loop needs from the process group, and nothing more:
// an all-reduce of a short vector of doubles (the probe losses), a broadcast of raw bytes
// (initial weights), and an all-gather of one 64-bit word (replica checksums). Every
// call counts the bytes it moves, so a test can show they do not grow with model size.
// Built without MPI, or run as one process, it is a single rank and moves nothing.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace zotune {

class Communicator {
 public:
  // MPI_COMM_WORLD when built with MPI and launched with more than one rank.
  static Communicator world();
  int rank() const { return rank_; }
  int size() const { return size_; }

  // values[i] = sum over ranks of values[i]. Each slot is written by one rank and zero
  // elsewhere in the training loop, so the sum is exact whatever the reduction order.
  void allreduce_sum(std::vector<double>& values);
  void broadcast(void* data, size_t bytes, int root);
  // `text` as the root holds it, on every rank (length first, then the bytes).
  void broadcast(std::string& text, int root);
  std::vector<uint64_t> allgather(uint64_t value);
  void barrier();

  uint64_t bytes_reduced() const { return bytes_reduced_; }    // all-reduce payload, this rank
  uint64_t bytes_broadcast() const { return bytes_broadcast_; }

 private:
  int rank_ = 0;
  int size_ = 1;
  uint64_t bytes_reduced_ = 0;
  uint64_t bytes_broadcast_ = 0;
};

}  // namespace zotune
