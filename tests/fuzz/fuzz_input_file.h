// The fuzz targets whose parsers read a path (data readers, grid files, HDF5 run logs) write
// each input to a file of their own first. The file lives in a folder private to the process
// (under $TMPDIR, /dev/shm when present, so no disk is touched per execution), so a relative
// path inside an input (a grid's `base:`) names nothing, and parallel fuzzers never share one.
#pragma once
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

namespace zotune::fuzz {

// Writes data[0, size) to <private folder>/<name> and returns that path.
inline std::string write_input_file(const uint8_t* data, size_t size, const std::string& name) {
  // Removed at exit (a process that crashes leaves its folder behind, with the one input).
  struct Folder {
    std::filesystem::path path;
    ~Folder() {
      std::error_code ec;
      std::filesystem::remove_all(path, ec);
    }
  };
  static const Folder folder{[] {
    std::filesystem::path root = "/tmp";
    if (const char* env = std::getenv("TMPDIR"); env && *env) {
      root = env;
    } else if (std::filesystem::is_directory("/dev/shm")) {
      root = "/dev/shm";
    }
    std::filesystem::path dir = root / ("zotune_fuzz_" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    return dir;
  }()};
  const std::filesystem::path path = folder.path / name;
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  out.close();
  if (!out) {
    std::perror(path.c_str());
    std::abort();  // the harness failed, not the parser: stop loudly
  }
  return path.string();
}

}  // namespace zotune::fuzz
