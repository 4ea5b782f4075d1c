#include "distributed/communicator.h"

#include "core/util/error.h"
#include "distributed/nccl_exchange.h"
#include "distributed/world.h"

#include <algorithm>

#ifdef ZOTUNE_HAVE_MPI
#include <mpi.h>
#endif
#ifdef ZOTUNE_DISTRIBUTED_CUDA
#include <cuda_runtime.h>
#endif

namespace zotune {

namespace {

// MPI counts are int: host bytes go in pieces of 1 GiB.
void mpi_broadcast_bytes(void* data, size_t bytes, int root) {
#ifdef ZOTUNE_HAVE_MPI
  const size_t chunk = size_t(1) << 30;
  for (size_t at = 0; at < bytes; at += chunk)
    MPI_Bcast(static_cast<char*>(data) + at, static_cast<int>(std::min(chunk, bytes - at)), MPI_BYTE, root, MPI_COMM_WORLD);
#endif
}

#ifdef ZOTUNE_DISTRIBUTED_CUDA
void check_cuda(cudaError_t status, const std::string& what) {
  if (status != cudaSuccess) throw Error("broadcast_device: CUDA: " + what + ": " + cudaGetErrorString(status));
}
#endif

}  // namespace

Communicator Communicator::world() {
  World& w = World::instance();
  Communicator c;
  c.rank_ = w.rank();
  c.size_ = w.size();
  return c;
}

bool Communicator::nccl_built() {
#ifdef ZOTUNE_HAVE_NCCL
  return true;
#else
  return false;
#endif
}

void Communicator::use_nccl(int device) {
#ifdef ZOTUNE_HAVE_NCCL
  check(nccl_ == nullptr, "distributed.backend: nccl: the communicator already has an NCCL exchange");
  nccl_ = std::make_shared<NcclExchange>(device);
  check(nccl_->rank() == rank_ && nccl_->size() == size_,
        "distributed.backend: nccl: the NCCL communicator (rank " + std::to_string(nccl_->rank()) + " of " +
            std::to_string(nccl_->size()) + ") is not this one's (rank " + std::to_string(rank_) + " of " +
            std::to_string(size_) + ")");
#else
  (void)device;
  throw Error("distributed.backend: nccl needs a build with ZOTUNE_NCCL (CUDA, MPI and NCCL); this build has none: "
              "use distributed.backend: mpi");
#endif
}

void Communicator::allreduce_sum(std::vector<double>& values) {
  bytes_reduced_ += values.size() * sizeof(double);
  ++collective_calls_;
#ifdef ZOTUNE_HAVE_NCCL
  if (nccl_) {
    nccl_->allreduce_sum(values);
    return;
  }
#endif
#ifdef ZOTUNE_HAVE_MPI
  if (size_ > 1) MPI_Allreduce(MPI_IN_PLACE, values.data(), static_cast<int>(values.size()), MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
#endif
}

void Communicator::broadcast(void* data, size_t bytes, int root) {
  bytes_broadcast_ += bytes;
  ++collective_calls_;
  if (size_ > 1) mpi_broadcast_bytes(data, bytes, root);
}

void Communicator::broadcast(std::string& text, int root) {
  uint64_t length = text.size();
  broadcast(&length, sizeof(length), root);
  text.resize(length);
  broadcast(text.data(), length, root);
}

void Communicator::broadcast_device(void* device_ptr, size_t bytes, int root) {
  check(root >= 0 && root < size_, "broadcast_device: root " + std::to_string(root) + " is not a rank of " + std::to_string(size_));
  bytes_broadcast_ += bytes;
  ++collective_calls_;
#ifdef ZOTUNE_HAVE_NCCL
  if (nccl_) {
    nccl_->broadcast(device_ptr, bytes, root);
    return;
  }
#endif
  if (size_ == 1 || bytes == 0) return;
#ifdef ZOTUNE_DISTRIBUTED_CUDA
  // Host staging: root copies a piece out, MPI carries it, the others copy it in. A bounded
  // piece keeps host memory small for a model of any size.
  check_cuda(cudaDeviceSynchronize(), "device sync before the broadcast");
  const size_t piece = std::min(bytes, size_t(64) << 20);
  std::vector<char> host(piece);
  char* base = static_cast<char*>(device_ptr);
  for (size_t at = 0; at < bytes; at += piece) {
    const size_t n = std::min(piece, bytes - at);
    if (rank_ == root) check_cuda(cudaMemcpy(host.data(), base + at, n, cudaMemcpyDeviceToHost), "copy to host");
    mpi_broadcast_bytes(host.data(), n, root);
    if (rank_ != root) check_cuda(cudaMemcpy(base + at, host.data(), n, cudaMemcpyHostToDevice), "copy to device");
  }
#else
  (void)device_ptr;
  throw Error("broadcast_device: device buffers across ranks need a build with ZOTUNE_CUDA");
#endif
}

std::vector<uint64_t> Communicator::allgather(uint64_t value) {
  bytes_gathered_ += static_cast<uint64_t>(size_) * sizeof(uint64_t);
  ++collective_calls_;
#ifdef ZOTUNE_HAVE_NCCL
  if (nccl_) return nccl_->allgather(value);
#endif
  std::vector<uint64_t> all(size_, value);
#ifdef ZOTUNE_HAVE_MPI
  if (size_ > 1) MPI_Allgather(&value, 1, MPI_UINT64_T, all.data(), 1, MPI_UINT64_T, MPI_COMM_WORLD);
#endif
  return all;
}

void Communicator::barrier() {
  ++collective_calls_;
#ifdef ZOTUNE_HAVE_MPI
  if (size_ > 1) MPI_Barrier(MPI_COMM_WORLD);
#endif
}

}  // namespace zotune
