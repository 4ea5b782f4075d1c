// GgufFile on tests/fixtures/gguf/tiny.gguf (written by gguf-py's GGUFWriter, see
// make_tiny_gguf.py) and on the real SmolLM2-135M Q4_1 file. Expected tensor values were
// computed with gguf.quants.dequantize and are hard-coded here.
#include "core/io/gguf.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <functional>
#include <numeric>
#include <string>
#include <vector>

#include "core/util/error.h"
#include "io_test_util.h"

namespace zotune {
namespace {

using test::fixture_path;
using test::model_path;
using test::read_bytes;
using test::error_of;

const std::string kTiny = "gguf/tiny.gguf";

std::vector<float> dequantize_f32(const GgufFile& f, const std::string& name) {
  const GgufTensor* t = f.find_tensor(name);
  if (t == nullptr) throw Error("test: no tensor " + name);
  std::vector<float> out(static_cast<size_t>(t->numel));
  f.dequantize(*t, DType::F32, out.data());
  return out;
}

double sum(const float* p, size_t n) {
  double s = 0;
  for (size_t i = 0; i < n; ++i) s += p[i];
  return s;
}

TEST(Gguf, TinyHeaderAndIntegerGetters) {
  const GgufFile f = GgufFile::open(fixture_path(kTiny));
  EXPECT_EQ(f.version(), 3u);
  EXPECT_EQ(f.metadata().size(), 33u);
  EXPECT_EQ(f.get_string("general.architecture"), "llama");
  EXPECT_EQ(f.get_string("general.name"), "tiny test model");
  EXPECT_EQ(f.get_int("general.alignment"), 64);
  EXPECT_EQ(f.get_int("llama.block_count"), 2);
  EXPECT_EQ(f.get_int("test.u8"), 200);
  EXPECT_EQ(f.get_int("test.i8"), -100);
  EXPECT_EQ(f.get_int("test.u16"), 60000);
  EXPECT_EQ(f.get_int("test.i16"), -30000);
  EXPECT_EQ(f.get_int("test.u32"), 4000000000LL);
  EXPECT_EQ(f.get_int("test.i32"), -2000000000LL);
  EXPECT_EQ(f.get_int("test.i64"), -(int64_t{1} << 40));
  // 2^63 + 5 is kept exactly as uint64 but cannot come back as int64.
  EXPECT_EQ(std::get<uint64_t>(f.find("test.u64")->value), (uint64_t{1} << 63) + 5);
  EXPECT_NE(error_of([&] { f.get_int("test.u64"); }).find("'test.u64' does not fit in int64"), std::string::npos);
}

TEST(Gguf, TinyFloatBoolStringGetters) {
  const GgufFile f = GgufFile::open(fixture_path(kTiny));
  EXPECT_EQ(f.get_float("test.f32"), 0.375);
  EXPECT_EQ(f.get_float("test.f64"), -1.0e-300);
  EXPECT_EQ(f.get_float("test.u32"), 4.0e9);  // integers widen
  EXPECT_TRUE(f.get_bool("test.bool_true"));
  EXPECT_FALSE(f.get_bool("test.bool_false"));
  EXPECT_EQ(f.get_string("test.string"), "h\xc3\xa9llo, w\xc3\xb6rld");
  EXPECT_EQ(f.get_string("test.empty_string"), "");
}

TEST(Gguf, TinyArrayGetters) {
  const GgufFile f = GgufFile::open(fixture_path(kTiny));
  EXPECT_EQ(f.get_string_array("test.strings"), (std::vector<std::string>{"alpha", "", "\xce\xb3" "amma"}));
  EXPECT_EQ(f.get_int_array("test.ints"), (std::vector<int64_t>{-1, 0, 70000}));
  EXPECT_EQ(f.get_float_array("test.floats"), (std::vector<double>{0.5, -2.25}));
  EXPECT_EQ(f.get_float_array("test.ints"), (std::vector<double>{-1, 0, 70000}));
  const GgufArray& nested = std::get<GgufArray>(f.find("test.nested")->value);
  ASSERT_EQ(nested.size(), 2u);
  const GgufArray& first = std::get<GgufArray>(nested[0].value);
  const GgufArray& second = std::get<GgufArray>(nested[1].value);
  ASSERT_EQ(first.size(), 2u);
  ASSERT_EQ(second.size(), 1u);
  EXPECT_EQ(std::get<int64_t>(first[1].value), 2);
  EXPECT_EQ(std::get<int64_t>(second[0].value), 3);
}

TEST(Gguf, GetterErrorsNameTheKey) {
  const GgufFile f = GgufFile::open(fixture_path(kTiny));
  EXPECT_EQ(f.find("no.such.key"), nullptr);
  const std::string missing = error_of([&] { f.get_int("no.such.key"); });
  EXPECT_NE(missing.find("tiny.gguf: key 'no.such.key' is missing"), std::string::npos) << missing;
  EXPECT_NE(error_of([&] { f.get_string("test.u8"); }).find("key 'test.u8' holds an unsigned integer, expected a string"),
            std::string::npos);
  EXPECT_NE(error_of([&] { f.get_int("test.f32"); }).find("key 'test.f32' holds a float"), std::string::npos);
  EXPECT_NE(error_of([&] { f.get_bool("test.i8"); }).find("key 'test.i8'"), std::string::npos);
  EXPECT_NE(error_of([&] { f.get_float("test.string"); }).find("key 'test.string' holds a string"), std::string::npos);
  EXPECT_NE(error_of([&] { f.get_string_array("test.ints"); }).find("key 'test.ints': element 0"), std::string::npos);
  EXPECT_NE(error_of([&] { f.get_int_array("test.nested"); }).find("key 'test.nested': element 0 is an array"),
            std::string::npos);
  EXPECT_NE(error_of([&] { f.get_int_array("test.u8"); }).find("expected an array"), std::string::npos);
}

TEST(Gguf, TinyTensorInfos) {
  const GgufFile f = GgufFile::open(fixture_path(kTiny));
  ASSERT_EQ(f.tensors().size(), 6u);
  struct Expected {
    const char* name;
    const char* type;
    std::vector<int64_t> shape;
    size_t nbytes;
  };
  const Expected expected[] = {
      {"f32_vec", "F32", {5}, 20},         {"f16_mat", "F16", {2, 3}, 12},     {"bf16_mat", "BF16", {3, 2}, 12},
      {"q8_0_mat", "Q8_0", {2, 64}, 4 * 34}, {"q4_k_row", "Q4_K", {1, 256}, 144}, {"i32_vec", "I32", {4}, 16},
  };
  for (const Expected& e : expected) {
    const GgufTensor* t = f.find_tensor(e.name);
    ASSERT_NE(t, nullptr) << e.name;
    EXPECT_STREQ(ggml_type_name(t->type), e.type) << e.name;
    EXPECT_EQ(t->shape, e.shape) << e.name;
    EXPECT_EQ(t->numel, std::accumulate(e.shape.begin(), e.shape.end(), int64_t{1}, std::multiplies<>())) << e.name;
    EXPECT_EQ(t->nbytes, e.nbytes) << e.name;
    EXPECT_EQ(t->offset % 64, 0u) << e.name << ": general.alignment is 64";
  }
  EXPECT_EQ(f.find_tensor("q4_k_row")->type, static_cast<uint32_t>(GgmlType::Q4_K));
  EXPECT_EQ(f.find_tensor("nope"), nullptr);
}

TEST(Gguf, TinyTensorValues) {
  const GgufFile f = GgufFile::open(fixture_path(kTiny));
  EXPECT_EQ(dequantize_f32(f, "f32_vec"), (std::vector<float>{0.5f, -1.25f, 2.0f, 1e-3f, -7.0f}));
  EXPECT_EQ(dequantize_f32(f, "f16_mat"), (std::vector<float>{-0.5f, -0.25f, 0.0f, 0.25f, 0.5f, 0.75f}));
  // -1e4 is stored as bf16: -9984.
  EXPECT_EQ(dequantize_f32(f, "bf16_mat"), (std::vector<float>{1.0f, -2.0f, 3.5f, 0.15625f, -9984.0f, 2.5f}));

  const std::vector<float> q8 = dequantize_f32(f, "q8_0_mat");
  EXPECT_EQ(q8[0], 0.0f);
  EXPECT_EQ(q8[1], 0.3068695068359375f);
  EXPECT_EQ(q8[2], 0.5901336669921875f);
  EXPECT_EQ(q8[126], 0.094482421875f);
  EXPECT_EQ(q8[127], 0.40155029296875f);
  EXPECT_NEAR(sum(q8.data(), q8.size()), 0.5217132568359375, 1e-9);

  const std::vector<float> q4k = dequantize_f32(f, "q4_k_row");
  EXPECT_EQ(q4k[0], 0.7781581878662109f);
  EXPECT_EQ(q4k[1], 3.648771286010742f);
  EXPECT_EQ(q4k[2], 4.058858871459961f);
  EXPECT_EQ(q4k[254], 5.089069366455078f);
  EXPECT_EQ(q4k[255], 4.348911285400391f);
  EXPECT_NEAR(sum(q4k.data(), q4k.size()), 443.20130157470703, 1e-9);
}

TEST(Gguf, DequantizeInto16BitDtypesRoundsTheFp32Values) {
  const GgufFile f = GgufFile::open(fixture_path(kTiny));
  for (const char* name : {"f32_vec", "f16_mat", "bf16_mat", "q8_0_mat", "q4_k_row"}) {
    const GgufTensor& t = *f.find_tensor(name);
    const std::vector<float> f32 = dequantize_f32(f, name);
    for (DType dt : {DType::F16, DType::BF16}) {
      std::vector<uint16_t> got(f32.size()), want(f32.size());
      f.dequantize(t, dt, got.data());
      convert(f32.data(), DType::F32, want.data(), dt, f32.size());
      EXPECT_EQ(got, want) << name << " -> " << dtype_name(dt);
    }
  }
  // F16 -> F16 copies the stored bits.
  const GgufTensor& h = *f.find_tensor("f16_mat");
  std::vector<uint8_t> bits(h.nbytes);
  f.dequantize(h, DType::F16, bits.data());
  EXPECT_EQ(std::memcmp(bits.data(), h.data, h.nbytes), 0);
}

TEST(Gguf, UnsupportedTypeErrorNamesTensorAndType) {
  const GgufFile f = GgufFile::open(fixture_path(kTiny));
  const std::string msg = error_of([&] { dequantize_f32(f, "i32_vec"); });
  EXPECT_NE(msg.find("tiny.gguf: tensor 'i32_vec': cannot dequantize ggml type I32"), std::string::npos) << msg;
  EXPECT_FALSE(ggml_type_dequantizable(static_cast<uint32_t>(GgmlType::Q8_K)));
  EXPECT_TRUE(ggml_type_dequantizable(static_cast<uint32_t>(GgmlType::Q6_K)));
  EXPECT_STREQ(ggml_type_name(12), "Q4_K");
  EXPECT_STREQ(ggml_type_name(77), "type 77");
}

TEST(Gguf, TinyVocabulary) {
  const GgufVocabulary v = read_gguf_vocabulary(GgufFile::open(fixture_path(kTiny)));
  EXPECT_EQ(v.model, "gpt2");
  EXPECT_EQ(v.pre, "smollm");
  EXPECT_EQ(v.tokens, (std::vector<std::string>{"<unk>", "<s>", "</s>", "a", "b", "ab"}));
  EXPECT_EQ(v.token_types, (std::vector<int32_t>{2, 3, 3, 1, 1, 1}));
  EXPECT_EQ(v.scores, (std::vector<float>{0, 0, 0, -1, -2, -0.5f}));
  EXPECT_EQ(v.merges, (std::vector<std::string>{"a b"}));
  EXPECT_EQ(v.bos_id, 1);
  EXPECT_EQ(v.eos_id, 2);
  EXPECT_EQ(v.unk_id, 0);
  EXPECT_EQ(v.pad_id, -1);  // absent keys keep their defaults
  EXPECT_EQ(v.sep_id, -1);
  EXPECT_TRUE(v.add_bos);
  EXPECT_FALSE(v.add_eos);
  EXPECT_FALSE(v.add_space_prefix);
}

// A GGUF image with one string key and no tensors.
std::vector<uint8_t> minimal_gguf(uint32_t version) {
  std::vector<uint8_t> b;
  const auto put = [&](const void* p, size_t n) { b.insert(b.end(), static_cast<const uint8_t*>(p), static_cast<const uint8_t*>(p) + n); };
  const auto put_string = [&](const std::string& s) {
    const uint64_t n = s.size();
    put(&n, 8);
    put(s.data(), s.size());
  };
  const uint64_t tensors = 0, kvs = 1;
  const uint32_t string_type = 8;
  put("GGUF", 4);
  put(&version, 4);
  put(&tensors, 8);
  put(&kvs, 8);
  put_string("general.architecture");
  put(&string_type, 4);
  put_string("llama");
  return b;
}

TEST(Gguf, VocabularyWithoutTokensNamesTheKey) {
  const std::vector<uint8_t> bytes = minimal_gguf(3);
  const GgufFile f = GgufFile::from_memory(bytes.data(), bytes.size(), "no_vocab.gguf");
  EXPECT_TRUE(f.tensors().empty());
  const std::string msg = error_of([&] { read_gguf_vocabulary(f); });
  EXPECT_NE(msg.find("no_vocab.gguf: key 'tokenizer.ggml.tokens' is missing"), std::string::npos) << msg;
}

TEST(Gguf, Version2ParsesLikeVersion3FromMemory) {
  std::vector<uint8_t> bytes = read_bytes(fixture_path(kTiny));
  ASSERT_FALSE(bytes.empty());
  const uint32_t v2 = 2;
  std::memcpy(bytes.data() + 4, &v2, 4);
  const GgufFile f = GgufFile::from_memory(bytes.data(), bytes.size(), "tiny_v2.gguf");
  EXPECT_EQ(f.version(), 2u);
  EXPECT_EQ(f.path(), "tiny_v2.gguf");
  EXPECT_EQ(f.tensors().size(), 6u);
  EXPECT_EQ(f.get_string_array("test.strings").size(), 3u);
  EXPECT_EQ(dequantize_f32(f, "f32_vec")[4], -7.0f);
}

TEST(Gguf, OpenErrorsNameThePath) {
  const std::string missing = error_of([] { GgufFile::open("/nonexistent/dir/model.gguf"); });
  EXPECT_NE(missing.find("/nonexistent/dir/model.gguf: cannot open"), std::string::npos) << missing;
  const std::string empty = error_of([] { GgufFile::from_memory(nullptr, 0, "empty.gguf"); });
  EXPECT_NE(empty.find("empty.gguf: truncated: magic"), std::string::npos) << empty;
}

// --- the real SmolLM2-135M-Instruct Q4_1 file ----------------------------------------------

const std::string kSmolLm = "smollm2-135m/SmolLM2-135M-Instruct.Q4_1.gguf";

class SmolLm2Gguf : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!std::filesystem::exists(model_path(kSmolLm))) GTEST_SKIP() << model_path(kSmolLm) << " not fetched";
  }
};

