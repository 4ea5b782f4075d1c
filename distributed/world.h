// The process group: MPI when built with it and launched under mpirun, else one rank.
#pragma once
#include <string>
#include <vector>

namespace zotune {

class World {
 public:
  // Initializes MPI when available (idempotent); a plain run is rank 0 of 1.
  static World& instance(int* argc = nullptr, char*** argv = nullptr);
  // Whether instance() has run (commands that never touch MPI do not start it).
  static bool started();
  int rank() const { return rank_; }
  int size() const { return size_; }
  bool is_root() const { return rank_ == 0; }
  bool mpi() const { return mpi_; }
  std::string host() const;
  // Every rank's host name, in rank order (collective: every rank must call it).
  std::vector<std::string> hosts() const;
  // Ends every rank: an error seen by one rank only must not leave the others blocked in a
  // collective. Without MPI, std::exit.
  [[noreturn]] void abort(int code) const;
  // For a rank leaving with an error: when every rank fails alike (a bad run file, a NaN
  // loss) they all return and finalize normally; a rank that fails alone would leave the
  // others blocked in a collective, so a watchdog aborts the whole job after `grace_s`.
  void arm_abort_watchdog(int code, int grace_s) const;
  ~World();

 private:
  World(int* argc, char*** argv);
  int rank_ = 0;
  int size_ = 1;
  bool mpi_ = false;
  bool owns_mpi_ = false;
};

}  // namespace zotune
