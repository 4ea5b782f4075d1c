#include "distributed/communicator.h"

#include "distributed/world.h"

#include <algorithm>

#ifdef ZOTUNE_HAVE_MPI
#include <mpi.h>
#endif

namespace zotune {

Communicator Communicator::world() {
  World& w = World::instance();
  Communicator c;
  c.rank_ = w.rank();
  c.size_ = w.size();
  return c;
}

void Communicator::allreduce_sum(std::vector<double>& values) {
  bytes_reduced_ += values.size() * sizeof(double);
#ifdef ZOTUNE_HAVE_MPI
  if (size_ > 1) MPI_Allreduce(MPI_IN_PLACE, values.data(), static_cast<int>(values.size()), MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
#endif
}

void Communicator::broadcast(void* data, size_t bytes, int root) {
  bytes_broadcast_ += bytes;
#ifdef ZOTUNE_HAVE_MPI
  if (size_ > 1) {
    // MPI counts are int: send in chunks of 1 GiB.
    const size_t chunk = size_t(1) << 30;
    for (size_t at = 0; at < bytes; at += chunk)
      MPI_Bcast(static_cast<char*>(data) + at, static_cast<int>(std::min(chunk, bytes - at)), MPI_BYTE, root, MPI_COMM_WORLD);
  }
#endif
}

void Communicator::broadcast(std::string& text, int root) {
  uint64_t length = text.size();
  broadcast(&length, sizeof(length), root);
  text.resize(length);
  broadcast(text.data(), length, root);
}

std::vector<uint64_t> Communicator::allgather(uint64_t value) {
  std::vector<uint64_t> all(size_, value);
#ifdef ZOTUNE_HAVE_MPI
  if (size_ > 1) MPI_Allgather(&value, 1, MPI_UINT64_T, all.data(), 1, MPI_UINT64_T, MPI_COMM_WORLD);
#endif
  return all;
}

void Communicator::barrier() {
#ifdef ZOTUNE_HAVE_MPI
  if (size_ > 1) MPI_Barrier(MPI_COMM_WORLD);
#endif
}

}  // namespace zotune
