// libFuzzer target: any bytes given to the safetensors parser must either parse, with every
// tensor then readable through read()/read_int(), or be rejected with a zotune::Error; never
// a crash or an out-of-bounds access. Build: cmake -DZOTUNE_FUZZ=ON -DCMAKE_CXX_COMPILER=clang++
// Seed corpus: tests/fixtures/malformed/*.safetensors and tests/fixtures/safetensors/.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "core/io/safetensors.h"
#include "core/util/error.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace zotune;
  try {
    const SafetensorsArchive archive = SafetensorsArchive::from_memory(data, size, "fuzz.safetensors");
    for (const std::string& name : archive.names()) {
      const SafetensorsTensor& t = archive.at(name);
      // nbytes lies inside the input, so these buffers are at most twice its size.
      std::vector<float> f32(t.nbytes);
      std::vector<uint16_t> bf16(t.nbytes);
      try {
        archive.read(name, DType::F32, f32.data());
        archive.read(name, DType::BF16, bf16.data());
      } catch (const Error&) {
      }
      try {
        archive.read_int(name);
      } catch (const Error&) {
      }
    }
  } catch (const Error&) {
  }
  return 0;
}