TEST_F(SmolLm2Gguf, HeaderMetadataAndVocabulary) {
  const GgufFile f = GgufFile::open(model_path(kSmolLm));
  EXPECT_EQ(f.version(), 3u);
  EXPECT_EQ(f.tensors().size(), 272u);
  EXPECT_EQ(f.metadata().size(), 33u);
  EXPECT_EQ(f.get_string("general.architecture"), "llama");
  EXPECT_EQ(f.get_int("llama.block_count"), 30);
  EXPECT_EQ(f.get_int("llama.embedding_length"), 576);
  EXPECT_EQ(f.get_int("llama.attention.head_count_kv"), 3);
  EXPECT_FLOAT_EQ(static_cast<float>(f.get_float("llama.attention.layer_norm_rms_epsilon")), 1e-5f);
  EXPECT_EQ(f.get_float("llama.rope.freq_base"), 100000.0);

  const GgufVocabulary v = read_gguf_vocabulary(f);
  EXPECT_EQ(v.tokens.size(), 49152u);
  EXPECT_EQ(v.merges.size(), 48900u);
  EXPECT_EQ(v.token_types.size(), 49152u);
  EXPECT_TRUE(v.scores.empty());
  EXPECT_EQ(v.model, "gpt2");
  EXPECT_EQ(v.pre, "smollm");
  EXPECT_EQ(v.bos_id, 1);
  EXPECT_EQ(v.eos_id, 2);
  EXPECT_EQ(v.unk_id, 0);
  EXPECT_EQ(v.pad_id, 2);
  EXPECT_FALSE(v.add_bos);
  EXPECT_EQ(v.tokens[0], "<|endoftext|>");
  EXPECT_EQ(v.tokens[1], "<|im_start|>");
  EXPECT_EQ(v.tokens[49151], "ectable");
  EXPECT_EQ(v.merges[0], "\xc4\xa0 t");  // "Ġ t"
  EXPECT_EQ(v.token_types[0], 3);
  EXPECT_EQ(v.token_types[17], 1);
}

