// libFuzzer target: any bytes given to the GGUF parser must either parse, with every typed
// getter, the vocabulary reader and the dequantization of every tensor then behaving, or be
// rejected with a zotune::Error; never a crash, an out-of-bounds access or a huge allocation
// driven by a lying count. Build: cmake -DZOTUNE_FUZZ=ON -DCMAKE_CXX_COMPILER=clang++
// Seed corpus: tests/fixtures/malformed/*.gguf and tests/fixtures/gguf/tiny.gguf.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "core/io/gguf.h"
#include "core/util/error.h"
#include "tests/fuzz/fuzz_ignore_errors.h"

using zotune::fuzz::ignore_errors;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace zotune;
  try {
    const GgufFile file = GgufFile::from_memory(data, size, "fuzz.gguf");
    for (const auto& entry : file.metadata()) {
      const std::string& key = entry.first;
      ignore_errors([&] { file.get_string(key); });
      ignore_errors([&] { file.get_int(key); });
      ignore_errors([&] { file.get_float(key); });
      ignore_errors([&] { file.get_bool(key); });
      ignore_errors([&] { file.get_string_array(key); });
      ignore_errors([&] { file.get_int_array(key); });
      ignore_errors([&] { file.get_float_array(key); });
    }
    ignore_errors([&] { read_gguf_vocabulary(file); });
    for (const GgufTensor& t : file.tensors()) {
      if (!ggml_type_dequantizable(t.type)) {
        ignore_errors([&] { file.dequantize(t, DType::F32, nullptr); });  // must throw before writing
        continue;
      }
      // Dequantizable types hold at most ~3 elements per byte (Q2_K: 256 in 84), and nbytes
      // lies inside the input: these buffers stay a small multiple of its size.
      std::vector<float> f32(static_cast<size_t>(t.numel));
      std::vector<uint16_t> f16(static_cast<size_t>(t.numel));
      file.dequantize(t, DType::F32, f32.data());
      file.dequantize(t, DType::F16, f16.data());
    }
  } catch (const Error&) {
  }
  return 0;
}
