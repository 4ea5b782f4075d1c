// GGUF parser. Layout (all little-endian):
//   "GGUF" | u32 version | u64 tensor_count | u64 kv_count
//   kv_count x { string key | u32 value_type | value }
//   tensor_count x { string name | u32 n_dims | u64 ne[n_dims] | u32 ggml_type | u64 offset }
//   padding to general.alignment (default 32) | data section (tensor offsets count from here)
// where a string is u64 length + bytes and an array value is u32 element type + u64 count +
// elements. Every length and count is checked against the bytes left before anything is
// allocated, so a lying header costs an error message, not memory.
#include "core/io/gguf.h"

#include <algorithm>
#include <bit>
#include <cstdio>
#include <cstring>
#include <limits>
#include <numeric>
#include <utility>

#include "core/io/mapped_file.h"
#include "core/util/error.h"
#include "kernels/cpu/dequantize.h"

namespace zotune {
namespace {

static_assert(std::endian::native == std::endian::little, "the GGUF reader assumes a little-endian host");

constexpr uint32_t kDefaultAlignment = 32;
constexpr int kMaxDims = 4;             // GGML_MAX_DIMS
constexpr int kMaxArrayNesting = 8;     // real files nest at most once; bounds the recursion
constexpr uint64_t kMaxKeyLength = 65535;
// Each parsed element costs ~40 bytes of GgufValue; real arrays (vocabularies, merges) stay
// below a million entries, so a longer one is corrupt, not a model.
constexpr uint64_t kMaxArrayLength = uint64_t{1} << 24;
// Containers grow as elements actually parse, so a lying count cannot reserve memory the
// file does not back.
constexpr uint64_t kMaxUpfrontReserve = 4096;

using DequantizeRow = void (*)(const uint8_t*, float*, int64_t);

struct GgmlTypeTraits {
  uint32_t id;
  const char* name;
  int64_t block;          // elements per block
  size_t block_bytes;     // bytes per block
  DequantizeRow dequantize_row;  // null: known to ggml, not dequantized here
};

// Every type ggml.h defines (ids 4, 5, 31-33, 36-38 were removed upstream), sizes from
// ggml's type_traits.
constexpr GgmlTypeTraits kGgmlTypes[] = {
    {0, "F32", 1, 4, cpu::dequantize_row_f32},
    {1, "F16", 1, 2, cpu::dequantize_row_f16},
    {2, "Q4_0", 32, cpu::kQ4_0Bytes, cpu::dequantize_row_q4_0},
    {3, "Q4_1", 32, cpu::kQ4_1Bytes, cpu::dequantize_row_q4_1},
    {6, "Q5_0", 32, cpu::kQ5_0Bytes, cpu::dequantize_row_q5_0},
    {7, "Q5_1", 32, cpu::kQ5_1Bytes, cpu::dequantize_row_q5_1},
    {8, "Q8_0", 32, cpu::kQ8_0Bytes, cpu::dequantize_row_q8_0},
    {9, "Q8_1", 32, 36, nullptr},
    {10, "Q2_K", 256, cpu::kQ2_KBytes, cpu::dequantize_row_q2_k},
    {11, "Q3_K", 256, cpu::kQ3_KBytes, cpu::dequantize_row_q3_k},
    {12, "Q4_K", 256, cpu::kQ4_KBytes, cpu::dequantize_row_q4_k},
    {13, "Q5_K", 256, cpu::kQ5_KBytes, cpu::dequantize_row_q5_k},
    {14, "Q6_K", 256, cpu::kQ6_KBytes, cpu::dequantize_row_q6_k},
    {15, "Q8_K", 256, 292, nullptr},
    {16, "IQ2_XXS", 256, 66, nullptr},
    {17, "IQ2_XS", 256, 74, nullptr},
    {18, "IQ3_XXS", 256, 98, nullptr},
    {19, "IQ1_S", 256, 50, nullptr},
    {20, "IQ4_NL", 32, 18, nullptr},
    {21, "IQ3_S", 256, 110, nullptr},
    {22, "IQ2_S", 256, 82, nullptr},
    {23, "IQ4_XS", 256, 136, nullptr},
    {24, "I8", 1, 1, nullptr},
    {25, "I16", 1, 2, nullptr},
    {26, "I32", 1, 4, nullptr},
    {27, "I64", 1, 8, nullptr},
    {28, "F64", 1, 8, nullptr},
    {29, "IQ1_M", 256, 56, nullptr},
    {30, "BF16", 1, 2, cpu::dequantize_row_bf16},
    {34, "TQ1_0", 256, 54, nullptr},
    {35, "TQ2_0", 256, 66, nullptr},
    {39, "MXFP4", 32, 17, nullptr},
};

const GgmlTypeTraits* find_type(uint32_t id) {
  for (const GgmlTypeTraits& t : kGgmlTypes)
    if (t.id == id) return &t;
  return nullptr;
}

// gguf_type numbering of metadata values.
enum ValueType : uint32_t {
  kU8 = 0, kI8 = 1, kU16 = 2, kI16 = 3, kU32 = 4, kI32 = 5, kF32 = 6, kBool = 7,
  kString = 8, kArray = 9, kU64 = 10, kI64 = 11, kF64 = 12,
};

// Smallest encoding of one value of the type: bounds how many array elements the bytes
// left can possibly hold.
size_t min_encoded_size(uint32_t type) {
  switch (type) {
    case kU8: case kI8: case kBool: return 1;
    case kU16: case kI16: return 2;
    case kU32: case kI32: case kF32: return 4;
    case kU64: case kI64: case kF64: case kString: return 8;
    case kArray: return 12;
    default: return 0;
  }
}

// Bounds-checked little-endian cursor over the whole file. `context` names what is being
// read (a key, a tensor) so every error says where the file went wrong.
class Reader {
 public:
  Reader(const uint8_t* data, size_t size, const std::string& file) : data_(data), size_(size), file_(file) {}

