// Hugging Face safetensors: reader (single file, or a sharded model.safetensors.index.json,
// each shard memory-mapped) and writer. Format: 8-byte little-endian header length N,
// N bytes of JSON {name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {...}},
// then the raw little-endian data.
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/tensor/dtype.h"

namespace zotune {

class MappedFile;

struct SafetensorsTensor {
  std::string name;
  std::string dtype;            // as in the file: "F32", "F16", "BF16", "F64", "I64", "I32", "I16", "I8", "U8", "BOOL", ...
  std::vector<int64_t> shape;
  const uint8_t* data = nullptr;
  size_t nbytes = 0;
  std::string file;             // the shard it lives in
};

class SafetensorsArchive {
 public:
  // `path`: a .safetensors file, a .safetensors.index.json, or a directory holding
  // model.safetensors or model.safetensors.index.json. Throws Error naming the file and
  // tensor for a truncated file, a header that lies about sizes or offsets, overlapping
  // or out-of-range data, an unknown dtype, a shard the index names but that is missing.
  static SafetensorsArchive open(const std::string& path);
  // The single-file parser over a safetensors image already in memory (fuzz targets). `data`
  // must outlive the result: tensors point into it. `name` stands in for the file name in
  // error messages and SafetensorsTensor::file.
  static SafetensorsArchive from_memory(const uint8_t* data, size_t size, const std::string& name);
  SafetensorsArchive(SafetensorsArchive&&) noexcept;
  SafetensorsArchive& operator=(SafetensorsArchive&&) noexcept;
  ~SafetensorsArchive();

  const SafetensorsTensor* find(const std::string& name) const;
  const SafetensorsTensor& at(const std::string& name) const;  // throws Error naming tensor and file
  std::vector<std::string> names() const;                      // sorted
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  // Converts a floating-point tensor (F32/F16/BF16/F64) into `out` (numel elements of
  // `out_type`): same-type copies are bit-exact, narrowing rounds to nearest even.
  void read(const std::string& name, DType out_type, void* out) const;
  // Reads an integer tensor (I64/I32/I16/I8/U64/U32/U16/U8/BOOL) widened to int64; a U64
  // value above INT64_MAX throws.
  std::vector<int64_t> read_int(const std::string& name) const;

 private:
  SafetensorsArchive() = default;
  std::string source_;  // the path open() was given, or from_memory's name: for errors
  std::vector<std::unique_ptr<MappedFile>> files_;
  std::map<std::string, SafetensorsTensor> tensors_;
  std::map<std::string, std::string> metadata_;
};

struct SafetensorsEntry {
  std::string name;
  std::string dtype;            // "F32", "F16", "BF16", "I64", "I32", ...
  std::vector<int64_t> shape;
  const void* data = nullptr;   // numel * element size bytes
};
const char* safetensors_dtype_name(DType t);  // "F32", "F16", "BF16"

// Writes a single-file safetensors byte for byte as the Hugging Face `safetensors` library
// does: header JSON padded with spaces to a multiple of 8 bytes, `__metadata__` first (only
// when non-empty), tensors laid out contiguously ordered by dtype (widest first, so every
// tensor stays aligned to its element size) then name. Atomic: written to path + ".tmp",
// flushed to disk, then renamed over `path`. Throws Error naming the path or tensor.
void write_safetensors(const std::string& path, const std::vector<SafetensorsEntry>& tensors,
                       const std::map<std::string, std::string>& metadata = {});

}  // namespace zotune
