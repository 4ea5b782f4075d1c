#include "distributed/communicator.h"

#include "core/util/error.h"
#include "distributed/nccl_exchange.h"
#include "distributed/world.h"

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <deque>
#include <functional>
#include <thread>

#ifdef ZOTUNE_HAVE_MPI
#include <mpi.h>
#endif
#ifdef ZOTUNE_DISTRIBUTED_CUDA
#include <cuda_runtime.h>
#endif

namespace zotune {

// The deadline of every collective and the roll call that names the ranks that do not answer.
struct Communicator::Watch {
  using Clock = std::chrono::steady_clock;
  // How long a rank whose deadline passed waits for the others to answer its roll call: live
  // ranks answer from their own polling loop within milliseconds.
  static constexpr double kRollCallSeconds = 3.0;
  static constexpr int kRollCallTag = 1, kAnswerTag = 2;

  double timeout_s = 0.0;
  int rank = 0, size = 1;
  int64_t step = -1;
  int64_t entered = 0;  // collectives this rank has entered (the roll call reports it)
#ifdef ZOTUNE_HAVE_MPI
  MPI_Comm roll_comm = MPI_COMM_NULL;
  // Answers in flight: each Isend's buffer must live until it completes.
  std::deque<std::pair<MPI_Request, std::array<int64_t, 2>>> answers;
#endif

  ~Watch() {
#ifdef ZOTUNE_HAVE_MPI
    // Freed only when MPI still runs and every answer has gone (after a timeout the job aborts).
    int finalized = 1;
    MPI_Finalized(&finalized);
    if (!finalized && roll_comm != MPI_COMM_NULL && answers.empty()) MPI_Comm_free(&roll_comm);
#endif
  }

  // Answers the roll calls of ranks whose deadline passed: which collective and step this rank is at.
  void answer_roll_calls() {
#ifdef ZOTUNE_HAVE_MPI
    for (;;) {
      int pending = 0;
      MPI_Status status;
      MPI_Iprobe(MPI_ANY_SOURCE, kRollCallTag, roll_comm, &pending, &status);
      if (!pending) break;
      int64_t caller[2];
      MPI_Recv(caller, 2, MPI_INT64_T, status.MPI_SOURCE, kRollCallTag, roll_comm, MPI_STATUS_IGNORE);
      answers.emplace_back();
      answers.back().second = {entered, step};
      MPI_Isend(answers.back().second.data(), 2, MPI_INT64_T, status.MPI_SOURCE, kAnswerTag, roll_comm,
                &answers.back().first);
    }
    while (!answers.empty()) {
      int sent = 0;
      MPI_Test(&answers.front().first, &sent, MPI_STATUS_IGNORE);
      if (!sent) break;
      answers.pop_front();
    }
#endif
  }

  // Polls `done` until it says the collective completed; past the deadline, calls the roll,
  // then `abort` and throws CollectiveTimeout (unless the collective completes meanwhile).
  void wait(const std::function<bool()>& done, const std::string& what, const std::function<void()>& abort) {
    const auto start = Clock::now();
    const auto deadline = start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(timeout_s));
    // Spin for the first 2 ms (a step's exchange is usually done by then), then poll every
    // 200 us so that a waiting rank leaves the cores to ranks still computing.
    const auto spin_until = start + std::chrono::milliseconds(2);
    for (;;) {
      if (done()) return;
      answer_roll_calls();
      const auto now = Clock::now();
      if (now >= deadline) break;
      if (now >= spin_until) std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
    call_the_roll(done, what, abort);
  }

  [[noreturn]] void fail(const std::string& message, const std::function<void()>& abort) {
    if (abort) abort();
    throw CollectiveTimeout(message);
  }

