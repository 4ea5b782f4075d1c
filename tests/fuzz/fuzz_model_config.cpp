// libFuzzer target: config.json parsing must accept or reject any bytes with a
// zotune::Error, never crash. Build: cmake -DZOTUNE_FUZZ=ON -DCMAKE_CXX_COMPILER=clang++ ...
#include <cstddef>
#include <cstdint>
#include <string>

#include "core/model/config.h"
#include "core/util/error.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    zotune::ModelConfig c = zotune::parse_hf_config_text(std::string(reinterpret_cast<const char*>(data), size), "fuzz.json");
    if (c.arch == zotune::Architecture::Llama) zotune::rope_inv_freq(c);
  } catch (const zotune::Error&) {
  }
  return 0;
}
