// Seeded inputs for the tests, CPU (tests/unit) and CUDA (tests/cuda) alike, the same on every
// machine and never all zero.
#pragma once
#include <cstddef>
#include <cstdint>
#include <random>
#include <vector>

namespace zotune::test {

// n values of N(mean, scale^2) from mt19937(seed).
inline std::vector<float> normal_vector(size_t n, uint32_t seed, float mean = 0.0f, float scale = 1.0f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(mean, scale);
  std::vector<float> v(n);
  for (float& x : v) x = d(rng);
  return v;
}

// n values of U(-scale, scale) from mt19937(seed).
inline std::vector<float> uniform_vector(size_t n, uint32_t seed, float scale = 1.0f) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(-scale, scale);
  std::vector<float> v(n);
  for (float& x : v) x = u(rng);
  return v;
}

}  // namespace zotune::test