  size_t pos() const { return pos_; }
  size_t remaining() const { return size_ - pos_; }
  void set_context(std::string context) { context_ = std::move(context); }

  [[noreturn]] void fail(const std::string& problem) const {
    throw Error(file_ + ": " + (context_.empty() ? "" : context_ + ": ") + problem);
  }

  void need(uint64_t n, const char* what) const {
    if (n > remaining())
      fail("truncated: " + std::string(what) + " at byte " + std::to_string(pos_) + " needs " + std::to_string(n) +
           " bytes but the file has " + std::to_string(remaining()) + " left");
  }

  template <typename T>
  T scalar(const char* what) {
    need(sizeof(T), what);
    T v;
    std::memcpy(&v, data_ + pos_, sizeof(T));
    pos_ += sizeof(T);
    return v;
  }

  std::string string(const char* what) {
    const uint64_t length = scalar<uint64_t>(what);
    if (length > remaining())
      fail(std::string(what) + " length " + std::to_string(length) + " at byte " + std::to_string(pos_ - 8) +
           " runs past the end of the file (" + std::to_string(remaining()) + " bytes left)");
    std::string s(reinterpret_cast<const char*>(data_ + pos_), static_cast<size_t>(length));
    pos_ += static_cast<size_t>(length);
    return s;
  }

