#include "kernels/cpu/scaled_add.h"

#include <cmath>
#include <string>

#include "core/util/error.h"

namespace zotune::cpu {

void scaled_add(void* y, DType type, int64_t ld, const float* x, float scale, int rows, int cols) {
  check(rows >= 0 && cols >= 0 && ld >= cols, "cpu::scaled_add: bad shape rows " + std::to_string(rows) + ", cols " +
                                                  std::to_string(cols) + ", ld " + std::to_string(ld));
  const size_t es = dtype_size(type);
  for (int r = 0; r < rows; ++r) {
    char* row = static_cast<char*>(y) + static_cast<size_t>(r) * static_cast<size_t>(ld) * es;
    for (int c = 0; c < cols; ++c) {
      // One fused multiply-add, as the device's fmaf: the same bits before the rounding.
      const size_t i = static_cast<size_t>(r) * cols + c;
      const float v = std::fma(scale, x[i], load_f32(row, type, static_cast<size_t>(c)));
      convert(&v, DType::F32, row + static_cast<size_t>(c) * es, type, 1);
    }
  }
}

}  // namespace zotune::cpu
