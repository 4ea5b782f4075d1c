// GGUF v2/v3 reader (llama.cpp's single-file format): memory-mapped, metadata parsed into
// typed values, tensor data left in place and dequantized on request into a storage dtype.
// Shapes: GGUF lists dimensions fastest-first (ne[0] = row length); `shape` here is
// row-major like PyTorch (reversed), so a Linear weight reads [out, in].
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <variant>
#include <vector>

#include "core/tensor/dtype.h"
#include "core/tokenizer/gguf_vocabulary.h"

namespace zotune {

class MappedFile;

// ggml tensor types, numbered as in ggml.h.
enum class GgmlType : uint32_t {
  F32 = 0, F16 = 1, Q4_0 = 2, Q4_1 = 3, Q5_0 = 6, Q5_1 = 7, Q8_0 = 8, Q8_1 = 9,
  Q2_K = 10, Q3_K = 11, Q4_K = 12, Q5_K = 13, Q6_K = 14, Q8_K = 15, BF16 = 30,
};
const char* ggml_type_name(uint32_t type);  // "Q4_1", or "type 77" when unknown
bool ggml_type_dequantizable(uint32_t type);  // GgufFile::dequantize handles it
// Elements and bytes per block of a type ggml defines (1 and the element size for plain
// types, 32 or 256 and ggml's block size for the quantized ones); false when it is unknown.
bool ggml_type_block(uint32_t type, int64_t* elements, size_t* bytes);

struct GgufValue;
using GgufArray = std::vector<GgufValue>;
struct GgufValue {
  // Integers of every width widen to int64/uint64, floats to double.
  std::variant<uint64_t, int64_t, double, bool, std::string, GgufArray> value;
};

struct GgufTensor {
  std::string name;
  uint32_t type = 0;            // GgmlType value
  std::vector<int64_t> shape;   // row-major (reversed ne)
  int64_t numel = 0;
  uint64_t offset = 0;          // from the start of the data section
  const uint8_t* data = nullptr;
  size_t nbytes = 0;
};

class GgufFile {
 public:
  // Throws Error naming the file (and key or tensor) for anything truncated, garbled or
  // inconsistent: bad magic or version, sizes that run past the end, unknown value types,
  // tensors overlapping or outside the data section, tensor types ggml does not define.
  // Tensors of a type ggml defines but this reader cannot dequantize (IQ*, TQ*, ...) still
  // open, so metadata and vocabulary stay readable; dequantize() rejects them.
  static GgufFile open(const std::string& path);
  // The same parser over a GGUF image already in memory (fuzz targets, embedded files).
  // `data` must outlive the result: tensors point into it. `name` stands in for the path
  // in error messages and path().
  static GgufFile from_memory(const uint8_t* data, size_t size, const std::string& name);
  GgufFile(GgufFile&&) noexcept;
  GgufFile& operator=(GgufFile&&) noexcept;
  ~GgufFile();

  const std::string& path() const { return path_; }
  uint32_t version() const { return version_; }
  const std::map<std::string, GgufValue>& metadata() const { return metadata_; }
  const GgufValue* find(const std::string& key) const;
  // Typed getters; throw Error naming the key when missing or of another type.
  std::string get_string(const std::string& key) const;
  int64_t get_int(const std::string& key) const;     // any integer type
  double get_float(const std::string& key) const;    // any float or integer type
  bool get_bool(const std::string& key) const;
  std::vector<std::string> get_string_array(const std::string& key) const;
  std::vector<double> get_float_array(const std::string& key) const;
  std::vector<int64_t> get_int_array(const std::string& key) const;

  const std::vector<GgufTensor>& tensors() const { return tensors_; }
  const GgufTensor* find_tensor(const std::string& name) const;
  // Dequantizes all elements of `t` into `out` (numel elements of dtype `out_type`),
  // through fp32 (F16->F16 and BF16->BF16 copy bits). Supported tensor types: F32, F16,
  // BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K; any other throws
  // Error naming the tensor and its type.
  void dequantize(const GgufTensor& t, DType out_type, void* out) const;

 private:
  GgufFile() = default;
  std::string path_;
  uint32_t version_ = 0;
  std::unique_ptr<MappedFile> file_;
  std::map<std::string, GgufValue> metadata_;
  std::vector<GgufTensor> tensors_;
  std::map<std::string, size_t> tensor_index_;
};

// The tokenizer.ggml.* keys of a GGUF file, for Tokenizer::from_gguf.
GgufVocabulary read_gguf_vocabulary(const GgufFile& file);

}  // namespace zotune