 private:
  const uint8_t* data_;
  size_t size_;
  size_t pos_ = 0;
  const std::string& file_;
  std::string context_;
};

GgufValue read_value(Reader& r, uint32_t type, int depth) {
  switch (type) {
    case kU8: return {uint64_t{r.scalar<uint8_t>("uint8 value")}};
    case kI8: return {int64_t{r.scalar<int8_t>("int8 value")}};
    case kU16: return {uint64_t{r.scalar<uint16_t>("uint16 value")}};
    case kI16: return {int64_t{r.scalar<int16_t>("int16 value")}};
    case kU32: return {uint64_t{r.scalar<uint32_t>("uint32 value")}};
    case kI32: return {int64_t{r.scalar<int32_t>("int32 value")}};
    case kU64: return {r.scalar<uint64_t>("uint64 value")};
    case kI64: return {r.scalar<int64_t>("int64 value")};
    case kF32: return {double{r.scalar<float>("float32 value")}};
    case kF64: return {r.scalar<double>("float64 value")};
    case kBool: return {r.scalar<uint8_t>("bool value") != 0};
    case kString: return {r.string("string value")};
    case kArray: {
      if (depth >= kMaxArrayNesting) r.fail("arrays nested deeper than " + std::to_string(kMaxArrayNesting) + " levels");
      const uint32_t element_type = r.scalar<uint32_t>("array element type");
      const size_t element_size = min_encoded_size(element_type);
      if (element_size == 0) r.fail("unknown array element type " + std::to_string(element_type));
      const uint64_t count = r.scalar<uint64_t>("array length");
      if (count > r.remaining() / element_size)
        r.fail("array of " + std::to_string(count) + " elements at byte " + std::to_string(r.pos() - 8) +
               " cannot fit in the " + std::to_string(r.remaining()) + " bytes left");
      if (count > kMaxArrayLength)
        r.fail("array of " + std::to_string(count) + " elements is longer than the limit of " + std::to_string(kMaxArrayLength));
      GgufArray elements;
      elements.reserve(static_cast<size_t>(std::min(count, kMaxUpfrontReserve)));
      for (uint64_t i = 0; i < count; ++i) elements.push_back(read_value(r, element_type, depth + 1));
      return {std::move(elements)};
    }
    default: r.fail("unknown value type " + std::to_string(type));
  }
}

uint64_t align_up(uint64_t x, uint64_t alignment) { return (x + alignment - 1) / alignment * alignment; }

uint32_t alignment_of(const std::map<std::string, GgufValue>& metadata, const std::string& file) {
  const auto it = metadata.find("general.alignment");
  if (it == metadata.end()) return kDefaultAlignment;
  const uint64_t* a = std::get_if<uint64_t>(&it->second.value);
  const int64_t* s = std::get_if<int64_t>(&it->second.value);
  const uint64_t value = a ? *a : (s && *s > 0 ? static_cast<uint64_t>(*s) : 0);
  if (value == 0 || !std::has_single_bit(value) || value > (uint64_t{1} << 30))
    throw Error(file + ": key 'general.alignment' must be a power-of-two integer up to 2^30");
  return static_cast<uint32_t>(value);
}

struct ParsedGguf {
  uint32_t version = 0;
  std::map<std::string, GgufValue> metadata;
  std::vector<GgufTensor> tensors;
};

void read_tensor_info(Reader& r, uint64_t index, uint32_t alignment, GgufTensor& t) {
  r.set_context("tensor info " + std::to_string(index));
  t.name = r.string("tensor name");
  r.set_context("tensor '" + t.name + "'");
  const uint32_t n_dims = r.scalar<uint32_t>("n_dims");
  if (n_dims == 0 || n_dims > kMaxDims)
    r.fail("n_dims " + std::to_string(n_dims) + " is outside 1.." + std::to_string(kMaxDims));
  uint64_t ne[kMaxDims];
  int64_t numel = 1;
  for (uint32_t d = 0; d < n_dims; ++d) {
    ne[d] = r.scalar<uint64_t>("dimension");
    if (ne[d] == 0) r.fail("dimension " + std::to_string(d) + " is 0 (empty tensors are not allowed)");
    if (ne[d] > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) ||
        __builtin_mul_overflow(numel, static_cast<int64_t>(ne[d]), &numel))
      r.fail("dimensions overflow a 64-bit element count");
  }
  t.type = r.scalar<uint32_t>("ggml type");
  const GgmlTypeTraits* traits = find_type(t.type);
  if (traits == nullptr) r.fail("unknown ggml type " + std::to_string(t.type));
  if (static_cast<int64_t>(ne[0]) % traits->block != 0)
    r.fail("row length " + std::to_string(ne[0]) + " is not a multiple of " + traits->name + "'s block of " +
           std::to_string(traits->block));
  uint64_t nbytes = 0;
  if (__builtin_mul_overflow(static_cast<uint64_t>(numel / traits->block), traits->block_bytes, &nbytes))
    r.fail("byte size overflows 64 bits");
  t.offset = r.scalar<uint64_t>("data offset");
  if (t.offset % alignment != 0)
    r.fail("data offset " + std::to_string(t.offset) + " is not a multiple of the alignment " + std::to_string(alignment));
  t.shape.assign(n_dims, 0);
  for (uint32_t d = 0; d < n_dims; ++d) t.shape[n_dims - 1 - d] = static_cast<int64_t>(ne[d]);
  t.numel = numel;
  t.nbytes = static_cast<size_t>(nbytes);
}

ParsedGguf parse_gguf(const uint8_t* data, size_t size, const std::string& file) {
  Reader r(data, size, file);
  ParsedGguf out;
  r.need(4, "magic");
  if (std::memcmp(data, "GGUF", 4) != 0) {
    std::string shown;
    for (int i = 0; i < 4; ++i) shown += (data[i] >= 0x20 && data[i] < 0x7f) ? static_cast<char>(data[i]) : '?';
    throw Error(file + ": not a GGUF file (magic '" + shown + "', expected 'GGUF')");
  }
  r.scalar<uint32_t>("magic");
  out.version = r.scalar<uint32_t>("version");
  if (out.version == 1)
    throw Error(file + ": GGUF version 1 is not supported (its 32-bit counts and lengths predate v2); "
                       "convert the model again with a current llama.cpp");
  if (out.version != 2 && out.version != 3) {
    if ((out.version & 0xffffu) == 0 && (out.version >> 16) != 0)
      throw Error(file + ": big-endian GGUF (version field " + std::to_string(out.version) + ") is not supported");
    throw Error(file + ": unsupported GGUF version " + std::to_string(out.version) + " (this reader handles 2 and 3)");
  }
  const uint64_t tensor_count = r.scalar<uint64_t>("tensor count");
  const uint64_t kv_count = r.scalar<uint64_t>("metadata count");
  // A key-value pair takes at least 13 bytes (key length, type, 1-byte value) and a tensor
  // info at least 32 (name length, n_dims, one dimension, type, offset).
  if (kv_count > r.remaining() / 13)
    throw Error(file + ": metadata count " + std::to_string(kv_count) + " cannot fit in the " +
                std::to_string(r.remaining()) + " bytes after the header");
  if (tensor_count > r.remaining() / 32)
    throw Error(file + ": tensor count " + std::to_string(tensor_count) + " cannot fit in the " +
                std::to_string(r.remaining()) + " bytes after the header");

  for (uint64_t i = 0; i < kv_count; ++i) {
    r.set_context("metadata entry " + std::to_string(i));
    std::string key = r.string("key");
    if (key.size() > kMaxKeyLength) r.fail("key of " + std::to_string(key.size()) + " bytes is longer than 65535");
    r.set_context("key '" + key + "'");
    const uint32_t type = r.scalar<uint32_t>("value type");
    if (min_encoded_size(type) == 0) r.fail("unknown value type " + std::to_string(type));
    GgufValue value = read_value(r, type, 0);
    if (out.metadata.count(key)) r.fail("appears more than once");
    out.metadata.emplace(std::move(key), std::move(value));
  }

  const uint32_t alignment = alignment_of(out.metadata, file);
  if (tensor_count > r.remaining() / 32)
    throw Error(file + ": tensor count " + std::to_string(tensor_count) + " cannot fit in the " +
                std::to_string(r.remaining()) + " bytes after the metadata");
  out.tensors.reserve(static_cast<size_t>(std::min(tensor_count, kMaxUpfrontReserve)));
  for (uint64_t i = 0; i < tensor_count; ++i) read_tensor_info(r, i, alignment, out.tensors.emplace_back());
  if (tensor_count == 0) return out;

  const uint64_t data_start = align_up(r.pos(), alignment);
  if (data_start > size)
    throw Error(file + ": the data section would start at byte " + std::to_string(data_start) + ", past the end of the " +
                std::to_string(size) + "-byte file");
  const uint64_t data_size = size - data_start;
  for (GgufTensor& t : out.tensors) {
    if (t.offset > data_size || t.nbytes > data_size - t.offset)
      throw Error(file + ": tensor '" + t.name + "': data [" + std::to_string(t.offset) + ", " +
                  std::to_string(t.offset + t.nbytes) + ") runs past the end of the " + std::to_string(data_size) +
                  "-byte data section");
    t.data = data + data_start + t.offset;
  }
  std::vector<const GgufTensor*> by_offset;
  by_offset.reserve(out.tensors.size());
  for (const GgufTensor& t : out.tensors) by_offset.push_back(&t);
  std::sort(by_offset.begin(), by_offset.end(), [](const GgufTensor* a, const GgufTensor* b) { return a->offset < b->offset; });
  for (size_t i = 1; i < by_offset.size(); ++i) {
    const GgufTensor& prev = *by_offset[i - 1];
    const GgufTensor& cur = *by_offset[i];
    if (cur.offset < prev.offset + prev.nbytes)
      throw Error(file + ": tensor '" + cur.name + "' at data offset " + std::to_string(cur.offset) + " overlaps tensor '" +
                  prev.name + "' [" + std::to_string(prev.offset) + ", " + std::to_string(prev.offset + prev.nbytes) + ")");
  }
  return out;
}

const char* value_kind(const GgufValue& v) {
  switch (v.value.index()) {
    case 0: return "an unsigned integer";
    case 1: return "a signed integer";
    case 2: return "a float";
    case 3: return "a bool";
    case 4: return "a string";
    default: return "an array";
  }
}

bool as_int(const GgufValue& v, int64_t* out) {
  if (const int64_t* s = std::get_if<int64_t>(&v.value)) {
    *out = *s;
    return true;
  }
  if (const uint64_t* u = std::get_if<uint64_t>(&v.value)) {
    if (*u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) return false;
    *out = static_cast<int64_t>(*u);
    return true;
  }
  return false;
}

bool as_float(const GgufValue& v, double* out) {
  if (const double* d = std::get_if<double>(&v.value)) {
    *out = *d;
    return true;
  }
  if (const int64_t* s = std::get_if<int64_t>(&v.value)) {
    *out = static_cast<double>(*s);
    return true;
  }
  if (const uint64_t* u = std::get_if<uint64_t>(&v.value)) {
    *out = static_cast<double>(*u);
    return true;
  }
  return false;
}

}  // namespace

