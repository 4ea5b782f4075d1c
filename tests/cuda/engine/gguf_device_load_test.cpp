// GGUF models dequantized on the GPU (core/cuda/device_load) against the host path (load_model:
// dequantized on the CPU), bit for bit, on a tiny two-layer Llama written here: every quantized
// type the reader supports plus F32, F16 and BF16 tensors, llama.cpp's interleaved q/k rows in
// quantized (K-quant and legacy) and plain types, random blocks (tests/cuda/quant_blocks_test_util.h),
// loaded into each storage dtype through the default staging chunks and through chunks smaller
// than a block; then the engine's own path (load_on_engine), and the errors. Skipped without a GPU.
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "core/cuda/cuda_model.h"
#include "core/cuda/device_load.h"
#include "core/model/model.h"
#include "core/tensor/dtype.h"
#include "core/train/engine_setup.h"
#include "distributed/communicator.h"
#include "kernels/cuda/device.cuh"
#include "../../unit/io_test_util.h"
#include "../quant_blocks_test_util.h"

namespace zotune {
namespace {

using test::error_of;
using test::TempDir;

// ggml type ids (ggml.h) of the tensors the fixture uses.
constexpr uint32_t kF32 = 0, kF16 = 1, kQ4_0 = 2, kQ4_1 = 3, kQ5_0 = 6, kQ5_1 = 7, kQ8_0 = 8, kQ2_K = 10, kQ3_K = 11,
                   kQ4_K = 12, kQ5_K = 13, kQ6_K = 14, kIQ4_NL = 20, kBF16 = 30;

// A GGUF v3 image: metadata, tensor infos, then each tensor's data at a 32-byte aligned offset.
class GgufWriter {
 public:
  void kv_u32(const std::string& key, uint32_t v) {
    key_header(key, 4);
    put(v);
  }
  void kv_f32(const std::string& key, float v) {
    key_header(key, 6);
    put(v);
  }
  void kv_string(const std::string& key, const std::string& v) {
    key_header(key, 8);
    put_string(kv_, v);
  }
  void kv_strings(const std::string& key, const std::vector<std::string>& v) {
    key_header(key, 9);
    put(uint32_t{8});
    put(static_cast<uint64_t>(v.size()));
    for (const std::string& s : v) put_string(kv_, s);
  }
  // ne: ggml's dimensions, fastest first ({in, out} for a [out, in] weight).
  void tensor(const std::string& name, uint32_t type, const std::vector<uint64_t>& ne, const std::vector<uint8_t>& bytes) {
    while (data_.size() % 32) data_.push_back(0);
    put_string(infos_, name);
    put_to(infos_, static_cast<uint32_t>(ne.size()));
    for (uint64_t d : ne) put_to(infos_, d);
    put_to(infos_, type);
    put_to(infos_, static_cast<uint64_t>(data_.size()));
    data_.insert(data_.end(), bytes.begin(), bytes.end());
    ++tensors_;
  }
  // The whole file, optionally without its last `cut` bytes.
  void write(const std::string& path, size_t cut = 0) const {
    std::vector<uint8_t> out;
    out.insert(out.end(), {'G', 'G', 'U', 'F'});
    put_to(out, uint32_t{3});
    put_to(out, tensors_);
    put_to(out, kvs_);
    out.insert(out.end(), kv_.begin(), kv_.end());
    out.insert(out.end(), infos_.begin(), infos_.end());
    while (out.size() % 32) out.push_back(0);
    out.insert(out.end(), data_.begin(), data_.end());
    std::ofstream f(path, std::ios::binary);
    f.write(reinterpret_cast<const char*>(out.data()), static_cast<std::streamsize>(out.size() - cut));
  }

