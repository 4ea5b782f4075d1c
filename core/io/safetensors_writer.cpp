// write_safetensors: the byte layout of the Rust `safetensors` crate's serialize().
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <nlohmann/json.hpp>
#include <set>

#include "core/io/safetensors.h"
#include "core/io/safetensors_dtypes.h"
#include "core/tensor/param_store.h"
#include "core/util/error.h"

namespace zotune {
namespace {

using safetensors_detail::DtypeInfo;
using safetensors_detail::find_dtype;

static_assert(std::endian::native == std::endian::little, "the header length is written in host byte order");

struct Planned {
  const SafetensorsEntry* entry;
  const DtypeInfo* info;
  uint64_t nbytes;
};

// Closes the descriptor and removes the temporary file unless commit() ran.
class TempFile {
 public:
  TempFile(std::string path, std::string target) : path_(std::move(path)), target_(std::move(target)) {
    fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd_ < 0) fail("cannot create " + path_);
  }
  ~TempFile() {
    if (fd_ >= 0) ::close(fd_);
    if (!committed_) ::unlink(path_.c_str());
  }
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;

  void write(const void* data, size_t n) {
    const uint8_t* p = static_cast<const uint8_t*>(data);
    while (n > 0) {
      const ssize_t written = ::write(fd_, p, n);
      if (written < 0 && errno == EINTR) continue;
      if (written <= 0) fail("cannot write " + path_);
      p += written;
      n -= static_cast<size_t>(written);
    }
  }

  // Data reaches the disk before the rename makes it visible under the final name, so a
  // crash leaves either the old file or the complete new one.
  void commit() {
    if (::fsync(fd_) != 0) fail("cannot sync " + path_);
    const int fd = fd_;
    fd_ = -1;
    if (::close(fd) != 0) fail("cannot close " + path_);
    if (::rename(path_.c_str(), target_.c_str()) != 0) fail("cannot rename " + path_ + " to " + target_);
    committed_ = true;
  }

 private:
  [[noreturn]] void fail(const std::string& what) const {
    throw Error(target_ + ": " + what + ": " + std::strerror(errno));
  }
  std::string path_, target_;
  int fd_ = -1;
  bool committed_ = false;
};

}  // namespace

const char* safetensors_dtype_name(DType t) {
  switch (t) {
    case DType::F32: return "F32";
    case DType::F16: return "F16";
    case DType::BF16: return "BF16";
  }
  return "?";
}

void write_safetensors(const std::string& path, const std::vector<SafetensorsEntry>& tensors,
                       const std::map<std::string, std::string>& metadata) {
  std::vector<Planned> plan;
  plan.reserve(tensors.size());
  std::set<std::string> names;
  for (const SafetensorsEntry& e : tensors) {
    const std::string where = path + ": tensor '" + e.name + "'";
    if (e.name.empty() || e.name == "__metadata__") throw Error(path + ": invalid tensor name '" + e.name + "'");
    if (!names.insert(e.name).second) throw Error(where + " is given twice");
    const DtypeInfo* info = find_dtype(e.dtype);
    if (info == nullptr) throw Error(where + ": unknown dtype '" + e.dtype + "'");
    uint64_t nbytes = info->size;
    for (int64_t d : e.shape) {
      if (d < 0) throw Error(where + ": shape " + shape_string(e.shape) + " has a negative dimension");
      if (__builtin_mul_overflow(nbytes, static_cast<uint64_t>(d), &nbytes)) throw Error(where + ": shape overflows");
    }
    if (nbytes > 0 && e.data == nullptr) throw Error(where + ": no data for " + std::to_string(nbytes) + " bytes");
    plan.push_back({&e, info, nbytes});
  }
  // Widest dtype first keeps every tensor aligned to its element size inside the 8-aligned
  // data section; names order tensors of one dtype.
  std::sort(plan.begin(), plan.end(), [](const Planned& a, const Planned& b) {
    if (a.info->rank != b.info->rank) return a.info->rank > b.info->rank;
    return a.entry->name < b.entry->name;
  });

  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  uint64_t offset = 0;
  for (const Planned& p : plan) {
    nlohmann::ordered_json entry;
    entry["dtype"] = p.entry->dtype;
    entry["shape"] = p.entry->shape;
    entry["data_offsets"] = {offset, offset + p.nbytes};
    header[p.entry->name] = std::move(entry);
    offset += p.nbytes;
  }
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');
  const uint64_t header_len = text.size();

  TempFile out(path + ".tmp", path);
  out.write(&header_len, 8);
  out.write(text.data(), text.size());
  for (const Planned& p : plan) out.write(p.entry->data, static_cast<size_t>(p.nbytes));
  out.commit();
}

}  // namespace zotune
