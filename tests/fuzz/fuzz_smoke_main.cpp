// The fuzz smoke: runs one fuzz target's entry point (its LLVMFuzzerTestOneInput, compiled
// under another name, see CMakeLists.txt) over every file of the given folders, as libFuzzer
// does when given a corpus without -runs: the seed corpus and the inputs that once crashed
// the target. Built by any compiler, without libFuzzer, so every CI build replays them; a crash,
// abort or sanitizer report (in a sanitized build) fails the ctest. As under libFuzzer
// (-rss_limit_mb=2048 -timeout=10), an input may not allocate without bound or run long:
// the data segment is capped (4 GiB, leaving room for the BLAS and MPI buffers of large
// machines) and each input gets 30 seconds, so a regression fails in seconds instead of
// eating the machine's memory.
//   zotune_fuzz_smoke <target> <file or folder>...
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "fuzz_smoke_targets.h"

namespace fs = std::filesystem;

#if defined(__SANITIZE_ADDRESS__)
#define ZOTUNE_SMOKE_UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define ZOTUNE_SMOKE_UNDER_ASAN 1
#endif
#endif

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s <target> <file or folder>...\ntargets:", argv[0]);
    for (const auto& t : kFuzzTargets) std::fprintf(stderr, " %s", t.first);
    std::fprintf(stderr, "\n");
    return 2;
  }
  const auto* target = std::find_if(std::begin(kFuzzTargets), std::end(kFuzzTargets),
                                    [&](const auto& t) { return std::strcmp(t.first, argv[1]) == 0; });
  if (target == std::end(kFuzzTargets)) {
    std::fprintf(stderr, "%s: unknown fuzz target '%s'\n", argv[0], argv[1]);
    return 2;
  }
  std::vector<fs::path> inputs;
  for (int i = 2; i < argc; ++i) {
    const fs::path arg = argv[i];
    if (fs::is_directory(arg)) {
      for (const auto& entry : fs::recursive_directory_iterator(arg))
        if (entry.is_regular_file() && entry.path().filename().string()[0] != '.') inputs.push_back(entry.path());
    } else if (fs::is_regular_file(arg)) {
      inputs.push_back(arg);
    } else if (arg.parent_path().filename() != "regressions") {
      // A target that never crashed has no regressions/<target> folder; any other missing
      // path is an error (the smoke would check nothing).
      std::fprintf(stderr, "%s: no such file or folder\n", arg.c_str());
      return 1;
    }
  }
  std::sort(inputs.begin(), inputs.end());
#ifndef ZOTUNE_SMOKE_UNDER_ASAN
  const rlimit data_limit{4ull << 30, 4ull << 30};  // ASan's shadow memory would not fit
  setrlimit(RLIMIT_DATA, &data_limit);
#endif
  for (const fs::path& path : inputs) {
    alarm(30);  // SIGALRM ends the process: a hang fails the test
    std::ifstream in(path, std::ios::binary);
    const std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::printf("%s\n", path.c_str());
    std::fflush(stdout);  // a crash then names the input that caused it
    target->second(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
  }
  std::printf("%s: %zu inputs, all accepted or refused cleanly\n", target->first, inputs.size());
  return 0;
}