 private:
  template <typename T>
  static void put_to(std::vector<uint8_t>& out, T v) {
    uint8_t b[sizeof(T)];
    std::memcpy(b, &v, sizeof(T));
    out.insert(out.end(), b, b + sizeof(T));
  }
  template <typename T>
  void put(T v) {
    put_to(kv_, v);
  }
  static void put_string(std::vector<uint8_t>& out, const std::string& s) {
    put_to(out, static_cast<uint64_t>(s.size()));
    out.insert(out.end(), s.begin(), s.end());
  }
  void key_header(const std::string& key, uint32_t type) {
    put_string(kv_, key);
    put(type);
    ++kvs_;
  }
  std::vector<uint8_t> kv_, infos_, data_;
  uint64_t kvs_ = 0, tensors_ = 0;
};

// Random tensor bytes of a ggml type: blocks from quant_blocks_test_util, N(0, 0.05) values for
// the plain types (1 + N(0, 0.1) for norm weights).
std::vector<uint8_t> random_tensor(uint32_t type, uint64_t numel, bool norm, std::mt19937& rng) {
  std::normal_distribution<float> normal(0.0f, norm ? 0.1f : 0.05f);
  auto value = [&] { return (norm ? 1.0f : 0.0f) + normal(rng); };
  std::vector<uint8_t> out;
  if (type == kF32) {
    out.resize(numel * 4);
    for (uint64_t i = 0; i < numel; ++i) {
      const float v = value();
      std::memcpy(out.data() + 4 * i, &v, 4);
    }
  } else if (type == kF16 || type == kBF16) {
    out.resize(numel * 2);
    for (uint64_t i = 0; i < numel; ++i) {
      const uint16_t h = type == kF16 ? f32_to_f16(value()) : f32_to_bf16(value());
      std::memcpy(out.data() + 2 * i, &h, 2);
    }
  } else if (type == kIQ4_NL) {  // 32 elements in 18 bytes; never dequantized here
    out.resize(numel / 32 * 18);
    for (uint8_t& b : out) b = static_cast<uint8_t>(rng());
  } else {
    for (const test::QuantFormat& f : test::quant_formats())
      if (f.ggml_type == type) out = test::random_blocks(f, static_cast<int64_t>(numel) / f.block, rng);
  }
  return out;
}

// The tiny Llama: hidden 256 (K-quant rows are whole 256-element super-blocks), 4 heads of 64,
// 2 KV heads, FFN 256, vocabulary 32 (a byte-level BPE vocabulary of single letters), untied
// head. Per layer the seven projections cover the ten quantized types and F16, BF16, F32, with
// q/k (whose rows the loader reorders) in Q4_K, Q5_K, Q5_0 and F16. `override_type` replaces
// the type of blk.1.ffn_up.weight (the error tests); `cut` truncates the file.
struct TinyLlama {
  static constexpr int kHidden = 256, kHeads = 4, kKvHeads = 2, kHeadDim = 64, kFfn = 256, kVocab = 32;
  std::string last_tensor;  // the tensor whose data ends the file

