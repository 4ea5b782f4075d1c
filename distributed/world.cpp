#include "distributed/world.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <thread>
#include <cstdlib>

#ifdef ZOTUNE_HAVE_MPI
#include <mpi.h>
#endif

namespace zotune {

namespace {
bool g_started = false;
}

World& World::instance(int* argc, char*** argv) {
  static World world(argc, argv);
  g_started = true;
  return world;
}

bool World::started() { return g_started; }

void World::arm_abort_watchdog(int code, int grace_s) const {
  if (size_ <= 1) return;
  std::thread([this, code, grace_s] {
    std::this_thread::sleep_for(std::chrono::seconds(grace_s));
    abort(code);
  }).detach();
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

std::vector<std::string> World::hosts() const {
  constexpr int kNameBytes = 256;  // HOST_NAME_MAX is 64 on Linux; room to spare
  std::string mine = host();
  mine.resize(kNameBytes, '\0');
  std::vector<char> all(static_cast<size_t>(kNameBytes) * size_, '\0');
#ifdef ZOTUNE_HAVE_MPI
  if (size_ > 1) {
    MPI_Allgather(mine.data(), kNameBytes, MPI_CHAR, all.data(), kNameBytes, MPI_CHAR, MPI_COMM_WORLD);
  } else {
    std::copy(mine.begin(), mine.end(), all.begin());
  }
#else
  std::copy(mine.begin(), mine.end(), all.begin());
#endif
  std::vector<std::string> out;
  for (int r = 0; r < size_; ++r) out.emplace_back(all.data() + static_cast<size_t>(r) * kNameBytes);
  return out;
}

void World::abort(int code) const {
#ifdef ZOTUNE_HAVE_MPI
  if (size_ > 1) MPI_Abort(MPI_COMM_WORLD, code);
#endif
  std::exit(code);
}

}  // namespace zotune
