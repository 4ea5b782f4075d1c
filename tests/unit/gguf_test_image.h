// A GGUF file image of metadata only, for tests that build model configs from GGUF keys
// (model_bounds_test, hf_export_test).
#pragma once
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

namespace zotune::test {

// A GGUF image of metadata only (no tensors), as llama.cpp's converter writes it: version 3,
// key-value pairs of the types GGUF numbers 4 (u32), 6 (f32), 8 (string), 10 (u64).
class GgufImage {
 public:
  GgufImage() {
    bytes_.insert(bytes_.end(), {'G', 'G', 'U', 'F'});
    put<uint32_t>(3);
    put<uint64_t>(0);  // tensors
    put<uint64_t>(0);  // key-value pairs, patched by finish()
  }
  void string(const std::string& key, const std::string& value) { begin(key, 8), put_string(value); }
  void u32(const std::string& key, uint32_t value) { begin(key, 4), put(value); }
  void u64(const std::string& key, uint64_t value) { begin(key, 10), put(value); }
  void f32(const std::string& key, float value) { begin(key, 6), put(value); }
  const std::vector<uint8_t>& finish() {
    std::memcpy(bytes_.data() + 16, &pairs_, sizeof pairs_);
    return bytes_;
  }

 private:
  template <typename T>
  void put(T v) {
    const auto* p = reinterpret_cast<const uint8_t*>(&v);
    bytes_.insert(bytes_.end(), p, p + sizeof v);
  }
  void put_string(const std::string& s) {
    put<uint64_t>(s.size());
    bytes_.insert(bytes_.end(), s.begin(), s.end());
  }
  void begin(const std::string& key, uint32_t type) {
    put_string(key), put(type);
    ++pairs_;
  }
  std::vector<uint8_t> bytes_;
  uint64_t pairs_ = 0;
};

}  // namespace zotune::test