  void write(const std::string& path, uint32_t ffn_up_1_type = kF32, size_t cut = 0) {
    std::mt19937 rng(20261201);
    GgufWriter w;
    w.kv_string("general.architecture", "llama");
    w.kv_u32("llama.block_count", 2);
    w.kv_u32("llama.embedding_length", kHidden);
    w.kv_u32("llama.feed_forward_length", kFfn);
    w.kv_u32("llama.attention.head_count", kHeads);
    w.kv_u32("llama.attention.head_count_kv", kKvHeads);
    w.kv_u32("llama.context_length", 64);
    w.kv_f32("llama.attention.layer_norm_rms_epsilon", 1e-5f);
    w.kv_string("tokenizer.ggml.model", "gpt2");
    std::vector<std::string> tokens;
    for (int i = 0; i < kVocab; ++i) tokens.push_back(std::string(1, static_cast<char>(i < 26 ? 'a' + i : 'A' + i - 26)));
    w.kv_strings("tokenizer.ggml.tokens", tokens);
    auto add = [&](const std::string& name, uint32_t type, std::vector<uint64_t> ne, bool norm = false) {
      uint64_t numel = 1;
      for (uint64_t d : ne) numel *= d;
      w.tensor(name, type, ne, random_tensor(type, numel, norm, rng));
      last_tensor = name;
    };
    const uint64_t C = kHidden, Q = kHeads * kHeadDim, KV = kKvHeads * kHeadDim, I = kFfn;
    add("token_embd.weight", kQ8_0, {C, kVocab});
    const uint32_t types[2][7] = {
        // q, k, v, output, gate, up, down
        {kQ4_K, kQ5_K, kQ6_K, kQ3_K, kQ2_K, kQ4_0, kQ4_1},
        {kQ5_0, kF16, kQ5_1, kQ8_0, kBF16, ffn_up_1_type, kQ6_K},
    };
    for (int l = 0; l < 2; ++l) {
      const std::string p = "blk." + std::to_string(l) + ".";
      add(p + "attn_norm.weight", kF32, {C}, true);
      add(p + "attn_q.weight", types[l][0], {C, Q});
      add(p + "attn_k.weight", types[l][1], {C, KV});
      add(p + "attn_v.weight", types[l][2], {C, KV});
      add(p + "attn_output.weight", types[l][3], {Q, C});
      add(p + "ffn_norm.weight", kF32, {C}, true);
      add(p + "ffn_gate.weight", types[l][4], {C, I});
      add(p + "ffn_up.weight", types[l][5], {C, I});
      add(p + "ffn_down.weight", types[l][6], {I, C});
    }
    add("output_norm.weight", kF32, {C}, true);
    add("rope_freqs.weight", kF32, {kHeadDim / 2});  // in the file, not in the model: reported unused
    add("output.weight", kQ4_K, {C, kVocab});
    w.write(path, cut);
  }
};

// "" when every parameter of `got` (downloaded) has `want`'s bytes, else the first difference.
std::string first_difference(const Model& want, const Model& got) {
  for (const ParamView& v : want.params().views()) {
    const ParamView* g = got.params().find(v.name);
    if (g == nullptr || g->dtype != v.dtype || g->numel != v.numel) return v.name + ": missing or another layout";
    const size_t elem = dtype_size(v.dtype);
    const auto* a = static_cast<const uint8_t*>(want.params().data(v));
    const auto* b = static_cast<const uint8_t*>(got.params().data(*g));
    for (int64_t i = 0; i < v.numel; ++i)
      if (std::memcmp(a + i * elem, b + i * elem, elem) != 0)
        return v.name + " element " + std::to_string(i) + ": host " + std::to_string(load_f32(a, v.dtype, i)) +
               ", device " + std::to_string(load_f32(b, v.dtype, i));
  }
  return "";
}

class GgufDeviceLoad : public ::testing::Test {
 protected:
  void SetUp() override {
    if (cuda::device_count() == 0) GTEST_SKIP() << "no CUDA device";
    path_ = dir_.file("tiny_llama.gguf");
    fixture_.write(path_);
  }
  TempDir dir_;
  TinyLlama fixture_;
  std::string path_;
};

TEST_F(GgufDeviceLoad, WeightsEqualTheHostPathBitForBit) {
  for (DType dtype : {DType::F32, DType::F16, DType::BF16}) {
    LoadOptions opt;
    opt.dtype = dtype;
    LoadReport host_report;
    const std::unique_ptr<Model> host = load_model(path_, opt, &host_report);
    // The default chunks (whole tensors at once), chunks of a few blocks / rows (1000 bytes),
    // and chunks smaller than one block or row (100 bytes: one unit per chunk).
    for (size_t staging : {cuda::kGgufStagingBytes, size_t{1000}, size_t{100}}) {
      LoadReport report;
      std::unique_ptr<cuda::CudaModel> gpu = cuda::load_model_on_device(path_, opt, cuda::CudaOptions{}, &report, staging);
      EXPECT_FALSE(gpu->params().allocated()) << "the device load kept a host copy of the parameters";
      EXPECT_EQ(report.format, "gguf");
      EXPECT_EQ(report.unused, host_report.unused);
      EXPECT_EQ(report.unused, std::vector<std::string>{"rope_freqs.weight"});
      gpu->sync_params_to_host();
      EXPECT_EQ(first_difference(*host, *gpu), "") << dtype_name(dtype) << ", staging chunks of " << staging << " bytes";
    }
  }
}

// The run's own load (engine.device: cuda, one rank): the device loader, the tokenizer from the
// file, the host path's weights.
TEST_F(GgufDeviceLoad, LoadOnEngineReadsTheFileOntoTheGpu) {
  Communicator comm = Communicator::world();
  if (comm.size() != 1) GTEST_SKIP() << "one rank only (more ranks broadcast host buffers)";
  LoadOptions opt;
  opt.dtype = DType::BF16;
  EngineSettings settings;
  settings.device = EngineDevice::CUDA;
  Pretrained p = load_on_engine(path_, opt, settings, CommBackend::MPI, comm);
  ASSERT_TRUE(p.model->on_device());
  EXPECT_FALSE(p.model->params().allocated()) << "loaded on the host, then uploaded";
  EXPECT_EQ(p.report.format, "gguf");
  EXPECT_EQ(p.tokenizer.vocab_size(), TinyLlama::kVocab);
  const std::unique_ptr<Model> host = load_model(path_, opt);
  p.model->sync_params_to_host();
  EXPECT_EQ(first_difference(*host, *p.model), "");
}

TEST_F(GgufDeviceLoad, UnsupportedTypeNamesTheFileAndTensor) {
  const std::string path = dir_.file("iq4_nl.gguf");
  TinyLlama().write(path, kIQ4_NL);
  const std::string msg = error_of([&] { cuda::load_model_on_device(path, LoadOptions{}, cuda::CudaOptions{}); });
  EXPECT_NE(msg.find(path + ": tensor 'blk.1.ffn_up.weight': cannot dequantize ggml type IQ4_NL on the GPU"),
            std::string::npos)
      << msg;
}

TEST_F(GgufDeviceLoad, TruncatedDataNamesTheFileAndTensor) {
  const std::string path = dir_.file("truncated.gguf");
  TinyLlama truncated;
  truncated.write(path, kF32, 7);
  const std::string msg = error_of([&] { cuda::load_model_on_device(path, LoadOptions{}, cuda::CudaOptions{}); });
  EXPECT_NE(msg.find(path + ": tensor '" + truncated.last_tensor + "'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("runs past the end"), std::string::npos) << msg;
}

}  // namespace
}  // namespace zotune