TEST_F(SmolLm2Gguf, TokenEmbeddingQ8_0Rows) {
  const GgufFile f = GgufFile::open(model_path(kSmolLm));
  const GgufTensor* t = f.find_tensor("token_embd.weight");
  ASSERT_NE(t, nullptr);
  EXPECT_STREQ(ggml_type_name(t->type), "Q8_0");
  EXPECT_EQ(t->shape, (std::vector<int64_t>{49152, 576}));
  const std::vector<float> w = dequantize_f32(f, "token_embd.weight");
  struct Row {
    int64_t index;
    float first[3];
    double sum;
  };
  const Row rows[] = {
      {0, {-0.10654449462890625f, 0.032978057861328125f, 0.048198699951171875f}, -2.2541093826293945},
      {1, {-0.0238037109375f, -0.015869140625f, -0.0396728515625f}, 0.35922718048095703},
      {2, {-0.03271484375f, -0.049072265625f, -0.016357421875f}, 0.844447135925293},
      {100, {0.019052505493164062f, -0.08437538146972656f, -0.1660289764404297f}, 2.175539016723633},
      {49151, {0.011505126953125f, 0.0057525634765625f, 0.0977935791015625f}, -0.4662208557128906},
  };
  for (const Row& r : rows) {
    const float* row = w.data() + r.index * 576;
    for (int i = 0; i < 3; ++i) EXPECT_EQ(row[i], r.first[i]) << "row " << r.index << " element " << i;
    EXPECT_NEAR(sum(row, 576), r.sum, 1e-9) << "row " << r.index;
  }
  EXPECT_NEAR(sum(w.data(), w.size()), -15353.04449415207, 1e-6);
}

