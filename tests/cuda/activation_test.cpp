// CUDA elementwise epilogues against kernels/cpu/activation: bias + activation for every
// Activation with and without bias, the SwiGLU product on fused (ld = 2I) and separate
// (ld = I) halves, and the residual add, per storage dtype, on the 16-byte path and the
// scalar fallback (odd widths, misaligned pointers), and with more than 65535 rows (the grid's
// row stride). CPU inputs are the device's stored values widened to fp32. Error:
// max |gpu - cpu| / max |cpu|, 1e-5 for fp32, 2e-2 for fp16/bf16. Skipped without a GPU.
#include <cuda_runtime.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "core/tensor/dtype.h"
#include "kernels/cpu/activation.h"
#include "kernels/cuda/activation.cuh"
#include "kernels/cuda/device.cuh"
#include "tests/cuda/cuda_test_util.h"

namespace zotune {
namespace {

using test::DeviceBuffer;
using test::normalized_error;
using test::rounded;
using test::to_dtype;
using test::to_f32;
using test::tolerance;
using cuda::Activation;

// Values spread over [-6, 6] with a positive mean and per-column scales: every activation's
// curved region, its saturation, and both signs.
std::vector<float> make_values(size_t n, uint32_t seed, float mean) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  std::vector<float> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = mean + nd(rng) * (0.5f + static_cast<float>(i % 5) * 0.6f);
  return v;
}

void cpu_activation(Activation act, float* x, size_t n) {
  switch (act) {
    case Activation::Identity: return;
    case Activation::ReLU: return cpu::relu(x, n);
    case Activation::GeluErf: return cpu::gelu_erf(x, n);
    case Activation::GeluTanh: return cpu::gelu_tanh(x, n);
    case Activation::SiLU: return cpu::silu(x, n);
    case Activation::Tanh: return cpu::tanh_inplace(x, n);
  }
}

const char* act_name(Activation act) {
  switch (act) {
    case Activation::Identity: return "identity";
    case Activation::ReLU: return "relu";
    case Activation::GeluErf: return "gelu_erf";
    case Activation::GeluTanh: return "gelu_tanh";
    case Activation::SiLU: return "silu";
    case Activation::Tanh: return "tanh";
  }
  return "?";
}

struct Shape {
  int rows, cols;
  size_t offset_elems;  // shifts every pointer: nonzero forces the scalar path
};

const std::vector<Shape>& shapes() {
  static const std::vector<Shape> s = {{1, 1, 0},    {3, 7, 0},     {5, 8, 0},     {17, 100, 0}, {9, 257, 0},
                                       {64, 1024, 0}, {300, 4096, 0}, {70000, 8, 0}, {7, 768, 1},  {70001, 5, 0},
                                       {11, 1000, 3}};
  return s;
}

TEST(CudaActivation, NamesMapLikeTheCpuEngine) {
  EXPECT_EQ(cuda::activation_from_name("relu"), Activation::ReLU);
  EXPECT_EQ(cuda::activation_from_name("gelu"), Activation::GeluErf);
  EXPECT_EQ(cuda::activation_from_name("gelu_new"), Activation::GeluTanh);
  EXPECT_EQ(cuda::activation_from_name("gelu_pytorch_tanh"), Activation::GeluTanh);
  EXPECT_EQ(cuda::activation_from_name("silu"), Activation::SiLU);
  EXPECT_EQ(cuda::activation_from_name("swish"), Activation::SiLU);
  EXPECT_EQ(cuda::activation_from_name("tanh"), Activation::Tanh);
  try {
    cuda::activation_from_name("mish");
    ADD_FAILURE() << "no throw for an unknown activation";
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find("mish"), std::string::npos) << e.what();
  }
}

TEST(CudaActivation, BiasActivationMatchesCpuPerDtype) {
  if (cuda::device_count() == 0) GTEST_SKIP() << "no CUDA device";
  for (const Shape& s : shapes()) {
    const size_t n = static_cast<size_t>(s.rows) * s.cols;
    const std::vector<float> y = make_values(n, static_cast<uint32_t>(s.rows * 31 + s.cols), 0.4f);
    const std::vector<float> bias = make_values(s.cols, static_cast<uint32_t>(s.cols), -0.2f);
    for (DType t : {DType::F32, DType::F16, DType::BF16}) {
      const std::vector<uint8_t> yb = to_dtype(y, t), bb = to_dtype(bias, t);
      const std::vector<float> yr = rounded(y, t), br = rounded(bias, t);
      for (Activation act : {Activation::Identity, Activation::ReLU, Activation::GeluErf, Activation::GeluTanh,
                             Activation::SiLU, Activation::Tanh}) {
        for (bool with_bias : {false, true}) {
          std::vector<float> want = yr;
          if (with_bias)
            for (size_t i = 0; i < n; ++i) want[i] += br[i % s.cols];
          cpu_activation(act, want.data(), n);
          const size_t off = s.offset_elems * dtype_size(t);
          DeviceBuffer dy(yb.data(), yb.size(), off), db(bb.data(), bb.size(), off);
          cuda::bias_activation(dy.get(), t, with_bias ? db.get() : nullptr, s.rows, s.cols, act);
          EXPECT_LE(normalized_error(to_f32(dy.download(), t), want), tolerance(t))
              << act_name(act) << (with_bias ? " +bias " : " ") << dtype_name(t) << " rows " << s.rows << " cols "
              << s.cols << " offset " << s.offset_elems;
        }
      }
    }
  }
}