const char* ggml_type_name(uint32_t type) {
  if (const GgmlTypeTraits* t = find_type(type)) return t->name;
  thread_local char unknown[24];
  std::snprintf(unknown, sizeof unknown, "type %u", type);
  return unknown;
}

bool ggml_type_dequantizable(uint32_t type) {
  const GgmlTypeTraits* t = find_type(type);
  return t != nullptr && t->dequantize_row != nullptr;
}

bool ggml_type_block(uint32_t type, int64_t* elements, size_t* bytes) {
  const GgmlTypeTraits* t = find_type(type);
  if (t == nullptr) return false;
  *elements = t->block;
  *bytes = t->block_bytes;
  return true;
}

GgufFile GgufFile::open(const std::string& path) {
  auto mapping = std::make_unique<MappedFile>(path);
  GgufFile f = from_memory(mapping->data(), mapping->size(), path);
  f.file_ = std::move(mapping);  // the tensors point into this mapping from now on
  return f;
}

GgufFile GgufFile::from_memory(const uint8_t* data, size_t size, const std::string& name) {
  ParsedGguf parsed = parse_gguf(data, size, name);
  GgufFile f;
  f.path_ = name;
  f.version_ = parsed.version;
  f.metadata_ = std::move(parsed.metadata);
  f.tensors_ = std::move(parsed.tensors);
  for (size_t i = 0; i < f.tensors_.size(); ++i)
    if (!f.tensor_index_.emplace(f.tensors_[i].name, i).second)
      throw Error(name + ": tensor '" + f.tensors_[i].name + "' appears twice");
  return f;
}

