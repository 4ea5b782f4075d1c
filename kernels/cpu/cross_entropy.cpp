#include "kernels/cpu/cross_entropy.h"

#include <cmath>

namespace zotune::cpu {

namespace {
double logsumexp(const float* x, int V) {
  float best = x[0];
  for (int j = 1; j < V; ++j) best = x[j] > best ? x[j] : best;
  double sum = 0.0;
  for (int j = 0; j < V; ++j) sum += std::exp(static_cast<double>(x[j]) - best);
  return best + std::log(sum);
}
}  // namespace

void cross_entropy(double* loss, const float* logits, const int32_t* target, int rows, int V) {
  for (int r = 0; r < rows; ++r) {
    const float* x = logits + static_cast<int64_t>(r) * V;
    loss[r] = logsumexp(x, V) - x[target[r]];
  }
}

void log_softmax(float* logits, int rows, int V) {
  for (int r = 0; r < rows; ++r) {
    float* x = logits + static_cast<int64_t>(r) * V;
    const double lse = logsumexp(x, V);
    for (int j = 0; j < V; ++j) x[j] = static_cast<float>(x[j] - lse);
  }
}

}  // namespace zotune::cpu
