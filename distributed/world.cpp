#include "distributed/world.h"

#include <unistd.h>

#ifdef ZOTUNE_HAVE_MPI
#include <mpi.h>
#endif

namespace zotune {

World& World::instance(int* argc, char*** argv) {
  static World world(argc, argv);
  return world;
}

World::World(int* argc, char*** argv) {
#ifdef ZOTUNE_HAVE_MPI
  int initialized = 0;
  MPI_Initialized(&initialized);
  if (!initialized) {
    MPI_Init(argc, argv);
    owns_mpi_ = true;
  }
  MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
  MPI_Comm_size(MPI_COMM_WORLD, &size_);
  mpi_ = true;
#endif
}

World::~World() {
#ifdef ZOTUNE_HAVE_MPI
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (owns_mpi_ && !finalized) MPI_Finalize();
#endif
}

std::string World::host() const {
  char name[256] = {0};
  gethostname(name, sizeof(name) - 1);
  return name;
}

}  // namespace zotune