GgufFile::GgufFile(GgufFile&&) noexcept = default;
GgufFile& GgufFile::operator=(GgufFile&&) noexcept = default;
GgufFile::~GgufFile() = default;

const GgufValue* GgufFile::find(const std::string& key) const {
  const auto it = metadata_.find(key);
  return it == metadata_.end() ? nullptr : &it->second;
}

namespace {
const GgufValue& require(const GgufFile& f, const std::string& key) {
  const GgufValue* v = f.find(key);
  if (v == nullptr) throw Error(f.path() + ": key '" + key + "' is missing");
  return *v;
}

[[noreturn]] void wrong_type(const GgufFile& f, const std::string& key, const GgufValue& v, const char* expected) {
  throw Error(f.path() + ": key '" + key + "' holds " + value_kind(v) + ", expected " + expected);
}

const GgufArray& require_array(const GgufFile& f, const std::string& key) {
  const GgufValue& v = require(f, key);
  const GgufArray* a = std::get_if<GgufArray>(&v.value);
  if (a == nullptr) wrong_type(f, key, v, "an array");
  return *a;
}
}  // namespace

std::string GgufFile::get_string(const std::string& key) const {
  const GgufValue& v = require(*this, key);
  const std::string* s = std::get_if<std::string>(&v.value);
  if (s == nullptr) wrong_type(*this, key, v, "a string");
  return *s;
}

