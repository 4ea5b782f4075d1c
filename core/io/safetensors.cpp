// safetensors reader: header validation, sharded indexes, dtype conversion on read.
#include "core/io/safetensors.h"

#include <algorithm>
#include <bit>
#include <cstring>
#include <filesystem>
#include <limits>
#include <nlohmann/json.hpp>
#include <set>

#include "core/io/mapped_file.h"
#include "core/io/safetensors_dtypes.h"
#include "core/tensor/param_store.h"
#include "core/util/error.h"

namespace zotune {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using safetensors_detail::DtypeInfo;
using safetensors_detail::find_dtype;
using safetensors_detail::Kind;

static_assert(std::endian::native == std::endian::little, "the safetensors reader assumes a little-endian host");

// The Rust crate refuses headers above 100 MB; a bigger length field is corrupt, not a model.
constexpr uint64_t kMaxHeaderBytes = 100'000'000;

struct ParsedFile {
  std::map<std::string, SafetensorsTensor> tensors;
  std::map<std::string, std::string> metadata;
};

// A non-negative JSON integer (nlohmann stores those as number_unsigned).
bool as_u64(const json& j, uint64_t* out) {
  if (!j.is_number_unsigned()) return false;
  *out = j.get<uint64_t>();
  return true;
}

std::string json_snippet(const json& j) {
  std::string s = j.dump();
  return s.size() > 60 ? s.substr(0, 57) + "..." : s;
}

SafetensorsTensor parse_entry(const std::string& file, const std::string& name, const json& entry, const uint8_t* data,
                              uint64_t data_size) {
  const std::string where = file + ": tensor '" + name + "'";
  if (!entry.is_object()) throw Error(where + ": header entry is " + json_snippet(entry) + ", expected an object");
  const auto dtype_it = entry.find("dtype");
  if (dtype_it == entry.end() || !dtype_it->is_string()) throw Error(where + ": missing or non-string \"dtype\"");
  const std::string dtype = dtype_it->get<std::string>();
  const DtypeInfo* info = find_dtype(dtype);
  if (info == nullptr) throw Error(where + ": unknown dtype '" + dtype + "'");

  const auto shape_it = entry.find("shape");
  if (shape_it == entry.end() || !shape_it->is_array()) throw Error(where + ": missing or non-array \"shape\"");
  std::vector<int64_t> shape;
  shape.reserve(shape_it->size());
  for (const json& d : *shape_it) {
    if (d.is_number_integer() && !d.is_number_unsigned())
      throw Error(where + ": shape " + json_snippet(*shape_it) + " has a negative dimension " + d.dump());
    uint64_t dim;
    if (!as_u64(d, &dim)) throw Error(where + ": shape " + json_snippet(*shape_it) + " holds a non-integer " + json_snippet(d));
    if (dim > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
      throw Error(where + ": shape dimension " + d.dump() + " is too large");
    shape.push_back(static_cast<int64_t>(dim));
  }
  uint64_t needed = info->size;
  for (int64_t d : shape)
    if (__builtin_mul_overflow(needed, static_cast<uint64_t>(d), &needed))
      throw Error(where + ": shape " + shape_string(shape) + " of " + dtype + " overflows 64-bit byte counts");

  const auto offsets_it = entry.find("data_offsets");
  uint64_t begin = 0, end = 0;
  if (offsets_it == entry.end() || !offsets_it->is_array() || offsets_it->size() != 2 || !as_u64((*offsets_it)[0], &begin) ||
      !as_u64((*offsets_it)[1], &end))
    throw Error(where + ": \"data_offsets\" must be two non-negative integers [begin, end], got " +
                (offsets_it == entry.end() ? std::string("nothing") : json_snippet(*offsets_it)));
  const std::string offsets = "data_offsets [" + std::to_string(begin) + ", " + std::to_string(end) + "]";
  if (end < begin) throw Error(where + ": " + offsets + " end before they begin");
  if (end > data_size)
    throw Error(where + ": " + offsets + " run past the end of the " + std::to_string(data_size) + "-byte data section");
  if (end - begin != needed)
    throw Error(where + ": " + offsets + " hold " + std::to_string(end - begin) + " bytes but shape " + shape_string(shape) +
                " of " + dtype + " needs " + std::to_string(needed));

  SafetensorsTensor t;
  t.name = name;
  t.dtype = dtype;
  t.shape = std::move(shape);
  t.data = data + begin;
  t.nbytes = static_cast<size_t>(needed);
  t.file = file;
  return t;
}

// Parses one safetensors image: 8-byte little-endian header length N, N bytes of JSON, data.
ParsedFile parse_safetensors(const uint8_t* bytes, size_t size, const std::string& file) {
  if (size < 8)
    throw Error(file + ": file is " + std::to_string(size) + " bytes, too short for the 8-byte header length");
  uint64_t header_len;
  std::memcpy(&header_len, bytes, 8);
  if (header_len > size - 8)
    throw Error(file + ": header length " + std::to_string(header_len) + " runs past the end of the " +
                std::to_string(size) + "-byte file");
  if (header_len > kMaxHeaderBytes)
    throw Error(file + ": header length " + std::to_string(header_len) + " exceeds the 100 MB limit");
  const char* text = reinterpret_cast<const char*>(bytes + 8);

  // nlohmann keeps the last of duplicate keys silently; a header naming a tensor twice is
  // ambiguous, so watch the top-level keys go by.
  std::set<std::string> seen;
  std::string duplicate;
  const json::parser_callback_t watch_keys = [&](int depth, json::parse_event_t event, json& parsed) {
    if (depth == 1 && event == json::parse_event_t::key && parsed.is_string() && !seen.insert(parsed.get<std::string>()).second &&
        duplicate.empty())
      duplicate = parsed.get<std::string>();
    return true;
  };
  json header;
  try {
    header = json::parse(text, text + header_len, watch_keys);
  } catch (const json::exception& e) {
    throw Error(file + ": header is not valid JSON: " + e.what());
  }
  if (!header.is_object()) throw Error(file + ": header is " + json_snippet(header) + ", expected a JSON object");
  if (!duplicate.empty()) throw Error(file + ": tensor '" + duplicate + "' appears twice in the header");

  const uint8_t* data = bytes + 8 + header_len;
  const uint64_t data_size = size - 8 - header_len;
  ParsedFile out;
  for (const auto& [name, entry] : header.items()) {
    if (name == "__metadata__") {
      if (!entry.is_object()) throw Error(file + ": \"__metadata__\" is " + json_snippet(entry) + ", expected an object of strings");
      for (const auto& [key, value] : entry.items()) {
        if (!value.is_string()) throw Error(file + ": \"__metadata__\" key '" + key + "' holds " + json_snippet(value) + ", expected a string");
        out.metadata[key] = value.get<std::string>();
      }
      continue;
    }
    out.tensors.emplace(name, parse_entry(file, name, entry, data, data_size));
  }

  // Overlap check over the non-empty tensors in data order.
  std::vector<const SafetensorsTensor*> by_offset;
  for (const auto& [name, t] : out.tensors)
    if (t.nbytes > 0) by_offset.push_back(&t);
  std::sort(by_offset.begin(), by_offset.end(),
            [](const SafetensorsTensor* a, const SafetensorsTensor* b) { return a->data < b->data; });
  for (size_t i = 1; i < by_offset.size(); ++i) {
    const SafetensorsTensor& prev = *by_offset[i - 1];
    const SafetensorsTensor& cur = *by_offset[i];
    if (cur.data < prev.data + prev.nbytes)
      throw Error(file + ": tensor '" + cur.name + "' (data_offsets [" + std::to_string(cur.data - data) + ", " +
                  std::to_string(cur.data - data + cur.nbytes) + "]) overlaps tensor '" + prev.name + "' (data_offsets [" +
                  std::to_string(prev.data - data) + ", " + std::to_string(prev.data - data + prev.nbytes) + "])");
  }
  return out;
}

json read_json_file(const std::string& path) {
  MappedFile f(path);
  const char* text = reinterpret_cast<const char*>(f.data());
  try {
    return json::parse(text, text + f.size());
  } catch (const json::exception& e) {
    throw Error(path + ": not valid JSON: " + e.what());
  }
}

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

std::string metadata_text(const json& value) { return value.is_string() ? value.get<std::string>() : value.dump(); }

const char* kind_name(Kind k) {
  switch (k) {
    case Kind::Float: return "floating-point";
    case Kind::Signed: case Kind::Unsigned: return "integer";
    case Kind::Bool: return "boolean";
    case Kind::Other: break;
  }
  return "packed";
}

// Widens `n` source elements of a float dtype (any alignment) into fp32.
void load_floats(const uint8_t* src, const std::string& dtype, float* dst, size_t n) {
  if (dtype == "F32") {
    std::memcpy(dst, src, n * 4);
  } else if (dtype == "F64") {
    for (size_t i = 0; i < n; ++i) {
      double v;
      std::memcpy(&v, src + 8 * i, 8);
      dst[i] = static_cast<float>(v);
    }
  } else {
    const bool half = dtype == "F16";
    for (size_t i = 0; i < n; ++i) {
      uint16_t bits;
      std::memcpy(&bits, src + 2 * i, 2);
      dst[i] = half ? f16_to_f32(bits) : bf16_to_f32(bits);
    }
  }
}

}  // namespace

SafetensorsArchive SafetensorsArchive::from_memory(const uint8_t* data, size_t size, const std::string& name) {
  ParsedFile parsed = parse_safetensors(data, size, name);
  SafetensorsArchive a;
  a.source_ = name;
  a.tensors_ = std::move(parsed.tensors);
  a.metadata_ = std::move(parsed.metadata);
  return a;
}

SafetensorsArchive SafetensorsArchive::open(const std::string& path) {
  std::string file = path;
  std::error_code ec;
  if (fs::is_directory(path, ec)) {
    const fs::path dir(path);
    if (fs::exists(dir / "model.safetensors", ec)) {
      file = (dir / "model.safetensors").string();
    } else if (fs::exists(dir / "model.safetensors.index.json", ec)) {
      file = (dir / "model.safetensors.index.json").string();
    } else {
      throw Error(path + ": directory holds neither model.safetensors nor model.safetensors.index.json");
    }
  }

  SafetensorsArchive a;
  if (!ends_with(file, ".json")) {
    auto mapping = std::make_unique<MappedFile>(file);
    a = from_memory(mapping->data(), mapping->size(), file);
    a.files_.push_back(std::move(mapping));
    return a;
  }
  a.source_ = file;

  // Sharded: {"metadata": {...}, "weight_map": {tensor: shard file beside the index}}.
  const json index = read_json_file(file);
  if (!index.is_object()) throw Error(file + ": expected a JSON object with \"weight_map\"");
  const auto map_it = index.find("weight_map");
  if (map_it == index.end() || !map_it->is_object()) throw Error(file + ": missing or non-object \"weight_map\"");
  std::map<std::string, std::vector<std::string>> tensors_of_shard;
  for (const auto& [name, shard] : map_it->items()) {
    if (!shard.is_string() || shard.get<std::string>().empty())
      throw Error(file + ": tensor '" + name + "': shard " + json_snippet(shard) + " is not a file name");
    tensors_of_shard[shard.get<std::string>()].push_back(name);
  }
  const fs::path dir = fs::path(file).parent_path();
  for (const auto& [shard, names] : tensors_of_shard) {
    const std::string shard_path = (dir / shard).string();
    if (!fs::is_regular_file(shard_path, ec))
      throw Error(file + ": shard '" + shard + "' (holding tensor '" + names.front() + "'" +
                  (names.size() > 1 ? " and " + std::to_string(names.size() - 1) + " more" : std::string()) +
                  ") is missing: no file " + shard_path);
    auto mapping = std::make_unique<MappedFile>(shard_path);
    ParsedFile parsed = parse_safetensors(mapping->data(), mapping->size(), shard_path);
    for (const std::string& name : names) {
      auto it = parsed.tensors.find(name);
      if (it == parsed.tensors.end())
        throw Error(file + ": tensor '" + name + "' is listed in shard '" + shard + "' but absent from " + shard_path);
      a.tensors_.emplace(name, std::move(it->second));
    }
    for (auto& [key, value] : parsed.metadata) a.metadata_.emplace(key, std::move(value));
    a.files_.push_back(std::move(mapping));
  }
  const auto meta_it = index.find("metadata");
  if (meta_it != index.end() && meta_it->is_object())
    for (const auto& [key, value] : meta_it->items()) a.metadata_[key] = metadata_text(value);
  return a;
}

SafetensorsArchive::SafetensorsArchive(SafetensorsArchive&&) noexcept = default;
SafetensorsArchive& SafetensorsArchive::operator=(SafetensorsArchive&&) noexcept = default;
SafetensorsArchive::~SafetensorsArchive() = default;

const SafetensorsTensor* SafetensorsArchive::find(const std::string& name) const {
  const auto it = tensors_.find(name);
  return it == tensors_.end() ? nullptr : &it->second;
}

const SafetensorsTensor& SafetensorsArchive::at(const std::string& name) const {
  const SafetensorsTensor* t = find(name);
  if (t == nullptr) throw Error(source_ + ": no tensor '" + name + "'");
  return *t;
}

std::vector<std::string> SafetensorsArchive::names() const {
  std::vector<std::string> out;
  out.reserve(tensors_.size());
  for (const auto& [name, t] : tensors_) out.push_back(name);
  return out;
}

void SafetensorsArchive::read(const std::string& name, DType out_type, void* out) const {
  const SafetensorsTensor& t = at(name);
  const DtypeInfo* info = find_dtype(t.dtype);
  if (info == nullptr || info->kind != Kind::Float)
    throw Error(t.file + ": tensor '" + name + "' has " + (info ? kind_name(info->kind) : "unknown") + " dtype " + t.dtype +
                "; read() converts F32/F16/BF16/F64 only" + (info && info->kind != Kind::Other ? " (use read_int)" : ""));
  const size_t n = t.nbytes / info->size;
  if ((t.dtype == "F32" && out_type == DType::F32) || (t.dtype == "F16" && out_type == DType::F16) ||
      (t.dtype == "BF16" && out_type == DType::BF16)) {
    std::memcpy(out, t.data, t.nbytes);
    return;
  }
  if (out_type == DType::F32) {
    load_floats(t.data, t.dtype, static_cast<float*>(out), n);
    return;
  }
  // Narrowing to 16 bits goes through an fp32 chunk: a bounded scratch for any tensor size.
  constexpr size_t kChunk = 4096;
  float scratch[kChunk];
  uint8_t* dst = static_cast<uint8_t*>(out);
  for (size_t i = 0; i < n; i += kChunk) {
    const size_t m = std::min(kChunk, n - i);
    load_floats(t.data + i * info->size, t.dtype, scratch, m);
    convert(scratch, DType::F32, dst + i * dtype_size(out_type), out_type, m);
  }
}

std::vector<int64_t> SafetensorsArchive::read_int(const std::string& name) const {
  const SafetensorsTensor& t = at(name);
  const DtypeInfo* info = find_dtype(t.dtype);
  if (info == nullptr || (info->kind != Kind::Signed && info->kind != Kind::Unsigned && info->kind != Kind::Bool))
    throw Error(t.file + ": tensor '" + name + "' has " + (info ? kind_name(info->kind) : "unknown") + " dtype " + t.dtype +
                "; read_int() reads integer and BOOL tensors only" + (info && info->kind == Kind::Float ? " (use read)" : ""));
  const size_t n = t.nbytes / info->size;
  std::vector<int64_t> out(n);
  for (size_t i = 0; i < n; ++i) {
    const uint8_t* p = t.data + i * info->size;
    uint64_t raw = 0;
    std::memcpy(&raw, p, info->size);  // little-endian: the low bytes of raw
    if (info->kind == Kind::Bool) {
      out[i] = raw != 0;
    } else if (info->kind == Kind::Unsigned) {
      if (raw > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
        throw Error(t.file + ": tensor '" + name + "': element " + std::to_string(i) + " (" + std::to_string(raw) +
                    ") does not fit in int64");
      out[i] = static_cast<int64_t>(raw);
    } else {
      const int bits = static_cast<int>(8 * info->size);
      // Sign-extend the low `bits` bits.
      out[i] = bits == 64 ? static_cast<int64_t>(raw) : static_cast<int64_t>(raw << (64 - bits)) >> (64 - bits);
    }
  }
  return out;
}

}  // namespace zotune