TEST_F(SmolLm2Gguf, AttentionQueryQ4_1Rows) {
  const GgufFile f = GgufFile::open(model_path(kSmolLm));
  const GgufTensor* t = f.find_tensor("blk.0.attn_q.weight");
  ASSERT_NE(t, nullptr);
  EXPECT_STREQ(ggml_type_name(t->type), "Q4_1");
  EXPECT_EQ(t->shape, (std::vector<int64_t>{576, 576}));
  const std::vector<float> w = dequantize_f32(f, "blk.0.attn_q.weight");
  struct Row {
    int64_t index;
    float first[3];
    double sum;
  };
  const Row rows[] = {
      {0, {-0.0963134765625f, 0.1573486328125f, -0.0963134765625f}, 1.00726318359375},
      {1, {-0.1173095703125f, -0.1173095703125f, -0.19281005859375f}, -0.71209716796875},
      {575, {-0.15679931640625f, 0.154327392578125f, 0.34100341796875f}, -4.734954833984375},
  };
  for (const Row& r : rows) {
    const float* row = w.data() + r.index * 576;
    for (int i = 0; i < 3; ++i) EXPECT_EQ(row[i], r.first[i]) << "row " << r.index << " element " << i;
    EXPECT_NEAR(sum(row, 576), r.sum, 1e-9) << "row " << r.index;
  }
  EXPECT_NEAR(sum(w.data(), w.size()), 59.22322082519531, 1e-7);
  EXPECT_NEAR(sum(dequantize_f32(f, "blk.29.ffn_down.weight").data(), 576 * 1536), 49.83570861816406, 1e-7);
  const std::vector<float> norm = dequantize_f32(f, "output_norm.weight");
  EXPECT_EQ(norm[0], 1.7578125f);
  EXPECT_EQ(norm[1], 1.8203125f);
}

TEST_F(SmolLm2Gguf, EveryTensorDequantizesToFiniteValues) {
  const GgufFile f = GgufFile::open(model_path(kSmolLm));
  std::vector<float> buffer;
  int64_t total = 0;
  for (const GgufTensor& t : f.tensors()) {
    buffer.resize(static_cast<size_t>(t.numel));
    f.dequantize(t, DType::F32, buffer.data());
    for (float x : buffer) ASSERT_TRUE(std::isfinite(x)) << t.name;
    total += t.numel;
  }
  EXPECT_EQ(total, 134515008);  // SmolLM2-135M with tied embeddings
}

}  // namespace
}  // namespace zotune