int64_t GgufFile::get_int(const std::string& key) const {
  const GgufValue& v = require(*this, key);
  int64_t out;
  if (!as_int(v, &out)) {
    if (std::holds_alternative<uint64_t>(v.value)) throw Error(path_ + ": key '" + key + "' does not fit in int64");
    wrong_type(*this, key, v, "an integer");
  }
  return out;
}

double GgufFile::get_float(const std::string& key) const {
  const GgufValue& v = require(*this, key);
  double out;
  if (!as_float(v, &out)) wrong_type(*this, key, v, "a number");
  return out;
}

bool GgufFile::get_bool(const std::string& key) const {
  const GgufValue& v = require(*this, key);
  const bool* b = std::get_if<bool>(&v.value);
  if (b == nullptr) wrong_type(*this, key, v, "a bool");
  return *b;
}

std::vector<std::string> GgufFile::get_string_array(const std::string& key) const {
  const GgufArray& a = require_array(*this, key);
  std::vector<std::string> out;
  out.reserve(a.size());
  for (size_t i = 0; i < a.size(); ++i) {
    const std::string* s = std::get_if<std::string>(&a[i].value);
    if (s == nullptr)
      throw Error(path_ + ": key '" + key + "': element " + std::to_string(i) + " is " + value_kind(a[i]) + ", expected a string");
    out.push_back(*s);
  }
  return out;
}

std::vector<double> GgufFile::get_float_array(const std::string& key) const {
  const GgufArray& a = require_array(*this, key);
  std::vector<double> out(a.size());
  for (size_t i = 0; i < a.size(); ++i)
    if (!as_float(a[i], &out[i]))
      throw Error(path_ + ": key '" + key + "': element " + std::to_string(i) + " is " + value_kind(a[i]) + ", expected a number");
  return out;
}

std::vector<int64_t> GgufFile::get_int_array(const std::string& key) const {
  const GgufArray& a = require_array(*this, key);
  std::vector<int64_t> out(a.size());
  for (size_t i = 0; i < a.size(); ++i)
    if (!as_int(a[i], &out[i]))
      throw Error(path_ + ": key '" + key + "': element " + std::to_string(i) + " is " + value_kind(a[i]) +
                  ", expected an integer that fits in int64");
  return out;
}

const GgufTensor* GgufFile::find_tensor(const std::string& name) const {
  const auto it = tensor_index_.find(name);
  return it == tensor_index_.end() ? nullptr : &tensors_[it->second];
}

void GgufFile::dequantize(const GgufTensor& t, DType out_type, void* out) const {
  const GgmlTypeTraits* traits = find_type(t.type);
  if (traits == nullptr || traits->dequantize_row == nullptr)
    throw Error(path_ + ": tensor '" + t.name + "': cannot dequantize ggml type " + ggml_type_name(t.type) +
                " (supported: F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K)");
  if (t.numel <= 0 || t.shape.empty() || t.data == nullptr) throw Error(path_ + ": tensor '" + t.name + "' holds no data");
  const int64_t row = t.shape.back();
  if (row % traits->block != 0 || static_cast<uint64_t>(t.numel / traits->block) * traits->block_bytes != t.nbytes)
    throw Error(path_ + ": tensor '" + t.name + "': " + std::to_string(t.nbytes) + " bytes do not hold " +
                std::to_string(t.numel) + " " + traits->name + " elements");
  const bool same_bits = (t.type == static_cast<uint32_t>(GgmlType::F16) && out_type == DType::F16) ||
                         (t.type == static_cast<uint32_t>(GgmlType::BF16) && out_type == DType::BF16);
  if (same_bits) {
    std::memcpy(out, t.data, t.nbytes);
    return;
  }
  if (out_type == DType::F32) {
    traits->dequantize_row(t.data, static_cast<float*>(out), t.numel);
    return;
  }
  // 16-bit outputs go through one fp32 row at a time (ne[0] elements).
  const size_t row_bytes = static_cast<size_t>(row / traits->block) * traits->block_bytes;
  std::vector<float> scratch(static_cast<size_t>(row));
  uint8_t* dst = static_cast<uint8_t*>(out);
  for (int64_t r = 0; r < t.numel / row; ++r) {
    traits->dequantize_row(t.data + static_cast<size_t>(r) * row_bytes, scratch.data(), row);
    convert(scratch.data(), DType::F32, dst + static_cast<size_t>(r * row) * dtype_size(out_type), out_type,
            static_cast<size_t>(row));
  }
}

}  // namespace zotune
