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

namespace zotune {
namespace {

namespace fs = std::filesystem;

const fs::path kParityDir = fs::path(ZOTUNE_FIXTURES_DIR) / "parity";

std::vector<std::string> parity_cases() {
  std::vector<std::string> cases;
  if (fs::exists(kParityDir))
    for (const auto& e : fs::directory_iterator(kParityDir))
      if (e.is_directory() && fs::exists(e.path() / "reference.safetensors")) cases.push_back(e.path().filename().string());
  std::sort(cases.begin(), cases.end());
  return cases;
}

struct RefBatch {
  Batch batch;
  std::vector<int64_t> valid_rows;  // flat indices of real tokens
};

RefBatch read_batch(const SafetensorsArchive& ref, const std::string& name) {
  RefBatch r;
  const SafetensorsTensor& ids = ref.at(name + ".input_ids");
  r.batch.batch = static_cast<int>(ids.shape[0]);
  r.batch.seq_len = static_cast<int>(ids.shape[1]);
  for (int64_t v : ref.read_int(name + ".input_ids")) r.batch.ids.push_back(static_cast<int32_t>(v));
  std::vector<int64_t> mask = ref.read_int(name + ".attention_mask");
  for (size_t i = 0; i < mask.size(); ++i) {
    r.batch.mask.push_back(mask[i] ? 1 : 0);
    if (mask[i]) r.valid_rows.push_back(static_cast<int64_t>(i));
  }
  if (ref.find(name + ".token_type_ids"))
    for (int64_t v : ref.read_int(name + ".token_type_ids")) r.batch.token_types.push_back(static_cast<int32_t>(v));
  return r;
}

std::vector<float> read_f32(const SafetensorsArchive& ref, const std::string& name) {
  const SafetensorsTensor& t = ref.at(name);
  int64_t n = 1;
  for (int64_t d : t.shape) n *= d;
  std::vector<float> out(static_cast<size_t>(n));
  ref.read(name, DType::F32, out.data());
  return out;
}

// Relative error ||got - want|| / ||want|| over the rows we compare.
double rel_error(const std::vector<float>& got, const std::vector<float>& want) {
  double num = 0, den = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    if (!std::isfinite(got[i])) return INFINITY;
    num += (double(got[i]) - want[i]) * (double(got[i]) - want[i]);
    den += double(want[i]) * want[i];
  }
  return std::sqrt(num / den);
}

// The reference logits restricted to the rows the model computed.
std::vector<float> reference_rows(const std::vector<float>& all, const std::vector<int64_t>& rows, int width) {
  std::vector<float> out;
  for (int64_t r : rows) out.insert(out.end(), all.begin() + r * width, all.begin() + (r + 1) * width);
  return out;
}

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