  void call_the_roll(const std::function<bool()>& done, const std::string& what, const std::function<void()>& abort) {
    std::string where = step >= 0 ? "step " + std::to_string(step) : "outside the training steps";
    const std::string head = "distributed.timeout_s: " + where + ": rank " + std::to_string(rank) + " waited " +
                             format_seconds(timeout_s) + " s for " + what + " (its collective " +
                             std::to_string(entered) + ")";
#ifdef ZOTUNE_HAVE_MPI
    std::vector<std::array<int64_t, 2>> calls(size);
    std::vector<MPI_Request> requests;
    for (int r = 0; r < size; ++r) {
      if (r == rank) continue;
      calls[r] = {entered, step};
      requests.emplace_back();
      MPI_Isend(calls[r].data(), 2, MPI_INT64_T, r, kRollCallTag, roll_comm, &requests.back());
    }
    std::vector<bool> answered(size, false);
    answered[rank] = true;
    std::vector<std::array<int64_t, 2>> state(size, {entered, step});
    const auto until = Clock::now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(kRollCallSeconds));
    while (Clock::now() < until && std::count(answered.begin(), answered.end(), false) > 0) {
      if (done()) return;  // late, but complete: no rank is hung
      answer_roll_calls();
      int pending = 0;
      MPI_Status status;
      MPI_Iprobe(MPI_ANY_SOURCE, kAnswerTag, roll_comm, &pending, &status);
      if (pending) {
        MPI_Recv(state[status.MPI_SOURCE].data(), 2, MPI_INT64_T, status.MPI_SOURCE, kAnswerTag, roll_comm,
                 MPI_STATUS_IGNORE);
        answered[status.MPI_SOURCE] = true;
      } else {
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
      }
    }
    if (done()) return;
    std::string silent, others;
    int silent_count = 0;
    for (int r = 0; r < size; ++r) {
      if (r == rank) continue;
      if (!answered[r]) {
        silent += (silent.empty() ? "" : ", ") + std::to_string(r);
        ++silent_count;
      } else if (state[r][0] != entered || state[r][1] != step) {
        others += "; rank " + std::to_string(r) + " is at its collective " + std::to_string(state[r][0]) +
                  (state[r][1] >= 0 ? " (step " + std::to_string(state[r][1]) + ")" : "");
      }
    }
    if (silent_count > 0)
      fail(head + ": rank" + (silent_count > 1 ? "s " : " ") + silent + " did not answer (hung, stopped or dead)" + others,
           abort);
    fail(head + ": every rank answered the roll call but the collective did not complete" +
             (others.empty() ? std::string("") : others),
         abort);
#else
    (void)done;
    fail(head, abort);
#endif
  }

  static std::string format_seconds(double seconds) {
    char text[32];
    std::snprintf(text, sizeof text, "%g", seconds);
    return text;
  }
};