TEST(CudaActivation, SiluMulMatchesCpuOnFusedAndSeparateHalves) {
  if (cuda::device_count() == 0) GTEST_SKIP() << "no CUDA device";
  for (const Shape& s : shapes()) {
    const int I = s.cols;
    for (bool fused : {true, false}) {
      const int64_t ld = fused ? 2 * static_cast<int64_t>(I) : I;
      // fused: one [rows, 2I] buffer, gate = columns [0, I), up = columns [I, 2I).
      // separate: a gate buffer and an up buffer, each [rows, I].
      const size_t n = static_cast<size_t>(s.rows) * I;
      const std::vector<float> a = make_values(fused ? 2 * n : n, static_cast<uint32_t>(I * 7 + s.rows), 0.3f);
      const std::vector<float> b = make_values(n, static_cast<uint32_t>(I * 11 + s.rows), -0.5f);
      for (DType t : {DType::F32, DType::F16, DType::BF16}) {
        const std::vector<float> ar = rounded(a, t), br = rounded(b, t);
        std::vector<float> gate(n), up(n);
        for (int r = 0; r < s.rows; ++r)
          for (int i = 0; i < I; ++i) {
            const size_t k = static_cast<size_t>(r) * I + i;
            gate[k] = ar[static_cast<size_t>(r * ld + i)];
            up[k] = fused ? ar[static_cast<size_t>(r * ld + I + i)] : br[k];
          }
        cpu::silu_mul(gate.data(), up.data(), n);  // gate now holds the expected output
        const size_t off = s.offset_elems * dtype_size(t);
        const std::vector<uint8_t> ab = to_dtype(a, t), bb = to_dtype(b, t);
        DeviceBuffer da(ab.data(), ab.size(), off), db(bb.data(), bb.size(), off);
        DeviceBuffer dout(nullptr, n * dtype_size(t), off);
        const void* dgate = da.get();
        const void* dup =
            fused ? static_cast<const char*>(da.get()) + static_cast<size_t>(I) * dtype_size(t) : db.get();
        cuda::silu_mul(dout.get(), dgate, dup, t, s.rows, I, ld);
        EXPECT_LE(normalized_error(to_f32(dout.download(), t), gate), tolerance(t))
            << (fused ? "fused " : "separate ") << dtype_name(t) << " rows " << s.rows << " I " << I << " offset "
            << s.offset_elems;
      }
    }
  }
}

TEST(CudaActivation, ResidualAddMatchesCpuPerDtype) {
  if (cuda::device_count() == 0) GTEST_SKIP() << "no CUDA device";
  for (const Shape& s : shapes()) {
    const size_t n = static_cast<size_t>(s.rows) * s.cols;
    const std::vector<float> x = make_values(n, static_cast<uint32_t>(s.rows + s.cols * 3), 2.0f);
    const std::vector<float> y = make_values(n, static_cast<uint32_t>(s.rows * 5 + s.cols), -0.7f);
    const std::vector<float> bias = make_values(s.cols, static_cast<uint32_t>(s.cols * 13), 0.25f);
    for (DType t : {DType::F32, DType::F16, DType::BF16}) {
      const std::vector<float> yr = rounded(y, t), br = rounded(bias, t);
      const std::vector<uint8_t> yb = to_dtype(y, t), bb = to_dtype(bias, t);
      for (bool with_bias : {false, true}) {
        std::vector<float> add = yr;
        if (with_bias)
          for (size_t i = 0; i < n; ++i) add[i] += br[i % s.cols];
        std::vector<float> want = x;
        cpu::add_inplace(want.data(), add.data(), n);
        DeviceBuffer dx(x.data(), n * sizeof(float), s.offset_elems * sizeof(float));
        DeviceBuffer dy(yb.data(), yb.size(), s.offset_elems * dtype_size(t));
        DeviceBuffer db(bb.data(), bb.size(), s.offset_elems * dtype_size(t));
        cuda::residual_add(static_cast<float*>(dx.get()), dy.get(), t, with_bias ? db.get() : nullptr, s.rows,
                           s.cols);
        // The stream is fp32 and y's values are the same on both sides: fp32 tolerance for
        // every dtype of y.
        EXPECT_LE(normalized_error(to_f32(dx.download(), DType::F32), want), 1e-6)
            << dtype_name(t) << (with_bias ? " +bias" : "") << " rows " << s.rows << " cols " << s.cols << " offset "
            << s.offset_elems;
      }
    }
  }
}

TEST(CudaActivation, RejectsBadArguments) {
  if (cuda::device_count() == 0) GTEST_SKIP() << "no CUDA device";
  EXPECT_THROW(cuda::silu_mul(nullptr, nullptr, nullptr, DType::F16, 4, 16, 8), std::exception);  // ld < I
  EXPECT_THROW(cuda::bias_activation(nullptr, DType::F32, nullptr, -1, 4, Activation::ReLU), std::exception);
  EXPECT_NO_THROW(cuda::residual_add(nullptr, nullptr, DType::BF16, nullptr, 0, 4096));
  EXPECT_EQ(cudaDeviceSynchronize(), cudaSuccess);
}

}  // namespace
}  // namespace zotune
