// Seeded normal inputs for the op tests, CPU (tests/unit) and CUDA (tests/cuda) alike: n values
// of N(mean, scale^2) from mt19937(seed), the same on every machine and never all zero.
#pragma once
#include <cstddef>
#include <cstdint>
#include <random>
#include <vector>

namespace zotune::test {

inline std::vector<float> normal_vector(size_t n, uint32_t seed, float mean = 0.0f, float scale = 1.0f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(mean, scale);
  std::vector<float> v(n);
  for (float& x : v) x = d(rng);
  return v;
}

}  // namespace zotune::test