namespace {

#ifdef ZOTUNE_HAVE_MPI
// A non-blocking MPI collective waited for: with the watch, against its deadline.
void wait_request(Communicator::Watch* watch, MPI_Request& request, const std::string& what) {
  if (!watch) {
    MPI_Wait(&request, MPI_STATUS_IGNORE);
    return;
  }
  watch->wait(
      [&] {
        int complete = 0;
        MPI_Test(&request, &complete, MPI_STATUS_IGNORE);
        return complete != 0;
      },
      what, {});
}
#endif

// MPI counts are int: host bytes go in pieces of 1 GiB.
void mpi_broadcast_bytes(Communicator::Watch* watch, void* data, size_t bytes, int root) {
#ifdef ZOTUNE_HAVE_MPI
  const size_t chunk = size_t(1) << 30;
  for (size_t at = 0; at < bytes; at += chunk) {
    const int n = static_cast<int>(std::min(chunk, bytes - at));
    if (!watch) {
      MPI_Bcast(static_cast<char*>(data) + at, n, MPI_BYTE, root, MPI_COMM_WORLD);
      continue;
    }
    MPI_Request request;
    MPI_Ibcast(static_cast<char*>(data) + at, n, MPI_BYTE, root, MPI_COMM_WORLD, &request);
    wait_request(watch, request, "the broadcast of " + std::to_string(bytes) + " bytes from rank " + std::to_string(root));
  }
#else
  (void)watch, (void)data, (void)bytes, (void)root;
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
  attach_watch_to_nccl();
#else
  (void)device;
  throw Error("distributed.backend: nccl needs a build with ZOTUNE_NCCL (CUDA, MPI and NCCL); this build has none: "
              "use distributed.backend: mpi");
#endif
}

void Communicator::set_timeout(double seconds) {
  check(seconds >= 0, "distributed.timeout_s: " + std::to_string(seconds) + " is negative");
  if (seconds == 0 || size_ == 1) {
    watch_.reset();
  } else {
#ifdef ZOTUNE_HAVE_MPI
    auto watch = std::make_shared<Watch>();
    watch->timeout_s = seconds;
    watch->rank = rank_;
    watch->size = size_;
    MPI_Comm_dup(MPI_COMM_WORLD, &watch->roll_comm);
    if (watch_) watch->step = watch_->step;
    watch_ = std::move(watch);
#endif
  }
  attach_watch_to_nccl();
}

double Communicator::timeout_s() const { return watch_ ? watch_->timeout_s : 0.0; }

void Communicator::set_step(int64_t step) {
  if (watch_) watch_->step = step;
}

void Communicator::attach_watch_to_nccl() {
#ifdef ZOTUNE_HAVE_NCCL
  if (!nccl_) return;
  if (!watch_) {
    nccl_->set_waiter({});
    return;
  }
  std::shared_ptr<Watch> watch = watch_;
  nccl_->set_waiter([watch](const std::function<bool()>& done, const std::string& what,
                            const std::function<void()>& abort) { watch->wait(done, what, abort); });
#endif
}

void Communicator::allreduce_sum(std::vector<double>& values) {
  bytes_reduced_ += values.size() * sizeof(double);
  ++collective_calls_;
  if (watch_) ++watch_->entered;
#ifdef ZOTUNE_HAVE_NCCL
  if (nccl_) {
    nccl_->allreduce_sum(values);
    return;
  }
#endif
#ifdef ZOTUNE_HAVE_MPI
  if (size_ > 1) {
    if (!watch_) {
      MPI_Allreduce(MPI_IN_PLACE, values.data(), static_cast<int>(values.size()), MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
    } else {
      MPI_Request request;
      MPI_Iallreduce(MPI_IN_PLACE, values.data(), static_cast<int>(values.size()), MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD,
                     &request);
      wait_request(watch_.get(), request, "the all-reduce of " + std::to_string(values.size()) + " doubles");
    }
  }
#endif
}

void Communicator::broadcast(void* data, size_t bytes, int root) {
  bytes_broadcast_ += bytes;
  ++collective_calls_;
  if (watch_) ++watch_->entered;
  if (size_ > 1) mpi_broadcast_bytes(watch_.get(), data, bytes, root);
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
  if (watch_) ++watch_->entered;
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
    mpi_broadcast_bytes(watch_.get(), host.data(), n, root);
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
  if (watch_) ++watch_->entered;
#ifdef ZOTUNE_HAVE_NCCL
  if (nccl_) return nccl_->allgather(value);
#endif
  std::vector<uint64_t> all(size_, value);
#ifdef ZOTUNE_HAVE_MPI
  if (size_ > 1) {
    if (!watch_) {
      MPI_Allgather(&value, 1, MPI_UINT64_T, all.data(), 1, MPI_UINT64_T, MPI_COMM_WORLD);
    } else {
      MPI_Request request;
      MPI_Iallgather(&value, 1, MPI_UINT64_T, all.data(), 1, MPI_UINT64_T, MPI_COMM_WORLD, &request);
      wait_request(watch_.get(), request, "the all-gather of " + std::to_string(size_) + " words");
    }
  }
#endif
  return all;
}

void Communicator::barrier() {
  ++collective_calls_;
  if (watch_) ++watch_->entered;
#ifdef ZOTUNE_HAVE_MPI
  if (size_ > 1) {
    if (!watch_) {
      MPI_Barrier(MPI_COMM_WORLD);
    } else {
      MPI_Request request;
      MPI_Ibarrier(MPI_COMM_WORLD, &request);
      wait_request(watch_.get(), request, "a barrier");
    }
  }
#endif
}

}  // namespace zotune
