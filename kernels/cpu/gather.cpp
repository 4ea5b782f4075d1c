#include "kernels/cpu/gather.h"

#include <cstring>

namespace zotune::cpu {

void gather_rows_or_zero(void* out, const void* x, const int32_t* index, int out_rows, int64_t x_rows,
                         size_t row_bytes, int mats) {
  auto* dst = static_cast<uint8_t*>(out);
  const auto* src = static_cast<const uint8_t*>(x);
  for (int m = 0; m < mats; ++m)
    for (int r = 0; r < out_rows; ++r) {
      uint8_t* row = dst + (static_cast<size_t>(m) * out_rows + r) * row_bytes;
      if (index[r] < 0)
        std::memset(row, 0, row_bytes);
      else
        std::memcpy(row, src + (static_cast<size_t>(m) * x_rows + index[r]) * row_bytes, row_bytes);
    }
}

}  // namespace zotune::cpu
