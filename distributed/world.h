// The process group: MPI when built with it and launched under mpirun, else one rank.
#pragma once
#include <string>

namespace zotune {

class World {
 public:
  // Initializes MPI when available (idempotent); a plain run is rank 0 of 1.
  static World& instance(int* argc = nullptr, char*** argv = nullptr);
  int rank() const { return rank_; }
  int size() const { return size_; }
  bool is_root() const { return rank_ == 0; }
  bool mpi() const { return mpi_; }
  std::string host() const;
  ~World();

 private:
  World(int* argc, char*** argv);
  int rank_ = 0;
  int size_ = 1;
  bool mpi_ = false;
  bool owns_mpi_ = false;
};

}  // namespace zotune
