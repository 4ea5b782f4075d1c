#include "distributed/nccl_exchange.h"

#include <cuda_runtime.h>
#include <nccl.h>

#include <algorithm>
#include <cstring>
#include <exception>
#include <string>

#include "core/util/error.h"
#include "distributed/world.h"

#ifdef ZOTUNE_HAVE_MPI
#include <mpi.h>
#endif

namespace zotune {

namespace {

// The staging buffers start at 64 KiB: 8192 doubles, more than a step's vector (O(queries x
// data-parallel rows)) or an all-gather of 8192 ranks' checksums. They grow on demand; growing
// allocates, so it syncs, but only the first time a longer vector comes.
constexpr size_t kInitialStagingBytes = size_t(64) << 10;

void check_cuda(cudaError_t status, const std::string& what) {
  if (status != cudaSuccess) throw Error("NCCL exchange: CUDA: " + what + ": " + cudaGetErrorString(status));
}

void check_nccl(ncclResult_t status, const std::string& what) {
  if (status == ncclSuccess) return;
  std::string message = "NCCL: " + what + ": " + ncclGetErrorString(status);
  const char* detail = ncclGetLastError(nullptr);  // the comm argument is unused by NCCL
  if (detail && *detail) message += std::string(" (") + detail + ")";
  throw Error(message);
}

// Makes `device` current for the scope of one call and puts the caller's back: the exchange
// may be driven from code that has another device current (a rank's loader, a test).
class DeviceScope {
 public:
  explicit DeviceScope(int device) : device_(device) {
    if (cudaGetDevice(&previous_) != cudaSuccess) previous_ = -1;
    if (previous_ != device_) check_cuda(cudaSetDevice(device_), "cudaSetDevice(" + std::to_string(device_) + ")");
  }
  ~DeviceScope() {
    if (previous_ >= 0 && previous_ != device_) cudaSetDevice(previous_);
  }
  DeviceScope(const DeviceScope&) = delete;
  DeviceScope& operator=(const DeviceScope&) = delete;

 private:
  int device_;
  int previous_ = -1;
};

}  // namespace

struct NcclExchange::State {
  int rank = 0;
  int size = 1;
  int device = -1;
  size_t broadcast_chunk_bytes = 0;
  ncclComm_t comm = nullptr;
  cudaStream_t stream = nullptr;
  void* device_staging = nullptr;  // staging_bytes on `device`
  void* host_staging = nullptr;    // staging_bytes, pinned: the async copies really are async
  size_t staging_bytes = 0;
  NcclExchange::Waiter waiter;     // empty: cudaStreamSynchronize

