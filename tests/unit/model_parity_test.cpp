// Whole-model parity with Hugging Face transformers on the committed fixtures of
// tests/fixtures/parity (made by tests/parity/make_parity_fixtures.py on a machine with
// torch): tiny random models of every supported architecture and quirk, with logits for
// unpadded, right-padded and left-padded batches.
//  - fp32 weights vs transformers in float64: relative error <= 1e-4;
//  - bf16 / fp16 weights vs transformers computing in bf16 / fp16: <= 2e-2;
//  - bf16 weights vs float64 on bf16-rounded weights: <= 1e-4 (storage path is exact).
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>

#include "core/io/safetensors.h"
#include "core/model/model.h"
#include "parity_test_util.h"

namespace zotune {
namespace {

namespace fs = std::filesystem;
using test::parity_cases;
using test::read_batch;
using test::read_f32;
using test::RefBatch;
using test::reference_rows;
using test::rel_error;

const fs::path kParityDir = test::parity_dir();

class Parity : public ::testing::TestWithParam<std::string> {
 protected:
  fs::path dir() const { return kParityDir / GetParam(); }
};

TEST(ParityFixtures, ArePresent) { EXPECT_GE(parity_cases().size(), 10u) << "missing fixtures under " << kParityDir; }

TEST_P(Parity, LogitsMatchTransformersPerDtype) {
  const SafetensorsArchive ref = SafetensorsArchive::open((dir() / "reference.safetensors").string());
  struct Variant {
    DType dtype;
    const char* weights;
    const char* ref_suffix;
    double tolerance;
  };
  const Variant variants[] = {
      {DType::F32, "model.safetensors", "logits", 1e-4},
      {DType::BF16, "model.safetensors", "logits_from_bf16_weights", 1e-4},
      {DType::BF16, "model_bf16.safetensors", "logits_bf16", 2e-2},
      {DType::F16, "model_f16.safetensors", "logits_f16", 2e-2},
  };
  for (const Variant& v : variants) {
    LoadOptions opt;
    opt.dtype = v.dtype;
    std::unique_ptr<Model> model = load_model((dir() / v.weights).string(), opt);
    const bool lm = model->config().head == HeadKind::CausalLM || model->config().head == HeadKind::MaskedLM;
    for (const char* name : {"unpadded", "right", "left"}) {
      if (!ref.find(std::string(name) + ".input_ids")) continue;
      RefBatch rb = read_batch(ref, name);
      const std::vector<float> want_all = read_f32(ref, std::string(name) + "." + v.ref_suffix);
      std::vector<float> got, want;
      if (lm) {
        got = model->forward(rb.batch, rb.valid_rows);
        want = reference_rows(want_all, rb.valid_rows, model->output_width());
      } else {
        got = model->forward(rb.batch);
        want = want_all;
      }
      ASSERT_EQ(got.size(), want.size()) << GetParam() << " " << name;
      const double err = rel_error(got, want);
      EXPECT_LE(err, v.tolerance) << GetParam() << " batch " << name << ", " << dtype_name(v.dtype) << " weights from "
                                  << v.weights << " vs " << v.ref_suffix;
    }
  }
}

TEST_P(Parity, SelectedRowsEqualFullComputation) {
  std::unique_ptr<Model> model = load_model(dir().string());
  if (model->config().head != HeadKind::CausalLM && model->config().head != HeadKind::MaskedLM) GTEST_SKIP() << "no LM head";
  const SafetensorsArchive ref = SafetensorsArchive::open((dir() / "reference.safetensors").string());
  RefBatch rb = read_batch(ref, "right");
  const std::vector<float> all = model->forward(rb.batch);
  const std::vector<int64_t> some = {rb.valid_rows.back(), rb.valid_rows.front(), 3};
  const std::vector<float> sel = model->forward(rb.batch, some);
  // Not bitwise: OpenBLAS blocks a GEMM of 3 rows differently from one of 30.
  EXPECT_LE(rel_error(sel, reference_rows(all, some, model->output_width())), 1e-6);
}

TEST_P(Parity, KvCacheGivesTheSameLogitsAsOneForward) {
  std::unique_ptr<Model> model = load_model(dir().string());
  if (model->config().head != HeadKind::CausalLM) GTEST_SKIP() << "encoder";
  const SafetensorsArchive ref = SafetensorsArchive::open((dir() / "reference.safetensors").string());
  for (const char* name : {"unpadded", "left"}) {
    RefBatch rb = read_batch(ref, name);
    const std::vector<float> full = model->forward(rb.batch);
    // Same tokens fed as a prefix of 6 and then one token at a time.
    const int B = rb.batch.batch, T = rb.batch.seq_len, V = model->output_width();
    KVCache cache = model->make_cache(B, T);
    std::vector<float> pieced(static_cast<size_t>(B) * T * V);
    int start = 0;
    for (int len : {6, 1, 1, 1, 1}) {
      if (start >= T) break;
      len = std::min(len, T - start);
      Batch part;
      part.batch = B;
      part.seq_len = len;
      for (int b = 0; b < B; ++b)
        for (int t = start; t < start + len; ++t) {
          part.ids.push_back(rb.batch.ids[b * T + t]);
          part.mask.push_back(rb.batch.mask[b * T + t]);
        }
      const std::vector<float> out = model->forward(part, {}, &cache);
      for (int b = 0; b < B; ++b)
        for (int t = 0; t < len; ++t)
          std::copy_n(out.begin() + (static_cast<size_t>(b) * len + t) * V, V,
                      pieced.begin() + (static_cast<size_t>(b) * T + start + t) * V);
      start += len;
    }
    ASSERT_EQ(start, T);
    EXPECT_LE(rel_error(reference_rows(pieced, rb.valid_rows, V), reference_rows(full, rb.valid_rows, V)), 1e-5)
        << GetParam() << " " << name;
  }
}

INSTANTIATE_TEST_SUITE_P(HuggingFace, Parity, ::testing::ValuesIn(parity_cases()),
                         [](const auto& info) { return info.param; });
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(Parity);

}  // namespace
}  // namespace zotune
