// Row-wise softmax cross-entropy on the device over fp32 logits, accumulated in fp64 like
// cpu::cross_entropy: a ZO step's loss is a difference of two nearly equal numbers. Only
// the per-row losses come back to the host. Host-callable launchers only; device pointers.
#pragma once
#include <cstdint>

namespace zotune::cuda {

// loss[r] = logsumexp(logits[r, :]) - logits[r, target[r]] for r < rows; logits [rows, V].
void cross_entropy(double* loss, const float* logits, const int32_t* target, int rows, int V, void* stream = nullptr);

}  // namespace zotune::cuda