  State() = default;
  State(const State&) = delete;
  State& operator=(const State&) = delete;
  // Also the clean-up of a constructor that threw half way; errors here are not reported
  // (a destructor must not throw, and the process is usually ending).
  ~State() {
    if (device < 0) return;
    int previous = -1;
    if (cudaGetDevice(&previous) != cudaSuccess) previous = -1;
    cudaSetDevice(device);
    if (comm) ncclCommDestroy(comm);
    if (stream) cudaStreamSynchronize(stream);
    if (device_staging) cudaFree(device_staging);
    if (host_staging) cudaFreeHost(host_staging);
    if (stream) cudaStreamDestroy(stream);
    if (previous >= 0 && previous != device) cudaSetDevice(previous);
  }
};

NcclExchange::NcclExchange(int device, size_t broadcast_chunk_bytes) : state_(std::make_unique<State>()) {
  State& s = *state_;
  World& world = World::instance();
  s.rank = world.rank();
  s.size = world.size();
  s.broadcast_chunk_bytes = broadcast_chunk_bytes;

  // Local set-up first, and every rank learns whether every other got through it before any
  // enters ncclCommInitRank, which blocks until all ranks have joined.
  std::string local_error;
  try {
    check(broadcast_chunk_bytes > 0, "the broadcast chunk must be at least one byte");
    int device_count = 0;
    check_cuda(cudaGetDeviceCount(&device_count), "cudaGetDeviceCount");
    check(device >= 0 && device < device_count, "CUDA device " + std::to_string(device) + " does not exist (this rank sees " +
                                                    std::to_string(device_count) + ")");
    check_cuda(cudaSetDevice(device), "cudaSetDevice(" + std::to_string(device) + ")");
    s.device = device;  // from here on ~State cleans up on this device
    // Non-blocking: the exchange must not wait on (or hold up) the legacy default stream.
    check_cuda(cudaStreamCreateWithFlags(&s.stream, cudaStreamNonBlocking), "cudaStreamCreateWithFlags");
    reserve_staging(kInitialStagingBytes);
  } catch (const std::exception& e) {
    local_error = e.what();
  }
  int ranks_failed = local_error.empty() ? 0 : 1;
#ifdef ZOTUNE_HAVE_MPI
  if (s.size > 1) MPI_Allreduce(MPI_IN_PLACE, &ranks_failed, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
#endif
  const std::string where = "distributed.backend: nccl: rank " + std::to_string(s.rank) + " (GPU " + std::to_string(device) + "): ";
  if (!local_error.empty()) throw Error(where + local_error);
  if (ranks_failed)
    throw Error(where + std::to_string(ranks_failed) + " other rank(s) could not set up their GPU (their messages say why)");

  // Rank 0's id and whether it got one, in one broadcast, so a failure there ends every rank.
  struct {
    int status;
    ncclUniqueId id;
  } hello{};
  if (s.rank == 0) hello.status = static_cast<int>(ncclGetUniqueId(&hello.id));
#ifdef ZOTUNE_HAVE_MPI
  if (s.size > 1) MPI_Bcast(&hello, static_cast<int>(sizeof(hello)), MPI_BYTE, 0, MPI_COMM_WORLD);
#else
  check(s.size == 1, where + "NCCL over several ranks needs a build with MPI");
#endif
  if (hello.status != ncclSuccess) check_nccl(static_cast<ncclResult_t>(hello.status), where + "ncclGetUniqueId on rank 0");
  check_nccl(ncclCommInitRank(&s.comm, s.size, hello.id, s.rank),
             where + "ncclCommInitRank (" + std::to_string(s.size) + " ranks; two ranks on one GPU are refused by NCCL)");
}

NcclExchange::~NcclExchange() = default;

int NcclExchange::rank() const { return state_->rank; }
int NcclExchange::size() const { return state_->size; }
int NcclExchange::device() const { return state_->device; }
void* NcclExchange::stream() const { return state_->stream; }

void NcclExchange::set_waiter(Waiter waiter) { state_->waiter = std::move(waiter); }

void NcclExchange::wait_stream(const std::string& what) {
  State& s = *state_;
  if (!s.waiter) {
    check_cuda(cudaStreamSynchronize(s.stream), what + " stream sync");
    return;
  }
  auto done = [&] {
    const cudaError_t status = cudaStreamQuery(s.stream);
    if (status == cudaErrorNotReady) return false;
    check_cuda(status, what + " stream query");
    return true;
  };
  // After ncclCommAbort the communicator is gone; ~State must not destroy it again.
  auto abort = [&] {
    if (s.comm) ncclCommAbort(s.comm);
    s.comm = nullptr;
  };
  s.waiter(done, "the NCCL " + what, abort);
}

void NcclExchange::reserve_staging(size_t bytes) {
  State& s = *state_;
  if (bytes <= s.staging_bytes) return;
  const size_t grown = std::max(bytes, 2 * s.staging_bytes);
  // Every collective ends with a stream sync, so nothing still reads the old buffers.
  if (s.device_staging) check_cuda(cudaFree(s.device_staging), "cudaFree (staging)");
  if (s.host_staging) check_cuda(cudaFreeHost(s.host_staging), "cudaFreeHost (staging)");
  s.device_staging = s.host_staging = nullptr;
  s.staging_bytes = 0;
  check_cuda(cudaMalloc(&s.device_staging, grown), "cudaMalloc of " + std::to_string(grown) + " staging bytes");
  check_cuda(cudaMallocHost(&s.host_staging, grown), "cudaMallocHost of " + std::to_string(grown) + " staging bytes");
  s.staging_bytes = grown;
}

void NcclExchange::allreduce_sum(std::vector<double>& values) {
  if (values.empty()) return;
  State& s = *state_;
  DeviceScope scope(s.device);
  const size_t bytes = values.size() * sizeof(double);
  reserve_staging(bytes);
  std::memcpy(s.host_staging, values.data(), bytes);
  check_cuda(cudaMemcpyAsync(s.device_staging, s.host_staging, bytes, cudaMemcpyHostToDevice, s.stream), "all-reduce copy in");
  check_nccl(ncclAllReduce(s.device_staging, s.device_staging, values.size(), ncclDouble, ncclSum, s.comm, s.stream),
             "ncclAllReduce of " + std::to_string(values.size()) + " doubles");
  check_cuda(cudaMemcpyAsync(s.host_staging, s.device_staging, bytes, cudaMemcpyDeviceToHost, s.stream), "all-reduce copy out");
  wait_stream("all-reduce of " + std::to_string(values.size()) + " doubles");
  std::memcpy(values.data(), s.host_staging, bytes);
}

void NcclExchange::broadcast(void* device_ptr, size_t bytes, int root) {
  State& s = *state_;
  check(root >= 0 && root < s.size, "NCCL broadcast: root " + std::to_string(root) + " is not a rank of " + std::to_string(s.size));
  if (bytes == 0) return;
  check(device_ptr != nullptr, "NCCL broadcast: null device pointer for " + std::to_string(bytes) + " bytes");
  DeviceScope scope(s.device);
  cudaPointerAttributes attributes{};
  check_cuda(cudaPointerGetAttributes(&attributes, device_ptr), "cudaPointerGetAttributes");
  check((attributes.type == cudaMemoryTypeDevice || attributes.type == cudaMemoryTypeManaged) && attributes.device == s.device,
        "NCCL broadcast: the buffer is not device memory on this rank's GPU " + std::to_string(s.device));
  // The buffer may have been written on any stream (a loader's copies, the default stream).
  check_cuda(cudaDeviceSynchronize(), "device sync before the broadcast");
  char* base = static_cast<char*>(device_ptr);
  for (size_t at = 0; at < bytes; at += s.broadcast_chunk_bytes) {
    const size_t n = std::min(s.broadcast_chunk_bytes, bytes - at);
    check_nccl(ncclBroadcast(base + at, base + at, n, ncclUint8, root, s.comm, s.stream),
               "ncclBroadcast of bytes " + std::to_string(at) + ".." + std::to_string(at + n) + " of " + std::to_string(bytes));
  }
  wait_stream("broadcast of " + std::to_string(bytes) + " bytes");
}

std::vector<uint64_t> NcclExchange::allgather(uint64_t value) {
  State& s = *state_;
  DeviceScope scope(s.device);
  const size_t bytes = static_cast<size_t>(s.size) * sizeof(uint64_t);
  reserve_staging(bytes);
  uint64_t* host = static_cast<uint64_t*>(s.host_staging);
  uint64_t* device = static_cast<uint64_t*>(s.device_staging);
  host[s.rank] = value;
  check_cuda(cudaMemcpyAsync(device + s.rank, host + s.rank, sizeof(uint64_t), cudaMemcpyHostToDevice, s.stream),
             "all-gather copy in");
  // In place: rank r's word already sits at slot r of the receive buffer.
  check_nccl(ncclAllGather(device + s.rank, device, 1, ncclUint64, s.comm, s.stream), "ncclAllGather");
  check_cuda(cudaMemcpyAsync(host, device, bytes, cudaMemcpyDeviceToHost, s.stream), "all-gather copy out");
  wait_stream("all-gather of " + std::to_string(s.size) + " words");
  return std::vector<uint64_t>(host, host + s.size);
}

}  // namespace zotune
