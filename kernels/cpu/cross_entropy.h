// Row-wise softmax cross-entropy, computed in double for stability: the loss of a ZO step
// is a difference of two nearly equal numbers, so rounding here matters.
#pragma once
#include <cstdint>

namespace zotune::cpu {

// loss[r] = logsumexp(logits[r, :]) - logits[r, target[r]] for r < rows, logits [rows, V].
void cross_entropy(double* loss, const float* logits, const int32_t* target, int rows, int V);

// log_softmax over each row, in place: out[r, :] = logits[r, :] - logsumexp(logits[r, :]).
void log_softmax(float* logits, int rows, int V);

}  // namespace zotune::cpu
